"""What a training run logs to MLflow besides params and metrics: dataset, figures and the model itself."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.data.dataset_source import DatasetSource

from ml import plots
from ml.dataset import PARTS, PreparedData
from ml.packaging import BOOSTER_ARTIFACT, PyfuncModel, TrainedModel
from ml.spec import ModelSpec

SHAP_SAMPLE_ROWS = 2_000
INPUT_EXAMPLE_ROWS = 5


class WarehouseTableSource(DatasetSource):
    """A warehouse table (``schema.table``) read at training time, with the as-of range that was read."""

    def __init__(self, table: str, as_of_from: str, as_of_to: str) -> None:
        self.table, self.as_of_from, self.as_of_to = table, as_of_from, as_of_to

    @staticmethod
    def _get_source_type() -> str:
        return "warehouse_table"

    def load(self) -> str:
        """The query that reads the same rows again (the table may have grown since)."""
        return f"select * from {self.table} where as_of_date between '{self.as_of_from}' and '{self.as_of_to}'"

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> WarehouseTableSource:
        raise NotImplementedError("warehouse table sources are built explicitly")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form stored with the run."""
        return {"table": self.table, "as_of_from": self.as_of_from, "as_of_to": self.as_of_to}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> WarehouseTableSource:
        """Inverse of :meth:`to_dict`."""
        return cls(source_dict["table"], source_dict["as_of_from"], source_dict["as_of_to"])


def log_dataset(spec: ModelSpec, prepared: PreparedData) -> None:
    """Log the training table with ``mlflow.data`` (schema, digest, profile) once per split, with its as-of range."""
    import mlflow

    frame = prepared.data.to_pandas()
    for part in ("train", *PARTS):
        first, last = prepared.as_of_range(part)
        dataset = mlflow.data.from_pandas(
            frame[prepared.split.mask(part)],
            source=WarehouseTableSource(spec.training_table, first, last),
            targets=spec.label,
            name=f"{spec.training_table}[{first}..{last}]",
        )
        mlflow.log_input(dataset, context=part, tags={"as_of_from": first, "as_of_to": last})


def log_figures(spec: ModelSpec, model: TrainedModel, prepared: PreparedData, scores: dict[str, np.ndarray]) -> None:
    """ROC, PR, calibration and lift on validation and test, feature importance and a SHAP summary on test."""
    import matplotlib.pyplot as plt
    import mlflow

    for part in PARTS:
        mask = prepared.split.mask(part)
        labels = prepared.labels[mask]
        curves = {name: values[mask] for name, values in scores.items()}
        first, last = prepared.as_of_range(part)
        window = f"{spec.name} — {part} {first}..{last}"
        figures = {
            "roc": plots.roc_figure(labels, curves, f"ROC: {window}"),
            "pr": plots.pr_figure(labels, curves, f"Precision–recall: {window}"),
            "calibration": plots.calibration_figure(labels, curves["xgboost"], f"Calibration: {window}"),
            "lift": plots.lift_figure(labels, curves, f"Lift by decile: {window}"),
        }
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{name}_{part}.png")
            plt.close(figure)
    importance = model.booster.get_score(importance_type="total_gain")
    mlflow.log_dict(dict(sorted(importance.items(), key=lambda item: -item[1])), "feature_importance.json")
    figure = plots.importance_figure(importance, f"{spec.name}: feature importance")
    mlflow.log_figure(figure, "plots/feature_importance.png")
    plt.close(figure)
    test_rows = np.flatnonzero(prepared.split.test)
    sample = np.random.default_rng(0).choice(test_rows, min(SHAP_SAMPLE_ROWS, len(test_rows)), replace=False)
    frame = prepared.frame.iloc[np.sort(sample)]
    values = frame.apply(lambda column: column.cat.codes.replace(-1, np.nan) if column.dtype == "category" else column)
    figure = plots.shap_summary_figure(
        model.contributions(frame), values.to_numpy(dtype=float), prepared.features, f"{spec.name}: SHAP summary (test)"
    )
    mlflow.log_figure(figure, "plots/shap_summary.png")
    plt.close(figure)


def log_model(spec: ModelSpec, model: TrainedModel, prepared: PreparedData) -> str:
    """Log the model as a pyfunc with signature and input example, register it; returns the new version."""
    import mlflow
    from mlflow.models import infer_signature

    rows = model.frame(prepared.data.slice(0, INPUT_EXAMPLE_ROWS))
    example = model.signature_frame(rows)
    signature = infer_signature(example, model.predict(rows))
    with tempfile.TemporaryDirectory() as directory:
        booster_path = model.save_booster(Path(directory))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=PyfuncModel(),
            artifacts={BOOSTER_ARTIFACT: str(booster_path)},
            model_config=model.config,
            signature=signature,
            input_example=example,
            registered_model_name=spec.name,
            pip_requirements=_requirements(),
        )
    return str(info.registered_model_version)


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "xgboost", "pandas", "numpy", "pyarrow")]
