"""What the demo prints at the end: rows per layer and the champion models, short enough for 80 columns."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass

from rich.table import Table

from ecomflow.core.warehouse import connect, table_exists

LAYERS = ("raw", "staging", "marts", "features", "scores", "activation", "monitoring")
XGBOOST = "xgboost"  # the candidate a version is when the gate did not name another


def layer_counts() -> list[tuple[str, str, int]]:
    """(schema, relation, rows) of every table and view in the platform's schemas.

    A partitioned table counts once, with all its rows: its partitions (one per day in ``raw`` and ``scores``)
    are how it is stored, not relations of their own.
    """
    result = []
    with connect() as conn:
        relations = conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm') and not c.relispartition "
            "order by array_position(%s, n.nspname::text), c.relname",
            (list(LAYERS), list(LAYERS)),
        ).fetchall()
        for schema, name in relations:
            rows = conn.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            result.append((schema, name, rows))
    return result


def layer_totals(counts: list[tuple[str, str, int]]) -> list[tuple[str, int, int]]:
    """(schema, relations, rows) per layer, in the layers' order: the summary's short view of ``counts``."""
    totals: dict[str, tuple[int, int]] = {}
    for schema, _, rows in counts:
        relations, total = totals.get(schema, (0, 0))
        totals[schema] = (relations + 1, total + rows)
    return [(schema, *totals[schema]) for schema in LAYERS if schema in totals]


@dataclass(frozen=True)
class ModelLine:
    """One model in the summary: its champion, how well it ranks, the best baseline beside it, days scored."""

    model: str
    champion: str
    roc_auc: str
    best_baseline: str
    scored: str


def _ranking(metrics: dict[str, float], candidate: str) -> float | None:
    """``candidate``'s mean backtest ROC AUC, else (a run without backtests) its test ROC AUC."""
    backtest = metrics.get(f"backtest_{candidate}_roc_auc_mean")
    if backtest is not None:
        return backtest
    return metrics.get("test_roc_auc" if candidate == XGBOOST else f"baseline_{candidate}_test_roc_auc")


def _best_baseline(metrics: dict[str, float], champion: str) -> str:
    names = {key.split("_")[1] for key in metrics if key.startswith("backtest_") and key.endswith("_roc_auc_mean")}
    names |= {key.split("_")[1] for key in metrics if key.startswith("baseline_") and key.endswith("_test_roc_auc")}
    scored = [(value, name) for name in names - {champion, XGBOOST} if (value := _ranking(metrics, name)) is not None]
    if not scored:
        return "-"
    value, name = max(scored)
    return f"{name} {value:.3f}"


def model_summary(days: list[dt.date]) -> list[ModelLine]:
    """Each model's champion (version and which candidate won the gate), ROC AUC, best baseline, days scored."""
    from mlflow import MlflowClient

    from ml.models import all_specs
    from ml.registry import champion_version

    client = MlflowClient()
    lines = []
    with connect() as conn:
        for spec in all_specs():
            version = champion_version(spec.name)
            winner, metrics = "none", {}
            if version:
                details = client.get_model_version(spec.name, version)
                metrics = client.get_run(details.run_id).data.metrics
                winner = details.tags.get("gate.winner", XGBOOST)
            scored = (
                conn.execute(f"select count(distinct as_of_date) from {spec.scores_table}").fetchone()[0]
                if table_exists(conn, spec.scores_table)
                else 0
            )
            auc = _ranking(metrics, winner)
            lines.append(
                ModelLine(
                    spec.name,
                    f"v{version} {winner}" if version else "none",
                    "-" if auc is None else f"{auc:.3f}",
                    _best_baseline(metrics, winner),
                    f"{scored}/{len(days)}",
                )
            )
    return lines


def summary_tables(totals: list[tuple[str, int, int]], lines: list[ModelLine]) -> list[Table]:
    """The two tables the demo ends with: rows per layer and the models."""
    layers = Table("layer", "relations", "rows", title="Warehouse")
    for schema, relations, rows in totals:
        layers.add_row(schema, str(relations), f"{rows:,}")
    models = Table("model", "champion", "ROC AUC", "best baseline", "scored", title="Models")
    for line in lines:
        models.add_row(*astuple(line))
    return [layers, models]
