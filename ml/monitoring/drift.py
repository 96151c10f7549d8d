"""Population stability index (PSI): binning a reference and a current distribution and comparing shares.

Pure arithmetic on arrays: numbers are binned by quantiles of the reference (missing values a bin of their
own), categories one bin per value over the union of both sides.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

QUANTILE_BINS = 10
PSI_FLOOR = 1e-4
"""Bin shares are floored at this before the logarithm: an empty bin on one side adds a large, finite term."""
MISSING = "<missing>"


def quantile_edges(reference: np.ndarray, bins: int = QUANTILE_BINS) -> np.ndarray:
    """Inner cut points of ``bins`` equal-frequency bins of the reference (NaN ignored, ties merged)."""
    values = reference[~np.isnan(reference)]
    if values.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per bin ``[edge_i-1, edge_i)`` (open at both ends), then the missing values as the last bin."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    return np.append(counts, missing.sum())


def category_counts(reference: Iterable, current: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Rows per category (missing as a category of its own) on both sides, over the union of categories."""
    ref = [MISSING if v is None else str(v) for v in reference]
    cur = [MISSING if v is None else str(v) for v in current]
    categories = sorted(set(ref) | set(cur))
    index = {c: i for i, c in enumerate(categories)}
    counts = [np.bincount([index[v] for v in side], minlength=len(categories)) for side in (ref, cur)]
    return counts[0], counts[1]


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    """Σ (actual share − expected share) · ln(actual share / expected share), shares floored at ``PSI_FLOOR``."""
    if expected.sum() == 0 or actual.sum() == 0:
        return float("nan")
    e = np.maximum(expected / expected.sum(), PSI_FLOOR)
    a = np.maximum(actual / actual.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def population_stability(reference: pa.Array | np.ndarray, current: pa.Array | np.ndarray, categorical: bool) -> float:
    """PSI of ``current`` against ``reference``: quantile bins of the reference, or one bin per category."""
    if categorical:
        as_list = [
            v.to_pylist() if isinstance(v, pa.Array | pa.ChunkedArray) else list(v) for v in (reference, current)
        ]
        return psi_from_counts(*category_counts(*as_list))
    ref, cur = (_floats(v) for v in (reference, current))
    edges = quantile_edges(ref)
    return psi_from_counts(numeric_counts(ref, edges), numeric_counts(cur, edges))


def _floats(values: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(values, dtype=np.float64)
