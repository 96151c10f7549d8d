"""The time split of ``ml.dataset``: every as-of date in one part, train before validation before test, a label
window apart, on dates and entities made up here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ml.dataset import NotEnoughData, entity_buckets, time_split
from ml.models.credit_risk import SPEC as CREDIT
from ml.models.propensity import SPEC as PROPENSITY

GAP = 14


def _daily(days: int, entities: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``entities`` rows per as-of date for ``days`` consecutive dates, and their entity ids."""
    start = np.datetime64("2026-01-01")
    as_of = np.repeat(start + np.arange(days), entities)
    ids = np.tile(np.array([f"c{i:04d}" for i in range(entities)], dtype=object), days)
    return as_of, ids


def _parts(split, as_of: np.ndarray) -> dict[str, np.ndarray]:
    return {part: np.unique(as_of[split.mask(part)]) for part in ("train", "validation", "test")}


def test_a_time_split_puts_each_as_of_date_in_one_part_in_order_a_label_window_apart():
    spec = dataclasses.replace(PROPENSITY, split_gap_days=GAP, validation_fraction=0.15, test_fraction=0.15)
    as_of, _ = _daily(200)
    split = time_split(as_of, spec)
    parts = _parts(split, as_of)
    assert all(len(dates) for dates in parts.values())
    every = np.concatenate(list(parts.values()))
    assert len(every) == len(np.unique(every)), "an as-of date lies in two parts"
    gap = np.timedelta64(GAP, "D")
    assert parts["validation"].min() - parts["train"].max() > gap
    assert parts["test"].min() - parts["validation"].max() > gap
    assert len(parts["test"]) == round(200 * 0.15) and len(parts["validation"]) == round(200 * 0.15)
    assert parts["test"].max() == as_of.max(), "test is the latest window"
    assert not (split.train & split.validation).any() and not (split.validation & split.test).any()


def test_an_entity_split_holds_sellers_out_of_the_training_months_and_tests_later():
    spec = dataclasses.replace(CREDIT, split_gap_days=GAP)
    as_of, ids = _daily(120, entities=200)
    split = time_split(as_of, spec, ids)
    parts = _parts(split, as_of)
    gap = np.timedelta64(GAP, "D")
    assert parts["test"].min() - max(parts["train"].max(), parts["validation"].max()) > gap
    assert not set(ids[split.train]) & set(ids[split.validation]), "a held-out entity is also trained on"
    held_out = len(set(ids[split.validation])) / 200
    assert abs(held_out - spec.validation_fraction) < 0.1
    assert not (split.train & split.validation).any() and not (split.train & split.test).any()


def test_too_few_as_of_dates_for_two_gaps_is_not_enough_data():
    spec = dataclasses.replace(PROPENSITY, split_gap_days=GAP)
    as_of, _ = _daily(20)
    with pytest.raises(NotEnoughData, match=r"purchase_propensity: 20 as-of date\(s\) .* 14 days apart; load more"):
        time_split(as_of, spec)


def test_an_entity_split_needs_the_entities():
    as_of, _ = _daily(120)
    with pytest.raises(ValueError, match="needs the entity ids"):
        time_split(as_of, CREDIT)


def test_entity_buckets_are_stable_and_spread():
    ids = np.array([f"s{i:05d}" for i in range(5_000)], dtype=object)
    buckets = entity_buckets(ids)
    assert ((buckets >= 0) & (buckets < 1)).all()
    assert entity_buckets(ids[::-1]).tolist() == buckets[::-1].tolist(), "a bucket depends on the id alone"
    assert abs((buckets < 0.2).mean() - 0.2) < 0.03
