"""The dbt project as the rest of the platform sees it: its cosmos configs and a precompiled manifest.

Cosmos parses the DAG folder from ``target/manifest.json`` so that parsing never runs ``dbt ls``; this module
builds that manifest (``dbt parse``) when it is missing or older than the project's files.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from ecomflow.core.settings import DBT_PROJECT_DIR

log = logging.getLogger(__name__)

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
ACTIVATION = "path:models/activation"
"""The activation marts: built on the published scores after each publish, never by the warehouse build (which
runs before any scores exist)."""


class NothingToActivate(Exception):
    """No activation mart can be built: none of the scores tables they read exists yet."""


def _project_files() -> list[Path]:
    folders = ("models", "macros", "snapshots", "seeds", "tests")
    files = [p for folder in folders for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return files + [DBT_PROJECT_DIR / "dbt_project.yml"]


def manifest_is_stale() -> bool:
    """Whether the manifest is missing or older than any project file."""
    if not MANIFEST.exists():
        return True
    built = MANIFEST.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _project_files())


PROFILE_ARGS = ["--profile", "ecomflow", "--target", "dev"]
"""Passed explicitly, as cosmos does: dbt's partial parsing keys on them, so every invocation shares one parse."""


RUN_VARS = ("day_from", "day_to", "as_of_from", "as_of_to")
"""The bounds of a run's days (``ecomflow.orchestration.dbt_vars``, ``macros/run_var.sql``)."""


def run_env(days: dict[str, str]) -> dict[str, str]:
    """The run's days (``ecomflow.orchestration.dbt_vars``) as the environment variables ``macros/run_var.sql`` reads.

    Environment variables, not ``--vars``: a new ``--vars`` value makes dbt re-parse the whole project, a changed
    environment variable only the files that read it (the warehouse DAG passes new days on every run). Every bound
    is set, the ones not given empty: a value left in the environment by an earlier run (cosmos copies a task's
    environment into its process) never narrows this one.
    """
    unknown = days.keys() - set(RUN_VARS)
    if unknown:
        raise ValueError(f"unknown run bound(s) {', '.join(sorted(unknown))}; expected some of {', '.join(RUN_VARS)}")
    return {f"ECOMFLOW_{name.upper()}": days.get(name, "") for name in RUN_VARS}


def run_dbt(args: list[str], days: dict[str, str] | None = None) -> None:
    """Run dbt in-process (the dbt runner) in the project, failing loudly on error; ``days`` as in :func:`run_env`."""
    from dbt.cli.main import dbtRunner

    env = run_env(days or {})
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        result = dbtRunner().invoke(
            [*args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), *PROFILE_ARGS]
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the dbt log above'}")


def ensure_manifest() -> Path:
    """Build ``target/manifest.json`` with ``dbt parse`` if it is missing or stale."""
    if manifest_is_stale():
        run_dbt(["parse", "--quiet"])
    return MANIFEST


def cosmos_configs(env: dict[str, str] | None = None) -> dict:
    """Project, profile, execution and render configs shared by every cosmos task group; ``env`` for dbt's process.

    ``env`` values may be Airflow templates: cosmos hands them to its operators' templated ``env``.
    """
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, SourceRenderingBehavior, TestBehavior

    return {
        "project_config": ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR, manifest_path=MANIFEST, install_dbt_deps=False, env_vars=env
        ),
        "profile_config": ProfileConfig(
            profile_name="ecomflow", target_name="dev", profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
        ),
        # WATCHER: one `dbt build` (dbt's own threads) in a producer task, one sensor task per model reporting
        # its status. LOCAL ran one dbt invocation per node: ~1.5 s of overhead each, ~95 s per day here.
        # SUBPROCESS, not the in-process dbt runner: in the task's process dbt's threads share the GIL with
        # cosmos' per-event XCom callbacks and the build ran ~2x slower (bench/warehouse.py: 2.2x plain dbt
        # build in-process, 1.19x as a subprocess).
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=DBT_EXECUTABLE,
            setup_operator_args={"freshness_callback": skip_after_freshness_errors},
        ),
        # Tests run inside the producer's `dbt build`; AFTER_EACH gives each model's tests a sensor of their own.
        # Sources with a freshness threshold get a task; the producer runs `dbt source freshness` before the build.
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            source_rendering_behavior=SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS,
            exclude=[ACTIVATION],  # built by the score_and_publish DAG, on the scores (build_activation)
        ),
    }


def skip_after_freshness_errors(context, dag, task_group, nodes, sources_json) -> list[tuple[str, str]]:  # noqa: ANN001
    """Cosmos' freshness callback, keeping only sources past ``error_after``: a warning stays a warning.

    Cosmos' default skips the models fed only by sources that are past ``warn_after`` as well. Here a source
    past ``error_after`` fails its task and its models are skipped (nothing is published from a stalled
    loader); one past ``warn_after`` is reported on its task and the warehouse builds.
    """
    from cosmos.operators.watcher import _default_freshness_callback

    sources_json = sources_json or {}
    errors = [r for r in sources_json.get("results", []) if r.get("status") == "error"]
    return _default_freshness_callback(context, dag, task_group, nodes, {**sources_json, "results": errors})


def producer_first(group) -> None:  # noqa: ANN001 - a cosmos DbtTaskGroup
    """Put the watcher's producer (the one ``dbt build``) upstream of the group's root model tasks.

    Cosmos does this itself for a ``DbtDag`` but not inside a ``DbtTaskGroup``, where the sensors only rely on
    the producer's priority weight. ``dag.test()`` (the demo and the tests) runs tasks one at a time in
    dependency order and would start a sensor that waits forever for a build that never starts. (Cosmos' own
    ``DbtDag`` wiring also sets ``trigger_rule="always"`` on the roots; ``dag.test()`` then runs them first, so
    here a failed build marks the model tasks ``upstream_failed`` and the producer's log holds dbt's output.)
    """
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    tasks = {task.task_id: task for task in group.iter_tasks()}
    producer = tasks[f"{group.group_id}.{PRODUCER_WATCHER_TASK_ID}"]
    watchers = {producer.task_id, f"{group.group_id}.{PRODUCER_WATCHER_DONE_TASK_ID}"}
    models = tasks.keys() - watchers
    for task_id in sorted(models):
        task = tasks[task_id]
        if not task.upstream_task_ids & models:
            producer >> task


def activation_inputs(manifest: dict) -> dict[str, set[str]]:
    """Each activation model and the source relations (``schema.table``) it reads, directly or through another."""
    nodes, sources = manifest["nodes"], manifest["sources"]
    prefix = ACTIVATION.removeprefix("path:") + "/"
    models = {uid for uid, node in nodes.items() if node["resource_type"] == "model"}
    activation = {uid for uid in models if nodes[uid]["original_file_path"].startswith(prefix)}

    def reads(uid: str) -> set[str]:
        parents = nodes[uid]["depends_on"]["nodes"]
        relations = {f"{sources[p]['schema']}.{sources[p]['identifier']}" for p in parents if p in sources}
        return relations.union(*(reads(p) for p in parents if p in activation))

    return {nodes[uid]["name"]: reads(uid) for uid in sorted(activation)}


def build_activation() -> list[str]:
    """``dbt build`` (models, unit and data tests) the activation marts whose scores tables exist.

    A mart whose scores table is missing (its model has no champion yet) is left out with a warning; if none can
    be built, :class:`NothingToActivate` says why (callers skip). Returns the marts built.
    """
    from ecomflow.core.warehouse import connect, table_exists

    inputs = activation_inputs(json.loads(ensure_manifest().read_text()))
    if not inputs:
        raise NothingToActivate(f"the dbt project has no activation models ({ACTIVATION})")
    with connect() as conn:
        relations = set().union(*inputs.values())
        missing = {r for r in relations if not table_exists(conn, r)}
    ready = [model for model, reads in inputs.items() if not reads & missing]
    for model, reads in inputs.items():
        if reads & missing:
            log.warning(
                "%s not built: %s does not exist yet (no champion has published)",
                model,
                ", ".join(sorted(reads & missing)),
            )
    if not ready:
        raise NothingToActivate(
            f"no activation mart built: {', '.join(sorted(missing))} not published yet (train a champion, then score)"
        )
    run_dbt(["build", "--select", *ready])
    return ready
