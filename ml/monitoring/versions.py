"""A registered model version as monitoring needs it: its model, training window, top features and reference rows.

The reference of drift is the version's own training rows (the train window logged on its MLflow run).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pyarrow as pa

from ecomflow.core.warehouse import connect, copy_out
from ml.packaging import TrainedModel, load_registered
from ml.spec import ModelSpec

TOP_FEATURES = 5
REFERENCE_MAX_ROWS = 250_000
"""Training rows read for the reference at most (a deterministic sample beyond): PSI needs shares, not all rows."""


@dataclass(frozen=True)
class MonitoredVersion:
    """A registered model version with what monitoring needs from MLflow."""

    name: str
    version: str
    run_id: str
    model_id: str | None
    model: TrainedModel
    train_as_of_from: dt.date
    train_as_of_to: dt.date
    top_features: list[str]


def load_version(spec: ModelSpec, version: str) -> MonitoredVersion:
    """The registered ``version`` of ``spec``: its model, training window (run params) and top features."""
    from mlflow import MlflowClient

    client = MlflowClient()
    model_version = client.get_model_version(spec.name, version)
    run = client.get_run(model_version.run_id)
    params = run.data.params
    missing = [p for p in ("train_as_of_from", "train_as_of_to") if p not in params]
    if missing:
        raise ValueError(
            f"{spec.name} v{version}: run {model_version.run_id} has no param(s) {', '.join(missing)}; "
            "monitoring needs the training window the trainer logs"
        )
    model, _ = load_registered(f"models:/{spec.name}/{version}")
    importance = model.booster.get_score(importance_type="total_gain")
    top = sorted(importance, key=lambda name: (-importance[name], name))[:TOP_FEATURES]
    return MonitoredVersion(
        name=spec.name,
        version=str(version),
        run_id=model_version.run_id,
        model_id=_logged_model_id(model_version, run),
        model=model,
        train_as_of_from=dt.date.fromisoformat(params["train_as_of_from"][:10]),
        train_as_of_to=dt.date.fromisoformat(params["train_as_of_to"][:10]),
        top_features=top,
    )


def _logged_model_id(model_version, run) -> str | None:  # noqa: ANN001 - MLflow's ModelVersion and Run
    """The MLflow 3 logged model behind a registered version (the REST client may leave ``model_id`` empty)."""
    if getattr(model_version, "model_id", None):
        return model_version.model_id
    outputs = [output.model_id for output in (run.outputs.model_outputs if run.outputs else [])]
    source = str(model_version.source).removeprefix("models:/")
    if source in outputs:
        return source
    return outputs[0] if len(outputs) == 1 else None


def reference_rows(spec: ModelSpec, monitored: MonitoredVersion) -> pa.Table:
    """The version's training rows (train window of its training table), sampled to ``REFERENCE_MAX_ROWS``."""
    window = {"first": monitored.train_as_of_from, "last": monitored.train_as_of_to}
    where = f"where {spec.as_of_column} between %(first)s and %(last)s"
    with connect() as conn:
        rows = conn.execute(f"select count(*) from {spec.training_table} {where}", window).fetchone()[0]
        if rows == 0:
            raise ValueError(
                f"{spec.name} v{monitored.version}: {spec.training_table} has no rows in its training window "
                f"{monitored.train_as_of_from}..{monitored.train_as_of_to}"
            )
        every = math.ceil(rows / REFERENCE_MAX_ROWS)
        if every > 1:  # the same rows on every run: a hash of entity and date, not a random sample
            where += f" and abs(hashtext({spec.entity_key} || {spec.as_of_column}::text)::bigint) %% {every} = 0"
        return copy_out(conn, f"select * from {spec.training_table} {where}", window)


class Versions:
    """Registered versions of one model and their reference rows, loaded once per monitoring run."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._loaded: dict[str, tuple[MonitoredVersion, pa.Table | None]] = {}

    def get(self, version: str) -> MonitoredVersion:
        """The version, loaded from MLflow on first use."""
        if version not in self._loaded:
            self._loaded[version] = (load_version(self.spec, version), None)
        return self._loaded[version][0]

    def reference(self, version: str) -> pa.Table:
        """The version's reference rows, read on first use."""
        monitored, rows = self.get(version), self._loaded[version][1]
        if rows is None:
            rows = reference_rows(self.spec, monitored)
            self._loaded[version] = (monitored, rows)
        return rows
