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


CONSUMER_POKE_SECONDS = 2
"""How often a deferred watcher sensor looks for its model's status (cosmos' default is 10 s)."""

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
        # its status. LOCAL ran one dbt invocation per node, paying dbt's start-up and parse for each.
        # SUBPROCESS, not the in-process dbt runner: in the task's process dbt's threads share the GIL with
        # cosmos' per-event XCom callbacks and the build ran far slower (bench/warehouse.py, docs/benchmarks.md).
        "execution_config": ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=DBT_EXECUTABLE,
        ),
        # Tests run inside the producer's `dbt build`; AFTER_EACH gives each model's tests a sensor of their own.
        # No source tasks: cosmos' freshness pre-check is a second dbt process (start-up and parse) before the
        # build; the DAG's `freshness` task checks the same thresholds in SQL (check_source_freshness).
        "render_config": RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            source_rendering_behavior=SourceRenderingBehavior.NONE,
            exclude=[ACTIVATION],  # built by the score_and_publish DAG, on the scores (build_activation)
            # No Airflow asset per model (the DAG publishes its own, FEATURES): the producer skips their outlet
            # URIs and every sensor its asset event.
            emit_datasets=False,
        ),
        # Sensors that defer poll the producer's XComs every 2 s, not every 10 s.
        "operator_args": {"poke_interval": CONSUMER_POKE_SECONDS},
    }


class StaleSource(Exception):
    """A source is past its ``error_after`` freshness threshold: its loader has stalled."""


PERIOD_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}


def freshness_rules(manifest: dict) -> dict[str, tuple[str, dict]]:
    """Each source relation (``schema.table``) with a freshness threshold: its ``loaded_at_field`` and thresholds."""
    return {
        f"{source['schema']}.{source['identifier']}": (source["loaded_at_field"], source["freshness"])
        for source in manifest["sources"].values()
        if source.get("loaded_at_field") and (source.get("freshness") or {}).get("error_after", {}).get("count")
    }


def _seconds(threshold: dict | None) -> float | None:
    if not threshold or not threshold.get("count"):
        return None
    return threshold["count"] * PERIOD_SECONDS[threshold["period"]]


def check_source_freshness(conn, manifest: dict) -> dict[str, str]:  # noqa: ANN001
    """``dbt source freshness`` in SQL, without a dbt process of its own before the build.

    Each source's age (now minus its latest ``loaded_at_field``) against the thresholds in its YAML. Returns each
    checked relation's status (``pass``, or ``warn`` with a warning logged); raises :class:`StaleSource` naming
    every source past ``error_after`` (an empty table counts as stale, as in dbt). A relation that does not exist
    (a source the deployment does not load) is not checked.
    """
    statuses, stale = {}, []
    for relation, (field, rules) in freshness_rules(manifest).items():
        if conn.execute("select to_regclass(%s)", (relation,)).fetchone()[0] is None:
            continue
        age = conn.execute(f"select extract(epoch from now() - max({field}))::float from {relation}").fetchone()[0]
        error_after, warn_after = _seconds(rules.get("error_after")), _seconds(rules.get("warn_after"))
        if age is None or (error_after is not None and age > error_after):
            stale.append(f"{relation} (last loaded {'never' if age is None else f'{age / 3600:.1f} h ago'})")
            statuses[relation] = "error"
        elif warn_after is not None and age > warn_after:
            log.warning(
                "%s is stale: last loaded %.1f h ago (warn after %s)", relation, age / 3600, rules["warn_after"]
            )
            statuses[relation] = "warn"
        else:
            statuses[relation] = "pass"
    if stale:
        raise StaleSource(f"past their error_after freshness threshold, nothing is built: {', '.join(stale)}")
    return statuses


def source_freshness() -> dict[str, str]:
    """:func:`check_source_freshness` on the warehouse, with the project's thresholds (its manifest)."""
    from ecomflow.core.warehouse import connect

    manifest = json.loads(ensure_manifest().read_text())
    with connect() as conn:
        return check_source_freshness(conn, manifest)


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
