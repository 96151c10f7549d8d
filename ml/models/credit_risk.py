"""SME credit risk: will a seller with a loan reach the default threshold (90+ days past due) within 6 months?"""

from ml.models import ModelSpec

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
    # TODO(issue 5): a gap of the 6-month label window needs more history than the demo holds.
    split_gap_days=0,
    validation_fraction=0.2,
    test_fraction=0.2,
    params={"max_depth": 3, "eta": 0.05, "min_child_weight": 2, "subsample": 0.9, "colsample_bytree": 0.9},
    promotion_margin=0.005,
)
