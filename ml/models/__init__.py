"""The registry of models: one spec module per model, imported here and looked up by name.

Import-light on purpose (no numpy, pandas, XGBoost or MLflow at import): the DAG files import it while
Airflow parses them, to build one task per model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ml.models import credit_risk, propensity
from ml.spec import ModelSpec

_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in (propensity.SPEC, credit_risk.SPEC)}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)
"""The platform's models, in the order the DAGs list them."""


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``.

    Raises:
        KeyError: no model of that name is registered (the message lists the known ones).
    """
    if name not in _SPECS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(_SPECS)}")
    return _SPECS[name]


def all_specs() -> list[ModelSpec]:
    """Every registered spec, in registry order."""
    return list(_SPECS.values())


@contextmanager
def registered(spec: ModelSpec) -> Iterator[ModelSpec]:
    """Register ``spec`` for the duration of the block: a throwaway model goes through the generic code by name.

    For tests; the DAGs build their tasks from :data:`MODEL_NAMES` when parsed, so they do not see it.

    Raises:
        ValueError: a model of that name is registered already.
    """
    if spec.name in _SPECS:
        raise ValueError(f"model {spec.name!r} is registered already")
    _SPECS[spec.name] = spec
    try:
        yield spec
    finally:
        del _SPECS[spec.name]
