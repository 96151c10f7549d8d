"""SME credit risk: will a seller with a loan reach the default threshold (90+ days past due) within 6 months?"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ecomflow.core.dates import add_months
from ecomflow.core.settings import get_settings
from ml.spec import Bands, ModelSpec

if TYPE_CHECKING:
    import numpy as np

RISK_GRADES = ("A", "B", "C", "D", "E")
RISK_GRADE_EDGES = (0.02, 0.05, 0.10, 0.20)
"""Probability of default bounds of the grades: A below 2 %, ..., E from 20 %."""


def learns_from() -> str:
    """Sellers with an active loan, not in default yet: ``train_seller_default``'s where clause (tests compare)."""
    return f"n_active_loans > 0 and max_dpd_to_date < {get_settings().credit_default_dpd}"


def risk_grades(scores: np.ndarray) -> np.ndarray:
    """Credit risk grade of each probability of default (A = safest)."""
    import numpy as np  # kept out of the model registry's import, which DAG files import

    return np.array(RISK_GRADES)[np.searchsorted(np.array(RISK_GRADE_EDGES), scores, side="right")]


def default_known_from(as_of: dt.date) -> dt.date:
    """The last day of the default window (``credit_window_months`` after ``as_of``, as SQL intervals count)."""
    return add_months(as_of, get_settings().credit_window_months) - dt.timedelta(days=1)


SPEC = ModelSpec(
    name="credit_risk",
    description="Probability that a seller's loan reaches 90+ days past due within six months of the as-of date.",
    training_table="features.train_seller_default",
    feature_table="features.feat_seller_monthly",
    scores_table="scores.seller_credit_risk",
    entity_key="seller_id",
    sources=("sellers", "orders", "order_items", "loans", "loan_schedule", "repayments"),
    categorical=("size_band", "category", "region"),
    # Directions the business knows: worse repayment history never lowers risk.
    monotone={"max_dpd_to_date": 1, "n_late_installments_6m": 1},
    primary_metric="roc_auc",
    # The label window (six months, in days): train and test outcomes never overlap.
    split_gap_days=31 * get_settings().credit_window_months,
    # Monthly snapshots cannot hold two six-month gaps in two years of history: validation (early stopping
    # only) is a fifth of the sellers held out of the training months; test is the latest months.
    validation_by="entity",
    validation_fraction=0.2,
    test_fraction=0.2,
    # Defaults are rare: max_delta_step keeps the boosting steps of the rare class
    # stable without re-weighting, so the probabilities stay calibrated (credit limits are set from them).
    params={
        "max_depth": 3,
        "eta": 0.1,
        "min_child_weight": 5,
        "max_delta_step": 1,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
    },
    promotion_margin=0.005,
    calibration_tolerance=0.01,
    population=learns_from,
    label_known_from=default_known_from,
    expected_drift=("months_on_platform",),  # grows with every day on the platform
    # Every seller gets exact reasons: credit decisions must be explainable.
    bands=Bands(column="risk_grade", sql_type="text", rule=risk_grades),
)
