"""The embedded PostgreSQL lets no one in without the password, and its server process cannot read root's files.

Runs on the session's server (``tests/conftest.py``), started the way ``ecomflow up`` starts it. The tests that
need a second OS user or a root-owned file run only as root (where the server runs as a user of its own).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ecomflow.local import runtime
from ecomflow.local.postgres import server_user

OTHER_USER = "ecomflow_probe"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a second OS user and root-owned files")


def _connect(settings, tmp_path: Path, user: str = "postgres", password: str | None = None) -> psycopg.Connection:
    """Connect over TCP as ``user``, with ``password`` only (no password file: that is what outsiders have)."""
    return psycopg.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        dbname="warehouse",
        user=user,
        password=password,
        passfile=str(tmp_path / "no-pgpass"),
        autocommit=True,
    )


def test_no_password_is_refused(postgres, settings, tmp_path):
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        _connect(settings, tmp_path)


def test_a_wrong_password_is_refused(postgres, settings, tmp_path):
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "postgres"'):
        _connect(settings, tmp_path, password="postgres")


def test_the_generated_password_logs_in(postgres, settings, tmp_path):
    password = runtime.runtime_secrets(settings)["postgres_password"]
    with _connect(settings, tmp_path, password=password) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    with psycopg.connect(settings.warehouse) as conn:  # what every component does: the URL and PGPASSFILE
        assert conn.execute("select 1").fetchone() == (1,)


def test_every_rule_needs_a_password_over_tcp(postgres, settings):
    with psycopg.connect(settings.warehouse) as conn:
        rules = conn.execute("select type, address, auth_method, error from pg_hba_file_rules").fetchall()
        sockets = conn.execute("select setting from pg_settings where name = 'unix_socket_directories'").fetchone()
    assert {(kind, method, error) for kind, _, method, error in rules} == {("host", "scram-sha-256", None)}
    assert {address for _, address, _, _ in rules} == {"127.0.0.1", "::1"}
    assert sockets == ("",), "no Unix socket: every client comes over TCP and authenticates"


@pytest.fixture
def login_role(postgres, settings) -> Iterator[tuple[str, str]]:
    """A login role in ``analyst`` with a password, as the README tells analysts to make one."""
    name, password = "analyst_probe", secrets.token_urlsafe(16)
    with psycopg.connect(settings.warehouse, autocommit=True) as admin:
        admin.execute("do $$ begin create role analyst nologin; exception when duplicate_object then null; end $$")
        admin.execute(f"drop role if exists {name}")
        admin.execute(f"create role {name} login password '{password}' in role analyst")
    yield name, password
    with psycopg.connect(settings.warehouse, autocommit=True) as admin:
        admin.execute(f"drop role if exists {name}")


def test_an_analysts_password_is_checked(login_role, settings, tmp_path):
    name, password = login_role
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{name}"'):
        _connect(settings, tmp_path, name, password + "x")
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        _connect(settings, tmp_path, name)
    with _connect(settings, tmp_path, name, password) as conn:
        assert conn.execute("select current_user").fetchone() == (name,)


def test_secrets_are_private_and_the_state_dir_closed(postgres, settings):
    assert settings.state_dir.stat().st_mode & 0o777 == 0o700
    secret_files = [
        settings.state_dir / "secrets.json",
        runtime.pgpass(settings),
        runtime.airflow_home(settings) / "passwords.json",
    ]
    for path in secret_files:
        assert path.exists(), path
        assert path.stat().st_mode & 0o777 == 0o600, f"{path} is {oct(path.stat().st_mode & 0o777)}"


@pytest.fixture(scope="module")
def other_user() -> str:
    """A second, unprivileged OS user."""
    exists = subprocess.run(["id", OTHER_USER], capture_output=True).returncode == 0
    if not exists:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", OTHER_USER], check=True)
    return OTHER_USER


def _as(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *command], capture_output=True, text=True, cwd="/")


@as_root
def test_another_os_user_cannot_read_the_secrets(postgres, settings, other_user):
    for path in (settings.state_dir / "secrets.json", runtime.pgpass(settings)):
        result = _as(other_user, "cat", str(path))
        assert result.returncode != 0 and "Permission denied" in result.stderr, result
        assert runtime.runtime_secrets(settings)["postgres_password"] not in result.stdout


@as_root
def test_another_os_user_cannot_connect(postgres, settings, other_user):
    psql = str(runtime.postgres(settings).bin_dir / "psql")
    result = _as(
        other_user, psql, "-w", "-h", settings.pg_host, "-p", str(settings.pg_port), "-U", "postgres", "-d",
        "warehouse", "-c", "select 1",
    )  # fmt: skip
    assert result.returncode != 0 and "no password supplied" in result.stderr, result


@pytest.fixture
def superuser(postgres, settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.warehouse, autocommit=True) as conn:
        yield conn


def _server_identity(conn: psycopg.Connection) -> dict[str, str]:
    """``id -u``, ``id -g`` and ``id -G`` of the server process, run through ``COPY ... FROM PROGRAM``."""
    conn.execute("create temp table server_id (line text)")
    conn.execute("copy server_id from program 'id -u; id -g; id -G'")
    uid, gid, groups = (row[0] for row in conn.execute("select line from server_id").fetchall())
    return {"uid": uid, "gid": gid, "groups": groups}


@as_root
def test_the_server_runs_as_its_own_user_and_group(superuser):
    identity = _server_identity(superuser)
    assert identity["uid"] != "0" and identity["gid"] != "0", identity
    assert "0" not in identity["groups"].split(), f"the server is in root's group: {identity}"
    entry = server_user()
    assert identity == {"uid": str(entry.pw_uid), "gid": str(entry.pw_gid), "groups": str(entry.pw_gid)}


@as_root
@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_server_cannot_read_roots_files(superuser, mode):
    directory = Path(tempfile.mkdtemp(prefix="ecomflow-root-only-"))
    try:
        directory.chmod(0o755)  # reachable (pytest's tmp_path is not): only the file's own mode protects it
        secret = directory / "secret.txt"
        secret.write_text("root's secret\n")
        os.chown(secret, 0, 0)
        secret.chmod(mode)
        with pytest.raises(psycopg.Error, match="Permission denied"):
            superuser.execute("select pg_read_file(%s)", (str(secret),))
        secret.chmod(0o644)  # the same file, readable by others: the server reads it, so the check above is real
        assert superuser.execute("select pg_read_file(%s)", (str(secret),)).fetchone() == ("root's secret\n",)
    finally:
        shutil.rmtree(directory)
