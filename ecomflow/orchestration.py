"""What the DAG tasks do, kept out of the DAG files so it can be tested without a scheduler.

Every task is keyed on the days of its run: a manual run's ``conf["day"]``, the days carried by the asset
events that triggered it, or its data interval — never on "now".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ecomflow.settings import get_settings

log = logging.getLogger(__name__)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def run_days(context: Mapping[str, Any]) -> list[dt.date]:
    """The data days a run covers: conf, then triggering asset events, then the data interval."""
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    if conf.get("day"):
        return [_as_date(conf["day"])]
    events = context.get("triggering_asset_events") or {}
    days = sorted({_as_date(day) for evs in events.values() for e in evs for day in (e.extra or {}).get("days", [])})
    if days:
        return days
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None:
        raise ValueError("run has no conf 'day', no asset event with a 'day' and no data interval")
    first, last = _as_date(start), _as_date(end) - dt.timedelta(days=1)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)] or [first]


def land_simulated_day(day: dt.date) -> dict[str, int]:
    """Write the simulator's files of ``day`` into the landing area (the stand-in for source systems)."""
    from ecomflow.sources.simulator import SimulatorConfig, write_day

    settings = get_settings()
    config = SimulatorConfig(seed=settings.seed, n_customers=settings.n_customers, start_date=settings.start_date)
    return write_day(config, day, settings.landing)


def load_table_day(table: str, day: dt.date) -> dict[str, Any]:
    """Load one (table, day) from the landing area into ``raw``; returns a small summary for XCom."""
    from ecomflow.ingest import ensure_raw_schema, ingest_day
    from ecomflow.warehouse import connect

    with connect() as conn:
        ensure_raw_schema(conn)
        report = ingest_day(conn, get_settings().landing, table, day)
    if report.skipped:
        log.info("%s %s: no landing files, raw left as it was", table, day)
    return {
        "table": table,
        "day": day.isoformat(),
        "loaded": report.rows_loaded,
        "quarantined": report.rows_quarantined,
        "warnings": report.warnings,
    }


def dbt_vars(days: Iterable[dt.date]) -> dict[str, str]:
    """Dbt vars for a run over ``days``: features as of the day after each loaded day."""
    days = sorted(days)
    return {
        "as_of_from": (days[0] + dt.timedelta(days=1)).isoformat(),
        "as_of_to": (days[-1] + dt.timedelta(days=1)).isoformat(),
    }


def train(model_name: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Train one model; a training set that cannot support a model yet skips the task with the reason."""
    from airflow.exceptions import AirflowSkipException

    from ml.models import get_spec
    from ml.training import NotEnoughData, train_model

    tags = {"airflow.dag_id": context["dag"].dag_id, "airflow.run_id": context["run_id"]}
    if context.get("data_interval_start"):
        tags["airflow.data_interval"] = f"{context['data_interval_start']}/{context['data_interval_end']}"
    try:
        result = train_model(get_spec(model_name), tags)
    except NotEnoughData as reason:
        raise AirflowSkipException(str(reason)) from reason
    return {
        "model": result.model_name,
        "version": result.version,
        "run_id": result.run_id,
        "test_roc_auc": result.metrics["test_roc_auc"],
        "promoted": result.promoted,
    }


def score(model_name: str, days: Iterable[dt.date]) -> list[dict[str, Any]]:
    """Score and publish each as-of date (the day after each data day) with the champion."""
    from airflow.exceptions import AirflowSkipException

    from ml.models import get_spec
    from ml.scoring import NoChampion, score_and_publish

    spec = get_spec(model_name)
    results = []
    for day in sorted(days):
        try:
            result = score_and_publish(spec, day + dt.timedelta(days=1))
        except NoChampion as reason:
            raise AirflowSkipException(str(reason)) from reason
        results.append(
            {"as_of": result.as_of.isoformat(), "rows": result.rows, "version": result.version, "run_id": result.run_id}
        )
    return results
