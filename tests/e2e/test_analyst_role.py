"""The ``analyst`` role that dbt grants: reads marts and features, writes nothing, never sees ``raw``.

Runs on the warehouse the end-to-end pipeline built, connecting as a real login user that is a member of
``analyst`` with a password — the way an analyst is set up (``create role alice login password '...' in role
analyst``); the embedded server checks it (tests/local/test_postgres_auth.py).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

ANALYST_LOGIN = "analyst_alice"
ANALYST_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def as_analyst(pipeline, settings):
    with psycopg.connect(settings.warehouse, autocommit=True) as admin:
        admin.execute(f"drop role if exists {ANALYST_LOGIN}")
        admin.execute(f"create role {ANALYST_LOGIN} login password '{ANALYST_PASSWORD}' in role analyst")
    url = settings.warehouse.replace("postgres@", f"{ANALYST_LOGIN}:{ANALYST_PASSWORD}@", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("relation", ["marts.fct_orders", "marts.dim_customers", "features.feat_customer_daily"])
def test_analyst_reads_marts_and_features(as_analyst, relation):
    assert as_analyst.execute(f"select count(*) from {relation}").fetchone()[0] > 0


@pytest.mark.parametrize("relation", ["raw.orders", "raw.quarantine", "staging.stg_ecom__orders"])
def test_analyst_cannot_read_raw_or_staging(as_analyst, relation):
    with pytest.raises(errors.InsufficientPrivilege):
        as_analyst.execute(f"select count(*) from {relation}")


@pytest.mark.parametrize(
    "statement",
    [
        "insert into marts.fct_orders (order_id) values ('x')",
        "delete from features.feat_customer_daily",
        "update marts.dim_customers set region = 'x'",
        "create table marts.scratch (x int)",
        "create table public.scratch (x int)",
        "create schema scratch",
        "drop table marts.fct_orders",
    ],
)
def test_analyst_cannot_write_anywhere(as_analyst, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        as_analyst.execute(statement)


def _documented_queries() -> list[str]:
    """The example queries of the analysts' guide, which this module runs as the analyst role."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analysts.md").read_text()
    return re.findall(r"```sql\n(.*?)```", guide, flags=re.DOTALL)


def test_the_analysts_guide_has_example_queries():
    assert len(_documented_queries()) >= 3


@pytest.mark.parametrize("query", _documented_queries(), ids=lambda q: " ".join(q.split())[:40])
def test_every_documented_query_runs_as_analyst_and_returns_rows(as_analyst, query):
    assert as_analyst.execute(query).fetchall()
