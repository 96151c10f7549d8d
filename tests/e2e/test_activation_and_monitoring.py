"""Activation marts and model monitoring on the warehouse the end-to-end pipeline built.

The pipeline's ``score_and_publish`` runs built the activation marts (dbt, after publishing); the monitoring
runs here use the real champions in MLflow, the real scores and the real training tables. Scores of two past
as-of dates whose outcome windows have closed are published for the realised-performance checks and removed
again at the end of the module.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets

import numpy as np
import psycopg
import pytest

from ml.models import get_spec

PROPENSITY, CREDIT = get_spec("purchase_propensity"), get_spec("credit_risk")
ANALYST_LOGIN = "analyst_activation"


def _rows(conn, query: str, params: tuple | None = None) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def _one(conn, query: str, params: tuple | None = None):  # noqa: ANN202
    return conn.execute(query, params).fetchone()[0]


def _snapshot_rows(conn, spec, as_of: dt.date) -> int:
    """Entities of the feature snapshot the scores as of ``as_of`` were computed from (every one is scored)."""
    return _one(
        conn,
        f"select count(*) from {spec.feature_table} where {spec.as_of_column} = "
        f"(select max(feature_as_of_date) from {spec.scores_table} where as_of_date = %s)",
        (as_of,),
    )


@pytest.fixture(scope="module")
def latest_as_of(pipeline) -> dt.date:
    return pipeline[-1] + dt.timedelta(days=1)


# --- where activation runs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dags(pipeline) -> dict:
    from ecomflow.demo.pipeline import load_dags

    return load_dags()


def test_the_warehouse_build_leaves_the_activation_marts_out(dags):
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    from ecomflow.transform import ACTIVATION

    warehouse = dags["warehouse"]
    assert not [t for t in warehouse.task_ids if "marketing_audiences" in t or "credit_offers" in t]
    producer = warehouse.get_task(f"dbt.{PRODUCER_WATCHER_TASK_ID}")
    assert ACTIVATION in producer.exclude


def test_activation_runs_after_the_scores_and_monitoring_on_them(dags):
    from ecomflow.assets import SCORES

    score_and_publish = dags["score_and_publish"]
    assert score_and_publish.get_task("activate").upstream_task_ids == {"score"}
    assert score_and_publish.get_task("activate").trigger_rule == "none_failed"
    assert list(dags["monitor"].timetable.asset_condition.objects) == [SCORES]


# --- activation marts -------------------------------------------------------------------------------------


def test_audiences_hold_every_customer_scored_on_the_latest_day(warehouse, latest_as_of):
    scored = _one(
        warehouse, "select count(*) from scores.customer_purchase_propensity where as_of_date = %s", (latest_as_of,)
    )
    rows, as_ofs, customers = _rows(
        warehouse,
        "select count(*), array_agg(distinct as_of_date), count(distinct customer_id) "
        "from activation.marketing_audiences",
    )[0]
    assert scored == _snapshot_rows(warehouse, PROPENSITY, latest_as_of), "every customer of the snapshot is scored"
    assert rows == customers == scored
    assert as_ofs == [latest_as_of]


def test_audiences_carry_consent_segment_and_a_channel_from_behaviour(warehouse):
    mismatched = _one(
        warehouse,
        "select count(*) from activation.marketing_audiences as audiences "
        "join marts.customer_360 as customers using (customer_id) "
        "where audiences.has_marketing_consent is distinct from coalesce(customers.is_marketing_opt_in, false) "
        "or audiences.rfm_segment <> customers.rfm_segment "
        "or audiences.audience_key <> format('d%s_%s_%s', lpad(audiences.propensity_decile::text, 2, '0'), "
        "customers.rfm_segment, audiences.response_channel)",
    )
    assert mismatched == 0
    # A customer whose channel comes from orders ordered there, and at least as often as anywhere else.
    outvoted = _one(
        warehouse,
        """
        with orders as (
            select customer_id, case when channel = 'social' then 'web' else channel end as channel, count(*) as n
            from marts.fct_orders group by 1, 2
        )
        select count(*) from activation.marketing_audiences as audiences
        left join orders as chosen
            on chosen.customer_id = audiences.customer_id and chosen.channel = audiences.response_channel
        where audiences.channel_basis = 'orders' and (
            chosen.n is null
            or exists (select from orders as other where other.customer_id = chosen.customer_id and other.n > chosen.n)
        )
        """,
    )
    assert outvoted == 0
    bases = dict(_rows(warehouse, "select channel_basis, count(*) from activation.marketing_audiences group by 1"))
    assert bases.get("orders", 0) > 0
    channels = {
        row[0] for row in _rows(warehouse, "select distinct response_channel from activation.marketing_audiences")
    }
    assert channels <= {"web", "app", "store"} and len(channels) >= 2


def test_credit_offers_decide_every_seller_scored_on_the_latest_day(warehouse, latest_as_of):
    scored = _one(warehouse, "select count(*) from scores.seller_credit_risk where as_of_date = %s", (latest_as_of,))
    offers = dict(_rows(warehouse, "select is_declined, count(*) from activation.credit_offers group by 1"))
    assert scored == _snapshot_rows(warehouse, CREDIT, latest_as_of), "every seller of the snapshot is scored"
    assert sum(offers.values()) == scored
    assert offers.get(True, 0) > 0 and offers.get(False, 0) > 0, f"a degenerate policy on real data: {offers}"


def test_credit_offers_follow_the_policy(warehouse):
    wrong = _rows(
        warehouse,
        """
        with offers as (
            select *, coalesce(string_to_array(decline_reasons, ','), '{}') as reasons from activation.credit_offers
        )
        select seller_id, risk_grade, credit_limit, decline_reasons from offers
        where (risk_grade = 'E') <> ('risk_grade_e' = any(reasons))
            or has_active_default <> ('active_default' = any(reasons))
            or (current_days_past_due > 30) <> ('in_arrears' = any(reasons))
            or (months_on_platform < 6) <> ('too_little_history' = any(reasons))
            or (avg_monthly_gmv_3m = 0) <> ('no_recent_turnover' = any(reasons))
            or is_declined <> (cardinality(reasons) > 0)
            or (not is_declined and credit_limit <> least(floor(avg_monthly_gmv_3m * turnover_months / 10) * 10, 50000))
            or (not is_declined and available_credit <> greatest(credit_limit - outstanding_amount, 0))
        """,
    )
    assert not wrong


def test_analyst_reads_the_activation_marts(pipeline, settings):
    with psycopg.connect(settings.warehouse, autocommit=True) as admin:
        admin.execute(f"drop role if exists {ANALYST_LOGIN}")
        password = secrets.token_urlsafe(16)
        admin.execute(f"create role {ANALYST_LOGIN} login password '{password}' in role analyst")
    url = settings.warehouse.replace("postgres@", f"{ANALYST_LOGIN}:{password}@", 1)
    with psycopg.connect(url, autocommit=True) as analyst:
        for relation in ("activation.marketing_audiences", "activation.credit_offers"):
            assert analyst.execute(f"select count(*) from {relation}").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("delete from activation.credit_offers")


@pytest.fixture
def hidden_scores(warehouse):
    """Rename scores tables away for a test (as if their model had no champion yet); put them back after."""
    hidden: list[str] = []

    def hide(table: str) -> None:
        warehouse.execute(f"alter table scores.{table} rename to {table}__hidden")
        warehouse.commit()
        hidden.append(table)

    yield hide
    for table in hidden:
        warehouse.execute(f"alter table scores.{table}__hidden rename to {table}")
    warehouse.commit()


def test_activation_builds_what_has_scores_and_skips_with_the_reason_otherwise(pipeline, hidden_scores):
    from ecomflow.transform import NothingToActivate, build_activation

    hidden_scores("seller_credit_risk")
    assert build_activation() == ["marketing_audiences"]
    hidden_scores("customer_purchase_propensity")
    with pytest.raises(NothingToActivate, match=r"scores\.customer_purchase_propensity, scores\.seller_credit_risk"):
        build_activation()


# --- monitoring -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def past_scores(pipeline):
    """Champion scores of a past as-of date per model whose outcome window closed; removed after the module.

    Returns ``{model: (as_of, data day its outcome closed on)}``.
    """
    from ecomflow.core.warehouse import connect
    from ml.monitoring.performance import outcome_known_from
    from ml.scoring import score_and_publish

    last_day = pipeline[-1]
    propensity_as_of = last_day - dt.timedelta(days=30)
    credit_as_of = dt.date(last_day.year, last_day.month, 1)
    while outcome_known_from(CREDIT, credit_as_of) > last_day:
        credit_as_of = (credit_as_of - dt.timedelta(days=1)).replace(day=1)
    published = {}
    for spec, as_of in ((PROPENSITY, propensity_as_of), (CREDIT, credit_as_of)):
        score_and_publish(spec, as_of)
        published[spec.name] = (as_of, outcome_known_from(spec, as_of))
    yield published
    with connect() as conn:
        for spec in (PROPENSITY, CREDIT):
            conn.execute(f"delete from {spec.scores_table} where as_of_date = %s", (published[spec.name][0],))
        conn.commit()


@pytest.fixture(scope="module")
def monitored(pipeline, past_scores) -> dict[str, list]:
    """One monitoring run per model over the pipeline's days and the day the past scores' outcome closed."""
    from ml.monitoring.run import monitor

    return {
        spec.name: monitor(spec, [*pipeline, past_scores[spec.name][1]], threshold=math.inf)
        for spec in (PROPENSITY, CREDIT)
    }


def _by(results, metric: str, as_of: dt.date) -> dict[str, float]:
    return {r.feature: r.value for r in results if r.metric == metric and r.as_of_date == as_of}


@pytest.mark.parametrize("spec", [PROPENSITY, CREDIT], ids=lambda s: s.name)
def test_psi_of_the_score_and_top_features_every_scored_day(warehouse, monitored, pipeline, spec):
    from ml.monitoring.versions import load_version

    results = monitored[spec.name]
    for day in pipeline:
        as_of = day + dt.timedelta(days=1)
        psi = _by(results, "psi", as_of)
        version = next(r.version for r in results if r.as_of_date == as_of)
        top = load_version(spec, version).top_features
        assert set(psi) == {"score", *top}, f"{spec.name} as of {as_of}"
        assert all(value >= 0 for value in psi.values())
        in_population = _one(
            warehouse,
            f"select count(*) from {spec.scores_table} as scores join {spec.feature_table} as features "
            f"on features.{spec.entity_key} = scores.{spec.entity_key} "
            f"and features.{spec.as_of_column} = scores.feature_as_of_date "
            f"where scores.as_of_date = %s and ({spec.population()})",
            (as_of,),
        )
        assert in_population > 0
        assert _by(results, "current_rows", as_of)["score"] == in_population, "the current side is the population"


def test_credit_drift_is_measured_on_the_training_population(warehouse, monitored, past_scores):
    """The population filter mirrors train_seller_default's: same sellers at a month whose window closed."""
    as_of = past_scores["credit_risk"][0]
    in_population = _one(
        warehouse,
        f"select count(*) from features.feat_seller_monthly where as_of_date = %s and ({CREDIT.population()})",
        (as_of,),
    )
    trained_on = _one(warehouse, "select count(*) from features.train_seller_default where as_of_date = %s", (as_of,))
    assert in_population == trained_on > 0


def test_the_reference_is_the_versions_training_window_sampled_the_same_every_run(warehouse, monitored, monkeypatch):
    from mlflow import MlflowClient

    from ml.monitoring import versions
    from ml.monitoring.versions import load_version, reference_rows

    version = load_version(PROPENSITY, monitored["purchase_propensity"][0].version)
    params = MlflowClient().get_run(version.run_id).data.params
    window = (str(version.train_as_of_from), str(version.train_as_of_to))
    assert window == (params["train_as_of_from"], params["train_as_of_to"])
    in_window = _one(
        warehouse, "select count(*) from features.train_customer_purchase where as_of_date between %s and %s", window
    )
    assert reference_rows(PROPENSITY, version).num_rows == in_window  # under REFERENCE_MAX_ROWS: every row
    monkeypatch.setattr(versions, "REFERENCE_MAX_ROWS", in_window // 5 + 1)  # every fifth row, by hash
    sample = reference_rows(PROPENSITY, version)
    assert in_window / 6 < sample.num_rows < in_window / 4
    dates = sample.column("as_of_date").to_numpy(zero_copy_only=False)
    assert dates.min() >= np.datetime64(window[0]) and dates.max() <= np.datetime64(window[1])
    keys = [("customer_id", "ascending"), ("as_of_date", "ascending")]
    assert reference_rows(PROPENSITY, version).sort_by(keys).equals(sample.sort_by(keys))


@pytest.mark.parametrize("spec", [PROPENSITY, CREDIT], ids=lambda s: s.name)
def test_realised_performance_of_past_scores_against_what_happened(warehouse, monitored, past_scores, spec):
    """Recomputed here from the published scores joined to the training table's label, with scikit-learn."""
    from sklearn.metrics import roc_auc_score

    from ml.evaluation import expected_calibration_error

    as_of = past_scores[spec.name][0]
    realised = {r.metric: r.value for r in monitored[spec.name] if r.as_of_date == as_of}
    joined = _rows(
        warehouse,
        f"select scores.score, training.label from {spec.scores_table} as scores "
        f"join {spec.training_table} as training on training.{spec.entity_key} = scores.{spec.entity_key} "
        "and training.as_of_date = scores.feature_as_of_date where scores.as_of_date = %s "
        f"order by scores.{spec.entity_key}",
        (as_of,),
    )
    scores, labels = (np.array(column, dtype=float) for column in zip(*joined, strict=True))
    assert realised["labelled_rows"] == len(labels) > 0
    assert realised["observed_rate"] == pytest.approx(labels.mean())
    assert realised["mean_score"] == pytest.approx(scores.mean())
    assert realised["ece"] == pytest.approx(expected_calibration_error(labels, scores))
    assert 0 < labels.sum() < len(labels), f"{spec.name}: one class only as of {as_of}"
    assert realised["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    if spec is PROPENSITY:
        assert realised["roc_auc"] > 0.7, "the propensity champion should rank what really happened"
    # Scores whose outcome is not known yet get no realised performance.
    assert not [r for r in monitored[spec.name] if r.metric == "roc_auc" and r.as_of_date > as_of]


def test_results_are_in_the_table_and_on_the_versions_mlflow_run(warehouse, monitored):
    from mlflow import MlflowClient

    from ml.monitoring.store import as_of_step, metric_key
    from ml.monitoring.versions import load_version

    client = MlflowClient()
    for model, results in monitored.items():
        stored = {
            (as_of, metric, feature): value
            for as_of, metric, feature, value in _rows(
                warehouse,
                "select as_of_date, metric, feature, value from monitoring.model_monitoring where model = %s",
                (model,),
            )
        }
        for r in results:
            assert stored[(r.as_of_date, r.metric, r.feature)] == pytest.approx(r.value)
        version = load_version(get_spec(model), results[0].version)
        for r in results[:3]:
            history = client.get_metric_history(version.run_id, metric_key(r))
            assert (as_of_step(r.as_of_date), pytest.approx(r.value)) in [(m.step, m.value) for m in history]
        assert version.model_id, f"{model} v{version.version}: no MLflow logged model found for the version"
        logged = {m.key for m in client.get_logged_model(version.model_id).metrics or []}
        assert metric_key(results[0]) in logged


def test_a_rerun_replaces_the_days_results(warehouse, monitored, pipeline):
    from ml.monitoring.run import monitor

    before = _one(warehouse, "select count(*) from monitoring.model_monitoring where model = 'purchase_propensity'")
    again = monitor(PROPENSITY, pipeline, threshold=math.inf)
    after = _one(warehouse, "select count(*) from monitoring.model_monitoring where model = 'purchase_propensity'")
    assert before == after
    first = {(r.as_of_date, r.metric, r.feature): r.value for r in monitored["purchase_propensity"]}
    assert all(first[(r.as_of_date, r.metric, r.feature)] == pytest.approx(r.value) for r in again)


def test_drift_above_the_threshold_fails_after_recording(warehouse, monitored, pipeline):
    from ml.monitoring.results import DriftDetected
    from ml.monitoring.run import monitor

    day = pipeline[-1]
    as_of = day + dt.timedelta(days=1)
    warehouse.execute(
        "delete from monitoring.model_monitoring where model = 'credit_risk' and as_of_date = %s", (as_of,)
    )
    warehouse.commit()
    with pytest.raises(DriftDetected) as raised:
        monitor(CREDIT, [day], threshold=0.0)
    assert "credit_risk v" in str(raised.value) and f"as of {as_of}: score PSI" in str(raised.value)
    recorded = _rows(
        warehouse,
        "select metric, feature from monitoring.model_monitoring where model = 'credit_risk' and as_of_date = %s",
        (as_of,),
    )
    expected = {(r.metric, r.feature) for r in monitored["credit_risk"] if r.as_of_date == as_of}
    assert set(recorded) == expected, "the failing run recorded every drift value of the day first"


def test_the_monitor_dag_fails_exactly_when_drift_exceeds_the_setting(dags, pipeline, monitored, settings):
    day = pipeline[-1]
    as_of = day + dt.timedelta(days=1)
    run = dags["monitor"].test(
        logical_date=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), run_conf={"day": day.isoformat()}
    )
    states = {(ti.task_id, ti.map_index): str(ti.state) for ti in run.get_task_instances()}
    for index, spec in enumerate([PROPENSITY, CREDIT]):
        psi = _by(monitored[spec.name], "psi", as_of)
        alerting = max(value for feature, value in psi.items() if feature not in spec.expected_drift)
        expected = "failed" if alerting > settings.drift_psi_threshold else "success"
        assert states[("check", index)] == expected, f"{spec.name}: max PSI {alerting:.3f}"
    assert states[("publish", -1)] == "success"  # the watermark moves on: the same drift is not reported twice


def test_monitoring_without_scores_skips_with_the_reason(pipeline):
    import dataclasses

    from ml.monitoring.run import NothingToMonitor, monitor

    never_scored = dataclasses.replace(PROPENSITY, name="never_scored", scores_table="scores.never_scored")
    with pytest.raises(NothingToMonitor, match="scores.never_scored does not exist yet"):
        monitor(never_scored, pipeline)
    with pytest.raises(NothingToMonitor, match="no scores as of 2020-01-02"):
        monitor(PROPENSITY, [dt.date(2020, 1, 1)])
