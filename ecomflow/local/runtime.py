"""Start, stop and describe the embedded runtime: PostgreSQL, the MLflow server and Airflow's components.

Each service runs in its own session (process group) with a pid file and a log under the state directory,
so ``ecomflow down`` can stop exactly what ``ecomflow up`` started, and nothing else.

The state directory is 0700 and every secret in it 0600: ``secrets.json`` (generated once: Airflow's keys, the
admin and PostgreSQL superuser passwords), ``pgpass`` (that password in libpq's format: every libpq client of
the runtime, psql, psycopg, ADBC, Airflow's and MLflow's SQLAlchemy, finds it through ``PGPASSFILE``, so no URL
or command line carries it) and ``airflow/passwords.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from ecomflow.core.settings import DAGS_DIR, DBT_PROJECT_DIR, PLUGINS_DIR, Settings
from ecomflow.local.postgres import SUPERUSER, EmbeddedPostgres, write_private

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    """A background process of the runtime."""

    name: str
    command: list[str]
    health_url: str | None = None


def postgres(settings: Settings) -> EmbeddedPostgres:
    """The embedded PostgreSQL of ``settings``."""
    password = runtime_secrets(settings)["postgres_password"]
    return EmbeddedPostgres(
        settings.state_dir / "postgres", settings.pg_port, password, settings.pg_server_dir, settings.pg_host
    )


def state_dir(settings: Settings) -> Path:
    """The state directory, created if missing and kept 0700: it holds the runtime's secrets."""
    settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.state_dir.chmod(0o700)
    return settings.state_dir


SECRETS = {
    "fernet_key": lambda: Fernet.generate_key().decode(),
    "jwt_secret": lambda: secrets.token_urlsafe(32),
    "admin_password": lambda: secrets.token_urlsafe(12),
    "postgres_password": lambda: secrets.token_urlsafe(24),
}


def runtime_secrets(settings: Settings) -> dict[str, str]:
    """Secrets of the embedded runtime, generated once (a missing one is added) and kept 0600 in the state dir."""
    path = state_dir(settings) / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in SECRETS.items() if name not in values}
    if missing or path.stat().st_mode & 0o077:
        values |= missing
        write_private(path, json.dumps(values))
    return values


def pgpass(settings: Settings) -> Path:
    """The libpq password file of the embedded server's superuser (0600), written if it differs."""
    path = state_dir(settings) / "pgpass"
    password = runtime_secrets(settings)["postgres_password"]
    line = f"{settings.pg_host}:{settings.pg_port}:*:{SUPERUSER}:{password}\n"
    if not path.exists() or path.read_text() != line or path.stat().st_mode & 0o077:
        write_private(path, line)
    return path


def pg_client_env(settings: Settings) -> dict[str, str]:
    """What a libpq client of the embedded server needs to log in (nothing for external databases)."""
    return {"PGPASSFILE": str(pgpass(settings))} if settings.embedded_postgres else {}


def airflow_home(settings: Settings) -> Path:
    """``AIRFLOW_HOME`` of the embedded runtime."""
    return settings.state_dir / "airflow"


def dbt_env(settings: Settings) -> dict[str, str]:
    """Connection variables ``dbt_project/profiles.yml`` reads, taken from the warehouse URL."""
    url = urlsplit(settings.warehouse)
    return {
        "ECOMFLOW_WAREHOUSE_HOST": url.hostname or "127.0.0.1",
        "ECOMFLOW_WAREHOUSE_PORT": str(url.port or 5432),
        "ECOMFLOW_WAREHOUSE_USER": url.username or "postgres",
        "ECOMFLOW_WAREHOUSE_PASSWORD": url.password or _embedded_password(settings),
        "ECOMFLOW_WAREHOUSE_DBNAME": url.path.lstrip("/") or "warehouse",
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def _embedded_password(settings: Settings) -> str:
    """The superuser's password when the warehouse is the embedded server, else ``""``."""
    return runtime_secrets(settings)["postgres_password"] if settings.warehouse_url is None else ""


def airflow_env(settings: Settings) -> dict[str, str]:
    """Airflow configuration of the embedded runtime, as environment variables."""
    home = airflow_home(settings)
    keys = runtime_secrets(settings)
    base_url = f"http://127.0.0.1:{settings.airflow_port}"
    passwords = home / "passwords.json"
    if not passwords.exists():
        home.mkdir(parents=True, exist_ok=True)
        write_private(passwords, json.dumps({settings.airflow_user: keys["admin_password"]}))
    elif passwords.stat().st_mode & 0o077:
        passwords.chmod(0o600)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_db,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__PROPAGATE_LOGS": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "NO_PROXY": "*",
    }


def runtime_env(settings: Settings) -> dict[str, str]:
    """Every variable the runtime's processes need: ecomflow's own, Airflow's, dbt's and MLflow's."""
    env = {
        **pg_client_env(settings),
        "ECOMFLOW_STATE_DIR": str(settings.state_dir),
        "ECOMFLOW_PG_PORT": str(settings.pg_port),
        "MLFLOW_TRACKING_URI": settings.mlflow_uri,
        # MLflow's server otherwise starts ~8 huey job consumers for GenAI features we do not use
        # (gigabytes of memory, docs/benchmarks.md).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    return {**env, **dbt_env(settings), **airflow_env(settings)}


def apply_env(settings: Settings) -> dict[str, str]:
    """Export :func:`runtime_env` into this process (before Airflow is imported) and return it."""
    env = runtime_env(settings)
    os.environ.update(env)
    from ecomflow.core.settings import get_settings

    get_settings.cache_clear()
    return env


def services(settings: Settings) -> list[Service]:
    """The background services ``up`` starts, in start order."""
    result: list[Service] = []
    if settings.mlflow_tracking_uri is None:
        artifacts = settings.state_dir / "mlflow" / "artifacts"
        result.append(
            Service(
                "mlflow",
                [
                    str(BIN / "mlflow"),
                    "server",
                    "--backend-store-uri",
                    settings.mlflow_backend_store,
                    "--artifacts-destination",
                    str(artifacts),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(settings.mlflow_port),
                    "--workers",
                    "1",
                ],
                f"{settings.mlflow_uri}/health",
            )
        )
    return result


def airflow_services(settings: Settings) -> list[Service]:
    """Airflow's api-server, scheduler, dag-processor and triggerer."""
    airflow = str(BIN / "airflow")
    return [
        Service(
            "airflow-api-server",
            [airflow, "api-server"],
            f"http://127.0.0.1:{settings.airflow_port}/api/v2/monitor/health",
        ),
        Service("airflow-scheduler", [airflow, "scheduler"]),
        Service("airflow-dag-processor", [airflow, "dag-processor"]),
        Service("airflow-triggerer", [airflow, "triggerer"]),
    ]


def _run_dir(settings: Settings) -> Path:
    path = settings.state_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def service_pid(settings: Settings, name: str) -> int | None:
    """Pid of a running service, or None (a stale pid file is removed)."""
    pidfile = _run_dir(settings) / f"{name}.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pidfile.unlink()
        return None
    return pid


def log_path(settings: Settings, name: str) -> Path:
    """Log file of a service."""
    return settings.state_dir / "logs" / f"{name}.log"


def start_service(settings: Settings, service: Service, env: dict[str, str]) -> int:
    """Start ``service`` in the background unless it runs already; wait until it is healthy."""
    pid = service_pid(settings, service.name)
    if pid is None:
        log = log_path(settings, service.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                service.command,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (_run_dir(settings) / f"{service.name}.pid").write_text(str(process.pid))
        pid = process.pid
    if service.health_url:
        wait_healthy(service, settings)
    return pid


def wait_healthy(service: Service, settings: Settings, timeout: float = 180) -> None:
    """Poll the service's health URL until it answers 200, or fail naming its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(service.health_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if service_pid(settings, service.name) is None:
            break
        time.sleep(0.5)
    raise RuntimeError(f"{service.name} did not become healthy; see {log_path(settings, service.name)}")


def stop_service(settings: Settings, name: str, timeout: float = 30) -> bool:
    """Stop a service and its children (its whole process group). Returns whether it was running."""
    pid = service_pid(settings, name)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if not _group_alive(pid):
            break
    (_run_dir(settings) / f"{name}.pid").unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # A zombie leader still "exists"; reap it if it is our child.
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def migrate_command() -> list[str]:
    """``airflow db migrate``: creates or upgrades Airflow's metadata database (idempotent)."""
    return [str(BIN / "airflow"), "db", "migrate"]


def migrate_airflow(env: dict[str, str]) -> None:
    """Run :func:`migrate_command` with the runtime's environment."""
    subprocess.run(migrate_command(), env={**os.environ, **env}, check=True, capture_output=True)
