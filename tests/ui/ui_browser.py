"""What every UI test shares: Debian's Chromium, its headless flags, and a page that records what went wrong."""

from __future__ import annotations

import re
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 120_000  # a shared 2-core machine: the first load of a page compiles and fetches a lot
# What a UI shows instead of a page when something is wrong (its English messages).
ERROR_TEXT = re.compile(
    r"Not Found|An unexpected error occurred|Dag Import Error|Request Failed|Internal Server Error|Unauthorized"
)
