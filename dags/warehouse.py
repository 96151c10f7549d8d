"""Build the warehouse with dbt (rendered by astronomer-cosmos) for the days that landed in ``raw``.

Scheduled on the ``warehouse_raw`` asset. dbt gets the run's days as ``ECOMFLOW_*`` environment variables
(``macros/run_var.sql``; unlike ``--vars``, they keep dbt's partial parsing from run to run): the landing days the
incremental facts rebuild (``day_from``/``day_to``) and the point-in-time features as of the day after each, from
the first day the raw events carry (those that triggered the run and those Airflow left unconsumed since the last
build) through the last day loaded in ``raw`` (a day that lands late changes every later as-of date), so reruns
and backfills whose days land in any order give the same rows as daily runs.
A ``freshness`` task first fails the run if a source is past its ``error_after`` threshold.
Emits ``warehouse_features`` with those days.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task
from cosmos import DbtTaskGroup

from ecomflow.assets import FEATURES, RAW, default_args
from ecomflow.transform import RUN_VARS, cosmos_configs, producer_first, run_env

VARS_XCOM = "{{{{ ti.xcom_pull(task_ids='days')['{}'] }}}}"


@dag(
    schedule=[RAW],
    start_date=dt.datetime(2025, 1, 1),
    max_active_runs=1,
    default_args=default_args("analytics-engineering", execution_timeout=dt.timedelta(hours=1)),
    tags=["dbt", "warehouse"],
    doc_md=__doc__,
)
def warehouse():  # noqa: D103
    @task(multiple_outputs=False, inlets=[RAW, FEATURES])
    def days() -> dict:
        from ecomflow.orchestration import warehouse_window

        return warehouse_window(get_current_context(), RAW, FEATURES)

    dbt = DbtTaskGroup(
        group_id="dbt",
        # As environment variables (macros/run_var.sql), so that dbt keeps partial parsing from run to run.
        **cosmos_configs(env=run_env({name: VARS_XCOM.format(name) for name in RUN_VARS})),
    )
    producer_first(dbt)

    @task
    def freshness() -> dict:
        """Fails if a source is past its ``error_after`` threshold (a stalled loader): nothing is built then."""
        from ecomflow.transform import source_freshness

        return source_freshness()

    @task(outlets=[FEATURES])
    def publish(run: dict, *, outlet_events=None) -> None:  # noqa: ANN001
        outlet_events[FEATURES].extra = {"days": run["days"], "through": run["through"]}

    run = days()
    run >> freshness() >> dbt >> publish(run)


warehouse()
