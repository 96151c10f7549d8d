"""The end-to-end pipeline, built once per test session and shared by the e2e modules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

HISTORY_DAYS = 730  # two years: the credit model needs a six-month gap between its training and test months
RUN_DAYS = 3


@dataclass
class History:
    """What the warehouse held after the bulk history, before the run days arrived."""

    last_day: dt.date | None = None
    checksums: dict[str, tuple[int, str]] = field(default_factory=dict)


_HISTORY = History()


def checksum(conn, relation: str, where: str = "", params: tuple = ()) -> tuple[int, str]:
    """Row count and an order-independent digest of every column of ``relation`` (optionally filtered).

    Floats are printed to 12 significant digits: a sum over the same rows in another order (another query
    plan once more data is loaded) differs in the last bits, which is arithmetic, not a change of data.
    """
    conn.execute("set extra_float_digits = -3")
    return conn.execute(
        f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {relation} as t {where}",
        params,
    ).fetchone()


@pytest.fixture(scope="session")
def pipeline(settings, postgres, mlflow_server, airflow_db, dbt_manifest) -> list[dt.date]:
    """Two years of history in bulk, then three consecutive days through the real DAGs; returns those days.

    Between the two, the features as of the day after the history are fingerprinted, for the leakage test.
    """
    from ecomflow.local.pipeline import load_dags, load_history, run_day
    from ecomflow.warehouse import connect

    first = settings.start_date
    history_end = first + dt.timedelta(days=HISTORY_DAYS - 1)
    load_history(settings, first, history_end)
    _HISTORY.last_day = history_end
    as_of = history_end + dt.timedelta(days=1)
    with connect() as conn:
        _HISTORY.checksums = {
            "features.feat_customer_daily": checksum(
                conn, "features.feat_customer_daily", "where as_of_date = %s", (as_of,)
            ),
            "features.feat_seller_monthly": checksum(
                conn, "features.feat_seller_monthly", "where as_of_date <= %s", (as_of,)
            ),
        }
    days = [history_end + dt.timedelta(days=i + 1) for i in range(RUN_DAYS)]
    dags = load_dags()
    for i, day in enumerate(days):
        run_day(day, train=(i == 0), dags=dags)
    return days


@pytest.fixture(scope="session")
def history(pipeline) -> History:
    """Fingerprints taken after the bulk history and before the run days."""
    return _HISTORY


@pytest.fixture(scope="session")
def fingerprint():
    """:func:`checksum`, for the test modules."""
    return checksum
