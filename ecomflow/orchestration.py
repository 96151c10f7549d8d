"""What the DAG tasks do, kept out of the DAG files so it can be tested without a scheduler.

Every task is keyed on the days of its run: a manual run's ``conf["day"]``, the days carried by the asset
events that triggered it (and by those Airflow left unconsumed, see :func:`pending_days`), or its data
interval — never on "now".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ecomflow.core.dates import as_date, as_of_date, day_range
from ecomflow.core.settings import get_settings

log = logging.getLogger(__name__)

# How far before its watermark an asset-scheduled run looks again for events, for an event written with an
# earlier timestamp than one the previous run already saw (timestamps are taken before commit).
CATCH_UP_MARGIN = dt.timedelta(minutes=5)


def run_days(context: Mapping[str, Any]) -> list[dt.date]:
    """The data days a run covers: conf, then triggering asset events, then the data interval."""
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    if conf.get("day"):
        return [as_date(conf["day"])]
    events = context.get("triggering_asset_events") or {}
    days = sorted({as_date(day) for evs in events.values() for e in evs for day in (e.extra or {}).get("days", [])})
    if days:
        return days
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None:
        raise ValueError("run has no conf 'day', no asset event with a 'day' and no data interval")
    first, last = as_date(start), as_date(end) - dt.timedelta(days=1)
    return day_range(first, last) or [first]


def event_days(events: Iterable[Any], watermark: str | None = None) -> tuple[list[dt.date], str | None]:
    """The days asset events carry (``extra["days"]``) and the next watermark: the newest timestamp seen.

    Args:
        events: asset events (anything with ``timestamp`` and ``extra``).
        watermark: the previous watermark (ISO timestamp); kept if no event is newer.
    """
    events = list(events)
    days = sorted({as_date(day) for e in events for day in (e.extra or {}).get("days", [])})
    stamps = [e.timestamp for e in events] + ([dt.datetime.fromisoformat(watermark)] if watermark else [])
    return days, max(stamps).isoformat() if stamps else None


def pending_days(context: Mapping[str, Any], source: Any, published: Any) -> tuple[list[dt.date], str | None]:
    """The data days a run of an asset-scheduled DAG covers, and the watermark it publishes with ``published``.

    Airflow 3.3 does not hand every asset event to a run: an event that arrives while a run is queued, or while
    the scheduler creates one from an earlier event, is consumed by no run until another event arrives
    (apache/airflow#56050) — after the last day of a backfill, never. So besides its triggering events, a run
    takes every ``source`` event since the watermark its DAG last published on ``published`` (the task reading
    this declares both as inlets), and publishes the newest timestamp it saw as the next watermark. A manual
    run with ``conf["day"]`` covers that day and carries the watermark over.

    Args:
        context: the Airflow task context.
        source: the asset that schedules the DAG.
        published: the asset the DAG emits, whose last event holds the watermark in ``extra["through"]``.
    """
    inlets = context["inlet_events"]
    last = list(inlets[published].ascending(False).limit(1))
    watermark = (last[0].extra or {}).get("through") if last else None
    conf = (context.get("dag_run") and context["dag_run"].conf) or {}
    if conf.get("day"):
        return [as_date(conf["day"])], watermark
    since = (dt.datetime.fromisoformat(watermark) - CATCH_UP_MARGIN).isoformat() if watermark else None
    triggering = [e for evs in (context.get("triggering_asset_events") or {}).values() for e in evs]
    days, through = event_days([*triggering, *inlets[source].after(since)], watermark)
    return days or run_days(context), through


def run_window(context: Mapping[str, Any], source: Any, published: Any) -> dict[str, Any]:
    """:func:`pending_days` as a ``days`` task returns it: ``days`` (ISO dates) and the watermark ``through``."""
    days, through = pending_days(context, source, published)
    return {"days": [d.isoformat() for d in days], "through": through}


def warehouse_window(context: Mapping[str, Any], source: Any, published: Any) -> dict[str, Any]:
    """:func:`run_window` widened to :func:`warehouse_days`, with the :func:`dbt_vars` of those days."""
    days, through = pending_days(context, source, published)
    days = warehouse_days(days, last_loaded_day())
    return {**dbt_vars(days), "days": [d.isoformat() for d in days], "through": through}


def land_simulated_day(day: dt.date) -> dict[str, int]:
    """Write the simulator's files of ``day`` into the landing area (the stand-in for source systems)."""
    from ecomflow.sources.simulator import SimulatorConfig, write_day

    settings = get_settings()
    config = SimulatorConfig.from_settings(settings)
    return write_day(config, day, settings.landing)


def load_landing_day(day: dt.date) -> list[dict[str, Any]]:
    """Load every table of ``day`` from the landing area into ``raw``, all or nothing; small summaries for XCom.

    Every table's files are checked before any is swapped in, and the tables are swapped together
    (:func:`ecomflow.ingest.load_day`): a reader never sees the day's orders without their lines. A failure
    raises, naming each file, with ``raw`` as it was.
    """
    from ecomflow.core.warehouse import connect
    from ecomflow.ingest import ensure_raw_schema, load_day
    from ecomflow.ingest.landing import available_tables, scan

    landing = get_settings().landing
    if not landing.is_dir():
        log.info("%s: no landing directory, raw left as it was", landing)
        return []
    for warning in scan(landing, day, day).warnings:
        log.warning("%s", warning)
    with connect() as conn:
        ensure_raw_schema(conn)
        reports = load_day(conn, landing, day, available_tables(landing))
    if all(report.skipped for report in reports):
        log.info("%s: no landing files, raw left as it was", day)
    return [
        {
            "table": report.table,
            "day": day.isoformat(),
            "landed": not report.skipped,
            "loaded": report.rows_loaded,
            "quarantined": report.rows_quarantined,
            "warnings": report.warnings,
        }
        for report in reports
    ]


def landed_days(loads: Iterable[Iterable[Mapping[str, Any]]]) -> list[str]:
    """The days of an ingest run for which some table had landing files (the only days ``raw`` changed for).

    Args:
        loads: the ``load`` task's results, one list of :func:`load_landing_day` summaries per day.
    """
    return sorted({load["day"] for table_loads in loads for load in table_loads if load["landed"]})


def last_loaded_day() -> dt.date | None:
    """The latest day loaded into ``raw.orders`` (what dbt's ``last_loaded_date()`` reads), or None."""
    from ecomflow.core.warehouse import connect, table_exists

    with connect() as conn:
        if not table_exists(conn, "raw.orders"):
            return None
        return conn.execute("select max(_partition_date) from raw.orders").fetchone()[0]


def warehouse_days(days: Iterable[dt.date], last_loaded: dt.date | None) -> list[dt.date]:
    """The data days a warehouse run rebuilds: from its first day through its last or the last day loaded.

    Features as of a date are computed from every day before it, so a day that lands after later days did (the
    runs of a backfill finishing out of order, a rerun of an old day) changes the features of every later as-of
    date too; rebuilding through the last loaded day makes the result independent of the order days landed in.
    """
    days = sorted(days)
    first, last = days[0], max(days[-1], last_loaded or days[-1])
    return day_range(first, last)


def dbt_vars(days: Iterable[dt.date]) -> dict[str, str]:
    """Dbt vars for a run over the data days ``days`` (landing partitions, first to last).

    ``day_from``/``day_to``: the landing days the incremental facts rebuild (``macros/incremental_days.sql``);
    ``as_of_from``/``as_of_to``: the features as of the day after each.
    """
    days = sorted(days)
    return {
        "day_from": days[0].isoformat(),
        "day_to": days[-1].isoformat(),
        "as_of_from": as_of_date(days[0]).isoformat(),
        "as_of_to": as_of_date(days[-1]).isoformat(),
    }


def train(model_name: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Train one model; a training set that cannot support a model yet skips the task with the reason."""
    from airflow.sdk.exceptions import AirflowSkipException

    from ml.dataset import NotEnoughData
    from ml.models import get_spec
    from ml.training import train_model

    tags = {"airflow.dag_id": context["dag"].dag_id, "airflow.run_id": context["run_id"]}
    if context.get("data_interval_start"):
        tags["airflow.data_interval"] = f"{context['data_interval_start']}/{context['data_interval_end']}"
    spec = get_spec(model_name)
    tune_trials = int((context.get("params") or {}).get("tune_trials", 0))
    try:
        result = train_model(spec, tags, tune_trials=tune_trials)
    except NotEnoughData as reason:
        raise AirflowSkipException(str(reason)) from reason
    return {
        "model": result.model_name,
        "version": result.version,
        "run_id": result.run_id,
        f"test_{spec.primary_metric}": result.metrics[f"test_{spec.primary_metric}"],
        "promoted": result.promoted,
        "why": result.why,
    }


def score(model_name: str, days: Iterable[dt.date]) -> list[dict[str, Any]]:
    """Score and publish each as-of date (the day after each data day) with the champion."""
    from airflow.sdk.exceptions import AirflowSkipException

    from ml.models import get_spec
    from ml.scoring import NoChampion, score_and_publish

    spec = get_spec(model_name)
    results = []
    for day in sorted(days):
        try:
            result = score_and_publish(spec, as_of_date(day))
        except NoChampion as reason:
            raise AirflowSkipException(str(reason)) from reason
        results.append(
            {"as_of": result.as_of.isoformat(), "rows": result.rows, "version": result.version, "run_id": result.run_id}
        )
    return results


def monitor(model_name: str, days: Iterable[dt.date]) -> dict[str, Any]:
    """Monitor one model's scores of the run's days; drift fails without retrying, nothing published skips."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from ml.models import get_spec
    from ml.monitoring.results import DriftDetected
    from ml.monitoring.run import NothingToMonitor
    from ml.monitoring.run import monitor as monitor_model

    try:
        results = monitor_model(get_spec(model_name), days)
    except NothingToMonitor as reason:
        raise AirflowSkipException(str(reason)) from reason
    except DriftDetected as drift:
        raise AirflowFailException(str(drift)) from drift
    return {"model": model_name, "results": len(results), "versions": sorted({r.version for r in results})}
