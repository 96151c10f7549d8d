"""What one model is: where its data lives, its label, its windows, its constraints, its bands and its metric."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class Bands:
    """How a model's scores are banded for the business, and which bands get exact reason codes.

    ``rule`` maps the day's scores to a band each (it sees all of them: a decile is relative to the day);
    ``exact`` maps the bands to the rows that get exact reasons, the others getting
    ``settings.reason_codes_rest``; without it every row gets exact reasons.
    """

    column: str
    sql_type: str
    rule: Callable[[np.ndarray], np.ndarray]
    exact: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """Everything that distinguishes one model from another; the trainer and scorer are generic.

    ``split_gap_days`` is the label window: train, validation and test as-of dates lie that far apart, so no
    outcome counted in one set happens inside the next. ``balance_classes`` up-weights the rare class in
    training by negatives/positives (the log-odds are prior-corrected back to probabilities); on credit risk it
    cost both ROC AUC and calibration, so rare classes are handled with XGBoost's ``max_delta_step`` (its
    documented remedy for imbalanced logistic regression) in the spec's params.
    ``validation_by`` is ``time`` or ``entity`` (see ``ml.dataset.time_split``). The promotion gate moves
    ``@champion`` only if the challenger's ``primary_metric`` on the latest test window beats the champion's
    on the same rows by ``promotion_margin`` and its expected calibration error is at most
    ``calibration_tolerance`` worse. ``rule_baseline`` is a business rule (name, score function of the model
    frame) logged beside the logistic-regression baseline. ``population`` is the SQL predicate on feature rows
    selecting who the model learns from (monitoring measures drift on it); ``label_known_from`` maps an as-of
    date to the first data day its label is known (the last day of its label window). ``expected_drift`` names
    features that drift by construction (a tenure grows every day, so it always departs from the training
    window): monitoring records their PSI but does not fail on it. ``bands`` is the band column of the scores
    table, its rule and which bands get exact reasons.
    """

    name: str
    description: str
    training_table: str
    feature_table: str
    scores_table: str
    entity_key: str
    sources: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    monotone: dict[str, int] = field(default_factory=dict)
    primary_metric: str = "roc_auc"
    as_of_column: str = "as_of_date"
    label: str = "label"
    split_gap_days: int = 0
    validation_by: str = "time"
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    params: dict[str, object] = field(default_factory=dict)
    balance_classes: bool = False
    promotion_margin: float = 0.0
    calibration_tolerance: float = 0.0
    rule_baseline: tuple[str, Callable[[pd.DataFrame], np.ndarray]] | None = None
    population: Callable[[], str] = lambda: "true"
    label_known_from: Callable[[dt.date], dt.date] | None = None
    expected_drift: tuple[str, ...] = ()
    bands: Bands = field(kw_only=True)

    @property
    def experiment(self) -> str:
        """MLflow experiment of the model (one per model)."""
        return f"ecomflow/{self.name}"
