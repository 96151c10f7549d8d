"""The training set of a model, shaped for fitting and split by time.

:func:`prepare` checks a training table can support a model, builds the model frame and labels, and splits
the rows by as-of date (:func:`time_split`) so no outcome of one part falls inside the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ml.features import feature_names
from ml.packaging import TrainedModel
from ml.spec import ModelSpec

PARTS = ("validation", "test")
"""The parts a model is judged on (train is what it learns from)."""


class NotEnoughData(Exception):
    """The training set cannot support a model (empty, one class, or too few as-of dates)."""


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the training rows; validation and test lie strictly later than train."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def mask(self, part: str) -> np.ndarray:
        """The mask of ``part`` (train, validation or test)."""
        return getattr(self, part)


@dataclass(frozen=True)
class PreparedData:
    """A training table shaped for fitting: model frame, labels, as-of dates and the split."""

    data: pa.Table
    features: list[str]
    frame: pd.DataFrame
    labels: np.ndarray
    as_of: np.ndarray
    split: TimeSplit

    def as_of_range(self, part: str) -> tuple[str, str]:
        """First and last as-of date of ``part``."""
        dates = self.as_of[self.split.mask(part)]
        return str(dates.min()), str(dates.max())


def time_split(as_of: np.ndarray, spec: ModelSpec, entities: np.ndarray | None = None) -> TimeSplit:
    """Split rows by as-of date: train < validation < test, ``spec.split_gap_days`` apart.

    The gap is the label window, so no training label's outcome falls into the validation period, and no
    validation label's into the test period; an entity's rows on two sides are at least a label window apart,
    so they share no outcome. With ``spec.validation_by == "entity"`` (for monthly tables too short to hold
    two gaps) validation is a fixed share of entities held out of the training period instead: it only
    stops the boosting early, and the test window stays strictly later and a label window away.
    """
    dates = np.unique(as_of)
    n_test = max(1, round(len(dates) * spec.test_fraction))
    test_start = dates[-n_test]
    gap = np.timedelta64(spec.split_gap_days, "D")
    if spec.validation_by == "entity":
        if entities is None:
            raise ValueError("an entity validation split needs the entity ids")
        before_gap = as_of < test_start - gap
        held_out = entity_buckets(entities) < spec.validation_fraction
        split = TimeSplit(before_gap & ~held_out, before_gap & held_out, as_of >= test_start)
    else:
        n_val = max(1, round(len(dates) * spec.validation_fraction))
        val_dates = dates[dates < test_start - gap][-n_val:]
        if len(val_dates) == 0:
            raise NotEnoughData(_too_short(spec, dates))
        split = TimeSplit(as_of < val_dates[0] - gap, np.isin(as_of, val_dates), as_of >= test_start)
    if not split.train.any() or not split.validation.any():
        raise NotEnoughData(_too_short(spec, dates))
    return split


def entity_buckets(entities: np.ndarray) -> np.ndarray:
    """A stable number in [0, 1) per entity id, the same in every run and on every machine."""
    return (pd.util.hash_array(np.asarray(entities, dtype=object)) % 10_000) / 10_000


def _too_short(spec: ModelSpec, dates: np.ndarray) -> str:
    return (
        f"{spec.name}: {len(dates)} as-of date(s) ({dates.min()}..{dates.max()}) cannot hold train, validation "
        f"and test {spec.split_gap_days} days apart; load more history"
    )


def _check_trainable(data: pa.Table, spec: ModelSpec) -> None:
    if data.num_rows == 0:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} has no rows with a closed label window")
    positives = pc.sum(data.column(spec.label)).as_py() or 0
    if positives == 0 or positives == data.num_rows:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} holds a single class ({positives} positives)")


def prepare(spec: ModelSpec, data: pa.Table) -> PreparedData:
    """Shape a training table for fitting and split it by time."""
    _check_trainable(data, spec)
    features = feature_names(data, spec)
    shaper = TrainedModel(booster=None, features=features, categorical=spec.categorical)
    as_of = data.column(spec.as_of_column).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    split = time_split(as_of, spec, data.column(spec.entity_key).to_numpy(zero_copy_only=False))
    labels = data.column(spec.label).to_numpy().astype(np.float32)
    for part in ("train", *PARTS):
        if len(np.unique(labels[split.mask(part)])) < 2:
            raise NotEnoughData(f"{spec.name}: the {part} window holds a single class; load more history")
    return PreparedData(data, features, shaper.frame(data), labels, as_of, split)
