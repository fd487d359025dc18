"""bertgpt/settings.py: every environment variable parsed in one place, with its default
and a one-line error for a bad value; no other module reads the environment, and
docs/DEPLOY.md's table names exactly these variables."""
from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from bertgpt import settings
from bertgpt.errors import ConfigError
from bertgpt.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = {f.name.upper() for f in dataclasses.fields(Settings)}

INTEGERS = ["BERTGPT_QUEUE", "BERTGPT_CONCURRENCY", "BERTGPT_SESSION_TTL",
            "BERTGPT_TRAIN_CONCURRENCY", "BERTGPT_TRAIN_QUEUE", "BERTGPT_TRAIN_THREADS",
            "BERTGPT_TRAIN_NICE", "BERTGPT_MAX_STEPS", "BERTGPT_MAX_TRAIN_BYTES",
            "BERTGPT_REAL_MODELS", "BERTGPT_CLASS_CAP", "RANK", "WORLD_SIZE", "LOCAL_RANK"]


# ------------------------------------------------------------------- defaults and parsing
def test_defaults_with_nothing_set():
    s = Settings.from_env({})
    assert (s.bertgpt_queue, s.bertgpt_concurrency, s.bertgpt_session_ttl) == (200, 4, 3600)
    assert (s.bertgpt_train_concurrency, s.bertgpt_train_queue, s.bertgpt_train_nice) == (1, 10, 10)
    assert s.bertgpt_train_threads is None  # the app splits cores - 1 over the runs
    assert (s.bertgpt_max_steps, s.bertgpt_max_seconds, s.bertgpt_max_train_bytes) == (
        2000, 120.0, 2_000_000)
    assert s.bertgpt_real_models == 2
    assert (s.bertgpt_class_db, s.bertgpt_class_cap, s.bertgpt_class_hours) == (
        "bertgpt-classes.sqlite", 200, 8.0)
    assert s.bertgpt_train_process and s.bertgpt_malloc_tune
    assert (s.rank, s.world_size, s.local_rank) == (0, 1, 0)
    assert s.bertgpt_browser_secret == settings.BROWSER_SECRET
    assert not s.spaces_zero_gpu and not s.on_space()
    unset = ["gradio_server_name", "gradio_server_port", "bertgpt_host", "bertgpt_port",
             "gradio_mcp_server", "bertgpt_login", "system", "space_id", "oauth_client_id",
             "hf_hub_offline", "transformers_offline", "hf_hub_cache", "hf_home", "hf_endpoint"]
    assert [name for name in unset if getattr(s, name) is not None] == []


@pytest.mark.parametrize("name", INTEGERS)
def test_each_whole_number_is_read(name):
    assert getattr(Settings.from_env({name: "7"}), name.lower()) == 7


def test_values_are_typed():
    s = Settings.from_env({"BERTGPT_MAX_SECONDS": "12.5", "BERTGPT_PORT": "8000",
                           "BERTGPT_HOST": "0.0.0.0", "HF_HUB_CACHE": "/cache",
                           "GRADIO_MCP_SERVER": "Yes", "BERTGPT_LOGIN": "off"})
    assert s.bertgpt_max_seconds == 12.5 and s.bertgpt_port == 8000
    assert s.bertgpt_host == "0.0.0.0" and s.hf_hub_cache == "/cache"
    assert s.gradio_mcp_server is True and s.bertgpt_login is False


def test_an_empty_value_counts_as_unset():
    empty = {name: "" for name in VARIABLES}
    assert Settings.from_env(empty) == Settings.from_env({})


def test_zero_gpu_shortens_runs_unless_the_operator_says_otherwise():
    assert Settings.from_env({"SPACES_ZERO_GPU": "true"}).bertgpt_max_seconds == 60.0
    assert Settings.from_env({"SPACES_ZERO_GPU": "T"}).spaces_zero_gpu
    assert not Settings.from_env({"SPACES_ZERO_GPU": "yes"}).spaces_zero_gpu  # not its spelling
    both = Settings.from_env({"SPACES_ZERO_GPU": "1", "BERTGPT_MAX_SECONDS": "90"})
    assert both.bertgpt_max_seconds == 90.0


def test_only_zero_turns_the_training_process_and_the_malloc_tuning_off():
    for name in ("BERTGPT_TRAIN_PROCESS", "BERTGPT_MALLOC_TUNE"):
        assert getattr(Settings.from_env({name: "0"}), name.lower()) is False
        assert getattr(Settings.from_env({name: "false"}), name.lower()) is True
        assert getattr(Settings.from_env({name: "1"}), name.lower()) is True


def test_a_space_is_known_by_system_or_space_id():
    assert Settings.from_env({"SYSTEM": "spaces"}).on_space()
    assert Settings.from_env({"SPACE_ID": "teacher/bertgpt"}).on_space()
    assert not Settings.from_env({"SYSTEM": "linux"}).on_space()


# ------------------------------------------------------------------- bad values
@pytest.mark.parametrize("name", INTEGERS + ["BERTGPT_MAX_SECONDS"])
def test_a_bad_number_is_one_line_naming_the_variable(name):
    with pytest.raises(ConfigError, match=f"^{name}='lots': write a") as bad:
        Settings.from_env({name: "lots"})
    assert "\n" not in str(bad.value)


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1"])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(ConfigError, match="BERTGPT_PORT=.*from 1 to 65535"):
        Settings.from_env({"BERTGPT_PORT": port})


@pytest.mark.parametrize("name", ["GRADIO_MCP_SERVER", "BERTGPT_LOGIN"])
def test_a_switch_must_say_true_or_false(name):
    with pytest.raises(ConfigError, match=f"{name}='maybe': write true or false"):
        Settings.from_env({name: "maybe"})


def test_huggingface_hubs_switches_read_as_that_library_reads_them():
    """Its own variables, its own rule: 1/ON/YES/TRUE is on, anything else off, no error."""
    assert Settings.from_env({"HF_HUB_OFFLINE": " on "}).hf_hub_offline is True
    assert Settings.from_env({"HF_HUB_OFFLINE": "maybe"}).hf_hub_offline is False
    assert Settings.from_env({"TRANSFORMERS_OFFLINE": "1"}).transformers_offline is True


# ------------------------------------------------------------------- precedence
@pytest.mark.parametrize("env, offline", [
    ({}, None),                                                   # huggingface_hub decides
    ({"TRANSFORMERS_OFFLINE": "1"}, True),                        # the older name alone
    ({"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}, False),  # the newer name wins
    ({"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "1"}, True),  # empty: unset
])
def test_hub_offline_precedence(env, offline):
    assert Settings.from_env(env).hub_offline() is offline


def test_the_hub_cache_folder_precedence(monkeypatch):
    from huggingface_hub import constants
    from bertgpt.io import hub
    for name in ("HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert hub.cache_dir() == constants.HF_HUB_CACHE
    monkeypatch.setenv("HF_HOME", "/home-of-hf")
    settings.reset()
    assert hub.cache_dir() == "/home-of-hf/hub"
    monkeypatch.setenv("HF_HUB_CACHE", "/the-cache")
    settings.reset()
    assert hub.cache_dir() == "/the-cache"


# ------------------------------------------------------------------- once per process
def test_current_reads_the_environment_once_until_reset(monkeypatch):
    monkeypatch.setenv("BERTGPT_MAX_STEPS", "11")
    first = settings.current()
    assert first.bertgpt_max_steps == 11
    monkeypatch.setenv("BERTGPT_MAX_STEPS", "12")
    assert settings.current() is first           # read once: a later change is not seen
    settings.reset()
    assert settings.current().bertgpt_max_steps == 12


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings.from_env({}).bertgpt_max_steps = 5


def test_from_env_reads_exactly_one_variable_per_field():
    """Each field is named as its variable, in lower case, and from_env reads no other."""
    class Recording(dict):
        def __init__(self):
            super().__init__()
            self.read: list[str] = []

        def get(self, key, default=None):
            self.read.append(key)
            return super().get(key, default)
    env = Recording()
    Settings.from_env(env)
    assert sorted(set(env.read)) == sorted(VARIABLES)


# ------------------------------------------------------------------- the docs, the code
def test_deploy_md_has_exactly_these_variables_in_one_table():
    lines = (ROOT / "docs" / "DEPLOY.md").read_text().splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("| variable |")]
    assert len(heads) == 1, "one table of settings, headed | variable | default | ... |"
    rows = []
    for line in lines[heads[0] + 2:]:  # past the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])  # the variable column
    documented = [name for row in rows for name in re.findall(r"`([A-Z_]+)`", row)]
    assert len(documented) == len(set(documented)), "a variable has two rows"
    assert sorted(documented) == sorted(VARIABLES)


def _reads_the_environment(node: ast.AST, parents: dict) -> bool:
    """os.environ (or os.getenv) used for anything but a setdefault() that configures a
    library, such as Gradio's GRADIO_ANALYTICS_CACHE_FREQUENCY."""
    if isinstance(node, ast.Attribute) and node.attr == "getenv":
        return True
    if not (isinstance(node, ast.Attribute) and node.attr == "environ"):
        return False
    parent = parents.get(node)
    return not (isinstance(parent, ast.Attribute) and parent.attr == "setdefault")


def test_no_module_but_settings_reads_the_environment():
    found = []
    for path in sorted((ROOT / "bertgpt").rglob("*.py")):
        if path.name == "settings.py" and path.parent.name == "bertgpt":
            continue
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        found += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                  if _reads_the_environment(node, parents)]
    assert found == []
