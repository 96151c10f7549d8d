"""Airflow plugin: one click from a task to what it produced — its MLflow run, or its model in the dbt docs.

The api-server resolves these links when the UI shows a task instance (``get_link(operator, ti_key=...)``):

- **MLflow run** on Python tasks whose return value (XCom) carries an MLflow ``run_id``: the ``train`` DAG's
  ``fit`` returns ``{"run_id": ...}``, ``score_and_publish``'s ``score`` a list of ``{"as_of", "version",
  "run_id"}`` (the link goes to the last, the latest as-of date). Mapped tasks are resolved per map index.
- **dbt docs** on the ``warehouse`` DAG's cosmos tasks: the model (seed, snapshot, source) a task builds or
  tests; the producer (the one ``dbt build``) links to the docs' overview.

Both also appear in the UI's menus (Browse → MLflow, Docs → dbt docs). Base URLs come from
``ECOMFLOW_MLFLOW_UI_URL`` (default: the tracking URI) and ``ECOMFLOW_DBT_DOCS_URL`` (default: where
``ecomflow docs`` serves them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseOperatorLink
from cosmos.operators import watcher

from ecomflow.core.settings import get_settings

RETURN_VALUE = "return_value"  # the XCom key of a task's return value
DBT_TASKS = [
    watcher.DbtProducerWatcherOperator,
    watcher.DbtConsumerWatcherSensor,
    watcher.DbtRunWatcherOperator,
    watcher.DbtTestWatcherOperator,
    watcher.DbtSeedWatcherOperator,
    watcher.DbtSnapshotWatcherOperator,
    watcher.DbtSourceWatcherOperator,
]


def run_id_of(value: Any) -> str | None:
    """The MLflow run id a task's return value carries: its ``run_id``, or the last one of a list of results."""
    if isinstance(value, dict):
        run_id = value.get("run_id")
        return str(run_id) if run_id else None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        run_ids = [run_id for item in value if (run_id := run_id_of(item))]
        return run_ids[-1] if run_ids else None
    return None


def mlflow_run_url(run_id: str, mlflow_ui: str | None = None) -> str:
    """The MLflow UI's page of a run; ``#/runs/<id>`` finds the run's experiment itself."""
    base = (mlflow_ui or get_settings().mlflow_ui).rstrip("/")
    return f"{base}/#/runs/{quote(run_id, safe='')}"


def dbt_docs_url(unique_id: str | None = None, docs: str | None = None) -> str:
    """The dbt docs page of a node (``model.ecomflow.fct_orders``), or the docs' overview."""
    base = (docs or get_settings().dbt_docs_url).rstrip("/")
    if not unique_id:
        return f"{base}/#!/overview"
    return f"{base}/#!/{unique_id.split('.', 1)[0]}/{quote(unique_id, safe='.')}"


def return_value(ti_key: Any) -> Any:
    """A task instance's return value, read from the metadata database (where the api-server runs).

    Decoded as JSON, never unpickled or instantiated: the value is data a task wrote.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.execute(
            XComModel.get_many(
                key=RETURN_VALUE,
                run_id=ti_key.run_id,
                dag_ids=ti_key.dag_id,
                task_ids=ti_key.task_id,
                map_indexes=ti_key.map_index,
            ).with_only_columns(XComModel.value)
        ).first()
    if row is None:
        return None
    value = row.value
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value


class MLflowRunLink(BaseOperatorLink):
    """The MLflow run a training or scoring task logged or used (empty when its result names none)."""

    name = "MLflow run"
    operators = [_PythonDecoratedOperator, PythonOperator]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:  # noqa: D102
        run_id = run_id_of(return_value(ti_key))
        return mlflow_run_url(run_id) if run_id else ""


class DbtDocsLink(BaseOperatorLink):
    """The dbt docs page of the node a cosmos task builds or tests."""

    name = "dbt docs"
    operators = DBT_TASKS

    def get_link(self, operator: Any, *, ti_key: Any) -> str:  # noqa: D102
        return dbt_docs_url(getattr(operator, "model_unique_id", None))


class EcomflowPlugin(AirflowPlugin):
    """Extra links to MLflow runs and the dbt docs, and both in the UI's menus."""

    name = "ecomflow"
    operator_extra_links = [MLflowRunLink(), DbtDocsLink()]
    external_views = [
        {"name": "MLflow", "href": get_settings().mlflow_ui, "category": "browse"},
        {"name": "dbt docs", "href": dbt_docs_url(), "category": "docs"},
    ]
