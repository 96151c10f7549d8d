"""The docker compose deployment, checked without a Docker engine.

The compose file is read with PyYAML and its ``${VAR}`` references are resolved the way docker compose does,
from an ``.env`` made by ``docker/generate-secrets.sh`` out of ``.env.example``. What it runs is compared with
the embedded runtime (``ecomflow.local.runtime``): the same entry points, and the same environment wherever a
value is not deployment-specific. The Postgres init script runs for real on a fresh cluster, and every
database URL of the compose file must log in with its password and own what it needs.
"""

from __future__ import annotations

import configparser
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from cryptography.fernet import Fernet
from dotenv import dotenv_values

from ecomflow.core.settings import PROJECT_ROOT, Settings
from ecomflow.local import runtime
from ecomflow.local.postgres import POSTGRES_BIN_PATH, EmbeddedPostgres

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"
INIT_DATABASES = PROJECT_ROOT / "docker" / "postgres" / "init-databases.sh"
MLFLOW_ENTRYPOINT = PROJECT_ROOT / "docker" / "mlflow" / "entrypoint.sh"
SERVICE_ACCOUNT = PROJECT_ROOT / "docker" / "mlflow" / "service_account.py"
REDIS_ENTRYPOINT = PROJECT_ROOT / "docker" / "redis" / "entrypoint.sh"
GENERATE_SECRETS = PROJECT_ROOT / "docker" / "generate-secrets.sh"

# The naming rule docker/generate-secrets.sh fills values by.
SECRET = re.compile(r"_(PASSWORD|SECRET|SECRET_KEY|FERNET_KEY)$")
WORKER = "airflow-worker"
INIT = "airflow-init"

# Keys of the embedded runtime's environment that the deployment sets to values of its own.
DEPLOYMENT_SPECIFIC = {
    "AIRFLOW_HOME": "the image's AIRFLOW_HOME",
    "AIRFLOW__CORE__EXECUTOR": "Celery workers instead of the LocalExecutor",
    "AIRFLOW__CORE__FERNET_KEY": "from .env",
    "AIRFLOW__API_AUTH__JWT_SECRET": "from .env",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "the api-server service (checked below)",
    "AIRFLOW__API__HOST": "every interface of the container",
    "AIRFLOW__API__PORT": "the container's port",
    "AIRFLOW__API__BASE_URL": "where users reach the UI, from .env",
    "ECOMFLOW_STATE_DIR": "a volume (checked below)",
}
# Keys of the embedded runtime's environment that the deployment leaves out.
NOT_DEPLOYED = {
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "FAB auth manager: users live in the metadata database",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "FAB auth manager",
    "ECOMFLOW_PG_PORT": "no embedded PostgreSQL: every URL is set",
    "NO_PROXY": "the embedded runtime's loopback traffic",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "a server setting: on the mlflow service (checked there)",
}


# --- docker compose's variable interpolation ---------------------------------------------------------------

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def references(text: str) -> list[tuple[str, str | None]]:
    """``(name, operator)`` of every variable ``text`` refers to (``$$`` is an escaped dollar, not one)."""
    return [(m["braced"] or m["bare"], m["op"]) for m in _REFERENCE.finditer(text) if not m["escaped"]]


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve ``text`` as docker compose does: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR:?x}``..."""

    def resolve(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = match["braced"] or match["bare"], match["op"], match["arg"]
        value = env.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset:
            raise ValueError(f"docker compose would refuse to start: {name} is required ({arg})")
        if op in (":-", "-"):
            return arg if unset else value
        if value is None:
            raise ValueError(f"{name} is not defined in the env file")
        return value

    return _REFERENCE.sub(resolve, text)


def strings(node: Any) -> Iterator[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def resolve(node: Any, env: dict[str, str]) -> Any:
    """``node`` with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, env) for value in node]
    return node


# --- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_raw() -> dict:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict), f"{COMPOSE}: no services"
    return document


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return {key: value or "" for key, value in dotenv_values(ENV_EXAMPLE, interpolate=False).items()}


@pytest.fixture(scope="module")
def dotenv(tmp_path_factory) -> dict[str, str]:
    """The ``.env`` a user gets from ``docker/generate-secrets.sh``."""
    path = tmp_path_factory.mktemp("deploy") / ".env"
    subprocess.run(["bash", str(GENERATE_SECRETS), str(path)], check=True, capture_output=True, text=True)
    return {key: value or "" for key, value in dotenv_values(path, interpolate=False).items()}


@pytest.fixture(scope="module")
def compose(compose_raw, dotenv) -> dict:
    """The compose file as docker compose sees it with that ``.env``."""
    return resolve(compose_raw, dotenv)


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def image_root() -> str:
    """Where the Dockerfile puts the project: the working directory of its ``COPY . .``."""
    env: dict[str, str] = {}
    workdir = "/"
    for instruction, args in dockerfile_instructions():
        if instruction == "FROM":
            env, workdir = {}, "/"
        elif instruction == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
        elif instruction == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / interpolate(args, env))
        elif instruction == "COPY" and [a for a in shlex.split(args) if not a.startswith("--")] == [".", "."]:
            return workdir
    raise AssertionError(f"{DOCKERFILE}: no `COPY . .` of the project")


@pytest.fixture
def runtime_settings(tmp_path) -> Callable[..., Settings]:
    """Settings for the runtime's functions, with their state (generated secrets) in a temporary directory."""

    def make(**values: Any) -> Settings:
        return Settings(state_dir=tmp_path / "state", **values)

    return make


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile: continuation lines joined, comments and heredocs skipped."""
    instructions, current, heredoc = [], "", None
    for line in DOCKERFILE.read_text().splitlines():
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if line.endswith("\\"):
            continue
        instruction, _, args = current.partition(" ")
        instructions.append((instruction.upper(), args.strip()))
        if match := re.search(r"<<-?['\"]?(\w+)['\"]?", args):
            heredoc = match.group(1)
        current = ""
    return instructions


def command(service: dict) -> list[str]:
    value = service.get("command", [])
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def options(args: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a command line (every option here takes a value)."""
    assert len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]), f"unexpected arguments {args}"
    return dict(zip(args[::2], args[1::2], strict=True))


def one_shot(services: dict[str, dict]) -> set[str]:
    """Services others wait on to complete: they run once and exit."""
    return {
        target
        for service in services.values()
        for target, spec in (service.get("depends_on") or {}).items()
        if spec.get("condition") == "service_completed_successfully"
    }


def healthcheck_url(service: dict) -> str:
    urls = [part for part in service["healthcheck"]["test"] if part.startswith("http")]
    assert len(urls) == 1, f"expected one URL in the healthcheck {service['healthcheck']['test']}"
    return urls[0]


def to_repo(path: str, image_root: str) -> Path:
    """A path inside the image as the repository file it was copied from."""
    relative = PurePosixPath(path).relative_to(image_root)
    return PROJECT_ROOT / relative


def dockerignored(path: str) -> bool:
    """Whether ``.dockerignore`` keeps ``path`` (relative to the build context) out of the build context."""
    patterns = [p.strip().strip("/") for p in DOCKERIGNORE.read_text().splitlines()]
    patterns = [p.removeprefix("./") for p in patterns if p and not p.startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions (!) are not supported by this check"
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(re.fullmatch(_glob(pattern), prefix) for pattern in patterns for prefix in prefixes)


def _glob(pattern: str) -> str:
    """Docker's .dockerignore glob (Go's filepath.Match plus ``**``) as a regular expression."""
    regex = ""
    for token in re.split(r"(\*\*/?|\*|\?)", pattern):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return regex


# --- the file itself --------------------------------------------------------------------------------------


def test_compose_defines_the_runtime_services_and_the_deployment_ones(services):
    settings = Settings(mlflow_tracking_uri=None)
    runtime_names = {s.name for s in [*runtime.services(settings), *runtime.airflow_services(settings)]}
    assert runtime_names == {
        "mlflow",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    assert set(services) == runtime_names | {"postgres", "redis", INIT, WORKER}


def test_every_dependency_exists_and_waits_for_health_or_completion(services):
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = spec.get("condition")
            assert condition in {"service_healthy", "service_completed_successfully"}, f"{name} -> {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy: no healthcheck"

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        for target in services[name].get("depends_on") or {}:
            visit(target, (*path, name))

    for name in services:
        visit(name, ())


def test_every_url_between_services_names_a_service_and_its_port(compose, services):
    listening = {
        "postgres": 5432,
        "redis": 6379,
        "mlflow": int(options(command(services["mlflow"])[2:])["--port"]),
        "airflow-api-server": int(services["airflow-api-server"]["environment"]["AIRFLOW__API__PORT"]),
    }
    urls = {url for text in strings(compose) for url in re.findall(r"[a-z0-9+]+://[^\s\"']+", text)}
    internal = [urlsplit(url) for url in urls if urlsplit(url).hostname not in {"localhost", "127.0.0.1"}]
    assert len(internal) >= 7
    for url in internal:
        assert url.hostname in listening, f"{url.geturl()}: {url.hostname} is not a service"
        assert url.port == listening[url.hostname], (
            f"{url.geturl()}: {url.hostname} listens on {listening[url.hostname]}"
        )


def test_every_long_running_service_has_a_healthcheck(services):
    jobs = one_shot(services)
    assert jobs == {INIT}
    for name in jobs:
        assert services[name].get("restart") == "no", f"{name} runs once: it must not restart"
    for name, service in services.items():
        if name in jobs:
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test {check['test']}"


def test_every_variable_is_in_env_example_and_every_secret_is_required(compose_raw, env_example):
    used = [ref for text in strings(compose_raw) for ref in references(text)]
    undefined = sorted({name for name, _ in used} - set(env_example))
    assert not undefined, f"docker-compose.yml uses variables .env.example does not define: {undefined}"
    unused = sorted(set(env_example) - {name for name, _ in used})
    assert not unused, f".env.example defines variables docker-compose.yml does not use: {unused}"
    secrets = {name for name in env_example if SECRET.search(name)}
    assert {name for name, value in env_example.items() if not value} == secrets, (
        ".env.example: exactly the secrets (*_PASSWORD, *_SECRET, *_SECRET_KEY, *_FERNET_KEY) are left empty"
    )
    optional = sorted({name for name, op in used if name in secrets and op != ":?"})
    assert not optional, f"secrets must be required (${{VAR:?...}}) wherever they are used: {optional}"


def test_generated_env_fills_every_secret_and_keeps_them(tmp_path, env_example, dotenv, compose):
    secrets = {name: dotenv[name] for name in env_example if SECRET.search(name)}
    assert all(secrets.values())
    assert len(set(secrets.values())) == len(secrets), "two secrets share a value"
    for name, value in secrets.items():
        if name.endswith("_FERNET_KEY"):
            Fernet(value.encode())  # raises on a malformed key
        else:
            assert re.fullmatch(r"[0-9a-f]{32,}", value), f"{name} is not a URL-safe random value"
    assert {k: v for k, v in dotenv.items() if k not in secrets} == {
        k: v for k, v in env_example.items() if k not in secrets
    }
    path = tmp_path / ".env"
    example = ENV_EXAMPLE.read_text()
    assert "\nAIRFLOW_JWT_SECRET=\n" in example
    path.write_text(example.replace("\nAIRFLOW_JWT_SECRET=\n", "\nAIRFLOW_JWT_SECRET=kept\n"))
    subprocess.run(["bash", str(GENERATE_SECRETS), str(path)], check=True, capture_output=True)
    first = dotenv_values(path)
    subprocess.run(["bash", str(GENERATE_SECRETS), str(path)], check=True, capture_output=True)
    assert dotenv_values(path) == first, "a second run changed secrets"
    assert first["AIRFLOW_JWT_SECRET"] == "kept"
    assert path.stat().st_mode & 0o077 == 0, ".env must be readable by its owner only"
    assert os.access(GENERATE_SECRETS, os.X_OK), "the README runs docker/generate-secrets.sh directly"


def test_no_default_login_anywhere(compose, env_example, dotenv, services):
    assert env_example["AIRFLOW_ADMIN_PASSWORD"] == "" and env_example["MLFLOW_ADMIN_PASSWORD"] == ""
    assert env_example["AIRFLOW_ADMIN_USERNAME"] != "airflow"
    secrets = {value for name, value in dotenv.items() if SECRET.search(name)}
    urls = [url for text in strings(compose) for url in re.findall(r"[a-z0-9+]+://\S+", text)]
    assert len([url for url in urls if urlsplit(url).password]) >= 5
    for url in urls:
        password = urlsplit(url).password
        assert password is None or password in secrets, f"{url!r} carries a password that is not from .env"
    assert "_AIRFLOW_WWW_USER" not in COMPOSE.read_text(), "the image's default-user variables are not used"
    script = command(services[INIT])[-1]
    line = next(line for line in script.splitlines() if "airflow users create" in line)
    feed, create = (shlex.split(part) for part in line.split("|"))
    assert "--password" not in create, "the admin password must not be on a command line"
    assert feed[0] == "printf" and feed[2:] == ["${AIRFLOW_ADMIN_PASSWORD}"] * 2, "typed twice at the prompt"
    assert create[create.index("--role") + 1] == "Admin"


def test_no_example_dags(compose_raw, services):
    assert compose_raw["x-airflow-env"]["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    for name, service in services.items():
        if name.startswith("airflow-"):
            assert service["environment"]["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name


def test_env_file_is_git_ignored_and_kept_out_of_the_image():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, ".env is not git-ignored"
    example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=PROJECT_ROOT)
    assert example.returncode == 1, ".env.example must be committed"
    assert dockerignored(".env")


def test_worker_is_scalable(services):
    worker = services[WORKER]
    for key in ("container_name", "hostname"):
        assert key not in worker, f"{WORKER} sets {key}: `--scale` would clash"
    published = [port for port in worker.get("ports", []) if ":" in str(port)]
    assert not published, f"{WORKER} publishes host ports {published}: `--scale` would clash"
    assert command(worker) == ["airflow", "celery", "worker"]
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_postgres_keeps_its_data_in_a_volume_where_the_image_expects_it(compose):
    postgres = compose["services"]["postgres"]
    major = int(re.fullmatch(r"postgres:(\d+)[\w.-]*", postgres["image"]).group(1))
    data = "/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data"
    volumes = {v.split(":")[1]: v.split(":")[0] for v in postgres["volumes"]}
    assert volumes.get(data) in compose["volumes"], f"postgres:{major} keeps its data in {data}: mount a volume there"
    init = volumes["/docker-entrypoint-initdb.d/10-init-databases.sh"]
    assert (PROJECT_ROOT / init).resolve() == INIT_DATABASES
    assert os.access(INIT_DATABASES, os.X_OK), "a non-executable init script is sourced by the entrypoint, not run"


# --- the image --------------------------------------------------------------------------------------------


def test_dockerfile_builds_on_the_locked_airflow_and_python():
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    airflow = next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")
    python = re.fullmatch(r"==(\d+\.\d+)\.\*", lock["requires-python"]).group(1)
    bases = [args.split()[0] for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    assert bases[-1] == f"apache/airflow:{airflow}-python{python}", f"{DOCKERFILE}: final stage FROM {bases[-1]}"


def test_dockerignore_keeps_the_project_in_and_local_state_out(compose, image_root):
    tracked = subprocess.run(
        [
            "git",
            "ls-files",
            "pyproject.toml",
            "uv.lock",
            "README.md",
            "ecomflow",
            "ml",
            "dags",
            "plugins",
            "dbt_project",
            "docker",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "dbt_project/dbt_project.yml" in tracked
    assert [path for path in tracked if dockerignored(path)] == []
    used_in_image = [
        compose["x-airflow-env"]["AIRFLOW__CORE__DAGS_FOLDER"],
        compose["x-airflow-env"]["DBT_PROFILES_DIR"] + "/profiles.yml",
        compose["services"]["mlflow"]["environment"]["MLFLOW_AUTH_CONFIG_PATH"],
    ]
    for path in used_in_image:
        in_repo = to_repo(path, image_root)
        assert in_repo.exists(), f"{path} is used in the image but {in_repo} does not exist"
        assert not dockerignored(str(in_repo.relative_to(PROJECT_ROOT))), f".dockerignore drops {in_repo}"
    for local in (".venv/bin/python", ".ecomflow/secrets.json", ".git/HEAD", "dbt_project/target/manifest.json"):
        assert dockerignored(local), f".dockerignore lets {local} into the image"


# --- the same entry points and environment as the embedded runtime -----------------------------------------


def test_airflow_services_run_the_runtimes_commands(services, runtime_settings):
    settings = runtime_settings()
    for service in runtime.airflow_services(settings):
        expected = [Path(service.command[0]).name, *service.command[1:]]
        assert command(services[service.name]) == expected, f"{service.name} runs {command(services[service.name])}"
        if service.health_url:
            url = urlsplit(healthcheck_url(services[service.name]))
            assert url.path == urlsplit(service.health_url).path, f"{service.name} healthcheck {url.geturl()}"
            assert url.port == int(services[service.name]["environment"]["AIRFLOW__API__PORT"])
    api = services["airflow-api-server"]
    assert [p.split(":")[-1] for p in api["ports"]] == [api["environment"]["AIRFLOW__API__PORT"]]


def test_init_service_migrates_with_the_runtimes_command(services):
    expected = shlex.join([Path(runtime.migrate_command()[0]).name, *runtime.migrate_command()[1:]])
    args = command(services[INIT])
    assert args[:2] == ["bash", "-c"] and "set -euo pipefail" in args[2], "a failed step must fail the init service"
    lines = [line.strip() for line in args[2].splitlines()]
    assert expected in lines, f"{INIT} does not run `{expected}`"
    assert lines.index(expected) < next(i for i, line in enumerate(lines) if "airflow users create" in line)


def test_mlflow_runs_the_runtimes_server_command_with_basic_auth(services, runtime_settings):
    (local,) = runtime.services(runtime_settings(mlflow_tracking_uri=None))
    deployed = command(services["mlflow"])
    assert deployed[:2] == [Path(local.command[0]).name, *local.command[1:2]]
    local_options, deployed_options = options(local.command[2:]), options(deployed[2:])
    missing = local_options.keys() - deployed_options.keys()
    assert not missing, f"mlflow server lacks the runtime's options {sorted(missing)}"
    assert deployed_options.keys() - local_options.keys() == {"--app-name"}
    assert deployed_options["--app-name"] == "basic-auth"
    url = urlsplit(healthcheck_url(services["mlflow"]))
    assert (url.path, url.port) == (urlsplit(local.health_url).path, int(deployed_options["--port"]))
    volumes = [v.split(":")[1] for v in services["mlflow"]["volumes"]]
    assert deployed_options["--artifacts-destination"] in volumes, "MLflow's artifacts must live in a volume"


def test_mlflow_auth_config_and_environment(services, image_root, dotenv, runtime_settings):
    mlflow = services["mlflow"]
    env = mlflow["environment"]
    local = runtime.runtime_env(runtime_settings())
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == local["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]
    for name in ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert env.get(name), f"the basic-auth app needs {name}"
    ini = configparser.ConfigParser()
    assert ini.read(to_repo(env["MLFLOW_AUTH_CONFIG_PATH"], image_root)), "basic_auth.ini missing"
    auth_db = urlsplit(ini["mlflow"]["database_uri"])
    store = urlsplit(options(command(mlflow)[2:])["--backend-store-uri"])
    assert auth_db.password is None and store.password is None, "database passwords come from PGPASSWORD only"
    assert (auth_db.hostname, auth_db.username) == (store.hostname, store.username)
    assert auth_db.path != store.path, "the auth store needs a database of its own"
    assert "admin_password" not in ini["mlflow"]
    # The workers log runs as the service account the mlflow service creates at start-up, not as the admin.
    worker = services[WORKER]["environment"]
    assert worker["MLFLOW_TRACKING_USERNAME"] == env["MLFLOW_SERVICE_USERNAME"] != env["MLFLOW_AUTH_ADMIN_USERNAME"]
    assert worker["MLFLOW_TRACKING_PASSWORD"] == env["MLFLOW_SERVICE_PASSWORD"] == dotenv["MLFLOW_AIRFLOW_PASSWORD"]
    assert worker["MLFLOW_TRACKING_PASSWORD"] != env["MLFLOW_AUTH_ADMIN_PASSWORD"]
    entrypoint = mlflow["entrypoint"]
    assert to_repo(entrypoint[-1], image_root) == MLFLOW_ENTRYPOINT and os.access(MLFLOW_ENTRYPOINT, os.X_OK)


def test_airflow_environment_matches_the_runtimes(compose, services, image_root, runtime_settings):
    deployed = services[WORKER]["environment"]
    fields = {key: key.removeprefix("ECOMFLOW_").lower() for key in deployed if key.startswith("ECOMFLOW_")}
    unknown = [key for key, field in fields.items() if field not in Settings.model_fields]
    unknown = [key for key in unknown if key not in runtime.dbt_env(Settings())]
    assert not unknown, f"ecomflow reads no such settings: {unknown}"
    given = {field: deployed[key] for key, field in fields.items() if field in Settings.model_fields}
    settings = runtime_settings(**{field: value for field, value in given.items() if field != "state_dir"})
    local = runtime.runtime_env(settings)
    assert set(DEPLOYMENT_SPECIFIC) | set(NOT_DEPLOYED) <= set(local), "stale exceptions in this test"
    for key, value in local.items():
        if key in NOT_DEPLOYED:
            continue
        assert key in deployed, f"the deployment does not set {key} (the embedded runtime does)"
        if key not in DEPLOYMENT_SPECIFIC:
            assert deployed[key] == value.replace(str(PROJECT_ROOT), image_root), f"{key} differs from the runtime's"
    execution_api = urlsplit(deployed["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution_api.hostname == "airflow-api-server"
    assert execution_api.port == int(deployed["AIRFLOW__API__PORT"])
    assert execution_api.path == urlsplit(local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
    mounts = [v.split(":")[1] for v in services[WORKER]["volumes"]]
    for key in ("ECOMFLOW_STATE_DIR", "ECOMFLOW_LANDING_DIR"):
        assert any(PurePosixPath(deployed[key]).is_relative_to(m) for m in mounts), f"{key} is not in a volume"
    shared = compose["x-airflow-env"]
    for name, service in services.items():
        if name.startswith("airflow-"):
            assert service["environment"] == {**service["environment"], **shared}, f"{name}'s environment differs"


# --- least privilege -----------------------------------------------------------------------------------------

AIRFLOW_SERVICES = {"airflow-init", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor"}
AIRFLOW_SERVICES |= {"airflow-triggerer", WORKER}
# Which services may hold each secret: what each one uses, and nothing else.
SECRET_HOLDERS = {
    "POSTGRES_PASSWORD": {"postgres"},
    "AIRFLOW_DB_PASSWORD": {"postgres", *AIRFLOW_SERVICES},
    "MLFLOW_DB_PASSWORD": {"postgres", "mlflow"},
    "WAREHOUSE_DB_PASSWORD": {"postgres", WORKER},
    "REDIS_PASSWORD": {"redis", "airflow-scheduler", WORKER},
    "AIRFLOW_ADMIN_PASSWORD": {INIT},
    # Airflow's own keys: its components sign and check each other's tokens, and read encrypted connections.
    "AIRFLOW_FERNET_KEY": AIRFLOW_SERVICES,
    "AIRFLOW_JWT_SECRET": AIRFLOW_SERVICES,
    "AIRFLOW_API_SECRET_KEY": AIRFLOW_SERVICES,
    "MLFLOW_ADMIN_PASSWORD": {"mlflow"},
    "MLFLOW_FLASK_SERVER_SECRET_KEY": {"mlflow"},
    "MLFLOW_AIRFLOW_PASSWORD": {"mlflow", WORKER},
}


def test_each_service_gets_only_the_secrets_it_uses(services, dotenv, env_example):
    secrets_ = {name: dotenv[name] for name in env_example if SECRET.search(name)}
    assert set(secrets_) == set(SECRET_HOLDERS), "a secret of .env.example is not classified here"
    holders = {
        name: {service for service, spec in services.items() if any(value in text for text in strings(spec))}
        for name, value in secrets_.items()
    }
    assert holders == SECRET_HOLDERS


def test_uis_are_published_on_the_loopback_unless_configured(compose_raw, services, env_example):
    assert env_example["PUBLISH_ADDRESS"] == "127.0.0.1"
    for name in ("airflow-api-server", "mlflow"):
        (raw,) = compose_raw["services"][name]["ports"]
        assert raw.startswith("${PUBLISH_ADDRESS}:"), f"{name} publishes {raw}"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond the loopback interface"


def _command_lines(service: dict) -> list[str]:
    """Every command line a service runs: entrypoint, command (each line of a shell script) and healthcheck."""
    parts = [*service.get("entrypoint", []), *command(service), *(service.get("healthcheck") or {}).get("test", [])]
    return [line for part in parts for line in str(part).splitlines()]


def test_no_password_on_a_command_line(services, dotenv, env_example):
    secret_values = [dotenv[name] for name in env_example if SECRET.search(name)]
    for name, service in services.items():
        for line in _command_lines(service):
            assert not any(value in line for value in secret_values), f"{name} runs a secret: {line!r}"
            assert not re.search(r"--(password|requirepass)\b", line), f"{name} passes a password option: {line!r}"
            for ref, _ in references(line.replace("$$", "$")):
                if SECRET.search(ref):
                    fed = [part.strip() for part in line.split("|")]
                    assert fed[0].startswith("printf ") and len(fed) == 2, f"{name} expands ${ref} into {line!r}"
    redis = REDIS_ENTRYPOINT.read_text()
    assert "requirepass" in redis and "unset REDIS_PASSWORD" in redis and os.access(REDIS_ENTRYPOINT, os.X_OK)


def _run_service_account(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{tmp_path / 'auth.db'}\n"
        "admin_username = admin\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    variables = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "MLFLOW_AUTH_CONFIG_PATH": str(ini)}
    return subprocess.run(
        ["bash", str(MLFLOW_ENTRYPOINT), "env"], env={**variables, **env}, capture_output=True, text=True
    )


def test_the_mlflow_service_account_is_created_at_start_and_is_no_admin(tmp_path):
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    first = _run_service_account(tmp_path, MLFLOW_SERVICE_USERNAME="airflow", MLFLOW_SERVICE_PASSWORD="first-pw-1234")
    assert first.returncode == 0, first.stderr
    assert "MLFLOW_SERVICE_PASSWORD" not in first.stdout, "the server must not inherit the account's password"
    store = SqlAlchemyStore()
    store.init_db(f"sqlite:///{tmp_path / 'auth.db'}")
    assert store.authenticate_user("airflow", "first-pw-1234")
    store.update_user("airflow", is_admin=True)  # whatever happened meanwhile, a start puts it right
    again = _run_service_account(tmp_path, MLFLOW_SERVICE_USERNAME="airflow", MLFLOW_SERVICE_PASSWORD="second-pw-1234")
    assert again.returncode == 0, again.stderr
    assert store.authenticate_user("airflow", "second-pw-1234") and not store.authenticate_user(
        "airflow", "first-pw-1234"
    )
    assert store.get_user("airflow").is_admin is False


# --- PostgreSQL: the init script on a fresh cluster, and every URL of the compose file ----------------------


@pytest.fixture
def fresh_postgres(settings) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL cluster of its own, holding only what ``initdb`` makes (like the image's first start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = EmbeddedPostgres(
        settings.state_dir / "compose-postgres", port, secrets.token_urlsafe(16), settings.pg_server_dir
    )
    server.start()
    with psycopg.connect(server.url(), autocommit=True) as conn:
        for name in ("warehouse", "airflow", "mlflow"):  # made by EmbeddedPostgres.start()
            conn.execute(f'drop database "{name}"')
    yield server
    server.stop()
    shutil.rmtree(server.cluster_dir, ignore_errors=True)


def _run_init(server: EmbeddedPostgres, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "POSTGRES_USER": "postgres",
        "PGPASSWORD": server.password,  # the image's entrypoint runs it over the socket, as the superuser
        **passwords,
    }
    return subprocess.run([str(INIT_DATABASES)], env=env, capture_output=True, text=True)


def _connect(url: str, server: EmbeddedPostgres, password: str | None = None) -> psycopg.Connection:
    """Connect with a compose URL's user, password and database, on the test server."""
    parts = urlsplit(re.sub(r"^(db\+)?postgresql(\+\w+)?://", "postgresql://", url))
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user=parts.username,
        password=parts.password or password,
        dbname=parts.path.lstrip("/"),
        autocommit=True,
    )


def _login(server: EmbeddedPostgres, user: str, password: str, dbname: str) -> psycopg.Connection:
    return psycopg.connect(host=server.host, port=server.port, user=user, password=password, dbname=dbname)


def test_init_script_creates_what_every_service_logs_in_to(fresh_postgres, services, image_root):
    passwords = {k: v for k, v in services["postgres"]["environment"].items() if k != "POSTGRES_PASSWORD"}
    failed = _run_init(fresh_postgres, {**passwords, "AIRFLOW_DB_PASSWORD": ""})
    assert failed.returncode != 0 and "no password for role airflow" in failed.stderr, failed.stderr
    with psycopg.connect(fresh_postgres.url()) as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = 'airflow'").fetchone() == (0,)

    result = _run_init(fresh_postgres, passwords)
    assert result.returncode == 0, result.stderr

    airflow, mlflow = services[WORKER]["environment"], services["mlflow"]
    ini = configparser.ConfigParser()
    ini.read(to_repo(mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"], image_root))
    pgpassword = mlflow["environment"]["PGPASSWORD"]
    logins = [
        (airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], None),
        (airflow["AIRFLOW__CELERY__RESULT_BACKEND"], None),
        (airflow["ECOMFLOW_AIRFLOW_DB_URL"], None),
        (airflow["ECOMFLOW_WAREHOUSE_URL"], None),
        (options(command(mlflow)[2:])["--backend-store-uri"], pgpassword),
        (ini["mlflow"]["database_uri"], pgpassword),
    ]
    for url, password in logins:
        with _connect(url, fresh_postgres, password) as conn:
            owner = conn.execute(
                "select pg_get_userbyid(datdba) = current_user from pg_database where datname = current_database()"
            ).fetchone()[0]
            assert owner, f"{url}: the login does not own its database"
            conn.execute("create table deploy_probe (id int)")
            conn.execute("drop table deploy_probe")

    with _connect(airflow["ECOMFLOW_WAREHOUSE_URL"], fresh_postgres) as conn:
        conn.execute("create role analyst nologin")  # what dbt's on-run-start hook does
        conn.execute("create role alice login password 'a' in role analyst")  # what the README tells analysts to do
    with _login(fresh_postgres, "alice", "a", "warehouse"):
        pass  # analysts reach the warehouse, and nothing else:
    warehouse_password = urlsplit(airflow["ECOMFLOW_WAREHOUSE_URL"]).password
    for database in ("airflow", "mlflow", "mlflow_auth"):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            _login(fresh_postgres, "ecomflow", warehouse_password, database)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _login(fresh_postgres, "airflow", "airflow", "airflow")
