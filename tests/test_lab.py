"""The pre-training Lab (bertgpt/finetune/lab.py, `bertgpt lab`): the arms change what
they say, the causal arm is causal, the verdicts follow the numbers, and the shipped table
has the shape the tab reads and comes from the default settings."""
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from bertgpt import cli
from bertgpt.finetune import lab
from bertgpt.model.config import ModelConfig
from bertgpt.pretrain.data import BertData
from bertgpt.pretrain.loop import TrainConfig
from bertgpt.text.corpus import generate_world

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "lab" / "defaults.json"


def _data(cls=BertData, **cfg):
    train_text, val_text, tok = lab.world_setup(30_000, 500)
    return cls(tok, train_text, val_text, 64, TrainConfig(**cfg))


def test_the_mask_split_reaches_the_batches():
    """100/0/0: every selected position is [MASK]; 80/20/0: none is a random token."""
    g = torch.Generator().manual_seed(0)
    data = _data(mlm_mask_rate=1.0, mlm_random_rate=0.0, mlm_prob=0.4)
    b = data.batch("train", 32, g, "cpu")
    picked = b["labels"] != -100
    assert picked.sum() > 50
    assert (b["input_ids"][picked] == data.ids["mask"]).all()
    data = _data(**lab.ARMS["mask-80-20-0"], mlm_prob=0.4)
    b = data.batch("train", 32, torch.Generator().manual_seed(0), "cpu")
    picked = b["labels"] != -100
    shown = b["input_ids"][picked]
    kept = shown == b["labels"][picked]
    masked = shown == data.ids["mask"]
    assert (kept | masked).all() and kept.float().mean() > 0.1  # ~20% kept, no random


def test_the_masking_rate_reaches_the_batches():
    share = {}
    for prob in (0.15, 0.40):
        data = _data(mlm_prob=prob)
        b = data.batch("train", 64, torch.Generator().manual_seed(1), "cpu")
        special = (b["input_ids"] == data.ids["cls"]) | (b["input_ids"] == data.ids["sep"])
        real = ((b["attention_mask"] == 1) & ~special).sum()
        share[prob] = float((b["labels"] != -100).sum() / real)
    assert 0.12 < share[0.15] < 0.18 and 0.36 < share[0.40] < 0.44


def test_same_document_negatives_come_from_a_s_document():
    """With the seed's bug 1/(2n) of a document's pairs are (A, A); from other documents
    a copy needs the same templated sentence in two documents, which is rarer."""
    def copies(data):
        return sum(a == b for a, b, lab_ in data._pairs(data.train_docs, 0) if lab_ == 1)
    assert copies(_data(nsp_same_document=True)) > 2 * copies(_data()) + 5


def test_left_to_right_labels_are_the_next_tokens():
    data = _data(lab.LeftToRightData, nsp=False)
    b = data.batch("train", 8, torch.Generator().manual_seed(0), "cpu")
    ids, labels, attn = b["input_ids"], b["labels"], b["attention_mask"]
    assert (ids != data.ids["mask"]).all()  # nothing is hidden
    for i in range(len(ids)):
        n = int(attn[i].sum())
        assert labels[i, :n - 1].tolist() == ids[i, 1:n].tolist()
        assert (labels[i, n - 1:] == -100).all()


def test_the_causal_bert_cannot_see_ahead():
    torch.manual_seed(0)
    net = lab.CausalBERT(ModelConfig("bert", vocab_size=50, n_layer=2, n_head=2, n_embd=16,
                                     block_size=16)).eval()
    x = torch.randint(5, 50, (1, 10))
    y = x.clone()
    y[0, 7] = (x[0, 7] + 1 - 5) % 45 + 5  # change one later token
    hx, _ = net.encode(x)
    hy, _ = net.encode(y)
    assert torch.allclose(hx[0, 1:7], hy[0, 1:7], atol=1e-6)  # positions before it: same
    assert not torch.allclose(hx[0, 7], hy[0, 7])
    # position 0 is the summary a classifier reads: the last token, which sees everything
    assert torch.allclose(hx[0, 0], hx[0, 9]) and not torch.allclose(hx[0, 0], hy[0, 0])


def test_verdicts_separate_only_when_every_seed_does():
    s = {"bert": {"qa": {"mean": 0.5, "min": 0.45, "max": 0.55, "n": 2}},
         "mask-100": {"qa": {"mean": 0.3, "min": 0.25, "max": 0.35, "n": 2}},
         "no-nsp": {"qa": {"mean": 0.52, "min": 0.40, "max": 0.60, "n": 2}}}
    got = {(v["comparison"], v["metric"]): v for v in lab.verdicts(s)}
    masking = got[("masking", "qa")]  # Table 8: fine-tuning barely moved, so "same"
    assert masking["separated"] and masking["better"] == "a" and masking["agrees"] is False
    assert got[("masking", "qa")]["paper"] == "same"
    nsp = got[("nsp", "qa")]  # BERT and RoBERTa disagree: nothing to agree with
    assert not nsp["separated"] and nsp["better"] == "same" and nsp["agrees"] is None
    assert ("rate", "qa") not in got  # an arm that was not run is no comparison


def test_summary_and_with_row():
    rows = [{"arm": "bert", "seed": 0, "qa": 0.2, "visible_acc": None},
            {"arm": "bert", "seed": 1, "qa": 0.4, "visible_acc": None}]
    s = lab.summarize(rows)
    assert s["bert"]["qa"] == {"mean": pytest.approx(0.3), "min": 0.2, "max": 0.4, "n": 2}
    assert "visible_acc" not in s["bert"]
    table = {"rows": rows, "arms": ["bert"], "summary": s, "verdicts": []}
    new = lab.with_row(table, {"arm": "bert", "seed": 1, "qa": 0.8})
    assert new["summary"]["bert"]["qa"]["max"] == 0.8 and len(new["rows"]) == 2
    assert table["rows"][1]["qa"] == 0.4  # the input is not changed


def test_the_shipped_table_is_the_defaults_and_consistent():
    table = lab.load_results(SHIPPED)
    assert table["config"] == {k: v for k, v in asdict(lab.LabConfig()).items()
                               if k in table["config"]}
    assert table["arms"] == list(lab.ARMS) and len(table["seeds"]) >= 2
    assert len(table["rows"]) == len(table["arms"]) * len(table["seeds"])
    for r in table["rows"]:
        assert r["pretrain_steps"] == (0 if r["arm"] == "scratch" else table["config"]["steps"])
        for m in lab.DOWNSTREAM:
            assert 0.0 <= r[m] <= 1.0
        causal = r["arm"] == "causal"
        assert (r["visible_acc"] is None) == causal and (r["next_acc"] is None) != causal
    # the summary and the verdicts are what the rows give (JSON keeps floats exactly)
    assert lab.summarize(table["rows"]) == table["summary"]
    assert lab.verdicts(table["summary"]) == table["verdicts"]


def test_a_tiny_rerun_goes_through_the_cli(tmp_path, capsys):
    """One arm, one seed, a few steps: the same code the shipped table came from."""
    out = tmp_path / "lab.json"
    assert cli.main(["lab", "--arms", "mask-100", "--seeds", "3", "--steps", "3",
                     "--examples", "8", "--json", "--quiet", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = lab.load_results(out)
    assert printed["rows"] == saved["rows"]
    (row,) = saved["rows"]
    assert row["arm"] == "mask-100" and row["seed"] == 3 and row["pretrain_steps"] == 3
    assert all(0.0 <= row[m] <= 1.0 for m in lab.METRICS)
    assert saved["summary"]["mask-100"]["qa"]["n"] == 1


def test_an_unknown_arm_is_a_config_error(capsys):
    assert cli.main(["lab", "--arms", "nope", "--quiet"]) == 2
    assert "unknown arm" in capsys.readouterr().err


def test_the_world_text_is_the_same_for_every_arm():
    train_a, _, tok_a = lab.world_setup(30_000, 500)
    train_b, _, tok_b = lab.world_setup(30_000, 500)
    assert train_a == train_b and tok_a is tok_b
    assert generate_world(seed=0, size=30_000).startswith(train_a)
