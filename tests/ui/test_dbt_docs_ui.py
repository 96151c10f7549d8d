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
from ui_browser import Shots, browser_page

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
    node = json.loads((docs_site / "manifest.json").read_text())["nodes"][f"model.ecomflow.{MODEL}"]
    first_sentence = node["description"].split(":")[0].strip()
    shots = Shots(tmp_path)
    try:
        with browser_page(chromium, shots) as page:
            page.goto(f"{docs_url}/#!/model/model.ecomflow.{MODEL}")
            page.get_by_text(first_sentence).first.wait_for()
            for column in list(node["columns"])[:3]:
                page.get_by_text(column, exact=True).first.wait_for()
            shots.check(page, "dbt-docs-model")
            page.get_by_title("View Lineage Graph").first.click()  # the launcher of dbt docs' lineage view
            page.get_by_text("Lineage Graph", exact=True).first.wait_for()
            page.locator("canvas").first.wait_for()
            shots.take(page, "dbt-docs-lineage", full_page=False)
    finally:
        with capsys.disabled():
            print(f"\ndbt docs screenshots: {', '.join(map(str, shots.paths))}")
    assert not shots.problems, "\n".join(shots.problems)
