"""The end-to-end pipeline, built once per test session and shared by the e2e modules."""

from __future__ import annotations

import datetime as dt

import pytest

HISTORY_DAYS = 400
RUN_DAYS = 3


@pytest.fixture(scope="session")
def pipeline(settings, postgres, mlflow_server, airflow_db, dbt_manifest) -> list[dt.date]:
    """400 days of history in bulk, then three consecutive days through the real DAGs; returns those days."""
    from ecomflow.local.pipeline import load_dags, load_history, run_day

    first = settings.start_date
    history_end = first + dt.timedelta(days=HISTORY_DAYS - 1)
    load_history(settings, first, history_end)
    days = [history_end + dt.timedelta(days=i + 1) for i in range(RUN_DAYS)]
    dags = load_dags()
    for i, day in enumerate(days):
        run_day(day, train=(i == 0), dags=dags)
    return days
