"""Warehouse build time: through Airflow and cosmos vs a plain ``dbt build``, and from 10k to 100k customers.

One run, in databases of its own on the warehouse server (``ecomflow_bench_warehouse`` for the data,
``ecomflow_bench_airflow`` for Airflow's metadata), so the warehouse and the runtime's Airflow are untouched:

1. For each scale, ``BENCH_WAREHOUSE_DAYS`` simulated days are generated and ingested (the platform's own code),
   then a full ``dbt build`` is timed: how build time grows with customers (10x more customers should cost
   at most ~10x the time; less means fixed costs still weigh).
2. At the small scale, the last day is built the way the ``warehouse`` DAG builds it (features as of the
   next day only), alternately by the real DAG (``dag.test()``: the cosmos ``DbtTaskGroup`` in WATCHER mode) and
   by a plain ``dbt build`` of the same models with the same days (passed as the DAG passes them); the fastest of
   ``BENCH_TRIALS`` each counts.
   Two ratios: cosmos' producer task (the one ``dbt build``, reporting every node's status to XCom; the sources'
   freshness is the DAG's own ``freshness`` task, in SQL) against plain dbt, the target of issue 4 (at most 1.3x);
   and the whole DAG run, where ``dag.test()`` runs the model and test sensors one after another once the build is
   done (a scheduler runs them alongside it).

Each timed build runs in a process of its own (dbt and Airflow keep per-process state); the DAG's time is
``dag.test()`` alone (a scheduler parses DAG files ahead of runs), the producer's is its task instance's, plain
dbt's is the whole ``dbt build`` command. Task and dbt logs go to ``bench/results/warehouse.log``; the last line
prints the ratios, with the machine's load average (the figures move with it on a shared machine).
``BENCH_WAREHOUSE_LARGE=0`` leaves out the larger scale (the one-day ratios need only the small one).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = int(os.environ.get("BENCH_WAREHOUSE_SMALL", 10_000))
LARGE = int(os.environ.get("BENCH_WAREHOUSE_LARGE", 100_000))
DAYS = int(os.environ.get("BENCH_WAREHOUSE_DAYS", 14))
TRIALS = int(os.environ.get("BENCH_TRIALS", 3))
START = dt.date(2025, 1, 1)
DATA_DB, AIRFLOW_DB = "ecomflow_bench_warehouse", "ecomflow_bench_airflow"
LOG = Path(__file__).parent / "results" / "warehouse.log"
BIN = Path(sys.executable).parent


def _database_url(settings, name: str, driver: str = "postgresql") -> str:  # noqa: ANN001
    base = settings.warehouse.rsplit("/", 1)[0]
    return f"{driver}{base.removeprefix('postgresql')}/{name}"


def _recreate_database(name: str) -> None:
    from ecomflow.core.warehouse import connect

    with connect(autocommit=True) as conn:
        conn.execute(f"drop database if exists {name} with (force)")
        conn.execute(f"create database {name}")


def _child_env(settings) -> dict[str, str]:  # noqa: ANN001
    """The environment of a timed process: the bench databases as the warehouse and Airflow's database."""
    return {
        **os.environ,
        "ECOMFLOW_WAREHOUSE_URL": _database_url(settings, DATA_DB),
        "ECOMFLOW_WAREHOUSE_DBNAME": DATA_DB,  # what profiles.yml reads
        "ECOMFLOW_AIRFLOW_DB_URL": _database_url(settings, AIRFLOW_DB, "postgresql+psycopg2"),
    }


def _timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds ``command`` took; its output goes to the bench log. Fails with the log's tail if it fails."""
    with LOG.open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        started = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(LOG.read_text().splitlines()[-30:])
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}); end of {LOG}:\n{tail}")
    return seconds


def _dag_selection() -> list[str]:
    """The ``--select``/``--exclude`` of the warehouse DAG's task group, so plain dbt builds the same models."""
    from ecomflow.transform import cosmos_configs

    render = cosmos_configs()["render_config"]
    return [
        *(["--select", *render.select] if render.select else []),
        *(["--exclude", *render.exclude] if render.exclude else []),
    ]


def _dbt(args: list[str], env: dict[str, str]) -> float:
    from ecomflow.core.settings import DBT_PROJECT_DIR
    from ecomflow.transform import PROFILE_ARGS

    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), *PROFILE_ARGS]
    return _timed([str(BIN / "dbt"), *args, *_dag_selection(), *project], env)


def _dag_run(day: dt.date, env: dict[str, str]) -> tuple[float, float]:
    """Seconds of the ``warehouse`` DAG's run for ``day`` (around ``dag.test()``) and of its producer task."""
    import psycopg
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    _timed([sys.executable, "-m", "bench.warehouse", "dag", day.isoformat()], env)
    run_seconds = float(LOG.read_text().rsplit("DAG_SECONDS=", 1)[1].split()[0])
    with psycopg.connect(env["ECOMFLOW_AIRFLOW_DB_URL"].replace("+psycopg2", "")) as conn:
        producer_seconds, state, tries = conn.execute(
            "select extract(epoch from end_date - start_date)::float, state, try_number from task_instance "
            "where dag_id = 'warehouse' and task_id like %s order by end_date desc limit 1",
            (f"%.{PRODUCER_WATCHER_TASK_ID}",),
        ).fetchone()
    if (state, tries) != ("success", 1):  # a failed build falls back to one dbt run per model: not comparable
        raise RuntimeError(f"the producer's dbt build ended {state} (try {tries}); see {LOG}")
    return run_seconds, producer_seconds


def _run_dag_here(day: dt.date) -> None:
    """In the timed child: parse the DAG folder, then run the ``warehouse`` DAG for ``day``."""
    from ecomflow.core.settings import get_settings
    from ecomflow.local import runtime

    runtime.apply_env(get_settings())
    from ecomflow.demo.pipeline import load_dags, run_dag

    dags = load_dags()
    started = time.perf_counter()
    run_dag("warehouse", day, dags)
    print(f"DAG_SECONDS={time.perf_counter() - started:.3f} DAG_TASKS={len(dags['warehouse'].tasks)}", flush=True)


def _task_count() -> int:
    """Tasks of the warehouse DAG, as its last timed run printed them."""
    return int(LOG.read_text().rsplit("DAG_TASKS=", 1)[1].split()[0])


def _load(settings, n_customers: int, last: dt.date) -> int:  # noqa: ANN001
    """Simulate and ingest ``DAYS`` days at ``n_customers`` into a fresh bench database; returns raw rows."""
    from ecomflow.core.warehouse import connect
    from ecomflow.ingest import ensure_raw_schema, ingest_day
    from ecomflow.sources.contract import TABLES
    from ecomflow.sources.simulator import SimulatorConfig, write_days

    _recreate_database(DATA_DB)
    rows = 0
    with tempfile.TemporaryDirectory() as landing, connect(_database_url(settings, DATA_DB)) as conn:
        config = SimulatorConfig(seed=settings.seed, n_customers=n_customers, start_date=START)
        write_days(config, START, last, Path(landing))
        ensure_raw_schema(conn)
        day = START
        while day <= last:
            rows += sum(ingest_day(conn, Path(landing), t.name, day).rows_loaded for t in TABLES)
            day += dt.timedelta(days=1)
    return rows


def main() -> None:
    """Print full-build seconds at both scales, DAG vs plain seconds for one day, and the ratios."""
    from ecomflow.core.settings import get_settings
    from ecomflow.local import runtime
    from ecomflow.orchestration import dbt_vars
    from ecomflow.transform import ensure_manifest, run_env

    settings = get_settings()
    runtime.apply_env(settings)
    if settings.embedded_postgres:
        runtime.postgres(settings).start()
    ensure_manifest()
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text("")
    env = _child_env(settings)
    _recreate_database(AIRFLOW_DB)
    runtime.migrate_airflow({**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env["ECOMFLOW_AIRFLOW_DB_URL"]})

    last = START + dt.timedelta(days=DAYS - 1)
    day_env = {**env, **run_env(dbt_vars([last]))}  # the day as the DAG passes it
    full, rows = {}, {}
    for n_customers in (SMALL, *((LARGE,) if LARGE else ())):
        rows[n_customers] = _load(settings, n_customers, last)
        full[n_customers] = _dbt(["build", "--quiet"], env)
        if n_customers == SMALL:
            plain, dag, producer = [], [], []
            for _ in range(TRIALS):
                plain.append(_dbt(["build", "--quiet"], day_env))
                run_seconds, producer_seconds = _dag_run(last, env)
                dag.append(run_seconds)
                producer.append(producer_seconds)
            plain_s, dag_s, producer_s = min(plain), min(dag), min(producer)

    scaling = f", {full[LARGE]:.0f} s at {LARGE:,} ({rows[LARGE]:,} raw rows)" if LARGE else " (larger scale left out)"
    print(
        f"warehouse, {DAYS} days: full dbt build {full[SMALL]:.0f} s at {SMALL:,} customers "
        f"({rows[SMALL]:,} raw rows){scaling}; one day at {SMALL:,} customers, best of {TRIALS}: plain dbt build "
        f"{plain_s:.1f} s, through cosmos {producer_s:.1f} s (the producer task: the one dbt build), whole "
        f"warehouse DAG run {dag_s:.1f} s (dag.test: its {_task_count()} tasks one after another)"
    )
    growth = f"; {full[LARGE] / full[SMALL]:.1f}x build time for {LARGE / SMALL:.0f}x customers" if LARGE else ""
    print(
        f"warehouse: cosmos build {producer_s / plain_s:.2f}x plain dbt build (target <= 1.3x), whole DAG run in "
        f"dag.test {dag_s / plain_s:.2f}x{growth}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["dag"]:
        _run_dag_here(dt.date.fromisoformat(sys.argv[2]))
    else:
        main()
