"""Purchase propensity: will a customer place an order in the next N days (default 14)?"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ecomflow.core.settings import get_settings
from ml.spec import Bands, ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def rfm_score(frame: pd.DataFrame) -> np.ndarray:
    """The marketer's RFM score: mean percentile rank of recency, frequency and monetary value (90 days).

    A customer who never ordered has no recency and ranks last on it.
    """
    from ml.baselines import percentile_rank  # pandas: kept out of the model registry, which DAG files import

    recency = percentile_rank(-frame["days_since_last_order"].to_numpy(dtype=float))
    frequency = percentile_rank(frame["orders_90d"].to_numpy(dtype=float))
    monetary = percentile_rank(frame["revenue_90d"].to_numpy(dtype=float))
    return (recency + frequency + monetary) / 3


def deciles(scores: np.ndarray) -> np.ndarray:
    """Propensity decile of each score: 1 = the tenth most likely to buy.

    A score's decile is ``rank * 10 // n + 1``, ``rank`` being how many scores are strictly higher, so equal
    scores share a decile (the one of their best rank) and the result does not depend on the order the rows
    were read in; deciles are equal-sized up to ties. Computed in linear time from the nine cut scores: the
    decile is at most k exactly when the score reaches the ``ceil(k * n / 10)``-th highest.
    """
    import numpy as np  # kept out of the model registry's import, which DAG files import

    n = len(scores)
    if n == 0:
        return np.empty(0, np.int16)
    highest = -(-np.arange(1, 10) * n // 10)  # ceil(k * n / 10) for k = 1..9
    positions = n - highest  # of those scores in ascending order
    cuts = np.partition(scores, positions)[positions][::-1]  # ascending
    return (10 - np.searchsorted(cuts, scores, side="right")).astype(np.int16)


def exact_reasons(bands: np.ndarray) -> np.ndarray:
    """The customers the audiences act on get exact reasons: deciles up to ``reason_codes_exact_deciles``."""
    return bands <= get_settings().reason_codes_exact_deciles


def purchase_known_from(as_of: dt.date) -> dt.date:
    """The last day of the purchase window (``propensity_window_days`` from ``as_of``, ``as_of`` included)."""
    return as_of + dt.timedelta(days=get_settings().propensity_window_days - 1)


SPEC = ModelSpec(
    name="purchase_propensity",
    description="Probability that a customer places an order within the label window after the as-of date.",
    training_table="features.train_customer_purchase",
    feature_table="features.feat_customer_daily",
    scores_table="scores.customer_purchase_propensity",
    entity_key="customer_id",
    # The minimum a user must load: customers and what they ordered (sessions and events enrich it if present).
    sources=("customers", "orders", "order_items"),
    categorical=("signup_channel", "region", "age_band"),
    primary_metric="roc_auc",
    split_gap_days=get_settings().propensity_window_days,
    params={"max_depth": 5, "eta": 0.08, "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 0.8},
    promotion_margin=0.002,
    calibration_tolerance=0.005,
    rule_baseline=("rfm", rfm_score),
    label_known_from=purchase_known_from,
    expected_drift=("days_since_signup",),  # grows with every day on the platform
    bands=Bands(column="decile", sql_type="smallint", rule=deciles, exact=exact_reasons),
)
