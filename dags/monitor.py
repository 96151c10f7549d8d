"""Watch the published scores: drift of the score and top features, and realised performance once known.

Scheduled on the ``warehouse_scores`` asset, for the data days its events carry (as of the day after each),
including those of events Airflow left to no run since the last (the watermark on ``model_monitoring``).
Per model: PSI of the score and of the top features against the champion's training window, and ROC AUC and
calibration of past scores whose outcome window closed with those days (``ml/monitoring/``). Results go to
``monitoring.model_monitoring`` and to the model version's MLflow run. A PSI above
``ECOMFLOW_DRIFT_PSI_THRESHOLD`` fails the model's task, naming day, feature and PSI; publishing is not
blocked (that is the ``score_and_publish`` DAG). A model without published scores is skipped.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from ecomflow.assets import MONITORING, SCORES, days_task, default_args
from ml.models import MODEL_NAMES


@dag(
    schedule=[SCORES],
    start_date=dt.datetime(2025, 1, 1),
    max_active_runs=1,
    default_args=default_args("ml-platform"),
    tags=["ml", "monitoring"],
    doc_md=__doc__,
)
def monitor():  # noqa: D103
    @task
    def check(model: str, days: list[str]) -> dict:
        """Drift fails without retrying (it is not transient); nothing published yet skips."""
        from ecomflow.orchestration import monitor as monitor_model

        return monitor_model(model, [dt.date.fromisoformat(d) for d in days])

    @task(outlets=[MONITORING], trigger_rule="all_done")
    def publish(days: list[str], through: str | None, *, outlet_events=None) -> None:  # noqa: ANN001
        """The days are monitored (drift or not): the watermark moves on, so drift is reported once, not again."""
        outlet_events[MONITORING].extra = {"days": days, "through": through}

    run = days_task(SCORES, MONITORING)()
    check.partial(days=run["days"]).expand(model=list(MODEL_NAMES)) >> publish(run["days"], run["through"])


monitor()
