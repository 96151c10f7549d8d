"""Run the platform's DAGs in-process (``dag.test``) for given days: what ``ecomflow demo`` and the tests use.

Runs are recorded in Airflow's metadata database like any other run, so they show in the UI afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from ecomflow.settings import DAGS_DIR

log = logging.getLogger(__name__)


def load_dags() -> dict:
    """Parse the DAG folder; fails with the import errors if any DAG file is broken."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR), include_examples=False)
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items()))
    return bag.dags


def run_dag(dag_id: str, day: dt.date, dags: dict | None = None) -> str:
    """Run ``dag_id`` for data day ``day`` (``conf={"day": ...}``) and return the final state."""
    dags = dags or load_dags()
    logical_date = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    dag_run = dags[dag_id].test(logical_date=logical_date, run_conf={"day": day.isoformat()})
    state = str(dag_run.state)
    if state != "success":
        raise RuntimeError(f"DAG {dag_id} for {day} ended {state}; see the task logs under {Path('logs')}")
    return state


def run_day(day: dt.date, train: bool, dags: dict | None = None) -> None:
    """One data day through the platform: ingest → warehouse → (train) → score and publish."""
    dags = dags or load_dags()
    for dag_id in ("ingest", "warehouse", *(("train",) if train else ()), "score_and_publish"):
        log.info("running %s for %s", dag_id, day)
        run_dag(dag_id, day, dags)
