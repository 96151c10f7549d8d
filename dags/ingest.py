"""Land one day of source data and load it into ``raw``, all tables of a day in one transaction.

The run with logical date D loads day D: its data interval is [D, D+1) and it starts once the day is over, so a
backfill (``airflow backfill create --dag-id ingest --from-date D1 --to-date D2``) loads D1..D2. One ``load``
task per day checks every table's files, then swaps them in together: bad rows go to ``raw.quarantine``; an
unreadable file, or an empty one for a day that holds rows, fails the day's task and leaves every table of the
day untouched. Emits the ``warehouse_raw`` asset with the days that had landing files (none: no event), which
schedules ``warehouse``.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from ecomflow.assets import RAW, default_args


@dag(
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=4,
    default_args=default_args("data-platform", retries=2, retry_delay=dt.timedelta(minutes=1)),
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
    def load(day: str) -> list[dict]:
        """Every table of one day, all or nothing."""
        from ecomflow.orchestration import load_landing_day

        return load_landing_day(dt.date.fromisoformat(day))

    @task(outlets=[RAW])
    def publish(loads: list[list[dict]], *, outlet_events=None) -> None:  # noqa: ANN001
        from airflow.sdk.exceptions import AirflowSkipException

        from ecomflow.orchestration import landed_days

        days = landed_days(loads)
        if not days:
            raise AirflowSkipException("no landing files for the run's days: raw is unchanged")
        outlet_events[RAW].extra = {"days": days}

    run_days = days()
    loads = load.expand(day=run_days)
    land(run_days) >> loads >> publish(loads)


ingest()
