"""A Hugging Face Space rehearsal: a fresh virtual environment built the way a Space builds
one (`pip install -r requirements.txt` and the `gradio==<sdk_version>` of README.md's front
matter; no `pip install -e .`), `python app.py` started with a Space's environment, the app
listening on 0.0.0.0, one call per tab through gradio_client, and the MCP endpoint.

Then the ZeroGPU branch (SPACES_ZERO_GPU=true), as far as it runs without a GPU: the real
`spaces` package cannot even be imported there with a CPU build of torch, so a stand-in
`spaces` (tests/space_standin/) records what the app registers at start-up and runs the
job as ZeroGPU would, pickling what crosses into and out of its worker.

The Space's own torch is a CUDA build; here the CPU build of the same version is
installed first, as .ci/run does, so pip does not fetch a multi-gigabyte CUDA build.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from apphelp import ROOT, free_port, start_app, stop, wait_listening, wait_ready

pytestmark = pytest.mark.slow
README = (ROOT / "README.md").read_text(encoding="utf-8")
SDK_VERSION = re.search(r"^sdk_version:\s*(\S+)", README, re.M).group(1)
TOOLS = {"tokenize", "mask", "pairs", "masks", "attention", "params", "fill_mask", "next_token"}
TEXT = "the capital of france is paris ."


@pytest.fixture(scope="module")
def space_python(tmp_path_factory) -> str:
    """The Python of a fresh venv holding only what a Space installs. A developer running
    these tests again may point BERTGPT_SPACE_PYTHON at one built before."""
    if os.environ.get("BERTGPT_SPACE_PYTHON"):
        return os.environ["BERTGPT_SPACE_PYTHON"]
    venv = tmp_path_factory.mktemp("space") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    steps = [pip + [f"torch=={torch.__version__.split('+')[0]}"],
             pip + ["-r", str(ROOT / "requirements.txt"), f"gradio=={SDK_VERSION}"]]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}"
    # bertgpt comes from the folder beside app.py, as on a Space, not from an install
    probe = subprocess.run([py, "-c", "import bertgpt, gradio; print(bertgpt.__file__, "
                            "gradio.__version__)"], cwd=ROOT, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    where, version = probe.stdout.split()
    assert Path(where).parent == ROOT / "bertgpt" and version == SDK_VERSION
    return py


def space_env(port: int, **extra) -> dict:
    """What the Space runtime sets (and nothing of this machine's own settings)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "SPACE_ID": "teacher/bertgpt", "SYSTEM": "spaces",
            "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(port),
            "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture(scope="module")
def space(space_python, tmp_path_factory):
    port, log = free_port(), tmp_path_factory.mktemp("space-log") / "app.log"
    proc = start_app(space_python, space_env(port), log)
    try:
        addresses = wait_listening(proc, port, log, seconds=180)
        wait_ready(proc, log)
        yield {"url": f"http://127.0.0.1:{port}", "addresses": addresses, "log": log}
    finally:
        stop(proc)


def test_a_space_listens_on_every_interface(space):
    assert space["addresses"] == ["0.0.0.0"], space["addresses"]


def client(url):
    from gradio_client import Client
    end = time.monotonic() + 60
    while True:  # the port opens a moment before the app answers
        try:
            return Client(url, verbose=False)
        except Exception:  # noqa: BLE001
            if time.monotonic() > end:
                raise
            time.sleep(1)


def test_one_call_per_tab(space):
    c = client(space["url"])
    bert, gpt = c.predict("France", api_name="/intro_ask")
    assert "paris" in str(bert).lower() or "paris" in str(gpt).lower()
    wp, bpe, summary, _ = c.predict(TEXT, 2000, "unbelievably", api_name="/tokenize")
    assert wp and bpe and summary
    fate, model_in, labels, counts, rates = c.predict(TEXT, 7, 0.3, 0.8, 0.1, api_name="/mask")
    assert labels and counts
    shown, stats, _, _ = c.predict("world corpus", "", 3, 24, False, 1, api_name="/pairs")
    assert "IsNext" in str(shown) and stats
    grids, _, _, md = c.predict("the cat\nthe dog barks", "causal", 0, 1, api_name="/masks")
    assert grids and md
    bert_map, gpt_map, *_ = c.predict(TEXT, "bundled", 1, 1, api_name="/attention")
    assert bert_map and gpt_map
    job = c.submit("gpt", "tiny", "world", 20, "", None, "steps", 30, 10, 8, 3e-3, 0,
                   api_name="/train")
    status = str(job.result()[0])
    assert "10" in status and "error" not in status.lower(), status
    _, filled, data = c.predict("the capital of france is [MASK] .", 3, "bundled",
                                api_name="/fill_mask")
    assert filled and data
    *_, data = c.predict("bundled", "The capital of France is", 1.0, 0, 1.0, 0,
                         api_name="/next_token")
    assert data
    status, _ = c.predict("classify", "bundled", "", "16", 10, False, 0, api_name="/finetune")
    assert "scratch" in str(status).lower()
    md, _ = c.predict("bert-base", "bert", 1, 1, 1, 16, 1, api_name="/params")
    assert "109,482,240" in md or "109.5M" in md


def test_the_mcp_server_offers_the_explanatory_tools_only(space):
    import httpx
    schema = httpx.get(space["url"] + "/gradio_api/mcp/schema", timeout=30).json()
    names = {t["name"] for t in schema}
    prefix = "bertgpt_"   # Gradio prefixes tool names with the Space's name
    assert names == {prefix + t for t in TOOLS}, names
    tokenize = next(t for t in schema if t["name"] == prefix + "tokenize")
    assert "WordPiece" in tokenize["description"]
    # lang: the tool answers in English or Korean, as the page does (default English)
    assert set(tokenize["inputSchema"]["properties"]) == {"text", "vocab_size", "word", "lang"}


def test_an_mcp_call_returns_the_endpoints_trace(space):
    anyio = pytest.importorskip("anyio")
    mcp = pytest.importorskip("mcp")
    from mcp.client.streamable_http import streamablehttp_client

    async def call():
        async with streamablehttp_client(space["url"] + "/gradio_api/mcp/") as (r, w, _):
            async with mcp.ClientSession(r, w) as session:
                await session.initialize()
                listed = {t.name for t in (await session.list_tools()).tools}
                result = await session.call_tool("bertgpt_mask", {
                    "text": TEXT, "seed": 7, "prob": 0.3, "mask_rate": 0.8,
                    "random_rate": 0.1})
                return listed, result
    listed, result = anyio.run(call)
    assert "bertgpt_train" not in listed and "bertgpt_mask" in listed
    assert not result.isError, result
    texts = "\n".join(c.text for c in result.content if c.type == "text")
    endpoint = client(space["url"]).predict(TEXT, 7, 0.3, 0.8, 0.1, api_name="/mask")
    counts = endpoint[3]          # the counts paragraph: the same masking, the same words
    assert counts and counts in texts


STANDIN = Path(__file__).resolve().parent / "space_standin"


def test_zero_gpu_branch_registers_at_start_and_trains_through_the_decorator(space_python,
                                                                             tmp_path):
    port, log, record = free_port(), tmp_path / "zero.log", tmp_path / "gpu.json"
    env = space_env(port, SPACES_ZERO_GPU="true", PYTHONPATH=str(STANDIN),
                    BERTGPT_STANDIN_RECORD=str(record), GRADIO_MCP_SERVER="false")
    proc = start_app(space_python, env, log)
    try:
        wait_listening(proc, port, log, seconds=180)
        wait_ready(proc, log)
        registered = json.loads(record.read_text())
        # registered while the Blocks were built, before any click, as ZeroGPU requires
        assert [r["function"] for r in registered] == ["train_job"]
        assert registered[0]["duration_for_20s"] == 50   # the run's budget + 30 s
        url = f"http://127.0.0.1:{port}"
        import httpx
        assert "ZeroGPU GPU" in httpx.get(url + "/config", timeout=30).text  # Train tab says
        c = client(url)
        job = c.submit("gpt", "tiny", "world", 20, "", None, "steps", 30, 10, 8, 3e-3, 0,
                       api_name="/train")
        status = str(job.result()[0])
        assert "Done" in status and "step 10" in status, status
        calls = json.loads(record.read_text())
        assert calls[-1].get("ran") == "train_job" and calls[-1]["duration"] > 30
    finally:
        stop(proc)
