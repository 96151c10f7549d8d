"""``ecomflow``: run the platform on this machine (embedded services) or against configured servers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecomflow.core.settings import Settings, get_settings
from ecomflow.local import runtime
from ecomflow.local.postgres import POSTGRES_BIN_PATH, PostgresSetupError
from ml.experiments import experiment_url
from ml.models import MODEL_NAMES

if TYPE_CHECKING:
    from ecomflow.demo.pipeline import DemoCalendar

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_show_locals=False)
console = Console(soft_wrap=True)  # messages keep their lines: a path or an error is never broken in two

DATE = ["%Y-%m-%d"]
MODEL_HELP = f"One of: {', '.join(MODEL_NAMES)}."
Day = Annotated[dt.datetime, typer.Option(formats=DATE)]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


@contextmanager
def _output_to_log(path: Path) -> Iterator[None]:
    """Send everything the pipeline prints (Airflow task logs, dbt) to ``path``; the console keeps the terminal.

    Redirects file descriptors 1 and 2, not just ``sys.stdout``: Airflow's and dbt's loggers hold their own
    references to the streams.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    console.file = terminal
    with path.open("ab") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            console.file = sys.stdout
            terminal.close()


def start_core(settings: Settings, airflow: bool = True) -> dict[str, str]:
    """Start what the commands need: PostgreSQL (if embedded), the MLflow server and (``airflow``) its database."""
    env = runtime.apply_env(settings)
    if settings.embedded_postgres:
        with console.status("starting PostgreSQL"):
            try:
                runtime.postgres(settings).start()
            except PostgresSetupError as error:
                console.print(f"[red]PostgreSQL: {escape(str(error))}")
                raise typer.Exit(1) from error
    if airflow:
        with console.status("migrating Airflow's metadata database"):
            runtime.migrate_airflow(env)
    for service in runtime.services(settings):
        with console.status(f"starting {service.name}"):
            runtime.start_service(settings, service, env)
    return env


@app.command()
def up() -> None:
    """Start PostgreSQL, MLflow and Airflow (api-server, scheduler, dag-processor, triggerer) in the background."""
    settings = get_settings()
    env = start_core(settings)
    from ecomflow.transform import ensure_manifest

    ensure_manifest()
    for service in runtime.airflow_services(settings):
        with console.status(f"starting {service.name}"):
            runtime.start_service(settings, service, env)
    _print_urls(settings)


def _print_urls(settings: Settings) -> None:
    password = runtime.runtime_secrets(settings)["admin_password"]
    console.print(
        f"Airflow UI   http://127.0.0.1:{settings.airflow_port}  (login {settings.airflow_user} / {password})"
    )
    console.print(f"MLflow UI    {experiment_url(settings.mlflow_ui)}")
    console.print(f"Warehouse    {settings.warehouse}   (or: ecomflow psql)")


@app.command()
def down() -> None:
    """Stop everything ``up`` or ``demo`` started; stored data stays for the next ``up``."""
    settings = get_settings()
    for service in [*reversed(runtime.airflow_services(settings)), *runtime.services(settings)]:
        if runtime.stop_service(settings, service.name):
            console.print(f"stopped {service.name}")
    if settings.embedded_postgres and runtime.postgres(settings).is_running():
        runtime.postgres(settings).stop()
        console.print("stopped postgres")


@app.command()
def status() -> None:
    """Show what runs where."""
    settings = get_settings()
    table = Table("service", "state", "where")
    pg = runtime.postgres(settings)
    if settings.embedded_postgres:
        table.add_row("postgres", "running" if pg.is_running() else "stopped", f"{settings.pg_host}:{settings.pg_port}")
    for service in [*runtime.services(settings), *runtime.airflow_services(settings)]:
        pid = runtime.service_pid(settings, service.name)
        table.add_row(
            service.name, f"running (pid {pid})" if pid else "stopped", str(runtime.log_path(settings, service.name))
        )
    console.print(table)


@app.command()
def psql(
    command: Annotated[str | None, typer.Option("-c", "--command", help="Run one statement and exit.")] = None,
) -> None:
    """Psql on the warehouse."""
    settings = get_settings()
    binary = shutil.which("psql") or str(POSTGRES_BIN_PATH / "psql")
    args = [binary, settings.warehouse, *(["-c", command] if command else [])]
    raise typer.Exit(subprocess.run(args, env={**os.environ, **runtime.pg_client_env(settings)}).returncode)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def airflow(ctx: typer.Context) -> None:
    """The ``airflow`` CLI on this runtime's configuration, e.g. ``ecomflow airflow dags list``."""
    env = {**os.environ, **runtime.runtime_env(get_settings())}
    raise typer.Exit(subprocess.run([str(runtime.BIN / "airflow"), *ctx.args], env=env).returncode)


@app.command()
def generate(start: Day, end: Day, landing: Annotated[Path | None, typer.Option()] = None) -> None:
    """Write the simulator's files for the days ``start``..``end`` into the landing area."""
    settings = get_settings()
    _generate(settings, start.date(), end.date(), landing or settings.landing)


def _generate(settings: Settings, start: dt.date, end: dt.date, landing: Path) -> None:
    from ecomflow.sources.simulator import SimulatorConfig, write_days

    config = SimulatorConfig.from_settings(settings)
    with _progress() as progress:
        task = progress.add_task("generating source files", total=(end - start).days + 1)
        write_days(config, start, end, landing, progress=lambda n: progress.advance(task, n))


@app.command()
def ingest(
    start: Annotated[dt.datetime, typer.Option("--from", formats=DATE)],
    end: Annotated[dt.datetime, typer.Option("--to", formats=DATE)],
    landing: Annotated[Path | None, typer.Option(help="Landing directory: <table>/dt=YYYY-MM-DD/*.parquet|csv")] = None,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Let a file without rows empty a day that holds rows.")
    ] = False,
) -> None:
    """Load landing files (simulated or your own, laid out in the contract) into ``raw``, each day all or nothing."""
    from ecomflow.ingest import IngestError
    from ecomflow.ingest.load import check_range

    settings = get_settings()
    landing = landing or settings.landing
    try:
        check_range(landing, start.date(), end.date())  # before starting anything
    except IngestError as error:
        console.print(f"[red]{escape(str(error))}")
        raise typer.Exit(1) from error
    start_core(settings, airflow=False)
    _ingest(landing, start.date(), end.date(), allow_empty)


def _ingest(landing: Path, start: dt.date, end: dt.date, allow_empty: bool = False) -> None:
    """Load ``[start, end]``, print every warning and each failed day; exit 1 when a day failed."""
    from ecomflow.ingest import IngestError, RangeError, ingest_range

    totals = {"loaded": 0, "quarantined": 0}
    with _progress() as progress:
        task = progress.add_task(f"loading {escape(str(landing))}", total=(end - start).days + 1)

        def on_day(day: dt.date, reports: list) -> None:
            totals["loaded"] += sum(r.rows_loaded for r in reports)
            totals["quarantined"] += sum(r.rows_quarantined for r in reports)
            for report in reports:
                for warning in report.warnings:
                    console.print(f"[yellow]{report.table} {day}: {escape(warning)}")
            progress.advance(task)

        def on_warning(message: str) -> None:
            console.print(f"[yellow]warning: {escape(message)}")

        try:
            ingest_range(landing, start, end, on_day=on_day, allow_empty=allow_empty, on_warning=on_warning)
            failures = []
        except RangeError as error:
            failures = error.failures
        except IngestError as error:
            console.print(f"[red]{escape(str(error))}")
            raise typer.Exit(1) from error
    console.print(f"loaded {totals['loaded']:,} rows, quarantined {totals['quarantined']:,} (see raw.quarantine)")
    for _, message in failures:
        console.print(f"[red]{escape(message)}")
    if failures:
        console.print(f"[red]{len(failures)} day(s) not loaded: {', '.join(str(day) for day, _ in failures)}")
        raise typer.Exit(1)


@app.command()
def build(
    start: Annotated[
        dt.datetime | None,
        typer.Option("--from", formats=DATE, help="First landing day to rebuild (incremental facts, features)."),
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option("--to", formats=DATE, help="Last landing day to rebuild (default: the last day loaded)."),
    ] = None,
    as_of_from: Annotated[dt.datetime | None, typer.Option(formats=DATE, help="First feature as-of date.")] = None,
    as_of_to: Annotated[dt.datetime | None, typer.Option(formats=DATE, help="Last feature as-of date.")] = None,
    select: Annotated[str | None, typer.Option(help="dbt node selection, e.g. 'marts.core+'.")] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild the incremental models from all history.")] = False,
) -> None:
    """Build and test the warehouse with dbt (what the ``warehouse`` DAG runs), outside Airflow.

    ``--from``/``--to`` give the landing days to rebuild, as the DAG does for its run's days: the incremental facts
    of those days and the features as of the day after each (``--as-of-from``/``--as-of-to`` set the features'
    dates alone). Without days, every day is rebuilt; with ``--to`` before the last day loaded, the days after it
    stay as the last build left them. Without ``--select``, everything but the activation marts, which need
    published scores (``ecomflow activate``).
    """
    from ecomflow.orchestration import dbt_vars, last_loaded_day
    from ecomflow.transform import ACTIVATION, run_dbt

    start_core(get_settings(), airflow=False)
    args = ["build", *(["--select", select] if select else ["--exclude", ACTIVATION])]
    dbt_args: dict[str, str] = {}
    if start or end:
        first = (start or end).date()
        dbt_args |= dbt_vars([first, end.date() if end else max(first, last_loaded_day() or first)])
    if as_of_from or as_of_to:
        first, last = (as_of_from or as_of_to).date(), (as_of_to or as_of_from).date()
        dbt_args |= {"as_of_from": first.isoformat(), "as_of_to": last.isoformat()}
    if full_refresh:
        args.append("--full-refresh")
    run_dbt(args, days=dbt_args)
    console.print("warehouse built")


@app.command()
def docs(port: Annotated[int, typer.Option(help="Port to serve the docs on.")] = 8081) -> None:
    """Generate the dbt docs (models, columns, lineage, exposures) and serve them until Ctrl-C."""
    from ecomflow.transform import run_dbt

    start_core(get_settings(), airflow=False)
    run_dbt(["docs", "generate"])
    console.print(f"dbt docs at http://127.0.0.1:{port}  (Ctrl-C to stop)")
    run_dbt(["docs", "serve", "--port", str(port), "--host", "127.0.0.1", "--no-browser"])


@app.command()
def train(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    tune: Annotated[int, typer.Option(help="Optuna trials to run first (nested MLflow runs); 0 = spec's params.")] = 0,
) -> None:
    """Train a model, log it to MLflow, register it as challenger and run the promotion gate."""
    from ml.dataset import NotEnoughData
    from ml.models import get_spec
    from ml.training import train_model

    start_core(get_settings(), airflow=False)
    spec = get_spec(model)
    try:
        with console.status(f"training {model}" + (f" ({tune} tuning trials first)" if tune else "")):
            result = train_model(spec, {"ecomflow.trigger": "cli"}, tune_trials=tune)
    except NotEnoughData as reason:
        console.print(f"[yellow]skipped: {reason}")
        return
    metric = spec.primary_metric
    baselines = ", ".join(
        f"{key.removeprefix('baseline_').removesuffix(f'_test_{metric}')} {value:.3f}"
        for key, value in result.metrics.items()
        if key.startswith("baseline_") and key.endswith(f"_test_{metric}")
    )
    verdict = "promoted to champion" if result.promoted else "kept as challenger"
    console.print(
        f"{result.model_name} version {result.version} (run {result.run_id}): test {metric} "
        f"{result.metrics[f'test_{metric}']:.3f} (baselines: {baselines}); {verdict}: {result.why}"
    )


@app.command()
def score(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    as_of: Annotated[dt.datetime, typer.Option(formats=DATE, help="Score as of this date.")],
) -> None:
    """Score every entity with the champion as of a date and publish the scores atomically."""
    from ml.models import get_spec
    from ml.scoring import NoChampion, score_and_publish

    start_core(get_settings(), airflow=False)
    try:
        result = score_and_publish(get_spec(model), as_of.date())
    except NoChampion as reason:
        console.print(f"[yellow]skipped: {reason}")
        return
    console.print(f"{result.model_name} v{result.version}: {result.rows:,} scores as of {result.as_of} published")


@app.command()
def activate() -> None:
    """Build the activation marts (audiences, credit offers) on the latest published scores, as the DAG does."""
    from ecomflow.transform import NothingToActivate, build_activation

    start_core(get_settings(), airflow=False)
    try:
        built = build_activation()
    except NothingToActivate as reason:
        console.print(f"[yellow]skipped: {reason}")
        return
    console.print(f"activation marts built: {', '.join(built)}")


@app.command()
def demo(
    days: Annotated[int | None, typer.Option(help="Days run through the Airflow DAGs.")] = None,
    history_days: Annotated[int | None, typer.Option(help="Days of history loaded before them.")] = None,
) -> None:
    """Run the whole platform end to end on simulated data and print a summary."""
    started = time.monotonic()
    settings = get_settings()
    calendar = _calendar(settings, days, history_days)
    settings = _pin_start_date(settings, calendar.first)
    start_core(settings)
    from ecomflow.transform import ensure_manifest

    ensure_manifest()
    pipeline_log = runtime.log_path(settings, "demo")
    console.print(
        f"history {calendar.first}..{calendar.history_end} in bulk, then {len(calendar.dag_days)} day(s) through "
        f"the DAGs; task and dbt logs → {pipeline_log}"
    )
    try:
        _run_demo_days(settings, calendar.first, calendar.history_end, calendar.dag_days, pipeline_log)
    except Exception as error:
        console.print(f"[red]demo failed: {error}\n[red]the task and dbt logs are in {pipeline_log}")
        raise typer.Exit(1) from error
    _summary(settings, calendar.dag_days, time.monotonic() - started)


def _calendar(settings: Settings, days: int | None, history_days: int | None) -> DemoCalendar:
    from ecomflow.demo.pipeline import demo_calendar

    days = days or settings.demo_days
    history_days = settings.history_days if history_days is None else history_days
    return demo_calendar(settings, days, history_days, dt.datetime.now(dt.UTC).date())


def _pin_start_date(settings: Settings, first: dt.date) -> Settings:
    """Pin the demo's first day in this process and record it in the state directory; returns the pinned settings.

    The DAGs the demo runs, and the runtime's later processes (the scheduler's ``ingest`` runs), then simulate the
    same business as the history did.
    """
    from ecomflow.demo.pipeline import record_start_date

    record_start_date(settings, first)
    os.environ["ECOMFLOW_START_DATE"] = first.isoformat()
    get_settings.cache_clear()
    return get_settings()


def _run_demo_days(
    settings: Settings, first: dt.date, history_end: dt.date, demo_days: list[dt.date], pipeline_log: Path
) -> None:
    with _output_to_log(pipeline_log):
        if history_end >= first:
            _load_history(settings, first, history_end)
        from ecomflow.demo.pipeline import load_dags, run_day

        dags = load_dags()
        with _progress() as progress:
            task = progress.add_task("running the DAGs day by day", total=len(demo_days))
            for i, day in enumerate(demo_days):
                progress.update(task, description=f"DAGs for {day}")
                run_day(day, train=(i % 7 == 0), dags=dags)
                progress.advance(task)


def _load_history(settings: Settings, first: dt.date, last: dt.date) -> None:
    from ecomflow.demo.pipeline import load_history

    total = (last - first).days + 1
    with _progress() as progress:
        generated = progress.add_task("simulating history", total=total)
        loaded = progress.add_task("loading history into raw", total=total)
        load_history(
            settings,
            first,
            last,
            on_generated=lambda n: progress.advance(generated, n),
            on_loaded=lambda day, reports: progress.advance(loaded),
        )


def _summary(settings: Settings, demo_days: list[dt.date], seconds: float) -> None:
    """The demo's closing summary: rows per layer, the models, and where to look next (fits 80 columns)."""
    from ecomflow.demo.summary import layer_counts, layer_totals, model_summary, summary_tables

    for table in summary_tables(layer_totals(layer_counts()), model_summary(demo_days)):
        console.print(table)
    console.print(f"Demo of {len(demo_days)} day(s) finished in {seconds / 60:.1f} min. Look next:")
    console.print("  uv run ecomflow up      the Airflow UI (the demo's runs) and the MLflow UI:")
    _print_urls(settings)
    console.print('  uv run ecomflow psql -c "select * from marts.customer_360 limit 5"')
    console.print("  uv run ecomflow docs    dbt docs (models, columns, lineage) at http://127.0.0.1:8081")
    console.print("  uv run ecomflow down    stop everything; the data stays")


def main() -> None:  # pragma: no cover
    """Entry point."""
    logging.basicConfig(level=os.environ.get("ECOMFLOW_LOG_LEVEL", "WARNING"))
    app()
