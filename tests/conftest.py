"""Session fixtures: a real PostgreSQL, MLflow server and Airflow database, started the way the runtime does.

Everything lives in a temporary state directory on free ports, so tests never touch a developer's
``.ecomflow`` runtime. The environment is set here, at import, before anything imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STATE_DIR = Path(tempfile.mkdtemp(prefix="ecomflow-test-"))  # 0700, as the runtime keeps it
# As root, the server's binaries and cluster live out of the state dir (its user cannot traverse it): here, not
# yet existing, so the runtime creates it with the modes it checks.
PG_SERVER_DIR = STATE_DIR.with_name(f"{STATE_DIR.name}-pg")
os.environ.update(
    {
        "ECOMFLOW_STATE_DIR": str(STATE_DIR),
        "ECOMFLOW_PG_SERVER_DIR": str(PG_SERVER_DIR),
        "ECOMFLOW_PG_PORT": str(_free_port()),
        "ECOMFLOW_MLFLOW_PORT": str(_free_port()),
        "ECOMFLOW_AIRFLOW_PORT": str(_free_port()),
        "ECOMFLOW_N_CUSTOMERS": os.environ.get("ECOMFLOW_N_CUSTOMERS", "600"),
    }
)
for name in ("ECOMFLOW_WAREHOUSE_URL", "ECOMFLOW_AIRFLOW_DB_URL", "ECOMFLOW_MLFLOW_TRACKING_URI"):
    os.environ.pop(name, None)

from ecomflow.core.settings import get_settings  # noqa: E402
from ecomflow.local import runtime  # noqa: E402

runtime.apply_env(get_settings())


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture(scope="session")
def postgres(settings) -> Iterator[str]:
    """A real PostgreSQL (the embedded runtime's) for the whole session; yields the warehouse URL."""
    server = runtime.postgres(settings)
    server.start()
    yield settings.warehouse
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before the server goes away
        sys.modules["airflow.settings"].dispose_orm()
    server.stop()
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    shutil.rmtree(PG_SERVER_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(settings, postgres) -> Iterator[str]:
    """A real MLflow tracking server backed by the session's PostgreSQL."""
    env = runtime.runtime_env(settings)
    for service in runtime.services(settings):
        runtime.start_service(settings, service, env)
    yield settings.mlflow_uri
    for service in runtime.services(settings):
        runtime.stop_service(settings, service.name)


@pytest.fixture(scope="session")
def airflow_db(settings, postgres) -> str:
    """Airflow's metadata database, migrated."""
    runtime.migrate_airflow(runtime.runtime_env(settings))
    return settings.airflow_db


@pytest.fixture(scope="session")
def dbt_manifest(postgres) -> Path:
    from ecomflow.transform import ensure_manifest

    return ensure_manifest()


@pytest.fixture(scope="session")
def fresh_database(settings, postgres):
    """A factory: drop and create database ``name`` on the session's server, and return its URL."""
    import psycopg

    def create(name: str) -> str:
        with psycopg.connect(settings.warehouse, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")
            conn.execute(f"create database {name}")
        return settings.warehouse.rsplit("/", 1)[0] + f"/{name}"

    return create


@pytest.fixture
def warehouse(postgres):
    """A connection to the warehouse."""
    from ecomflow.core.warehouse import connect

    with connect() as conn:
        yield conn


def checksum(conn, relation: str, where: str = "", params: tuple = ()) -> tuple[int, str]:
    """Row count and an order-independent digest of every column of ``relation`` (optionally filtered).

    Floats are rounded to 6 decimals first: a sum over the same rows in another order (another query plan,
    another rebuild) differs in the last bits, which is arithmetic, not a change of data; a digest of their
    full text would flip on it.
    """
    cursor = conn.execute(f"select * from {relation} as t limit 0")
    floats = (700, 701)  # real, double precision
    select = ", ".join(
        f'round(t."{column.name}"::numeric, 6)' if column.type_code in floats else f't."{column.name}"'
        for column in cursor.description
    )
    return conn.execute(
        f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '') "
        f"from (select {select} from {relation} as t {where}) as t",
        params,
    ).fetchone()


@pytest.fixture(scope="session")
def fingerprint():
    """:func:`checksum`, for the test modules."""
    return checksum


def eventually(check, timeout: float = 20.0) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout`` seconds have passed (False)."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="session")
def wait_until():
    """:func:`eventually`, for the test modules (a concurrency test waits for another session to block)."""
    return eventually
