"""bertgpt/finetune/loop.py, bertgpt/finetune/tasks.py and bertgpt/finetune/prompting.py: the labelled tasks are
held out from pre-training, every head learns its task beyond a trivial baseline, the
pre-trained BERT beats random init at the same small budget, and GPT's few-shot score
rises with examples in the prompt. Figures are measured here, with fixed seeds."""
import json

import pytest
import torch

from bertgpt.finetune import loop as ft, prompting, tasks
from bertgpt.io.assets import bundled
from bertgpt.cli import main
from bertgpt.text.corpus import world_documents
from bertgpt.errors import ConfigError, TextError

BERT, GPT = bundled("bert"), bundled("gpt")
pytestmark = pytest.mark.skipif(BERT is None or GPT is None, reason="bundled minis missing")
# The smallest budgets that still show each effect (measured: pre-trained vs scratch
# classify 16 ex, 20 steps: 0.94 vs 0.50; qa 64 ex: EM 0.69 vs 0.36; ner 32 ex: F1 0.92 vs 0.58).
RUNS = {"classify": (16, dict(steps=20)), "qa": (64, {}), "ner": (32, {})}
N_TEST = 100  # held-out examples scored per run in these tests (the app uses all)


@pytest.fixture(scope="module")
def data():
    return {t: tasks.world_task(t, BERT.tokenizer, BERT.cfg.block_size) for t in tasks.TASKS}


@pytest.fixture(scope="module")
def runs(data):
    """Both inits of every task, fine-tuned once and shared by the tests below."""
    out = {}
    for task, (n, overrides) in RUNS.items():
        small = {**data[task], "test": data[task]["test"][:N_TEST]}
        cfg = ft.default_config(task, eval_every=0, **overrides)
        out[task] = {ev["init"]: ev for ev in ft.compare(task, BERT, small, n_examples=n,
                                                          cfg=cfg) if ev["type"] == "done"}
        out[task]["baseline"] = tasks.baseline(task, small)
    return out


# ---------------------------------------------------------------- held-out data
def test_task_examples_come_from_documents_never_seen_in_pretraining(data):
    for task, d in data.items():
        assert len(d["train"]) >= 256 and len(d["test"]) >= 100, task
        assert tasks.overlap_with_pretraining(d["train"] + d["test"]) == [], task
        assert not {tasks.key(e) for e in d["train"]} & {tasks.key(e) for e in d["test"]}, task
    # The check can fail: a document from the pre-training text is caught.
    seen = world_documents(seed=0, n_docs=3)[0]
    assert tasks.overlap_with_pretraining([{"text": seen.text}]) == [seen.text]


def test_warm_builds_every_task_so_the_first_fine_tune_does_not():
    """The app warms the tasks at launch; a student's first call is then a cache hit."""
    tok = bundled("bert").tokenizer
    tasks.warm(tok, 64)
    hits = tasks._build.cache_info().hits
    built = {t: tasks.world_task(t, tok, 64) for t in tasks.TASKS}
    assert tasks._build.cache_info().hits == hits + len(tasks.TASKS)
    assert all(d["train"] and d["test"] for d in built.values())
    # One set of held-out documents serves every task and tokenizer.
    assert tasks._documents(tasks.HELDOUT_SEED) is tasks._documents(tasks.HELDOUT_SEED)
    first = world_documents(seed=tasks.HELDOUT_SEED, n_docs=5)
    assert [d.text for d in tasks._documents(tasks.HELDOUT_SEED)[:5]] == [d.text for d in first]


def test_encoded_targets_point_at_the_answer_and_the_entities(data):
    tok = BERT.tokenizer
    qa = data["qa"]["train"][:20]
    enc = tasks.encode("qa", qa, tok, 64)
    for i, ex in enumerate(qa):
        ids = enc["input_ids"][i, enc["start"][i]:enc["end"][i] + 1].tolist()
        assert tok.decode(ids).replace(" ", "") == ex["answer"].lower().replace(" ", "")
        assert enc["segment_ids"][i, enc["start"][i]] == 1  # the answer is in the passage
    ex = {"text": "Anna lives in Paris.", "entities": [(0, 4, "PERSON"), (14, 19, "CITY")]}
    enc = tasks.encode("ner", [ex], tok, 64)
    tags = [tasks.NER_TAGS[t] if t >= 0 else None for t in enc["labels"][0].tolist()]
    assert tags == [None, "B-PERSON", "O", "O", "B-CITY", "O", None]


def test_spans_and_scores():
    assert tasks.spans(["B-CITY", "I-CITY", "O", "B-PERSON"]) == {(0, 2, "CITY"), (3, 4, "PERSON")}
    assert tasks.f1({(0, 2, "CITY")}, {(0, 2, "CITY"), (3, 4, "PERSON")})[2] == pytest.approx(2 / 3)
    assert tasks.answer_scores("Paris.", "paris") == (1.0, 1.0)
    assert tasks.answer_scores("in Paris", "Paris")[0] == 0.0


# ---------------------------------------------------------------- CSV
def test_csv_becomes_a_classification_task():
    rows = "text,label\n" + "\n".join(f'"good, {i}",pos\nbad {i},neg' for i in range(10))
    d = tasks.parse_csv(rows)
    assert d["labels"] == ["neg", "pos"] and len(d["train"]) + len(d["test"]) == 20
    assert {e["text"] for e in d["test"]}.isdisjoint(e["text"] for e in d["train"])


@pytest.mark.parametrize("text, words", [
    ("a,pos\nb,neg\nc,pos,extra\nd,neg\ne,pos\nf,neg", ["row 3", "3 field(s)"]),
    ("a,pos\nb,\nc,pos\nd,neg\ne,pos\nf,neg", ["row 2", "empty label"]),
    ("a,pos\n,neg\nc,pos\nd,neg\ne,pos\nf,neg", ["row 2", "empty text"]),
    ("a,pos\nb,pos\nc,pos\nd,pos\ne,pos\nf,pos", ["two different labels"]),
    ("a,pos\nb,neg", ["at least 6"]),
    ("   ", ["empty"]),
])
def test_bad_csv_gets_an_error_naming_the_row(text, words):
    with pytest.raises(TextError) as e:
        tasks.parse_csv(text)
    assert all(w in str(e.value) for w in words), str(e.value)


# ---------------------------------------------------------------- fine-tuning
def test_each_head_beats_its_baseline_on_held_out_data(runs):
    margins = {"classify": ("accuracy", 0.25), "qa": ("exact_match", 0.3), "ner": ("f1", 0.4)}
    for task, (metric, margin) in margins.items():
        got, base = runs[task]["pre-trained"]["metrics"][metric], runs[task]["baseline"][metric]
        assert got >= base + margin, f"{task}: {metric} {got:.3f} vs baseline {base:.3f}"


def test_pretrained_beats_scratch_at_the_same_small_budget(runs):
    wins = {}
    for task in tasks.TASKS:
        metric = ft.MAIN_METRIC[task]
        pre, scratch = (runs[task][i]["metrics"][metric] for i in ft.INITS)
        assert runs[task]["pre-trained"]["steps"] == runs[task]["scratch"]["steps"]
        wins[task] = (pre, scratch)
    clear = [t for t, (p, s) in wins.items() if p >= s + 0.15]
    assert len(clear) >= 2, f"pre-trained vs scratch: {wins}"


def test_finetuning_is_seeded_and_leaves_the_pretrained_model_alone(data):
    small = {**data["classify"], "test": data["classify"]["test"][:16]}
    before = {k: v.clone() for k, v in BERT.model.state_dict().items()}
    cfg = ft.FinetuneConfig(steps=4, batch_size=4, eval_every=2)
    a, b = ([e for e in ft.finetune("classify", BERT, small, n_examples=8, cfg=cfg)]
            for _ in range(2))
    losses = [[e["loss"] for e in run if e["type"] == "step"] for run in (a, b)]
    assert losses[0] == losses[1] and len(losses[0]) == 4
    assert [e["type"] for e in a].count("eval") == 2  # step 2, then the final one
    assert all(torch.equal(v, BERT.model.state_dict()[k]) for k, v in before.items())
    assert a[-1]["model"].bert is not BERT.model


def test_freeze_trains_only_the_head(data):
    small = {**data["classify"], "test": data["classify"]["test"][:8]}
    cfg = ft.FinetuneConfig(steps=2, batch_size=4, freeze=True, eval_every=0)
    done = list(ft.finetune("classify", BERT, small, n_examples=8, cfg=cfg))[-1]
    tuned = done["model"].bert.state_dict()
    assert all(torch.equal(v, tuned[k]) for k, v in BERT.model.state_dict().items())


def test_sweep_reports_every_cell_then_the_table(data):
    small = {**data["ner"], "test": data["ner"]["test"][:8]}
    events = list(ft.sweep("ner", BERT, small, sizes=(4, 8),
                           cfg=ft.FinetuneConfig(steps=2, batch_size=4, eval_every=0)))
    assert [e["done"] for e in events[:-1]] == [1, 2, 3, 4]
    table = events[-1]
    assert [(r["examples"], r["init"]) for r in table["rows"]] == [
        (4, "pre-trained"), (4, "scratch"), (8, "pre-trained"), (8, "scratch")]
    assert "| 8 |" in ft.format_table(table)


def test_inspect_shows_each_heads_probabilities(runs):
    tok = BERT.tokenizer
    c = ft.inspect("classify", runs["classify"]["pre-trained"]["model"], tok,
                   "I had soup at a cafe in Rome. The soup was cold and bland. The waiter was "
                   "rude and the service was slow. I will not go back.", labels=tasks.SENTIMENTS)
    assert sum(c["probs"].values()) == pytest.approx(1) and c["label"] == "negative"
    q = ft.inspect("qa", runs["qa"]["pre-trained"]["model"], tok,
                   "Anna lives in Rome, the capital of Italy.", "Where does Anna live?")
    assert len(q["start"]) == len(q["end"]) == len(q["tokens"]) == 10
    assert sum(q["start"]) == pytest.approx(1, abs=1e-4) and q["answer"] == "Rome"
    n = ft.inspect("ner", runs["ner"]["pre-trained"]["model"], tok, "Ben lives in Oslo.")
    assert [r["token"] for r in n["tokens"]] == ["Ben", "lives", "in", "Oslo", "."]
    assert all(0 < r["prob"] <= 1 for r in n["tokens"])
    assert {"text": "Oslo", "type": "CITY"} in n["entities"]
    with pytest.raises(TextError):
        ft.inspect("qa", runs["qa"]["pre-trained"]["model"], tok, "Some passage.", "")


def test_bad_settings_are_config_errors(data):
    with pytest.raises(ConfigError):
        ft.FinetuneConfig(steps=0)
    with pytest.raises(ConfigError):
        next(ft.finetune("summarise", BERT, data["classify"]))
    with pytest.raises(ConfigError):
        ft.make_head("classify", GPT, 2, pretrained=True)


# ---------------------------------------------------------------- GPT prompting
def test_gpt_few_shot_score_rises_from_k0_to_k4_on_capitals():
    zero, four = (prompting.score("capital", GPT, k)["accuracy"] for k in (0, 4))
    # measured with the committed gpt-mini, greedy: 0.50 at k=0, 0.88 at k=4
    assert four >= zero + 0.2, (zero, four)


def test_gpt_prompts_are_shown_and_fit_the_block(data):
    r = prompting.score("classify", GPT, 8, data["classify"], n=3)
    for item in r["items"]:
        assert item["prompt"].endswith("Sentiment:")
        assert item["k_used"] < 8  # eight reviews cannot fit 128 tokens: the oldest went
        assert len(GPT.tokenizer.encode(item["prompt"])) + prompting.MAX_NEW_TOKENS <= 128
        assert sum(item["probs"].values()) == pytest.approx(1)
    q = prompting.score("qa", GPT, 1, data["qa"], n=2)
    assert q["items"][0]["prompt"].count("\nA:") == 1 + q["items"][0]["k_used"]
    with pytest.raises(ConfigError):
        prompting.score("capital", BERT, 1)


# ---------------------------------------------------------------- CLI
def test_cli_finetune_json_and_bad_csv(tmp_path, capsys):
    assert main(["finetune", "classify", "--examples", "8", "--steps", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["init"] == "pre-trained" and out["examples"] == 8 and len(out["losses"]) == 3
    assert 0 <= out["metrics"]["accuracy"] <= 1 and out["baseline"]["accuracy"] == 0.5
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,pos\nbad,neg,oops\n", encoding="utf-8")
    assert main(["finetune", "classify", "--csv", str(bad)]) == 2
    assert "row 3" in capsys.readouterr().err
