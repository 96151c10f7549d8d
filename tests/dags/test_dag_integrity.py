"""Every DAG imports cleanly, follows the conventions, and stays thin."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecomflow.settings import DAGS_DIR

EXPECTED = {"ingest", "warehouse", "train", "score_and_publish"}


@pytest.fixture(scope="module")
def dags(airflow_db, dbt_manifest):
    from ecomflow.local.pipeline import load_dags

    return load_dags()


def test_no_import_errors_and_every_dag_is_there(dags):
    assert EXPECTED <= set(dags)


def test_dag_id_is_the_file_name(dags):
    for dag_id, dag in dags.items():
        assert Path(dag.fileloc).stem == dag_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_owner_tags_retries_timeout_and_docs(dags, dag_id):
    dag = dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md, f"{dag_id} has no doc_md"
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"


def test_dbt_models_are_rendered_as_tasks(dags):
    dbt_tasks = [t.task_id for t in dags["warehouse"].tasks if t.task_id.startswith("dbt.")]
    assert any("feat_customer_daily" in t for t in dbt_tasks)
    assert any("feat_seller_monthly" in t for t in dbt_tasks)


def test_dag_files_stay_thin():
    for path in DAGS_DIR.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 100, f"{path.name} is over 100 lines: move logic to a package"
