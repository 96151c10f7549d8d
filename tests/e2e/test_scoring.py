"""Scoring with the champion and publishing a day atomically, on the pipeline's real warehouse and registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ecomflow.core.warehouse import connect, copy_out
from ml.models.credit_risk import SPEC as CREDIT
from ml.models.propensity import SPEC as PROPENSITY
from ml.scoring import SignatureMismatch, load_champion, publish, score, validate_input

IDENTITY = ["model_name", "model_version", "run_id", "scored_at"]


class InjectedFailure(RuntimeError):
    pass


def _day(spec, as_of: dt.date) -> pa.Table:
    with connect() as conn:
        rows = copy_out(conn, f"select * from {spec.scores_table} where as_of_date = %s", (as_of,))
    return rows.sort_by(spec.entity_key)


@pytest.fixture(scope="module")
def as_of(pipeline) -> dt.date:
    return pipeline[-1] + dt.timedelta(days=1)


def test_every_customer_gets_a_decile_and_reasons_by_the_documented_policy(pipeline, as_of):
    scores = _day(PROPENSITY, as_of)
    deciles = scores.column("decile").to_numpy()
    assert set(deciles) == set(range(1, 11))
    methods = scores.column("reason_method").to_numpy(zero_copy_only=False)
    assert set(methods[deciles <= 3]) == {"exact"} and set(methods[deciles > 3]) == {"approximate"}
    top = scores.filter(pc.equal(scores.column("decile"), 1))
    assert pc.all(pc.is_valid(top.column("reason_1"))).as_py(), "every top-decile customer has a first reason"
    assert pc.all(pc.greater(top.column("reason_1_contribution"), 0)).as_py()
    first, second = top.column("reason_1_contribution"), top.column("reason_2_contribution")
    assert pc.all(pc.greater_equal(pc.fill_null(first, 0), pc.fill_null(second, 0))).as_py()


def test_every_seller_gets_exact_reasons_and_a_grade(pipeline, as_of):
    from ml.models.credit_risk import risk_grades

    scores = _day(CREDIT, as_of)
    with connect() as conn:
        sellers = conn.execute(
            f"select count(*) from {CREDIT.feature_table} where {CREDIT.as_of_column} = %s",
            (scores.column("feature_as_of_date")[0].as_py(),),
        ).fetchone()[0]
    assert scores.num_rows == sellers, "every seller of the snapshot is scored"
    assert set(scores.column("reason_method").to_pylist()) == {"exact"}
    grades = scores.column("risk_grade").to_pylist()
    assert grades == risk_grades(scores.column("score").to_numpy()).tolist() and set(grades) <= set("ABCDE")


@pytest.mark.parametrize("spec", [PROPENSITY, CREDIT], ids=["propensity", "credit"])
def test_a_day_is_scored_from_the_latest_feature_snapshot_on_or_before_it(pipeline, as_of, spec):
    later = as_of + dt.timedelta(days=40)  # no snapshot that late: the latest before it is scored
    with connect() as conn:
        snapshot = conn.execute(
            f"select max({spec.as_of_column}) from {spec.feature_table} where {spec.as_of_column} <= %s", (later,)
        ).fetchone()[0]
        entities = copy_out(
            conn, f"select {spec.entity_key} from {spec.feature_table} where {spec.as_of_column} = %s", (snapshot,)
        )
    scores, _ = score(spec, later)
    assert set(scores.column("feature_as_of_date").to_pylist()) == {snapshot}
    assert set(scores.column("as_of_date").to_pylist()) == {later}
    assert sorted(scores.column(spec.entity_key).to_pylist()) == sorted(entities.column(0).to_pylist())


def test_rescoring_a_day_publishes_the_same_rows(pipeline, as_of):
    before = _day(PROPENSITY, as_of)
    rescored, _ = score(PROPENSITY, as_of)
    publish(PROPENSITY, as_of, rescored)
    after = _day(PROPENSITY, as_of)
    assert after.drop_columns(["scored_at"]).equals(before.drop_columns(["scored_at"]))


def test_a_failure_between_delete_and_insert_keeps_the_previous_scores(pipeline, as_of):
    before = _day(PROPENSITY, as_of)
    rescored, _ = score(PROPENSITY, as_of)

    def fail() -> None:  # the day's partition is dropped, the new one not attached yet
        with connect() as reader:  # another session cannot see the day missing: it waits for the swap
            reader.execute("set lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                reader.execute(f"select count(*) from {PROPENSITY.scores_table} where as_of_date = %s", (as_of,))
        raise InjectedFailure("between delete and insert")

    with pytest.raises(InjectedFailure):
        publish(PROPENSITY, as_of, rescored, before_attach=fail)
    assert _day(PROPENSITY, as_of).equals(before)


def test_two_publishes_of_one_day_serialise(pipeline, as_of):
    first, _ = score(PROPENSITY, as_of)
    second = first.set_column(
        first.schema.get_field_index("model_version"), "model_version", pa.repeat(pa.scalar("second"), first.num_rows)
    )
    first_deleted, second_done, errors = threading.Event(), threading.Event(), []

    def hold() -> None:
        first_deleted.set()
        # The second publish must wait for this one's lock rather than interleave with it.
        assert not second_done.wait(timeout=1.5), "the second publish ran inside the first one's transaction"

    def run(table: pa.Table, hook=None) -> None:
        try:
            publish(PROPENSITY, as_of, table, before_attach=hook)
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    one = threading.Thread(target=run, args=(first, hold))
    one.start()
    assert first_deleted.wait(timeout=30)
    two = threading.Thread(target=lambda: (run(second), second_done.set()))
    two.start()
    one.join(timeout=60)
    two.join(timeout=60)
    assert not errors, errors
    published = _day(PROPENSITY, as_of)
    assert published.num_rows == first.num_rows
    assert set(published.column("model_version").to_pylist()) == {"second"}
    publish(PROPENSITY, as_of, first)  # leave the day as the pipeline published it


@pytest.mark.parametrize("spec", [PROPENSITY, CREDIT], ids=["propensity", "credit"])
def test_scores_are_what_the_registered_model_predicts_on_the_feature_rows_nulls_included(pipeline, as_of, spec):
    """Scoring reads numbers as float32 with NaN for null: the same input as the rows as they are stored."""
    import mlflow
    import numpy as np

    from ml.features import read_features_as_of

    stored = read_features_as_of(spec, as_of).to_pandas()
    assert stored.isna().any().any(), "the feature rows hold nulls, or this would not test how they are read"
    expected = mlflow.pyfunc.load_model(f"models:/{spec.name}@champion").predict(stored)
    scores, _ = score(spec, as_of)
    scored = dict(zip(scores.column(spec.entity_key).to_pylist(), scores.column("score").to_pylist(), strict=True))
    np.testing.assert_allclose([scored[entity] for entity in stored[spec.entity_key]], expected, rtol=1e-6)


def test_input_that_does_not_match_the_signature_is_refused_by_name(pipeline, as_of):
    from ml.features import read_features_as_of

    champion = load_champion(PROPENSITY)
    data = read_features_as_of(PROPENSITY, as_of)
    with pytest.raises(SignatureMismatch, match=r"missing column 'orders_30d'"):
        validate_input(data.drop_columns(["orders_30d"]), champion.input_schema, "features")
    wrong = data.set_column(data.schema.get_field_index("region"), "region", pa.array(range(data.num_rows), pa.int64()))
    with pytest.raises(SignatureMismatch, match=r"column 'region' is int64, expected string"):
        validate_input(wrong, champion.input_schema, "features")


def test_a_feature_table_with_a_column_of_the_wrong_type_is_refused_before_anything_is_written(pipeline, as_of):
    wrong = dataclasses.replace(PROPENSITY, feature_table="scratch.features_with_text_orders")
    with connect() as conn:
        conn.execute("create schema if not exists scratch")
        conn.execute(f"drop table if exists {wrong.feature_table}")
        conn.execute(f"create table {wrong.feature_table} as select * from {PROPENSITY.feature_table}")
        conn.execute(f"alter table {wrong.feature_table} alter column orders_30d type text")
        conn.commit()
    before = _day(PROPENSITY, as_of)

    with pytest.raises(SignatureMismatch, match=r"column 'orders_30d' is string, expected double"):
        score(wrong, as_of)
    assert _day(PROPENSITY, as_of).equals(before)


def test_a_third_model_is_scored_by_name_with_no_change_to_the_scorer(pipeline, as_of):
    """A throwaway spec registered beside the two: its own name, scores table, band column and rule.

    Its champion is the propensity champion's model registered under its name, so its scores must be
    propensity's, banded and reasoned by its own rule, in its own table, through the scoring task by name.
    """
    import numpy as np
    from mlflow import MlflowClient

    from ecomflow.orchestration import score as score_task
    from ml.models import registered
    from ml.spec import Bands

    def quintiles(scores):
        return (5 - np.searchsorted(np.quantile(scores, [0.2, 0.4, 0.6, 0.8]), scores, side="right")).astype(np.int16)

    spec = dataclasses.replace(
        PROPENSITY,
        name="third_model_test",
        scores_table="scores.third_model_test",
        bands=Bands(column="quintile", sql_type="smallint", rule=quintiles, exact=lambda bands: bands == 1),
    )
    client = MlflowClient()
    if client.search_registered_models(f"name = '{spec.name}'"):
        client.delete_registered_model(spec.name)  # a rerun against a kept server starts over
    champion = client.get_model_version_by_alias(PROPENSITY.name, "champion")
    client.create_registered_model(spec.name)
    # The logged model behind the version: its source is ``models:/<model id>`` (the REST client may leave
    # ``model_id`` empty, and the server then checks the source against the run instead).
    model_id = champion.model_id or champion.source.removeprefix("models:/")
    copy = client.create_model_version(spec.name, champion.source, run_id=champion.run_id, model_id=model_id)
    client.set_registered_model_alias(spec.name, "champion", copy.version)
    try:
        with registered(spec):
            results = score_task(spec.name, [as_of - dt.timedelta(days=1)])
        third, propensity = _day(spec, as_of), _day(PROPENSITY, as_of)
        published = {"as_of": as_of.isoformat(), "rows": propensity.num_rows, "version": copy.version}
        assert results == [published | {"run_id": champion.run_id}]
        assert third.column(spec.entity_key).equals(propensity.column(spec.entity_key))
        assert third.column("score").equals(propensity.column("score")), "the same model scores the same"
        with connect() as conn:
            band_type = conn.execute(
                "select data_type from information_schema.columns where table_schema || '.' || table_name = %s "
                "and column_name = 'quintile'",
                (spec.scores_table,),
            ).fetchone()
        assert band_type == ("smallint",) and "decile" not in third.column_names
        bands = third.column("quintile").to_numpy()
        # The scorer bands the model's float32 probabilities; stored as double, they convert back exactly.
        np.testing.assert_array_equal(bands, quintiles(third.column("score").to_numpy().astype(np.float32)))
        assert set(bands) == {1, 2, 3, 4, 5}
        methods = third.column("reason_method").to_numpy(zero_copy_only=False)
        assert set(methods[bands == 1]) == {"exact"} and set(methods[bands > 1]) == {"approximate"}
        assert set(third.column("model_name").to_pylist()) == {spec.name}
    finally:
        with connect() as conn:
            conn.execute(f"drop table if exists {spec.scores_table}")
            conn.commit()
        client.delete_registered_model(spec.name)


def test_publishing_with_no_champion_skips(pipeline, as_of):
    from ml.scoring import NoChampion

    with pytest.raises(NoChampion, match="no @champion"):
        score(dataclasses.replace(PROPENSITY, name="never_trained"), as_of)
