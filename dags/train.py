"""Train every registered model (``ml.models``), log it to MLflow and run the promotion gate.

Weekly, and on demand with the ``models`` param. A model whose training set cannot support it yet (no
closed label windows, one class, a missing source) is skipped with the reason, not failed.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, get_current_context, task

from ecomflow.assets import default_args
from ml.models import MODEL_NAMES


@dag(
    schedule="@weekly",
    start_date=dt.datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(
        "ml-platform", retry_delay=dt.timedelta(minutes=5), execution_timeout=dt.timedelta(hours=2)
    ),
    tags=["ml", "mlflow"],
    params={
        "models": Param(list(MODEL_NAMES), type="array", description="Models to train."),
        "tune_trials": Param(0, type="integer", minimum=0, description="Optuna trials first (nested MLflow runs)."),
    },
    doc_md=__doc__,
)
def train():  # noqa: D103
    @task
    def models() -> list[str]:
        return list(get_current_context()["params"]["models"])

    @task
    def fit(model: str) -> dict:
        from ecomflow.orchestration import train as train_model

        return train_model(model, get_current_context())

    fit.expand(model=models())


train()
