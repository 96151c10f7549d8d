"""Where monitoring results are kept: the ``monitoring.model_monitoring`` table and the version's MLflow run.

The table's DDL is ``model_monitoring.sql`` beside this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextlib import ExitStack
from importlib.resources import files

import pyarrow as pa

from ecomflow.core.warehouse import advisory_lock, connect, copy_in
from ml.monitoring.performance import PERFORMANCE
from ml.monitoring.results import DRIFT, Result
from ml.monitoring.versions import MonitoredVersion

TABLE = "monitoring.model_monitoring"
DDL = files("ml.monitoring").joinpath("model_monitoring.sql").read_text()
METRIC_PREFIX = "monitoring"
MLFLOW_BATCH = 1000
"""MLflow's ``log_batch`` limit on metrics per call."""


def write(results: list[Result], computed_at: dt.datetime | None = None) -> int:
    """Replace each (model, as-of date, kind: drift or performance) in one transaction under an advisory lock."""
    if not results:
        return 0
    computed_at = computed_at or dt.datetime.now(dt.UTC)
    groups: dict[tuple[str, dt.date, tuple[str, ...]], list[Result]] = {}
    for result in results:
        kind = DRIFT if result.metric in DRIFT else PERFORMANCE
        groups.setdefault((result.model, result.as_of_date, kind), []).append(result)
    with connect() as conn:
        conn.execute(DDL)
        conn.commit()
        with conn.transaction(), ExitStack() as stack:
            for model in sorted({model for model, _, _ in groups}):
                stack.enter_context(advisory_lock(conn, f"{TABLE}:{model}"))
            for model, as_of, kind in groups:
                conn.execute(
                    f"delete from {TABLE} where model = %s and as_of_date = %s and metric = any(%s)",
                    (model, as_of, list(kind)),
                )
            copy_in(conn, TABLE, _as_table(results, computed_at))
    return len(results)


def _as_table(results: list[Result], computed_at: dt.datetime) -> pa.Table:
    return pa.table(
        {
            "model": [r.model for r in results],
            "version": [r.version for r in results],
            "as_of_date": pa.array([r.as_of_date for r in results], pa.date32()),
            "metric": [r.metric for r in results],
            "feature": [r.feature for r in results],
            "value": pa.array([r.value for r in results], pa.float64()),
            "computed_at": pa.array([computed_at] * len(results), pa.timestamp("us", tz="UTC")),
        }
    )


def metric_key(result: Result) -> str:
    """MLflow metric name: ``monitoring/psi/<feature>``, ``monitoring/<rows>`` or ``monitoring/realised/<metric>``."""
    if result.metric == "psi":
        return f"{METRIC_PREFIX}/psi/{result.feature}"
    if result.metric in DRIFT:
        return f"{METRIC_PREFIX}/{result.metric}"
    return f"{METRIC_PREFIX}/realised/{result.metric}"


def as_of_step(as_of: dt.date) -> int:
    """MLflow step of an as-of date: days since 1970-01-01."""
    return (as_of - dt.date(1970, 1, 1)).days


def log_to_mlflow(results: list[Result], versions: Mapping[str, MonitoredVersion]) -> None:
    """Log ``results`` as metrics of each version's run and logged model (step and timestamp = the as-of date).

    The timestamp is the as-of date's midnight, not the wall clock, so a rerun with the same values adds no
    duplicate points.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    for version in sorted({r.version for r in results}):
        monitored = versions[version]
        metrics = [
            Metric(
                key=metric_key(r),
                value=r.value,
                timestamp=as_of_step(r.as_of_date) * 86_400_000,
                step=as_of_step(r.as_of_date),
                model_id=monitored.model_id,
                run_id=monitored.run_id,
            )
            for r in results
            if r.version == version
        ]
        for i in range(0, len(metrics), MLFLOW_BATCH):
            client.log_batch(monitored.run_id, metrics=metrics[i : i + MLFLOW_BATCH])
