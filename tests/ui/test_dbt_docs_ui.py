"""The dbt docs site in a real browser: generated from the project, served over HTTP, a model's page opened.

``ecomflow docs`` generates the site and serves it with ``dbt docs serve``; here the same ``dbt docs generate``
writes it to a temporary target path and a plain HTTP server serves that folder (``dbt docs serve`` only serves
the folder too). Checks that a model's page shows its description and columns, and the lineage opens.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from ui_browser import CHROMIUM_ARGS, ERROR_TEXT, TIMEOUT_MS

MODEL = "customer_360"


@pytest.fixture(scope="module")
def docs_site(postgres, dbt_manifest, tmp_path_factory) -> Path:
    from ecomflow.transform import run_dbt

    site = tmp_path_factory.mktemp("dbt-docs")
    run_dbt(["docs", "generate", "--target-path", str(site)])
    assert (site / "index.html").exists() and (site / "catalog.json").exists()
    return site


@pytest.fixture(scope="module")
def docs_url(docs_site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(docs_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_a_model_page_shows_its_description_columns_and_lineage(chromium, docs_site, docs_url, tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    node = json.loads((docs_site / "manifest.json").read_text())["nodes"][f"model.ecomflow.{MODEL}"]
    first_sentence = node["description"].split(":")[0].strip()
    problems: list[str] = []
    shots = [tmp_path / "dbt-docs-model.png", tmp_path / "dbt-docs-lineage.png"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: problems.append(f"JavaScript error on {page.url}: {error}"))
        try:
            page.goto(f"{docs_url}/#!/model/model.ecomflow.{MODEL}")
            page.get_by_text(first_sentence).first.wait_for()
            for column in list(node["columns"])[:3]:
                page.get_by_text(column, exact=True).first.wait_for()
            page.screenshot(path=shots[0], full_page=True)
            if found := ERROR_TEXT.search(page.inner_text("body")):
                problems.append(f"the model page shows {found.group(0)!r}")
            page.get_by_title("View Lineage Graph").first.click()  # the launcher of dbt docs' lineage view
            page.get_by_text("Lineage Graph", exact=True).first.wait_for()
            page.locator("canvas").first.wait_for()
            page.screenshot(path=shots[1])
        finally:
            browser.close()
            with capsys.disabled():
                print(f"\ndbt docs screenshots: {', '.join(map(str, shots))}")
    assert not problems, "\n".join(problems)
