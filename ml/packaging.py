"""A trained model as it travels: booster, feature list, categorical encoding and prior correction together.

Training, the promotion gate and scoring all go through :class:`TrainedModel`, so they cannot disagree on how
a warehouse row becomes model input. MLflow stores it as a pyfunc model (:class:`PyfuncModel`) whose
signature is the feature table's columns (numbers as double, categories as text), so any MLflow client can
``mlflow.pyfunc.load_model("models:/<name>@champion").predict(frame)`` on rows read from the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

BOOSTER_ARTIFACT = "booster"


@dataclass
class TrainedModel:
    """An XGBoost booster with everything needed to score warehouse rows the way it was trained.

    Attributes:
        booster: the fitted booster, cut at the best iteration.
        features: input columns in training order.
        categorical: the columns XGBoost treats as native categories (it stores their categories itself).
        margin_offset: added to the log-odds before the sigmoid. When training up-weights the rare class by w,
            this prior correction (minus log w) turns the scores back into calibrated probabilities.
    """

    booster: Any
    features: list[str]
    categorical: tuple[str, ...]
    margin_offset: float = 0.0

    def frame(self, data: pa.Table | pa.RecordBatch | pd.DataFrame) -> pd.DataFrame:
        """The model's input frame from warehouse rows: numbers as float32, categoricals as pandas categories."""
        arrow = isinstance(data, pa.Table | pa.RecordBatch)
        columns = data.column_names if arrow else list(data.columns)
        missing = [name for name in self.features if name not in columns]
        if missing:
            raise ValueError(f"input lacks feature column(s) the model needs: {', '.join(missing)}")
        if arrow:
            return pd.DataFrame({name: self._column(name, data.column(name)) for name in self.features})
        frame = data[self.features].copy()
        for name in self.features:
            if name in self.categorical:
                frame[name] = frame[name].astype("string").astype("category")
            else:
                try:
                    frame[name] = pd.to_numeric(frame[name], errors="raise").astype("float32")
                except (TypeError, ValueError) as error:
                    raise ValueError(f"feature column {name!r} must be numeric: {error}") from error
        return frame

    def _column(self, name: str, values: pa.Array | pa.ChunkedArray) -> pd.Series | np.ndarray:
        """One feature from Arrow, converted by Arrow's kernels (faster than going through pandas)."""
        if name in self.categorical:  # categories sorted, as pandas sorts them: whatever the order of the rows
            text = values if pa.types.is_string(values.type) else values.cast(pa.string())
            categories = pc.dictionary_encode(text).to_pandas()
            return categories.cat.reorder_categories(sorted(categories.cat.categories))
        try:
            return pc.cast(values, pa.float32()).to_numpy(zero_copy_only=False)  # nulls become NaN: missing
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise ValueError(f"feature column {name!r} must be numeric: {error}") from error

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated log-odds of each row."""
        return self.booster.inplace_predict(frame, predict_type="margin") + self.margin_offset

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class for each row of a :meth:`frame`."""
        return 1.0 / (1.0 + np.exp(-self.margin(frame)))

    def contributions(self, frame: pd.DataFrame, approximate: bool = False) -> np.ndarray:
        """Per-row, per-feature contributions to the log-odds (XGBoost's native SHAP; bias column dropped).

        Exact TreeSHAP (``pred_contribs``) by default; ``approximate`` uses Saabas attributions
        (``approx_contribs``), much cheaper and close in ranking for the largest reasons.
        """
        import xgboost as xgb

        matrix = xgb.DMatrix(frame, enable_categorical=True)
        return self.booster.predict(matrix, pred_contribs=True, approx_contribs=approximate)[:, :-1]

    def signature_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A :meth:`frame` as the MLflow signature shows it: numbers as double, categories as text."""
        return frame.astype({name: "string" if name in self.categorical else "float64" for name in self.features})

    @property
    def config(self) -> dict[str, Any]:
        """What the pyfunc needs besides the booster file."""
        return {
            "features": list(self.features),
            "categorical": list(self.categorical),
            "margin_offset": float(self.margin_offset),
        }

    def save_booster(self, directory: Path) -> Path:
        """Write the booster in XGBoost's portable UBJSON format (categories included)."""
        path = directory / "booster.ubj"
        self.booster.save_model(path)
        return path


def _load_booster(path: str):  # noqa: ANN202
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(path)
    return booster


try:
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a dependency; the guard keeps the module importable alone
    PythonModel = object  # type: ignore[assignment,misc]


class PyfuncModel(PythonModel):
    """MLflow's view of a :class:`TrainedModel`: ``predict`` takes signature-typed rows, returns probabilities."""

    model: TrainedModel

    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow.pyfunc.PythonModelContext
        """Rebuild the :class:`TrainedModel` from the booster artifact and the model config."""
        config = context.model_config
        self.model = TrainedModel(
            booster=_load_booster(context.artifacts[BOOSTER_ARTIFACT]),
            features=list(config["features"]),
            categorical=tuple(config["categorical"]),
            margin_offset=float(config["margin_offset"]),
        )

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:  # noqa: ANN001, ARG002
        """Probabilities for the rows of ``model_input`` (columns as in the signature)."""
        return self.model.predict(self.model.frame(model_input))


def load_registered(model_uri: str) -> tuple[TrainedModel, Any]:
    """The :class:`TrainedModel` at ``model_uri`` (e.g. ``models:/credit_risk@champion``) and its pyfunc.

    The pyfunc carries the signature, so callers can validate input against it before scoring.
    """
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(model_uri)
    return pyfunc.unwrap_python_model().model, pyfunc
