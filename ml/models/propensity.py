"""Purchase propensity: will a customer place an order in the next N days (default 14)?"""

import datetime as dt

import numpy as np
import pandas as pd

from ecomflow.core.settings import get_settings
from ml.baselines import percentile_rank
from ml.spec import ModelSpec


def rfm_score(frame: pd.DataFrame) -> np.ndarray:
    """The marketer's RFM score: mean percentile rank of recency, frequency and monetary value (90 days).

    A customer who never ordered has no recency and ranks last on it.
    """
    recency = percentile_rank(-frame["days_since_last_order"].to_numpy(dtype=float))
    frequency = percentile_rank(frame["orders_90d"].to_numpy(dtype=float))
    monetary = percentile_rank(frame["revenue_90d"].to_numpy(dtype=float))
    return (recency + frequency + monetary) / 3


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
)
