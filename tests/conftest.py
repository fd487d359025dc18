import os
import tempfile

# Threads that sleep when idle: spinning OpenMP threads fight the app server, the
# browser and each other on a 2-core machine (a tiny step went from 65 ms to 950 ms).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

from bertgpt import settings  # noqa: E402

# Two cores: torch's default of one thread per core is right; keep tests deterministic.
torch.manual_seed(0)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The Class tab's SQLite file: a test run's classes go to a temporary folder, never into
# the working directory (a test that looks at the file sets its own).
os.environ.setdefault("BERTGPT_CLASS_DB", os.path.join(
    tempfile.mkdtemp(prefix="bertgpt-test-classes-"), "classes.sqlite"))


@pytest.fixture(autouse=True)
def fresh_settings():
    """bertgpt reads the environment once per process (settings.current()): each test
    starts from the environment as it is then, and leaves nothing cached behind. A test
    that changes a variable after its first setting was read calls settings.reset()."""
    settings.reset()
    yield
    settings.reset()


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives a real chromium")
