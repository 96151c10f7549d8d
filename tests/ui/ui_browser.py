"""What every UI test shares: Debian's Chromium, its headless flags, and a page that records what went wrong."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


@dataclass
class Shots:
    """A UI test's screenshots and the problems its pages showed (errors on screen, JavaScript errors)."""

    folder: Path
    paths: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def take(self, page: Page, name: str, full_page: bool = True) -> None:
        """Screenshot the page as ``<name>.png``."""
        self.paths.append(self.folder / f"{name}.png")
        page.screenshot(path=self.paths[-1], full_page=full_page)

    def check(self, page: Page, name: str) -> None:
        """Screenshot the page and record any error it shows."""
        self.take(page, name)
        if found := ERROR_TEXT.search(page.inner_text("body")):
            self.problems.append(f"{name} ({page.url}) shows {found.group(0)!r}")


@contextmanager
def browser_page(chromium: Path, shots: Shots) -> Iterator[Page]:
    """A page of headless Chromium; JavaScript errors go to ``shots.problems``, a failure is screenshot."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: shots.problems.append(f"JavaScript error on {page.url}: {error}"))
        try:
            yield page
        except Exception:
            shots.take(page, "failure")
            raise
        finally:
            browser.close()
