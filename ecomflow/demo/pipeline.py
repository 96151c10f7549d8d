"""Run the platform's DAGs in-process (``dag.test``) for given days: what ``ecomflow demo`` and the tests use.

Runs are recorded in Airflow's metadata database like any other run, so they show in the UI afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecomflow.core.dates import ONE_DAY, day_range
from ecomflow.core.settings import DAGS_DIR, SIMULATION_RECORD, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoCalendar:
    """The days of a demo: the history loaded in bulk (``first`` .. ``history_end``), then the DAG days."""

    first: dt.date
    history_end: dt.date
    dag_days: list[dt.date]


def demo_calendar(settings: Settings, days: int, history_days: int, today: dt.date) -> DemoCalendar:
    """The demo's days: from a pinned ``ECOMFLOW_START_DATE``, else ending yesterday (``today`` minus one).

    Unpinned, the DAG days are the ``days`` days before ``today`` and the history the ``history_days`` before
    them, so the Airflow UI shows past runs; a pinned start date gives the same days on any day (tests,
    reproducible runs).
    """
    if "start_date" in settings.model_fields_set:
        first = settings.start_date
    else:
        first = today - dt.timedelta(days=days + history_days)
    history_end = first + dt.timedelta(days=history_days - 1)
    return DemoCalendar(first, history_end, day_range(history_end + ONE_DAY, history_end + dt.timedelta(days=days)))


def record_start_date(settings: Settings, first: dt.date) -> None:
    """Record ``first`` as the simulation's start in the state directory (``Settings.start_date`` reads it).

    Later processes (the scheduler's ``ingest`` runs after ``ecomflow up``) then simulate the same business.
    """
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    (settings.state_dir / SIMULATION_RECORD).write_text(json.dumps({"start_date": first.isoformat()}) + "\n")


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
    started = dt.datetime.now(dt.UTC)
    dag_run = dags[dag_id].test(logical_date=logical_date, run_conf={"day": day.isoformat()})
    _record_start(dag_run.id, started)
    state = str(dag_run.state)
    if state != "success":
        raise RuntimeError(f"DAG {dag_id} for {day} ended {state}; see the task logs under {Path('logs')}")
    return state


def _record_start(run_id: int, started: dt.datetime) -> None:
    """Record when a ``dag.test()`` run really started.

    ``dag.test()`` records the logical date as the start: the UI would show a past day's run lasting from midnight
    of that day, and a future day's as negative.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagRun).where(DagRun.id == run_id).values(start_date=started))


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
    """Bring the warehouse up to ``last`` in bulk: simulate, load into ``raw`` and ``dbt run`` once.

    The opening balance before the days run through Airflow: the same ingestion code as the ``ingest`` DAG,
    and every model built once, without a DAG run per historical day.
    """
    from ecomflow.ingest import ingest_range
    from ecomflow.sources.simulator import SimulatorConfig, write_days
    from ecomflow.transform import ACTIVATION, run_dbt

    config = SimulatorConfig.from_settings(settings)
    write_days(config, first, last, settings.landing, progress=on_generated)
    ingest_range(settings.landing, first, last, on_day=on_loaded)
    # `run`, not `build`: the first DAG day's build tests every model (it rebuilds them all) before anything is
    # published. Activation is built on the scores, after publishing.
    run_dbt(["run", "--quiet", "--exclude", ACTIVATION])
