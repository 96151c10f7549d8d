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
    features: dict[str, object] = field(default_factory=dict)
    """The feature rows as of the day after the history (Arrow tables), compared value by value."""


_HISTORY = History()


def feature_rows(as_of: dt.date) -> dict[str, object]:
    """The point-in-time feature rows a leakage would change: customers as of ``as_of``, sellers up to it."""
    from ecomflow.core.warehouse import connect, copy_out

    with connect() as conn:
        return {
            "features.feat_customer_daily": copy_out(
                conn, "select * from features.feat_customer_daily where as_of_date = %s", (as_of,)
            ),
            "features.feat_seller_monthly": copy_out(
                conn, "select * from features.feat_seller_monthly where as_of_date <= %s", (as_of,)
            ),
        }


def assert_same_rows(expected, actual, keys: list[str], name: str) -> None:
    """Same rows, floats equal to 1e-9 relative: sums over the same rows in another order (another plan once
    more data is loaded) differ in the last bits, and a text checksum can round those either way."""
    import numpy as np
    import pyarrow as pa

    assert expected.num_rows == actual.num_rows, f"{name}: {expected.num_rows} rows before, {actual.num_rows} after"
    expected, actual = (
        expected.sort_by([(k, "ascending") for k in keys]),
        actual.sort_by([(k, "ascending") for k in keys]),
    )
    for column in expected.column_names:
        before, after = expected.column(column), actual.column(column)
        if pa.types.is_floating(before.type):
            a, b = before.to_numpy(zero_copy_only=False), after.to_numpy(zero_copy_only=False)
            same = np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
            assert same.all(), f"{name}.{column} changed in {(~same).sum()} row(s)"
        else:
            assert before.equals(after), f"{name}.{column} changed"


@pytest.fixture(scope="session")
def pipeline(settings, postgres, mlflow_server, airflow_db, dbt_manifest) -> list[dt.date]:
    """Two years of history in bulk, then three consecutive days through the real DAGs; returns those days.

    Between the two, the features as of the day after the history are fingerprinted, for the leakage test.
    """
    from ecomflow.demo.pipeline import load_dags, load_history, run_day

    first = settings.start_date
    history_end = first + dt.timedelta(days=HISTORY_DAYS - 1)
    load_history(settings, first, history_end)
    _HISTORY.last_day = history_end
    as_of = history_end + dt.timedelta(days=1)
    _HISTORY.features = feature_rows(as_of)
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
def features_as_of():
    """:func:`feature_rows`, for the test modules."""
    return feature_rows


@pytest.fixture(scope="session")
def same_rows():
    """:func:`assert_same_rows`, for the test modules."""
    return assert_same_rows
