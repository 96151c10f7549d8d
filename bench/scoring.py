"""Scoring throughput: read features → ``inplace_predict`` → publish, against the naive path and COPY.

On ``BENCH_SCORE_ROWS`` (default 1,000,000) customers' feature rows in a benchmark database of their own,
in one run:

* **ecomflow** — ``ml.scoring.score`` + ``publish`` exactly as the DAG runs them (COPY out to Arrow,
  batched ``inplace_predict``, deciles, the day's partition swapped in), reason codes switched off;
* **naive** — what users write: ``pandas.read_sql`` → ``xgboost.DMatrix`` → ``predict`` → ``DataFrame.to_sql``,
  writing the same rows (every column of the scores table, deciles from pandas ranks) into a table of the
  same shape;
* **COPY ceiling** — only a binary COPY (one session, every column sent) of the same output rows into an empty
  table of the same shape, key included.

Then, separately, the cost of reason codes: exact TreeSHAP and approximate contributions in rows/s, and the
time the default policy (exact for the top deciles, approximate for the rest) adds for all rows.
Targets (issue 6): >= 10x the naive path and >= 400k rows/s without reason codes. The last line prints them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
import time

import numpy as np

ROWS = int(os.environ.get("BENCH_SCORE_ROWS", 1_000_000))
EXACT_SAMPLE = 5_000
APPROX_SAMPLE = 100_000
AS_OF = dt.date(2026, 6, 1)
CATEGORIES = {
    "signup_channel": ("web", "app", "social", "store"),
    "region": ("north", "south", "east", "west"),
    "age_band": ("18-24", "25-34", "35-44", "45-54", "55+"),
}
NUMBERS = (
    "days_since_signup", "days_since_last_order", "orders_7d", "orders_30d", "orders_90d", "revenue_30d",
    "revenue_90d", "avg_order_value_90d", "share_store_orders_90d", "promo_share_90d", "sessions_7d", "sessions_30d",
    "share_app_sessions_30d", "add_to_cart_7d", "add_to_cart_30d", "searches_7d", "wishlist_30d", "cart_abandon_30d",
)  # fmt: skip


def _features_sql(rows: int) -> str:
    """A feature table shaped like ``features.feat_customer_daily``, generated inside PostgreSQL."""
    categories = ", ".join(
        f"(array{list(values)})[1 + (hashint4(i + {n}) & 2147483647) % {len(values)}] as {name}"
        for n, (name, values) in enumerate(CATEGORIES.items())
    )
    numbers = ", ".join(
        f"case when (hashint4(i * {n + 7}) & 15) = 0 then null "
        f"else ((hashint4(i * {n + 3}) & 65535) / 655.36)::double precision end as {name}"
        for n, name in enumerate(NUMBERS)
    )
    return f"""
        drop table if exists bench.features;
        create table bench.features as
        select 'c' || lpad(i::text, 8, '0') as customer_id, date '{AS_OF}' as as_of_date, {categories}, {numbers}
        from generate_series(1, {rows}) as i;
        create unique index on bench.features (as_of_date, customer_id);  -- as dbt indexes feat_customer_daily
        analyze bench.features;"""


def _model(data):  # noqa: ANN001, ANN202 - pyarrow.Table -> TrainedModel
    """A propensity-like booster fitted on a sample of the rows (the label mixes a few features)."""
    import xgboost as xgb

    from ml.packaging import TrainedModel

    shaper = TrainedModel(None, [*CATEGORIES, *NUMBERS], tuple(CATEGORIES))
    frame = shaper.frame(data.slice(0, 100_000))
    logit = -2 + 0.02 * frame["orders_30d"].fillna(0) - 0.01 * frame["days_since_last_order"].fillna(50)
    labels = (np.random.default_rng(0).random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 5, "eta": 0.08, "nthread": 2}
    booster = xgb.train(params, xgb.QuantileDMatrix(frame, labels, enable_categorical=True), num_boost_round=80)
    return dataclasses.replace(shaper, booster=booster)


def main() -> None:
    """Run the three paths and the reason-code costs; print rows/s and ratios."""
    import pandas as pd
    import sqlalchemy
    import xgboost as xgb
    from mlflow.models import infer_signature

    from bench.ingest import _bench_database
    from bench.ingest import _best_seconds as _best
    from ecomflow.core.settings import get_settings
    from ecomflow.core.warehouse import connect, copy_in_binary, copy_out
    from ecomflow.local import runtime
    from ml.models.propensity import SPEC
    from ml.scoring import APPROXIMATE, EXACT, Champion, publish, reason_codes, score, scores_ddl

    settings = get_settings()
    runtime.apply_env(settings)
    if settings.embedded_postgres:
        runtime.postgres(settings).start()
    url = _bench_database(settings)
    os.environ |= {"ECOMFLOW_WAREHOUSE_URL": url, "ECOMFLOW_REASON_CODES_EXACT_DECILES": "0"}
    os.environ["ECOMFLOW_REASON_CODES_REST"] = "none"
    get_settings.cache_clear()
    spec = dataclasses.replace(
        SPEC, feature_table="bench.features", scores_table="bench.customer_scores", name="bench_propensity"
    )
    with connect(url) as conn:
        conn.execute("create schema if not exists bench")
        conn.execute(_features_sql(ROWS))
        conn.execute(scores_ddl(spec).replace("create schema if not exists scores;", ""))
        conn.commit()
        sample = copy_out(conn, "select * from bench.features limit 100000")
    model = _model(sample)
    example = model.signature_frame(model.frame(sample.slice(0, 5)))
    schema = infer_signature(example, model.predict(model.frame(sample.slice(0, 5)))).inputs
    champion = Champion(model, "1", "bench", schema)

    published: dict = {}
    stages: list[tuple[float, float]] = []  # (score, publish) seconds of each trial

    def ours() -> None:
        started = time.perf_counter()
        table, _ = score(spec, AS_OF, champion)
        scored = time.perf_counter()
        published["table"] = table
        publish(spec, AS_OF, table)
        stages.append((scored - started, time.perf_counter() - scored))

    def empty_scores() -> None:  # a day's first publish; a rerun also deletes the day's previous rows
        with connect(url) as conn:
            conn.execute(f"truncate {spec.scores_table}")
            conn.commit()

    ours_s = _best(ours, empty_scores)
    score_s, publish_s = min(stages, key=sum)
    table = published["table"]

    with connect(url) as conn:
        conn.execute("drop table if exists bench.scores_copy_target")
        conn.execute("create table bench.scores_copy_target (like bench.customer_scores including all)")
        conn.commit()

        def empty_copy_target() -> None:
            conn.execute("truncate bench.scores_copy_target")
            conn.commit()

        def copy_only() -> None:
            copy_in_binary(conn, "bench.scores_copy_target", table)
            conn.commit()

        ceiling_s = _best(copy_only, empty_copy_target)

    engine = sqlalchemy.create_engine(url)

    def naive() -> None:
        """The same rows, the way users write it: pandas in, DMatrix predict, pandas ranks, ``to_sql`` out."""
        frame = pd.read_sql("select * from bench.features", engine)
        inputs = frame[model.features].astype({name: "category" for name in CATEGORIES})
        scores = model.booster.predict(xgb.DMatrix(inputs, enable_categorical=True))
        higher = pd.Series(scores).rank(ascending=False, method="min") - 1  # scores strictly higher
        out = pd.DataFrame(
            {
                "customer_id": frame["customer_id"],
                "as_of_date": AS_OF,
                "feature_as_of_date": frame["as_of_date"],
                "score": scores.astype("float64"),
                "decile": (higher * 10 // len(scores) + 1).astype("int16"),
                **{f"reason_{i}": None for i in range(1, 4)},
                **{f"reason_{i}_contribution": np.nan for i in range(1, 4)},  # to_sql writes NaN as null
                "reason_method": "none",
                "model_name": spec.name,
                "model_version": champion.version,
                "run_id": champion.run_id,
                "scored_at": pd.Timestamp.now(tz="UTC"),
            }
        )
        assert set(out.columns) == set(table.column_names), "the naive path must write the rows ours publishes"
        out.to_sql("naive_scores", engine, schema="bench", index=False, if_exists="append")

    def empty_naive_scores() -> None:
        with connect(url) as conn:
            conn.execute("drop table if exists bench.naive_scores")
            conn.execute("create table bench.naive_scores (like bench.customer_scores including all)")

    naive_s = _best(naive, empty_naive_scores, trials=1)
    engine.dispose()

    exact_rows = sample.slice(0, EXACT_SAMPLE)
    exact_s = _best(lambda: reason_codes(model, exact_rows, np.full(EXACT_SAMPLE, EXACT)), trials=1)
    approx_rows = sample.slice(0, min(APPROX_SAMPLE, sample.num_rows))
    approx_s = _best(lambda: reason_codes(model, approx_rows, np.full(approx_rows.num_rows, APPROXIMATE)), trials=1)
    exact_rps, approx_rps = EXACT_SAMPLE / exact_s, approx_rows.num_rows / approx_s
    policy_s = 0.3 * ROWS / exact_rps + 0.7 * ROWS / approx_rps

    ours_rps, naive_rps, ceiling_rps = ROWS / ours_s, ROWS / naive_s, ROWS / ceiling_s
    print(
        f"rows={ROWS:,}  ecomflow score+publish {ours_rps:,.0f} rows/s ({ours_s:.2f} s: score "
        f"{score_s:.2f} s, publish {publish_s:.2f} s)  naive {naive_rps:,.0f} rows/s "
        f"({naive_s:.1f} s)  COPY ceiling {ceiling_rps:,.0f} rows/s\n"
        f"reason codes: exact TreeSHAP {exact_rps:,.0f} rows/s, approximate {approx_rps:,.0f} rows/s; the default "
        f"policy (exact for deciles 1-3, approximate for the rest) adds ~{policy_s:,.0f} s for {ROWS:,} customers",
        file=sys.stderr,
    )
    print(
        f"scoring: {ours_rps / naive_rps:.1f}x naive (target >= 10x), {ours_rps:,.0f} rows/s (target >= 400k), "
        f"{ours_rps / ceiling_rps:.2f}x COPY ceiling; reasons exact {exact_rps:,.0f} rows/s, approx {approx_rps:,.0f}"
    )


if __name__ == "__main__":
    main()
