import os

import pytest
import torch

# Two cores: torch's default of one thread per core is right; keep tests deterministic.
torch.manual_seed(0)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.addinivalue_line("markers", "browser: drives a real chromium")
