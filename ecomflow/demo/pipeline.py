"""Run the platform's DAGs in-process (``dag.test``) for given days: what ``ecomflow demo`` and the tests use.

Runs are recorded in Airflow's metadata database like any other run, so they show in the UI afterwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from ecomflow.core.settings import DAGS_DIR, Settings

log = logging.getLogger(__name__)


def load_dags() -> dict:
    """Parse the DAG folder; fails with the import errors if any DAG file is broken."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
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
    """One data day through the platform: ingest → warehouse → (train) → score, publish and activate."""
    dags = dags or load_dags()
    for dag_id in ("ingest", "warehouse", *(("train",) if train else ()), "score_and_publish"):
        log.info("running %s for %s", dag_id, day)
        run_dag(dag_id, day, dags)


def load_history(
    settings: Settings,
    first: dt.date,
    last: dt.date,
    on_generated: Callable[[int], None] | None = None,
    on_loaded: Callable[[dt.date, list], None] | None = None,
) -> None:
    """Bring the warehouse up to ``last`` in bulk: simulate, load into ``raw`` and ``dbt build`` once.

    The opening balance before the days run through Airflow: the same ingestion code as the ``ingest`` DAG,
    and a full dbt build, without a DAG run per historical day.
    """
    from ecomflow.ingest import ingest_range
    from ecomflow.sources.simulator import SimulatorConfig, write_days
    from ecomflow.transform import ACTIVATION, run_dbt

    config = SimulatorConfig.from_settings(settings)
    write_days(config, first, last, settings.landing, progress=on_generated)
    ingest_range(settings.landing, first, last, on_day=on_loaded)
    run_dbt(["build", "--quiet", "--exclude", ACTIVATION])  # activation is built on scores, after publishing
