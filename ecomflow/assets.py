"""What the DAG files share: the Assets that connect them, their default arguments and the ``days`` task.

DAGs are connected by Airflow Assets (instead of sensors); each asset-scheduled DAG works out its run's days
with the same ``days`` task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from airflow.sdk import Asset, get_current_context, task

RAW = Asset(name="warehouse_raw", uri="ecomflow://warehouse/raw")
FEATURES = Asset(name="warehouse_features", uri="ecomflow://warehouse/features")
SCORES = Asset(name="warehouse_scores", uri="ecomflow://warehouse/scores")
MONITORING = Asset(name="model_monitoring", uri="ecomflow://warehouse/monitoring")


def default_args(
    owner: str,
    retries: int = 1,
    retry_delay: dt.timedelta = dt.timedelta(minutes=2),
    execution_timeout: dt.timedelta = dt.timedelta(minutes=30),
) -> dict[str, Any]:
    """A DAG's ``default_args``: the team that owns it, retries after a delay, and a timeout on every task."""
    return {"owner": owner, "retries": retries, "retry_delay": retry_delay, "execution_timeout": execution_timeout}


def days_task(source: Asset, published: Asset) -> Callable[[], Any]:
    """The ``days`` task of a DAG scheduled on ``source`` that emits ``published``.

    It returns (as separate XComs) the run's data days and the watermark to publish with them
    (:func:`ecomflow.orchestration.run_window`); it reads both assets' events, so both are its inlets.
    """

    @task(task_id="days", multiple_outputs=True, inlets=[source, published])
    def days() -> dict:
        from ecomflow.orchestration import run_window

        return run_window(get_current_context(), source, published)

    return days
