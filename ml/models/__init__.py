"""One small spec per model: where its data lives, its label, its constraints and its primary metric."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    """Everything that distinguishes one model from another; the trainer and scorer are generic."""

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
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    params: dict[str, object] = field(default_factory=dict)
    promotion_margin: float = 0.0

    @property
    def experiment(self) -> str:
        """MLflow experiment of the model (one per model)."""
        return f"ecomflow/{self.name}"


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name`` (``purchase_propensity`` or ``credit_risk``)."""
    from ml.models.credit_risk import SPEC as CREDIT
    from ml.models.propensity import SPEC as PROPENSITY

    specs = {PROPENSITY.name: PROPENSITY, CREDIT.name: CREDIT}
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(specs)}")
    return specs[name]


MODEL_NAMES = ("purchase_propensity", "credit_risk")
