"""What the app tests share: a free loopback port and a launched app."""
import socket
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app():
    """The whole app on 127.0.0.1 at a free port; closed afterwards."""
    from bertgpt.ui import build_app, launch
    demo = build_app()
    launch(demo, prevent_thread_lock=True, server_port=free_port())
    try:
        yield demo
    finally:
        demo.close()
