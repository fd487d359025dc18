"""The live tabs through `gradio_client`, against an app launched on 127.0.0.1: a short
training run streams updates and leaves a model the other endpoints then use; Stop ends a
run early and keeps the model; two clients never see each other's models; bad uploads
are refused with a message that says what to do."""
import json
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import bertgpt.app as ui  # noqa: E402
from bertgpt import settings  # noqa: E402
from bertgpt.io.assets import bundled  # noqa: E402
from bertgpt.app import gpu, tab_train  # noqa: E402
from apphelp import free_port  # noqa: E402

LIVE_TABS = ["train", "fillmask", "generate"]


@pytest.fixture(scope="module")
def url():
    mp = pytest.MonkeyPatch()
    mp.setattr(ui, "TABS", LIVE_TABS)  # these tabs only: the others have their own tests
    mp.setenv("BERTGPT_TRAIN_CONCURRENCY", "2")  # so two clients really train at once
    settings.reset()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # training and handlers share 2 cores: no spin-waiting pairs
    runs = Path(tempfile.gettempdir()) / "bertgpt-runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    demo = ui.build_app()
    try:
        _, local_url, _ = ui.launch(demo, prevent_thread_lock=True, server_port=free_port(),
                                    quiet=True)
        yield local_url
    finally:
        demo.close()
        torch.set_num_threads(threads)
        mp.undo()
        for folder in set(runs.iterdir()) - before if runs.is_dir() else ():
            shutil.rmtree(folder, ignore_errors=True)  # this module's checkpoint zips


def train_args(arch="gpt", limit="steps", seconds=30, steps=20, corpus="world", text="",
               upload=None, size="tiny", seed=0):
    # arch, size, corpus, world_k, text, upload, limit, seconds, steps, batch, lr, seed
    return (arch, size, corpus, 20, text, upload, limit, seconds, steps, 8, 3e-3, seed)


def plot_data(value) -> list:
    fig = value["plot"] if isinstance(value, dict) else value
    return json.loads(fig)["data"] if isinstance(fig, str) else fig["data"]


def test_training_streams_then_other_tabs_use_the_model(url, tmp_path):
    c = Client(url, verbose=False)
    job = c.submit(*train_args(steps=30), api_name="/train")
    updates = list(job)
    assert len(updates) >= 3, "a run streams several updates"
    status, fig, probes, emb, zip_path = job.result()
    assert "Done" in status and "GPT" in status and "tokens/s" in status
    traces = {t["name"]: t for t in plot_data(fig)}
    assert len(traces["GPT: train"]["x"]) == 30 and traces["GPT: validation"]["y"]
    assert "The capital of France is" in probes
    # The embedding map came with the probes: every world country, capital and job placed.
    from bertgpt.pretrain.embedspace import WORLD_GROUPS
    groups = {t["name"]: t["text"] for t in plot_data(emb)}
    assert set(groups) == {"country", "capital", "job"}
    assert {w.rstrip("*") for w in groups["capital"]} == set(WORLD_GROUPS["capital"])
    with zipfile.ZipFile(zip_path) as z:
        assert "gpt-own/model.safetensors" in z.namelist()
    # The session's own GPT now answers in Generate & sample.
    out = c.predict("own", "The capital", 0.9, 0, 1.0, 7, 12, api_name="/generate")
    assert out[2]["model"]["source"] == "own" and out[2]["model"]["trained_steps"] == 30
    again = c.predict("own", "The capital", 0.9, 0, 1.0, 7, 12, api_name="/generate")
    assert out[2]["sampled"] == again[2]["sampled"]  # same seed, same text
    pieces = [p["token"] for p in out[0]]  # the prompt, then one piece per token
    assert pieces[0] == "The capital"
    assert len(pieces) == 1 + sum(bool(t["text"]) for t in out[2]["tokens"])
    assert any(p.startswith(" ") for p in pieces[1:]), "pieces carry their own spaces"
    fig, prompt, info, data = c.predict("own", "The capital", 1.0, 5, 0.9, 3,
                                        api_name="/next_token")
    assert prompt == "The capital" + data["token"] and "Drew" in info
    raw, scaled, drawn = plot_data(fig)  # the chart's last panel is what was drawn from
    assert drawn["y"] == pytest.approx([r["final"] for r in data["top"]])
    assert sum(r["final"] > 0 for r in data["top"]) <= 5  # top-k = 5 drawn from
    assert data["top"][[r["chosen"] for r in data["top"]].index(True)]["final"] > 0
    with pytest.raises(AppError, match="not trained a BERT"):
        c.predict("the capital of [MASK] .", 5, "own", api_name="/fill_mask")


def test_stop_ends_the_run_early_and_keeps_the_model(url):
    c = Client(url, verbose=False)
    job = c.submit(*train_args("bert", limit="time", seconds=60), api_name="/train")
    deadline = time.time() + 60
    while "step" not in (job.outputs()[-1][0] if job.outputs() else "") and time.time() < deadline:
        time.sleep(0.2)
    started = time.time()
    status, _, _, _, zip_path = c.predict(api_name="/stop_training")
    job.result(timeout=30)
    assert time.time() - started < 15, "Stop acts at the next step, not at the time budget"
    assert "stopped by you" in status and zip_path
    _, filled, data = c.predict("the capital of france is [MASK] .", 3, "own",
                                api_name="/fill_mask")
    assert data["model"]["stopped_by"] == "stop" and data["model"]["trained_steps"] < 2000
    assert len(data["masks"][0]["candidates"]) == 3 and "**" in filled


def test_pasted_text_trains_both_with_probes_from_it(url):
    from bertgpt.text.corpus import generate_world
    text = generate_world(seed=5, size=8000)
    c = Client(url, verbose=False)
    status, fig, probes, emb, _ = c.predict(
        *train_args("both", corpus="paste", text=text, steps=6), api_name="/train")
    assert "BERT" in status and "GPT" in status and "all steps done" in status
    assert plot_data(emb) == []  # a pasted text: no map, and the figure says why
    assert "world corpus" in json.dumps(emb)
    first = tab_train._text_probes(text)
    assert first["gpt"][0] in probes and "[MASK]" in probes  # probes come from the text
    assert {t["name"] for t in plot_data(fig)} >= {"GPT: train", "BERT (masked-LM loss): train"}


def test_a_korean_page_gets_korean_results_and_errors(url):
    """Everything the handler writes follows the page's language, the header switch
    passed as the last input (issue #22)."""
    c = Client(url, verbose=False)
    status, fig, probes, emb, _ = c.predict(*train_args("bert", steps=5), "ko",
                                            api_name="/train")
    assert "완료" in status and "모든 스텝 완료" in status and "초당" in status
    assert "step" not in status and "Done" not in status
    names = {t["name"] for t in plot_data(fig)}
    assert "BERT (마스크 언어 모델 손실): 학습" in names
    layout = json.loads(fig["plot"])["layout"]
    assert layout["xaxis"]["title"]["text"] == "스텝"
    assert {t["name"] for t in plot_data(emb)} == {"나라", "수도", "직업"}
    with pytest.raises(AppError, match="먼저 올릴 UTF-8 .txt 파일을 고르세요"):
        c.predict(*train_args(corpus="upload"), "ko", api_name="/train")
    assert c.predict("ko", api_name="/stop_training")[0] == "학습 중인 것이 없습니다."


def test_two_clients_training_at_once_never_share_models(url):
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    ja = a.submit(*train_args(steps=7, seed=1), api_name="/train")
    jb = b.submit(*train_args(steps=11, seed=2), api_name="/train")
    ja.result(timeout=120)
    jb.result(timeout=120)
    na = a.predict("own", "The", 0, 0, 1.0, 0, 3, api_name="/generate")[2]["model"]
    nb = b.predict("own", "The", 0, 0, 1.0, 0, 3, api_name="/generate")[2]["model"]
    assert (na["trained_steps"], nb["trained_steps"]) == (7, 11)
    fresh = Client(url, verbose=False)
    with pytest.raises(AppError, match="not trained a GPT"):
        fresh.predict("own", "The", 0, 0, 1.0, 0, 3, api_name="/generate")


@pytest.mark.parametrize("content, message", [
    (b"caf\xe9 au lait, s'il vous pla\xeet.\n" * 50, "not UTF-8"),
    (b"", "empty"),
    (b"\xff\xfeh\x00i\x00", "UTF-16"),
    (b"\x00\x01\x02binary" * 100, "binary"),
])
def test_bad_uploads_are_refused_clearly(url, tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    c = Client(url, verbose=False)
    with pytest.raises(AppError, match=f"cannot be used.*{message}"):
        c.predict(*train_args(corpus="upload", upload=handle_file(str(path))), api_name="/train")


def test_too_large_text_is_refused(url, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGPT_MAX_TRAIN_BYTES", "50000")  # the cap, small for a fast test
    settings.reset()  # the app runs in this process: its next click reads it
    path = tmp_path / "big.txt"
    path.write_text("The capital of France is Paris.\n" * 2000)  # 64 kB
    c = Client(url, verbose=False)
    with pytest.raises(AppError, match="over the 50,000-byte limit"):
        c.predict(*train_args(corpus="upload", upload=handle_file(str(path))), api_name="/train")
    with pytest.raises(AppError, match="over the 50,000-byte limit"):
        c.predict(*train_args(corpus="paste", text=path.read_text()), api_name="/train")


def test_other_bad_training_inputs(url):
    c = Client(url, verbose=False)
    with pytest.raises(AppError, match="empty"):
        c.predict(*train_args(corpus="paste", text="   "), api_name="/train")
    with pytest.raises(AppError, match="upload first"):
        c.predict(*train_args(corpus="upload"), api_name="/train")
    with pytest.raises(AppError, match="training tokens"):  # too short for one block
        c.predict(*train_args(corpus="paste", text="a b c. d e f.\n\ng h i."), api_name="/train")
    if not gpu.has_gpu():  # the GPU sizes are not even offered without a GPU
        with pytest.raises(AppError, match="not in the list of choices"):
            c.predict(*train_args(size="small"), api_name="/train")
        with pytest.raises(ui.gr.Error, match="needs a GPU"):
            tab_train.make_spec(*train_args(size="small"))
    assert c.predict(api_name="/stop_training")[0] == "Nothing is training."


@pytest.mark.skipif(bundled("bert") is None, reason="assets/models/bert-mini is missing")
def test_bundled_bert_answers(url):
    c = Client(url, verbose=False)
    _, filled, data = c.predict("the capital of france is [MASK] .", 5, "bundled",
                                api_name="/fill_mask")
    assert data["model"]["source"] == "bundled" and len(data["masks"][0]["candidates"]) == 5


@pytest.mark.skipif(bundled("gpt") is None, reason="assets/models/gpt-mini is missing")
def test_bundled_gpt_answers(url):
    c = Client(url, verbose=False)
    _, prompt, _, step = c.predict("bundled", "The capital of France is", 0, 0, 1.0, 0,
                                   api_name="/next_token")
    assert step["top"][0]["chosen"]  # temperature 0: the likeliest token, always
    out = c.predict("bundled", "The capital of France is", 0.8, 40, 0.95, 1, 30,
                    api_name="/generate")
    assert out[2]["new_tokens"] >= 1 and out[2]["greedy"].startswith("The capital of France is")


def test_inputs_the_tabs_refuse(url):
    c = Client(url, verbose=False)
    with pytest.raises(AppError, match=r"\[MASK\]"):
        c.predict("no mask in this one", 5, "bundled", api_name="/fill_mask")
    with pytest.raises(AppError, match="at most"):
        c.predict("bundled", "x" * 2001, 1.0, 0, 1.0, 0, api_name="/next_token")


def test_distribution_figure_draws_the_cuts():
    from bertgpt.model.sampling import distribution
    from bertgpt.app.plots_live import distribution_figure
    step = distribution(torch.tensor([4.0, 3.0, 2.5, 2.0, 1.0, 0.5]), 1.0, 4, 0.8)
    step.token = 0
    fig = distribution_figure(step.top(6), 1.0, 4, 0.8, kept=int(step.kept_p.sum()), vocab=6)
    lines = {(s["x0"], s["yref"]) for s in fig["layout"]["shapes"]}
    n_p = int(step.kept_p.sum())
    assert {(3.5, "y2 domain"), (3.5, "y3 domain")} <= lines  # top-k = 4 after the 4th bar
    assert (n_p - 0.5, "y3 domain") in lines and n_p < 4     # top-p cuts inside the top-k
    assert fig["data"][1]["marker"]["pattern"]["shape"][4] == "x"  # cut by top-k: hatched
    assert fig["data"][2]["x"][0].startswith("★")                 # the drawn token


def test_no_shared_state_between_threads():
    """The UI keeps no module-level mutable state: each run is its own object."""
    r1, r2 = tab_train.Run({"archs": ["gpt"]}), tab_train.Run({"archs": ["gpt"]})
    assert r1.train is not r2.train and r1.stop.path != r2.stop.path
    assert isinstance(r1.finished, threading.Event)
