"""How the app is served: the address and port, a Hugging Face Space, the MCP server and
"Sign in with Hugging Face".

Gradio's own environment variables come first, as in any Gradio app: `GRADIO_SERVER_NAME`
and `GRADIO_SERVER_PORT` (a Space sets both), `GRADIO_ROOT_PATH`, `GRADIO_MCP_SERVER`. The
older `BERTGPT_HOST` / `BERTGPT_PORT` are aliases, used only when Gradio's are unset. A
value passed to `launch()` would override the environment, so nothing here is passed
unless the environment left it open.

Every function takes the environment as an argument, so a test can hand it a dict.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import ConfigError

SPACE_PORT = 7860  # the port a Space's proxy forwards to (its `app_port` default)

# The tools the MCP server offers: the tabs that explain, each a pure function of its
# inputs. Training and fine-tuning stay off it: they hold a core for a minute and belong
# to a student's session, not to an agent's tool call.
MCP_ENDPOINTS = ("tokenize", "mask", "pairs", "masks", "attention", "params", "fill_mask",
                 "next_token")

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    """An on/off variable: True, False, or None when unset; a clear error otherwise."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r}: write true or false.")


def on_space(env: Mapping[str, str] = os.environ) -> bool:
    """Running as a Hugging Face Space (the Space runtime sets SYSTEM and SPACE_ID)."""
    return env.get("SYSTEM") == "spaces" or bool(env.get("SPACE_ID"))


def bind(env: Mapping[str, str] = os.environ) -> dict:
    """`server_name` / `server_port` for launch(), only where Gradio's variables are unset:
    then BERTGPT_HOST / BERTGPT_PORT, then what a Space expects (0.0.0.0:7860). With
    nothing set, Gradio's defaults hold (127.0.0.1, the first free port from 7860)."""
    out: dict = {}
    if not env.get("GRADIO_SERVER_NAME"):
        if env.get("BERTGPT_HOST"):
            out["server_name"] = env["BERTGPT_HOST"]
        elif on_space(env):
            out["server_name"] = "0.0.0.0"
    if not env.get("GRADIO_SERVER_PORT"):
        raw = env.get("BERTGPT_PORT")
        if raw:
            try:
                port = int(raw)
            except ValueError:
                port = -1
            if not 1 <= port <= 65535:
                raise ConfigError(f"BERTGPT_PORT={raw!r}: write a port number from 1 to 65535.")
            out["server_port"] = port
        elif on_space(env):
            out["server_port"] = SPACE_PORT
    return out


def mcp_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Gradio's GRADIO_MCP_SERVER decides; unset, the MCP server is on for a Space (its
    README tags it `mcp-server`) and off everywhere else."""
    flag = _flag(env, "GRADIO_MCP_SERVER")
    return on_space(env) if flag is None else flag


def login_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Show "Sign in with Hugging Face": BERTGPT_LOGIN decides; unset, it shows on a Space
    with OAuth (`hf_oauth: true` makes the Space runtime set OAUTH_CLIENT_ID). Off a Space
    Gradio only mocks the sign-in, with the machine's own Hugging Face token, so there it
    shows only when BERTGPT_LOGIN asks for it."""
    flag = _flag(env, "BERTGPT_LOGIN")
    return on_space(env) and bool(env.get("OAUTH_CLIENT_ID")) if flag is None else flag


def browser_secret(env: Mapping[str, str] = os.environ) -> str:
    """The key gr.BrowserState encrypts the stored language choice with. Gradio draws a
    random one per launch when none is given, so every restart forgot each browser's
    choice. The value kept is only "en" or "ko", so a fixed key hides nothing worth
    hiding; an operator who stores more can set BERTGPT_BROWSER_SECRET."""
    return env.get("BERTGPT_BROWSER_SECRET") or "bertgpt-browser-state"


def limit_mcp_tools(demo, endpoints=MCP_ENDPOINTS) -> list[str]:
    """Keep only the explanatory endpoints as MCP tools (Gradio offers every public
    endpoint). Gradio builds its tool table at launch, so this runs after launch; a tool
    not in the table is neither listed nor callable. Returns the tool names kept."""
    server = getattr(demo, "mcp_server_obj", None)
    if server is None:
        return []
    keep = {"/" + name for name in endpoints}
    server.tool_to_endpoint = {tool: ep for tool, ep in server.tool_to_endpoint.items()
                               if ep in keep}
    return sorted(server.tool_to_endpoint)
