"""bertgpt/app/serving.py: Gradio's launch variables win, BERTGPT_* are aliases, a Space
binds 0.0.0.0:7860, MCP offers only the explanatory tools, and the language secret is
fixed across launches."""
from __future__ import annotations

import os
import sys

import pytest

from apphelp import free_port, start_app, stop, wait_listening
from bertgpt import settings
from bertgpt.errors import ConfigError
from bertgpt.settings import Settings
from bertgpt.app import serving

SPACE = {"SPACE_ID": "teacher/bertgpt", "SYSTEM": "spaces"}


@pytest.mark.parametrize("env, expected", [
    ({}, {}),                                                    # Gradio's defaults hold
    ({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7901"}, {}),  # Gradio reads them
    ({"BERTGPT_HOST": "0.0.0.0", "BERTGPT_PORT": "8000"},
     {"server_name": "0.0.0.0", "server_port": 8000}),          # the aliases
    ({"GRADIO_SERVER_NAME": "127.0.0.1", "BERTGPT_HOST": "0.0.0.0"}, {}),  # Gradio's wins
    (SPACE, {"server_name": "0.0.0.0", "server_port": 7860}),   # a Space, even unset
    ({**SPACE, "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7860"}, {}),
])
def test_bind(env, expected):
    assert serving.bind(Settings.from_env(env)) == expected


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_bad_port_alias_says_what_to_write(port):
    with pytest.raises(ConfigError, match="BERTGPT_PORT"):
        serving.bind(Settings.from_env({"BERTGPT_PORT": port}))


def test_mcp_and_login_switches():
    def mcp(env):
        return serving.mcp_enabled(Settings.from_env(env))

    def login(env):
        return serving.login_enabled(Settings.from_env(env))
    assert not mcp({})
    assert mcp(SPACE)                                            # on for a Space
    assert not mcp({**SPACE, "GRADIO_MCP_SERVER": "false"})
    assert mcp({"GRADIO_MCP_SERVER": "True"})
    with pytest.raises(ConfigError, match="GRADIO_MCP_SERVER"):
        mcp({"GRADIO_MCP_SERVER": "maybe"})
    assert not login({})
    assert not login(SPACE)                                      # a Space without hf_oauth
    assert login({**SPACE, "OAUTH_CLIENT_ID": "abc"})            # hf_oauth: true
    assert not login({**SPACE, "OAUTH_CLIENT_ID": "abc", "BERTGPT_LOGIN": "0"})
    assert not login({"OAUTH_CLIENT_ID": "abc"})                 # not a Space: mocked only
    assert login({"BERTGPT_LOGIN": "1"})


def test_the_browser_state_secret_is_the_same_for_every_launch(monkeypatch):
    from bertgpt.app import build_app
    import gradio as gr
    monkeypatch.delenv("BERTGPT_BROWSER_SECRET", raising=False)

    def secret():
        states = [b for b in build_app().blocks.values() if isinstance(b, gr.BrowserState)]
        return [s.secret for s in states]
    first = secret()
    assert first and first == secret()      # a restart can read what the last launch stored
    monkeypatch.setenv("BERTGPT_BROWSER_SECRET", "our-own")
    settings.reset()
    assert secret() == ["our-own"] * len(first)


def test_the_login_button_is_there_on_a_space_with_oauth(monkeypatch):
    import gradio as gr
    from bertgpt.app import build_app
    monkeypatch.delenv("OAUTH_CLIENT_ID", raising=False)
    monkeypatch.delenv("BERTGPT_LOGIN", raising=False)
    assert not [b for b in build_app().blocks.values() if isinstance(b, gr.LoginButton)]
    import gradio.oauth
    oauth = {"OAUTH_CLIENT_ID": "abc", "OAUTH_CLIENT_SECRET": "x", "OAUTH_SCOPES": "openid",
             "OPENID_PROVIDER_URL": "https://huggingface.co"}   # what hf_oauth: true sets
    for key, value in {**SPACE, **oauth}.items():
        monkeypatch.setenv(key, value)
        if key in oauth:  # gradio.oauth read them when it was imported
            monkeypatch.setattr(gradio.oauth, key, value)
    settings.reset()
    assert len([b for b in build_app().blocks.values() if isinstance(b, gr.LoginButton)]) == 1


@pytest.mark.slow
def test_gradio_server_port_is_honoured_by_python_app_py(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTGPT_", "GRADIO_"))}
    env.update(GRADIO_SERVER_PORT=str(port), BERTGPT_PORT=str(free_port()),
               HF_HUB_OFFLINE="1", BERTGPT_TRAIN_PROCESS="0")
    proc = start_app(sys.executable, env, tmp_path / "app.log")
    try:
        assert wait_listening(proc, port, tmp_path / "app.log") == ["127.0.0.1"]
    finally:
        stop(proc)
