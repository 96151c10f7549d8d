"""One monitoring value, and the drift check over a run's values."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ecomflow.core.settings import get_settings

log = logging.getLogger(__name__)

SCORE = "score"
"""The ``feature`` value of the rows about the score itself (its PSI, the realised performance)."""
DRIFT = ("psi", "reference_rows", "current_rows")
"""The drift metrics, as ``monitoring.model_monitoring`` names them."""


class DriftDetected(Exception):
    """A population stability index exceeded the threshold."""


@dataclass(frozen=True)
class Result:
    """One monitoring value."""

    model: str
    version: str
    as_of_date: dt.date
    metric: str
    feature: str
    value: float


def breaches(results: Iterable[Result], threshold: float) -> list[Result]:
    """The PSI results above ``threshold``."""
    return [r for r in results if r.metric == "psi" and r.value > threshold]


def check_drift(results: Iterable[Result], threshold: float | None = None, expected: Iterable[str] = ()) -> None:
    """Raise :class:`DriftDetected` naming model, version, day, feature and PSI of every value over the threshold.

    Features in ``expected`` (a spec's ``expected_drift``) never raise; their PSI over the threshold is logged.
    """
    threshold = get_settings().drift_psi_threshold if threshold is None else threshold
    expected = set(expected)
    found = []
    for r in breaches(results, threshold):
        if r.feature not in expected:
            found.append(r)
        else:
            log.info(
                "%s as of %s: %s PSI %.3f > %s, expected (it drifts by design)",
                r.model,
                r.as_of_date,
                r.feature,
                r.value,
                threshold,
            )
    if found:
        lines = [
            f"{r.model} v{r.version} as of {r.as_of_date}: {r.feature} PSI {r.value:.3f} > {threshold}" for r in found
        ]
        raise DriftDetected(
            f"drift above ECOMFLOW_DRIFT_PSI_THRESHOLD={threshold} in {len(found)} distribution(s) against the "
            "training window:\n" + "\n".join(lines)
        )
