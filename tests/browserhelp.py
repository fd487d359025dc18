"""What the browser tests share: Debian's chromium (`apt-get install -y chromium`), driven
headless by Playwright (pip), and where screenshots go. A test module imports this before
anything else of its own; without chromium or playwright the whole module is skipped with
the reason (pytest.skip at import time skips the importing module)."""
import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

# Headless, and nothing that reaches the network (the tests run offline).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"  # gitignored; for a person
