"""Our generic data tests (``macros/test_*.sql``) and the source freshness thresholds, run by real dbt.

Everything runs against a small warehouse database of its own on the session's PostgreSQL (two simulated days
of orders), with dbt's target in a temporary folder, so neither the pipeline's tables nor the project's
``target/`` are touched. The generic tests are called as dbt calls them, on inline relations, through
``dbt show --inline``: each returns the failing rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ecomflow.core.settings import DBT_PROJECT_DIR

DATABASE = "dbt_data_tests"
FIRST, LAST = dt.date(2025, 3, 1), dt.date(2025, 3, 2)


@pytest.fixture(scope="module")
def small_warehouse(fresh_database, tmp_path_factory) -> Iterator[str]:
    """Two simulated days of customers, orders and order items in raw, in a database of its own; yields its URL."""
    from ecomflow.ingest import ensure_raw_schema, ingest_day
    from ecomflow.sources.simulator import SimulatorConfig, write_days

    landing = tmp_path_factory.mktemp("landing")
    write_days(SimulatorConfig(seed=3, n_customers=50, start_date=FIRST), FIRST, LAST, landing)
    url = fresh_database(DATABASE)
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
        for day in (FIRST, LAST):
            for table in ("customers", "orders", "order_items"):
                ingest_day(conn, landing, table, day)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECOMFLOW_WAREHOUSE_DBNAME", DATABASE)  # profiles.yml reads the database from here
        yield url


@pytest.fixture(scope="module")
def dbt(small_warehouse, tmp_path_factory):
    """Invoke dbt on the small warehouse, its staging views and calendar built; returns dbt's result."""
    from dbt.cli.main import dbtRunner

    target = tmp_path_factory.mktemp("target")
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]

    def invoke(*args: str):  # noqa: ANN202
        return dbtRunner().invoke([*args, *project, "--target-path", str(target)])

    invoke.target = Path(target)
    built = invoke("run", "--select", "staging dim_date", "--quiet")  # what the recency test reads
    assert built.success, built.exception
    return invoke


def _plain(value):  # noqa: ANN001, ANN202
    return float(value) if isinstance(value, Decimal) else value  # agate reads numbers as Decimal


@pytest.fixture(scope="module")
def failing_rows(dbt):
    """The rows a generic test returns (its failures) for a test macro call written as Jinja."""

    def show(call: str) -> list[dict]:
        result = dbt("show", "--inline", "{{ " + call + " }}", "--limit", "100", "--quiet")
        assert result.success, result.exception
        table = result.result.results[0].agate_table
        return [{name: _plain(v) for name, v in zip(table.column_names, row, strict=True)} for row in table.rows]

    return show


def test_accepted_range_returns_the_values_outside_the_range(failing_rows):
    values = "model='(values (-0.1), (0), (0.5), (1), (1.5), (null)) as t (x)', column_name='x'"
    assert failing_rows(f"test_accepted_range({values}, min_value=0, max_value=1)") == [{"x": -0.1}, {"x": 1.5}]
    exclusive = failing_rows(f"test_accepted_range({values}, min_value=0, max_value=1, inclusive=false)")
    assert sorted(row["x"] for row in exclusive) == [-0.1, 0, 1, 1.5]
    assert failing_rows(f"test_accepted_range({values}, min_value=-1)") == []


def test_expression_is_true_returns_the_rows_where_it_is_false(failing_rows):
    model = "model='(values (1, 2), (3, 2), (null, 2)) as t (a, b)'"
    assert failing_rows(f"test_expression_is_true({model}, expression='a < b')") == [{"a": 3, "b": 2}]
    assert failing_rows(f"test_expression_is_true({model}, column_name='b', expression='= 2')") == []


@pytest.mark.parametrize(
    ("latest", "interval", "stale"),
    [
        (f"date '{LAST}'", 1, False),
        (f"date '{LAST - dt.timedelta(days=1)}'", 1, False),
        (f"date '{LAST - dt.timedelta(days=2)}'", 1, True),
        (f"date '{LAST - dt.timedelta(days=2)}'", 3, False),
        (f"timestamptz '{LAST - dt.timedelta(days=1)} 09:30+00'", 1, False),
        (f"timestamptz '{LAST - dt.timedelta(days=2)} 23:59+00'", 1, True),
    ],
)
def test_recency_measures_against_the_last_loaded_day_not_now(failing_rows, latest, interval, stale):
    model = f'model="(select {latest} as d) as t"'
    rows = failing_rows(f"test_recency({model}, column_name='d', interval={interval})")
    assert bool(rows) == stale
    if stale:
        assert rows[0]["last_loaded_date"] == LAST


def test_recency_fails_on_an_empty_model_unless_its_optional_source_was_never_loaded(failing_rows):
    empty = "model='(select null::date as d where false) as t', column_name='d'"
    assert failing_rows(f"test_recency({empty})")
    assert failing_rows(f"test_recency({empty}, optional_source='events')") == []  # no events were loaded
    assert failing_rows(f"test_recency({empty}, optional_source='orders')")  # orders were loaded


def _freshness(dbt) -> tuple[bool, dict[str, str]]:
    result = dbt("source", "freshness")
    sources = json.loads((dbt.target / "sources.json").read_text())["results"]
    return result.success, {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in sources}


def test_source_freshness_passes_on_fresh_loads_warns_after_a_day_and_fails_after_three(dbt, small_warehouse):
    assert _freshness(dbt) == (True, {"orders": "pass", "order_items": "pass"})
    with psycopg.connect(small_warehouse, autocommit=True) as conn:
        conn.execute("update raw.orders set _loaded_at = _loaded_at - interval '30 hours'")
        assert _freshness(dbt) == (True, {"orders": "warn", "order_items": "pass"})
        conn.execute("update raw.order_items set _loaded_at = _loaded_at - interval '4 days'")
        assert _freshness(dbt) == (False, {"orders": "warn", "order_items": "error"})
