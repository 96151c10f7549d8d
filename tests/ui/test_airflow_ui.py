"""The Airflow UI in a real browser: the api-server of the embedded runtime, headless Chromium, a real login.

Loads the DAG list and a DAG's grid, opens a task's "MLflow run" extra link and follows it into the MLflow UI.
Screenshots land in pytest's temporary directory; their paths are printed. Needs Debian's ``chromium``
(``make test`` installs it); without it the test is skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from ui_browser import Shots, browser_page

from ecomflow.core.settings import DAGS_DIR
from ecomflow.local import runtime

LINKS_CHECK_DAGS = Path(__file__).parents[1] / "plugins" / "dags"


def our_dag_ids() -> list[str]:
    """Every DAG of the platform: one per file in ``dags/`` (the DAG id is the file name)."""
    return sorted(path.stem for path in DAGS_DIR.glob("*.py") if not path.stem.startswith("_"))


@pytest.fixture(scope="module")
def mlflow_run(mlflow_server) -> tuple[str, str]:
    """A real MLflow run for the link to point at: (run id, run name)."""
    import uuid

    from mlflow import MlflowClient

    client = MlflowClient()
    experiment_id = client.create_experiment(f"ui-check-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id, run_name="ui-check-run")
    client.set_terminated(run.info.run_id)
    return run.info.run_id, run.info.run_name


def run_links_check(run_ids: dict[str, str]):
    """One real run (``dag.test()``) of ``tests/plugins/dags/links_check.py``, whose results carry ``run_ids``."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=LINKS_CHECK_DAGS, bundle_path=LINKS_CHECK_DAGS, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    dag_run = bag.dags["links_check"].test(logical_date=None, run_conf={"run_ids": run_ids})
    assert str(dag_run.state) == "success"
    return dag_run


@pytest.fixture(scope="module")
def api_server(settings, airflow_db, mlflow_run):
    """The api-server, started as ``ecomflow up`` starts it, over a metadata DB holding our DAGs and one run."""
    env = runtime.runtime_env(settings)
    parsed = subprocess.run(
        [str(runtime.BIN / "airflow"), "dags", "reserialize"], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert parsed.returncode == 0, f"airflow dags reserialize failed:\n{parsed.stderr[-3000:]}"
    run_id, _ = mlflow_run
    dag_run = run_links_check({name: run_id for name in ("a", "b", "old", "new")})
    service = runtime.airflow_services(settings)[0]
    runtime.start_service(settings, service, env)
    try:
        yield f"http://127.0.0.1:{settings.airflow_port}", dag_run.run_id
    finally:
        runtime.stop_service(settings, service.name)


def _log_in(page, base: str, settings) -> None:
    page.goto(f"{base}/dags")
    page.get_by_label("Username").fill(settings.airflow_user)
    page.get_by_label("Password").fill(runtime.runtime_secrets(settings)["admin_password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/dags**")


def _record_failed_calls(page, base: str, problems: list[str]) -> None:
    """Every answer >= 400 from Airflow from now on (before the login, the UI's config call answers 401)."""

    def on_response(response) -> None:  # noqa: ANN001
        if response.url.startswith(base) and response.status >= 400:
            problems.append(f"{response.status} from {response.url}")

    page.on("response", on_response)


def test_dag_list_grid_and_a_task_link_to_its_mlflow_run(chromium, api_server, mlflow_run, settings, tmp_path, capsys):
    from urllib.parse import quote

    base, links_run = api_server
    run_id, run_name = mlflow_run
    shots = Shots(tmp_path)
    try:
        with browser_page(chromium, shots) as page:
            _log_in(page, base, settings)
            _record_failed_calls(page, base, shots.problems)

            for dag_id in our_dag_ids():  # the DAG cards' title links
                page.locator(f'a[data-testid="dag-id"][href="/dags/{dag_id}"]').wait_for()
            shots.check(page, "dag-list")

            page.goto(f"{base}/dags/warehouse")
            for row in ("days", "dbt", "publish"):  # the grid's task rows
                page.get_by_text(row, exact=True).first.wait_for()
            page.get_by_role("button", name="Expand all task groups").click()
            page.get_by_text("dbt_producer_watcher", exact=True).first.wait_for()  # a task cosmos rendered
            shots.check(page, "warehouse-grid")

            page.goto(f"{base}/dags/links_check/runs/{quote(links_run, safe='')}/tasks/fit/mapped/0/details")
            link = page.get_by_role("link", name="MLflow run")
            link.wait_for()
            href = link.get_attribute("href")
            shots.check(page, "task-extra-link")
            assert href == f"{settings.mlflow_ui}/#/runs/{run_id}"

            page.goto(href)  # MLflow's UI finds the run's experiment itself
            page.get_by_text(run_name, exact=True).first.wait_for()
            shots.take(page, "mlflow-run", full_page=False)
            assert re.search(rf"#/experiments/\w+/runs/{run_id}", page.url), page.url
    finally:
        with capsys.disabled():
            log = runtime.log_path(settings, "airflow-api-server")
            print(f"\nUI screenshots: {', '.join(map(str, shots.paths))}\napi-server log: {log}")
    assert not shots.problems, "the UI showed errors:\n" + "\n".join(shots.problems)
