"""Score with every registered model's ``@champion`` (``ml.models``), publish the day atomically, then activate.

Scheduled on the ``warehouse_features`` asset: it scores as of the day after each data day the warehouse
built (the feature events that triggered the run and those Airflow left unconsumed since the last). Skips
(does not fail) a model that has no champion yet. Emits ``warehouse_scores`` with the days, which schedules
``monitor``. Then builds the dbt activation marts on the new scores (``marketing_audiences``,
``credit_offers``); a mart whose scores table does not exist yet is skipped with the reason.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from ecomflow.assets import FEATURES, SCORES, days_task, default_args
from ml.models import MODEL_NAMES


@dag(
    schedule=[FEATURES],
    start_date=dt.datetime(2025, 1, 1),
    max_active_runs=1,
    default_args=default_args("ml-platform", retries=2, retry_delay=dt.timedelta(minutes=1)),
    tags=["ml", "scores", "activation"],
    doc_md=__doc__,
)
def score_and_publish():  # noqa: D103
    @task(outlets=[SCORES])
    def score(model: str, days: list[str], through: str | None, *, outlet_events=None) -> list[dict]:  # noqa: ANN001
        from ecomflow.orchestration import score as score_model

        results = score_model(model, [dt.date.fromisoformat(d) for d in days])
        outlet_events[SCORES].extra = {"days": days, "model": model, "through": through}
        return results

    @task(trigger_rule="none_failed")
    def activate() -> list[str]:
        """Runs after the scores whether a model was skipped or not; fails only if a score task failed."""
        from airflow.sdk.exceptions import AirflowSkipException

        from ecomflow.transform import NothingToActivate, build_activation

        try:
            return build_activation()
        except NothingToActivate as reason:
            raise AirflowSkipException(str(reason)) from reason

    run = days_task(FEATURES, SCORES)()
    scores = score.partial(days=run["days"], through=run["through"]).expand(model=list(MODEL_NAMES))
    scores >> activate()


score_and_publish()
