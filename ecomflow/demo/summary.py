"""What the demo prints at the end: rows per layer and the champion models."""

from __future__ import annotations

import datetime as dt

from ecomflow.core.warehouse import connect, table_exists

LAYERS = ("raw", "staging", "marts", "features", "scores")


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


def model_summary(days: list[dt.date]) -> list[tuple[str, str, str, str, str, str]]:
    """(model, champion version, test ROC AUC, its logistic-regression baseline's, test PR AUC, days scored)."""
    from mlflow import MlflowClient

    from ml.models import all_specs
    from ml.registry import champion_version

    client = MlflowClient()
    rows = []
    for spec in all_specs():
        name = spec.name
        version = champion_version(name)
        metrics = client.get_run(client.get_model_version(name, version).run_id).data.metrics if version else {}
        with connect() as conn:
            scored = (
                conn.execute(f"select count(distinct as_of_date) from {spec.scores_table}").fetchone()[0]
                if table_exists(conn, spec.scores_table)
                else 0
            )
        rows.append(
            (
                name,
                f"v{version}" if version else "none",
                f"{metrics.get('test_roc_auc', float('nan')):.3f}",
                f"{metrics.get('baseline_logreg_test_roc_auc', float('nan')):.3f}",
                f"{metrics.get('test_pr_auc', float('nan')):.3f}",
                f"{scored}/{len(days)}",
            )
        )
    return rows
