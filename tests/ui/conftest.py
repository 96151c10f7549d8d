from __future__ import annotations

import os
from pathlib import Path

import pytest
from ui_browser import CHROMIUM


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; without it a UI test is skipped locally and fails under ``CI=true``."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"{CHROMIUM} is missing: install Debian's chromium (`make chromium`, or `apt-get install chromium`)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)
