"""What the app tests share: a free loopback port, a launched app, and `python app.py`
started as a user or a Space starts it."""
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(port: int | None = None):
    """The whole app on 127.0.0.1 at `port` (a free one by default); closed afterwards."""
    from bertgpt.app import build_app, launch
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_port=port or free_port())
    try:
        yield demo
    finally:
        demo.close()


def _listening(port: int) -> list[str]:
    """The addresses a TCP socket listens on at `port` (read from /proc, no traffic)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:   # 0A = LISTEN
                found.append("0.0.0.0" if set(addr) == {"0"} else
                             ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0))
                             if len(addr) == 8 else addr)
    return found


def wait_listening(proc, port: int, log: Path, seconds: float = 120) -> list[str]:
    """Wait until the app listens on `port` (any address) or its process ends."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if (found := _listening(port)):
            return found
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited with {proc.returncode}:\n{_head(log)}")
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on {port} after {seconds} s; app.py said:\n"
                         f"{_head(log)}")


def wait_ready(proc, log: Path, seconds: float = 120) -> None:
    """Wait until Gradio has finished launching: after it opens the port it checks that it
    can reach itself, and exits if that check fails. Its next line says it passed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if "share=True" in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"app.py exited with {proc.returncode}:\n{_head(log)}")
        time.sleep(0.5)
    raise AssertionError(f"app.py did not finish launching in {seconds} s:\n{_head(log)}")


def _head(log: Path) -> str:
    """The start of an app's log, where Gradio says which address it took."""
    return log.read_text(errors="replace")[:2000]


def start_app(python: str, env: dict, log: Path) -> subprocess.Popen:
    """`python app.py` from the repository root, as a Space or a user starts it."""
    return subprocess.Popen([python, "app.py"], cwd=ROOT, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
