"""The demo's days: ending yesterday unless ``ECOMFLOW_START_DATE`` pins them, and the start the demo records."""

from __future__ import annotations

import datetime as dt

from ecomflow.core.settings import Settings
from ecomflow.demo.pipeline import demo_calendar, record_start_date

TODAY = dt.date(2026, 12, 4)


def test_unpinned_demo_days_are_the_week_up_to_yesterday_after_the_history(monkeypatch, tmp_path):
    monkeypatch.delenv("ECOMFLOW_START_DATE", raising=False)
    monkeypatch.setenv("ECOMFLOW_STATE_DIR", str(tmp_path))

    calendar = demo_calendar(Settings(), days=7, history_days=730, today=TODAY)

    assert calendar.dag_days == [TODAY - dt.timedelta(days=n) for n in range(7, 0, -1)]
    assert calendar.history_end == TODAY - dt.timedelta(days=8)
    assert (calendar.history_end - calendar.first).days + 1 == 730


def test_a_pinned_start_date_gives_the_pinned_range(monkeypatch, tmp_path):
    monkeypatch.setenv("ECOMFLOW_START_DATE", "2025-01-01")
    monkeypatch.setenv("ECOMFLOW_STATE_DIR", str(tmp_path))

    calendar = demo_calendar(Settings(), days=3, history_days=10, today=TODAY)

    assert (calendar.first, calendar.history_end) == (dt.date(2025, 1, 1), dt.date(2025, 1, 10))
    assert calendar.dag_days == [dt.date(2025, 1, 11), dt.date(2025, 1, 12), dt.date(2025, 1, 13)]


def test_later_processes_simulate_from_the_start_the_demo_recorded(monkeypatch, tmp_path):
    monkeypatch.delenv("ECOMFLOW_START_DATE", raising=False)
    monkeypatch.setenv("ECOMFLOW_STATE_DIR", str(tmp_path))
    first = demo_calendar(Settings(), days=7, history_days=730, today=TODAY).first

    record_start_date(Settings(), first)

    assert Settings().start_date == first
    # the demo itself still ends its days yesterday: a recorded start does not pin it
    assert demo_calendar(Settings(), 7, 730, TODAY + dt.timedelta(days=1)).dag_days[-1] == TODAY


DEMO_DAGS = ("ingest", "warehouse", "train", "score_and_publish")  # what the demo runs day by day (run_day)


def test_dag_runs_of_past_days_record_their_real_duration(pipeline, airflow_db):
    """``dag.test()`` records a run's logical date as its start; the UI must show how long each run took.

    Only the DAGs the demo runs day by day: other tests run ``monitor`` with ``dag.test()`` themselves.
    """
    import psycopg

    with psycopg.connect(airflow_db.replace("+psycopg2", "")) as conn:
        runs = conn.execute(
            "select dag_id, logical_date, extract(epoch from end_date - start_date) from dag_run "
            "where logical_date::date = any(%s) and dag_id = any(%s)",
            (pipeline, list(DEMO_DAGS)),
        ).fetchall()
    assert {dag_id for dag_id, _, _ in runs} >= {"ingest", "warehouse", "score_and_publish"}
    assert all(0 < seconds < 3600 for _, _, seconds in runs), runs
