"""How the app is served: the address and port, a Hugging Face Space, the MCP server and
"Sign in with Hugging Face".

Gradio's own environment variables come first, as in any Gradio app: `GRADIO_SERVER_NAME`
and `GRADIO_SERVER_PORT` (a Space sets both), `GRADIO_ROOT_PATH`, `GRADIO_MCP_SERVER`. The
older `BERTGPT_HOST` / `BERTGPT_PORT` are aliases, used only when Gradio's are unset. A
value passed to `launch()` would override the environment, so nothing here is passed
unless the environment left it open.

Every function takes the environment as parsed `Settings` (settings.py), this process's
by default, so a test can hand it `Settings.from_env({...})`.
"""
from __future__ import annotations

from .. import settings
from ..settings import Settings

SPACE_PORT = 7860  # the port a Space's proxy forwards to (its `app_port` default)

# The tools the MCP server offers: the tabs that explain, each a pure function of its
# inputs. Training and fine-tuning stay off it: they hold a core for a minute and belong
# to a student's session, not to an agent's tool call.
MCP_ENDPOINTS = ("tokenize", "mask", "pairs", "masks", "attention", "params", "fill_mask",
                 "next_token")


def bind(env: Settings | None = None) -> dict:
    """`server_name` / `server_port` for launch(), only where Gradio's variables are unset:
    then BERTGPT_HOST / BERTGPT_PORT, then what a Space expects (0.0.0.0:7860). With
    nothing set, Gradio's defaults hold (127.0.0.1, the first free port from 7860)."""
    env = env or settings.current()
    out: dict = {}
    if not env.gradio_server_name:
        if env.bertgpt_host:
            out["server_name"] = env.bertgpt_host
        elif env.on_space():
            out["server_name"] = "0.0.0.0"
    if not env.gradio_server_port:
        if env.bertgpt_port is not None:  # checked to be 1-65535 by Settings.from_env
            out["server_port"] = env.bertgpt_port
        elif env.on_space():
            out["server_port"] = SPACE_PORT
    return out


def mcp_enabled(env: Settings | None = None) -> bool:
    """Gradio's GRADIO_MCP_SERVER decides; unset, the MCP server is on for a Space (its
    README tags it `mcp-server`) and off everywhere else."""
    env = env or settings.current()
    return env.on_space() if env.gradio_mcp_server is None else env.gradio_mcp_server


def login_enabled(env: Settings | None = None) -> bool:
    """Show "Sign in with Hugging Face": BERTGPT_LOGIN decides; unset, it shows on a Space
    with OAuth (`hf_oauth: true` makes the Space runtime set OAUTH_CLIENT_ID). Off a Space
    Gradio only mocks the sign-in, with the machine's own Hugging Face token, so there it
    shows only when BERTGPT_LOGIN asks for it."""
    env = env or settings.current()
    if env.bertgpt_login is None:
        return env.on_space() and bool(env.oauth_client_id)
    return env.bertgpt_login


def browser_secret(env: Settings | None = None) -> str:
    """The key gr.BrowserState encrypts the stored language choice with. Gradio draws a
    random one per launch when none is given, so every restart forgot each browser's
    choice. The value kept is only "en" or "ko", so a fixed key hides nothing worth
    hiding; an operator who stores more can set BERTGPT_BROWSER_SECRET."""
    return (env or settings.current()).bertgpt_browser_secret


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
