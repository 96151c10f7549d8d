"""A DAG whose tasks return results shaped like ``train``'s ``fit`` and ``score_and_publish``'s ``score``.

The run ids come from the run's conf (``{"run_ids": {"a": ..., "b": ..., "old": ..., "new": ...}}``), so a test
can point them at real MLflow runs. Used by the plugin and UI tests; not part of the platform's DAG folder.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task


def _run_ids() -> dict[str, str]:
    return get_current_context()["dag_run"].conf["run_ids"]


@dag(schedule=None, start_date=dt.datetime(2025, 1, 1), tags=["test"], doc_md=__doc__)
def links_check():  # noqa: D103
    @task
    def fit(model: str) -> dict:
        return {"model": model, "version": "1", "run_id": _run_ids()[model], "promoted": True}

    @task
    def score() -> list[dict]:
        run_ids = _run_ids()
        return [
            {"as_of": "2025-02-01", "rows": 3, "version": "1", "run_id": run_ids["old"]},
            {"as_of": "2025-02-02", "rows": 3, "version": "2", "run_id": run_ids["new"]},
        ]

    @task
    def count() -> int:
        return 3

    fit.expand(model=["a", "b"])
    score()
    count()


links_check()
