"""benchmarks/vs_nanogpt.py: without a nanoGPT checkout it says how to get one and exits
0; with one it runs both commands and reports per-step costs by differencing. A stand-in
checkout whose train.py sleeps 20 ms an iteration proves the arithmetic."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "vs_nanogpt.py"


def _run(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=600, env=env)


def test_without_a_checkout_it_says_how_to_get_one(tmp_path):
    for args in ([], ["--nanogpt", str(tmp_path)]):
        r = _run(*args)
        assert r.returncode == 0, r.stderr
        assert "karpathy/nanoGPT" in r.stdout and "Nothing was measured" in r.stdout


def _standin(folder: Path) -> Path:
    """A checkout with nanoGPT's layout whose train.py costs 20 ms an iteration."""
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "train_shakespeare_char.py").write_text("")
    (folder / "model.py").write_text("")
    (folder / "configurator.py").write_text("")
    prep = folder / "data" / "shakespeare_char"
    prep.mkdir(parents=True)
    (prep / "prepare.py").write_text("open('train.bin', 'wb').write(b'')\n")
    (folder / "train.py").write_text(textwrap.dedent("""
        import sys, time
        n = int(next(a for a in sys.argv if a.startswith('--max_iters=')).split('=')[1])
        assert '--device=cpu' in sys.argv and '--compile=False' in sys.argv
        time.sleep(0.3 + 0.02 * (n + 1))   # start-up, then iterations 0..n
    """))
    return folder


@pytest.mark.slow
def test_it_differences_two_runs_of_each(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 400)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # 60 steps between the two runs: a few seconds of real steps for bertgpt, so start-up
    # noise between two processes (a few hundred ms on a busy machine) cannot flip the sign
    r = _run("--nanogpt", str(_standin(tmp_path / "nano")), "--text", str(text),
             "--short", "3", "--long", "63", "--rounds", "1", "--json", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["nanogpt"]["ms_per_step"] == pytest.approx(20, abs=8)   # the stand-in's cost
    assert out["bertgpt"]["ms_per_step"] > 0 and out["bertgpt"]["peak_rss_mb"] > 50
    assert out["speedup"] == pytest.approx(out["nanogpt"]["ms_per_step"]
                                           / out["bertgpt"]["ms_per_step"])
