"""Every DAG imports cleanly, follows the conventions, stays thin, and is keyed on its data interval."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from ecomflow.core.settings import DAGS_DIR, PROJECT_ROOT

EXPECTED = {"ingest", "warehouse", "train", "score_and_publish"}
DAG_IDS = sorted(path.stem for path in DAGS_DIR.glob("*.py"))
# DAGs whose runs must not overlap: one dbt build at a time, scores published in order, one training at a time.
ONE_RUN_AT_A_TIME = {"warehouse", "score_and_publish", "train"}


@pytest.fixture(scope="module")
def dags(airflow_db, dbt_manifest):
    from ecomflow.demo.pipeline import load_dags

    return load_dags()


def test_no_import_errors_and_every_dag_is_there(dags):
    assert EXPECTED <= set(dags)


def test_dag_id_is_the_file_name(dags):
    for dag_id, dag in dags.items():
        assert Path(dag.fileloc).stem == dag_id


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_owner_tags_retries_timeout_and_docs(dags, dag_id):
    dag = dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md, f"{dag_id} has no doc_md"
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        assert task.retry_delay >= dt.timedelta(seconds=30), f"{dag_id}.{task.task_id} retries without a delay"
        assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_max_active_runs_is_a_decision(dags, dag_id):
    from airflow.configuration import conf

    limit = dags[dag_id].max_active_runs
    assert limit < conf.getint("core", "max_active_runs_per_dag"), f"{dag_id} leaves max_active_runs at the default"
    if dag_id in ONE_RUN_AT_A_TIME:
        assert limit == 1, f"{dag_id} runs must not overlap: max_active_runs={limit}"


def _backfill_run_infos(dag, first: dt.date, last: dt.date) -> list:
    """The runs ``airflow backfill create --from-date first --to-date last`` creates (same timetable code)."""
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    bounds = [dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) for day in (first, last)]
    return list(serialized.iter_dagrun_infos_between(*bounds))


def test_a_backfill_of_ingest_loads_each_day_of_its_range_once(dags):
    from ecomflow.orchestration import run_days

    first, last = dt.date(2025, 3, 30), dt.date(2025, 4, 2)
    infos = _backfill_run_infos(dags["ingest"], first, last)
    contexts = [{"data_interval_start": i.data_interval.start, "data_interval_end": i.data_interval.end} for i in infos]
    assert [run_days(context) for context in contexts] == [[first + dt.timedelta(days=n)] for n in range(4)]
    # The run of a day starts once the day is over, like the scheduled run of that day.
    assert all(info.run_after == info.data_interval.end for info in infos)


def test_ingest_publishes_only_the_days_that_had_landing_files():
    from ecomflow.orchestration import landed_days

    summary = {"loaded": 0, "quarantined": 0, "warnings": []}
    loads = [
        [{**summary, "table": "orders", "day": "2025-01-02", "landed": True}],
        [{**summary, "table": "orders", "day": "2025-01-03", "landed": False}],
        [{**summary, "table": "sessions", "day": "2025-01-01", "landed": True}],
    ]
    assert landed_days(loads) == ["2025-01-01", "2025-01-02"]
    assert landed_days([[{**summary, "table": "orders", "day": "2025-01-03", "landed": False}]]) == []


@pytest.mark.parametrize(
    ("days", "last_loaded", "expected"),
    [
        (["2025-01-05"], dt.date(2025, 1, 5), ["2025-01-05"]),  # a daily run
        (["2025-01-05"], None, ["2025-01-05"]),
        # A day that landed after later ones (a backfill's runs finishing out of order, a rerun of an old day):
        # the features as of every later day change too.
        (["2025-01-05"], dt.date(2025, 1, 7), ["2025-01-05", "2025-01-06", "2025-01-07"]),
        (["2025-01-07", "2025-01-05"], dt.date(2025, 1, 7), ["2025-01-05", "2025-01-06", "2025-01-07"]),
        (["2025-01-07"], dt.date(2025, 1, 5), ["2025-01-07"]),
    ],
)
def test_warehouse_rebuilds_from_its_first_day_through_the_last_loaded_day(days, last_loaded, expected):
    from ecomflow.orchestration import warehouse_days

    result = warehouse_days([dt.date.fromisoformat(d) for d in days], last_loaded)
    assert result == [dt.date.fromisoformat(d) for d in expected]


def test_dag_logic_never_reads_the_clock():
    sources = [*DAGS_DIR.glob("*.py"), PROJECT_ROOT / "ecomflow" / "orchestration.py"]
    clock = re.compile(r"\b(now|utcnow|today)\(")
    for path in sources:
        assert not clock.search(path.read_text()), f"{path.name} reads the clock: key the logic on the data interval"


def test_dags_folder_has_an_airflowignore():
    assert (DAGS_DIR / ".airflowignore").read_text().strip(), "dags/.airflowignore is missing or empty"


def test_ruff_checks_airflow_rules():
    select = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["select"]
    assert "AIR" in select


def test_dbt_models_are_rendered_as_tasks(dags):
    dbt_tasks = [t.task_id for t in dags["warehouse"].tasks if t.task_id.startswith("dbt.")]
    assert any("feat_customer_daily" in t for t in dbt_tasks)
    assert any("feat_seller_monthly" in t for t in dbt_tasks)


def test_dag_files_stay_thin():
    for path in DAGS_DIR.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 100, f"{path.name} is over 100 lines: move logic to a package"


def test_asset_events_give_their_days_and_the_newest_timestamp():
    from types import SimpleNamespace

    from ecomflow.orchestration import event_days

    def event(at: str, *days: str) -> SimpleNamespace:
        return SimpleNamespace(timestamp=dt.datetime.fromisoformat(at), extra={"days": list(days)} if days else {})

    events = [
        event("2026-01-02T10:00:00+00:00", "2025-05-03"),
        event("2026-01-02T09:00:00+00:00", "2025-05-01", "2025-05-03"),
        event("2026-01-02T09:30:00+00:00"),
    ]
    assert event_days(events) == ([dt.date(2025, 5, 1), dt.date(2025, 5, 3)], "2026-01-02T10:00:00+00:00")
    assert event_days([], "2026-01-01T00:00:00+00:00") == ([], "2026-01-01T00:00:00+00:00")
    assert event_days(events, "2026-01-03T00:00:00+00:00")[1] == "2026-01-03T00:00:00+00:00"
    assert event_days([]) == ([], None)
