"""A backfill gives the warehouse and scores that daily runs give, on a real scheduler.

A second embedded runtime — its own PostgreSQL, MLflow and Airflow (api-server, scheduler, dag-processor, triggerer;
LocalExecutor), started by ``ecomflow up`` in a temporary state directory — holds a short history loaded in bulk
and a purchase-propensity champion (the history is too short for credit risk: it has no champion, and its scoring
is skipped the same way in both runs). Then, each time on a fresh copy of that warehouse:

1. ``ecomflow airflow backfill create --dag-id ingest --from-date D1 --to-date D3``: the scheduler runs the three
   ingest days (concurrently, the backfill's default), each emits the ``warehouse_raw`` asset event, and the
   asset-scheduled ``warehouse`` and ``score_and_publish`` DAGs run on those events. Airflow does not backfill
   asset-scheduled DAGs themselves; backfill runs emit asset events like any other run, so unpaused downstream DAGs
   follow, possibly one run for several days.
2. The same days one at a time through the same DAGs, ingest → warehouse → score and publish per day, the way
   ``ecomflow demo`` runs its days (``dag.test``).

Every mart, feature and score table must hold the same rows (scores but their ``scored_at``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from ecomflow.core.settings import Settings
from ecomflow.local import runtime as embedded

HISTORY_DAYS = 120
RUN_DAYS = 3
N_CUSTOMERS = 300
DOWNSTREAM = ("warehouse", "score_and_publish")
BIN = Path(sys.executable).parent
# Airflow's task start-up and dbt dominate; on a machine shared with other test runs this takes far longer.
pytestmark = pytest.mark.timeout(3600)

ONE_AT_A_TIME = """
import datetime as dt, sys
from ecomflow.demo.pipeline import load_dags, run_day
dags = load_dags()
for day in sys.argv[1:]:
    run_day(dt.date.fromisoformat(day), train=False, dags=dags)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Runtime:
    """The second embedded runtime: its settings, the environment of its processes, its REST API."""

    settings: Settings
    env: dict[str, str]
    kept_logs: Path
    token: str | None = None

    def run(self, *command: str, log: str) -> None:
        """Run a command in this runtime's environment; on failure, fail with the end of its output."""
        path = self.settings.state_dir / "logs" / f"test-{log}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            code = subprocess.run(command, env=self.env, stdout=out, stderr=subprocess.STDOUT).returncode
        if code:
            tail = "\n".join(path.read_text().splitlines()[-40:])
            raise AssertionError(f"{' '.join(command[:4])} ... exited {code}; end of its log:\n{tail}\n{self.where}")

    @property
    def where(self) -> str:
        """Where the logs stay after the test (the state directory goes)."""
        return f"service, task and command logs: {self.kept_logs}"

    def ecomflow(self, *args: str) -> None:
        """The ``ecomflow`` CLI."""
        self.run(str(BIN / "ecomflow"), *args, log="-".join(a for a in args[:3] if a.replace("_", "").isalpha()))

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        """Call Airflow's REST API as the runtime's admin."""
        if self.token is None:
            password = embedded.runtime_secrets(self.settings)["admin_password"]
            self.token = self._call("POST", "/auth/token", {"username": "admin", "password": password})["access_token"]
        return self._call(method, path, body)

    def _call(self, method: str, path: str, body: dict | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        url = f"http://127.0.0.1:{self.settings.airflow_port}{path}"
        with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=60) as r:
            return json.loads(r.read() or b"null")

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of ``dag_id``, oldest first."""
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def triggering_events(self, dag_id: str, run_id: str) -> list[dict]:
        """The asset events a run consumed."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/upstreamAssetEvents"
        return self.api("GET", path)["asset_events"]

    def set_paused(self, paused: bool, *dag_ids: str) -> None:
        """Pause or unpause DAGs."""
        for dag_id in dag_ids:
            self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})

    def settled(self, dag_id: str) -> bool:
        """No asset event waits to trigger ``dag_id`` and none of its runs is queued or running."""
        if self.api("GET", f"/api/v2/dags/{dag_id}/assets/queuedEvents")["total_entries"]:
            return False
        return all(run["state"] in ("success", "failed") for run in self.runs(dag_id))

    def reset_warehouse(self) -> None:
        """Put back the warehouse as it was after the history (a copy taken then)."""
        with _connect(self.settings, "postgres", autocommit=True) as conn:
            conn.execute("drop database if exists warehouse with (force)")
            conn.execute("create database warehouse template history")


def _connect(settings: Settings, database: str = "warehouse", autocommit: bool = False) -> psycopg.Connection:
    """A database of the second runtime as its superuser, with its password (this process's pgpass is the
    session runtime's)."""
    password = embedded.runtime_secrets(settings)["postgres_password"]
    return psycopg.connect(settings.embedded_url(database), password=password, autocommit=autocommit)


def _wait(condition: Callable[[], bool], what: str, rt: Runtime, timeout: float = 2400) -> None:
    """Poll ``condition``; a liveness guard (the scheduler's pace is not asserted), naming the logs if it stalls."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; {rt.where}")
        time.sleep(3)


@pytest.fixture(scope="module")
def rt(tmp_path_factory) -> Iterator[Runtime]:
    """The second runtime with the history loaded, a propensity champion, a copy of that warehouse, Airflow up."""
    state = Path(tempfile.mkdtemp(prefix="ecomflow-test-backfill-"))
    os.chmod(state, 0o755)
    ports = {"pg_port": _free_port(), "mlflow_port": _free_port(), "airflow_port": _free_port()}
    settings = Settings(state_dir=state, n_customers=N_CUSTOMERS, simulate=False, **ports)
    own = ("AIRFLOW", "ECOMFLOW_", "MLFLOW_", "DBT_")  # the session runtime's; this one derives its own
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    env |= {f"ECOMFLOW_{k.upper()}": str(v) for k, v in ports.items()}
    # Without simulation the ingest DAG loads what is in the landing area: the scheduled run of yesterday that
    # unpausing `ingest` creates finds no files and publishes nothing.
    env |= {"ECOMFLOW_STATE_DIR": str(state), "ECOMFLOW_N_CUSTOMERS": str(N_CUSTOMERS), "ECOMFLOW_SIMULATE": "false"}
    rt = Runtime(settings, env, tmp_path_factory.mktemp("backfill-logs"))
    first = settings.start_date
    history_end = first + dt.timedelta(days=HISTORY_DAYS - 1)
    try:
        rt.ecomflow("generate", "--start", str(first), "--end", str(history_end + dt.timedelta(days=RUN_DAYS)))
        rt.ecomflow("up")
        rt.ecomflow("ingest", "--from", str(first), "--to", str(history_end))
        rt.ecomflow("build")
        rt.ecomflow("train", "purchase_propensity")
        with _connect(settings, "postgres", autocommit=True) as conn:
            conn.execute("create database history template warehouse")
        rt.env |= embedded.runtime_env(settings)
        dag_ids = {"ingest", "train", *DOWNSTREAM}
        _wait(lambda: dag_ids <= {d["dag_id"] for d in rt.api("GET", "/api/v2/dags")["dags"]}, "the DAGs parsed", rt)
        yield rt
    finally:
        subprocess.run([str(BIN / "ecomflow"), "down"], env=env, capture_output=True)
        for logs in (p for p in (state / "logs", state / "airflow" / "logs") if p.exists()):
            shutil.copytree(logs, rt.kept_logs / logs.relative_to(state), dirs_exist_ok=True)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def days(rt) -> list[dt.date]:
    first = rt.settings.start_date + dt.timedelta(days=HISTORY_DAYS)
    return [first + dt.timedelta(days=i) for i in range(RUN_DAYS)]


def _snapshot(rt: Runtime, fingerprint) -> dict[str, tuple[int, str]]:
    """Fingerprints of every mart, feature and score table (scores without ``scored_at``)."""
    with _connect(rt.settings) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'features', 'scores') and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        result = {}
        for (table,) in tables:
            columns = conn.execute(
                "select string_agg(quote_ident(column_name), ', ' order by ordinal_position) "
                "from information_schema.columns where table_schema || '.' || table_name = %s "
                "and column_name <> 'scored_at'",
                (table,),
            ).fetchone()[0]
            result[table] = fingerprint(conn, f"(select {columns} from {table})")
    return result


@pytest.fixture(scope="module")
def backfill(rt, days, fingerprint) -> dict[str, Any]:
    """The days through ``airflow backfill create`` on the scheduler; the runs it led to and a snapshot."""
    rt.reset_warehouse()
    rt.set_paused(False, *DOWNSTREAM, "ingest")
    rt.ecomflow(
        "airflow", "backfill", "create", "--dag-id", "ingest", "--from-date", str(days[0]), "--to-date", str(days[-1])
    )

    def done() -> bool:
        backfills = rt.api("GET", "/api/v2/backfills?dag_id=ingest")["backfills"]
        return (
            bool(backfills)
            and all(b["completed_at"] for b in backfills)
            and all(rt.settled(dag_id) for dag_id in ("ingest", *DOWNSTREAM))
        )

    _wait(done, "the backfill and the runs its asset events triggered", rt)
    runs = {dag_id: rt.runs(dag_id) for dag_id in ("ingest", *DOWNSTREAM)}
    triggering = {
        dag_id: [event for run in runs[dag_id] for event in rt.triggering_events(dag_id, run["dag_run_id"])]
        for dag_id in DOWNSTREAM
    }
    published = {
        dag_id: rt.api("GET", f"/api/v2/assets/events?source_dag_id={dag_id}&limit=100")["asset_events"]
        for dag_id in ("ingest", *DOWNSTREAM)
    }
    with _connect(rt.settings) as conn:
        scored = dict(
            conn.execute(
                "select features.as_of_date, count(scores.customer_id) = count(*) "
                "from features.feat_customer_daily as features left join scores.customer_purchase_propensity as scores "
                "using (as_of_date, customer_id) where features.as_of_date > %s group by 1",
                (days[0],),
            ).fetchall()
        )
    return {
        "runs": runs,
        "triggering": triggering,
        "published": published,
        "snapshot": _snapshot(rt, fingerprint),
        "scored": scored,
    }


@pytest.fixture(scope="module")
def one_at_a_time(rt, days, backfill, fingerprint) -> dict[str, tuple[int, str]]:
    """The same days one at a time, on a fresh copy of the history; a snapshot."""
    rt.set_paused(True, *DOWNSTREAM, "ingest")  # dag.test runs emit asset events too: no scheduler runs on them
    rt.reset_warehouse()
    rt.run(sys.executable, "-c", ONE_AT_A_TIME, *map(str, days), log="one-at-a-time")
    return _snapshot(rt, fingerprint)


def _midnight(day: dt.date) -> str:
    return f"{day}T00:00:00Z"


def test_the_backfill_ran_ingest_once_per_day_on_its_data_interval(backfill, days):
    runs = [r for r in backfill["runs"]["ingest"] if r["run_type"] == "backfill"]
    assert [(r["logical_date"], r["data_interval_start"], r["data_interval_end"]) for r in runs] == [
        (_midnight(d), _midnight(d), _midnight(d + dt.timedelta(days=1))) for d in days
    ]
    assert {r["state"] for r in backfill["runs"]["ingest"]} == {"success"}


def _days(events: list[dict]) -> set[str]:
    return {day for event in events for day in event["extra"].get("days", [])}


def test_asset_events_of_the_backfill_ran_the_downstream_dags_for_every_day(rt, backfill, days):
    backfill_runs = {r["dag_run_id"] for r in backfill["runs"]["ingest"] if r["run_type"] == "backfill"}
    for dag_id in DOWNSTREAM:
        runs = backfill["runs"][dag_id]
        assert runs, f"no {dag_id} run followed the backfill"
        assert {r["run_type"] for r in runs} == {"asset_triggered"}
        assert {r["state"] for r in runs} == {"success"}, f"{dag_id} runs failed; {rt.where}"
    # Only the backfill's runs emitted raw events: the scheduled run of yesterday found no files.
    assert {e["source_run_id"] for e in backfill["published"]["ingest"]} == backfill_runs
    assert {e["source_run_id"] for e in backfill["triggering"]["warehouse"]} <= backfill_runs
    # Airflow may leave some events to no run (apache/airflow#56050); the runs still covered every day.
    expected = {str(d) for d in days}
    assert _days(backfill["published"]["ingest"]) == expected
    assert expected <= _days(backfill["published"]["warehouse"])
    assert expected <= _days(backfill["published"]["score_and_publish"])


def test_the_backfill_scored_every_customer_as_of_each_day_after_a_backfilled_day(backfill, days):
    assert backfill["scored"] == {d + dt.timedelta(days=1): True for d in days}


def test_backfill_gives_the_warehouse_and_scores_of_daily_runs(backfill, one_at_a_time):
    assert len(backfill["snapshot"]) >= 20 and "scores.customer_purchase_propensity" in backfill["snapshot"]
    assert one_at_a_time.keys() == backfill["snapshot"].keys()
    differ = {t for t in one_at_a_time if one_at_a_time[t] != backfill["snapshot"][t]}
    assert differ == set(), f"tables that differ between the backfill and the days run one at a time: {differ}"
