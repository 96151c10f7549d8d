"""A user with only some sources, as CSV files of their own: customers, orders and order items still reach
published propensity scores.

Runs the CLI a user would run, in subprocesses, against a warehouse database of its own on the session's
PostgreSQL and an MLflow store of its own, so nothing here touches the full pipeline's tables or registry.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

PARTIAL_SOURCES = ("customers", "orders", "order_items")
DAYS = 150


def _ecomflow(env: dict[str, str], *args: str) -> str:
    command = [str(Path(sys.executable).parent / "ecomflow"), *args]
    # cwd: a local MLflow store keeps artifacts in ./mlruns of the working directory, not in the repository.
    workdir = Path(env["ECOMFLOW_MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")).parent
    done = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"ecomflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def partial(settings, fresh_database, tmp_path_factory):
    from ecomflow.sources.simulator import SimulatorConfig, write_days

    full, landing = tmp_path_factory.mktemp("full"), tmp_path_factory.mktemp("partial")
    first, last = settings.start_date, settings.start_date + dt.timedelta(days=DAYS - 1)
    write_days(SimulatorConfig(seed=7, n_customers=settings.n_customers, start_date=first), first, last, full)
    for table in PARTIAL_SOURCES:  # the user's own export: CSV in the contract's layout
        for partition in (full / table).iterdir():
            (landing / table / partition.name).mkdir(parents=True)
            pa_csv.write_csv(pq.read_table(partition), landing / table / partition.name / "export.csv")
    url = fresh_database("partial_sources")
    env = {
        **os.environ,
        "ECOMFLOW_WAREHOUSE_URL": url,
        "ECOMFLOW_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db",
        "ECOMFLOW_LANDING_DIR": str(landing),
    }
    as_of = last + dt.timedelta(days=1)
    outputs = {
        "ingest": _ecomflow(env, "ingest", "--from", str(first), "--to", str(last)),
        "build": _ecomflow(env, "build"),
        "train_propensity": _ecomflow(env, "train", "purchase_propensity"),
        "train_credit": _ecomflow(env, "train", "credit_risk"),
        "score_propensity": _ecomflow(env, "score", "purchase_propensity", "--as-of", str(as_of)),
        "score_credit": _ecomflow(env, "score", "credit_risk", "--as-of", str(as_of)),
    }
    with psycopg.connect(url) as conn:
        yield outputs, conn, as_of


def test_propensity_scores_are_published_for_every_customer(partial):
    outputs, conn, as_of = partial
    scored, versions = conn.execute(
        "select count(*), count(distinct model_version) from scores.customer_purchase_propensity where as_of_date = %s",
        (as_of,),
    ).fetchone()
    customers = conn.execute("select count(*) from marts.dim_customers").fetchone()[0]
    assert scored > 0 and versions == 1
    assert scored <= customers
    assert "promoted to champion" in outputs["train_propensity"]


def test_credit_risk_is_skipped_naming_the_missing_sources(partial):
    outputs, _, _ = partial
    message = " ".join(outputs["train_credit"].split())
    assert "skipped: credit_risk not trained" in message
    for table in ("sellers", "loans", "loan_schedule", "repayments"):
        assert table in message
    assert "skipped" in outputs["score_credit"]


def test_csv_files_load_like_simulated_ones_and_missing_sources_stay_empty(partial):
    outputs, conn, _ = partial
    assert "quarantined 0" in outputs["ingest"]
    assert conn.execute("select count(*) from raw.loans").fetchone()[0] == 0
    assert conn.execute("select count(*) from raw.orders").fetchone()[0] > 0
