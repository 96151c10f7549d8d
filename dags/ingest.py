"""Land one day of source data and load it into ``raw``, one transaction per table.

The run with logical date D loads day D: its data interval is [D, D+1) and it starts once the day is over, so a
backfill (``airflow backfill create --dag-id ingest --from-date D1 --to-date D2``) loads D1..D2. Bad rows go to
``raw.quarantine``; an unreadable file fails its table's task and leaves ``raw`` untouched. Emits the
``warehouse_raw`` asset with the days that had landing files (none: no event), which schedules ``warehouse``.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from ecomflow.assets import RAW
from ecomflow.sources.contract import TABLES

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=1),
    "execution_timeout": dt.timedelta(minutes=30),
}


@dag(
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["ingest", "raw"],
    doc_md=__doc__,
)
def ingest():  # noqa: D103
    @task
    def days() -> list[str]:
        from ecomflow.orchestration import run_days

        return [d.isoformat() for d in run_days(get_current_context())]

    @task
    def land(days: list[str]) -> None:
        """Simulated sources only: write the day's files (a user's own files are already in landing)."""
        from ecomflow.core.settings import get_settings
        from ecomflow.orchestration import land_simulated_day

        if get_settings().simulate:
            for day in days:
                land_simulated_day(dt.date.fromisoformat(day))

    @task(max_active_tis_per_dagrun=2)
    def load(table: str, days: list[str]) -> list[dict]:
        from ecomflow.orchestration import load_table_day

        return [load_table_day(table, dt.date.fromisoformat(day)) for day in days]

    @task(outlets=[RAW])
    def publish(loads: list[list[dict]], *, outlet_events=None) -> None:  # noqa: ANN001
        from airflow.sdk.exceptions import AirflowSkipException

        from ecomflow.orchestration import landed_days

        days = landed_days(loads)
        if not days:
            raise AirflowSkipException("no landing files for the run's days: raw is unchanged")
        outlet_events[RAW].extra = {"days": days}

    run_days = days()
    loads = load.partial(days=run_days).expand(table=[t.name for t in TABLES])
    land(run_days) >> loads >> publish(loads)


ingest()
