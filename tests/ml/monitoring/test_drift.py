"""Population stability of ``ml.monitoring.drift`` on known distributions."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from ml.monitoring.drift import (
    PSI_FLOOR,
    category_counts,
    numeric_counts,
    population_stability,
    psi_from_counts,
    quantile_edges,
)


def _psi(expected: list[float], actual: list[float]) -> float:
    """The textbook formula, written out: Σ (a − e) · ln(a / e) over the bins' shares."""
    return sum((a - e) * math.log(a / e) for e, a in zip(expected, actual, strict=True))


def test_identical_distributions_are_stable():
    values = np.random.default_rng(0).normal(size=5_000)
    assert population_stability(values, values, categorical=False) == 0.0
    assert population_stability(values, values.copy()[::-1], categorical=False) == 0.0


def test_quantile_bins_of_the_reference_hold_a_tenth_each():
    reference = np.arange(1_000, dtype=float)
    edges = quantile_edges(reference)
    assert len(edges) == 9
    assert numeric_counts(reference, edges).tolist() == [100] * 10 + [0]  # the last bin: missing values


def test_psi_of_a_known_shift_between_bins():
    reference = np.arange(1_000, dtype=float)  # deciles 0-99, 100-199, ...
    # 200 rows in the first decile, 0 in the second, 100 in each of the other eight.
    current = np.concatenate([np.linspace(0, 99, 200), np.linspace(200, 999, 800)])
    shares = [0.2, 0.0, *[0.1] * 8]
    expected = _psi([0.1] * 10, [max(s, PSI_FLOOR) for s in shares])
    assert population_stability(reference, current, categorical=False) == pytest.approx(expected)
    assert expected == pytest.approx(0.1 * math.log(2) + (PSI_FLOOR - 0.1) * math.log(PSI_FLOOR / 0.1))


def test_psi_of_a_normal_mean_shift_is_close_to_its_divergence():
    """For N(0, 1) against N(μ, 1) the PSI tends to the symmetric KL divergence μ²; ten bins see a bit less."""
    rng = np.random.default_rng(1)
    reference, current = rng.normal(0, 1, 200_000), rng.normal(0.5, 1, 200_000)
    psi = population_stability(reference, current, categorical=False)
    assert 0.2 < psi < 0.25


def test_missing_values_are_a_bin_of_their_own():
    reference = np.concatenate([np.arange(900, dtype=float), [np.nan] * 100])  # 10 % missing
    current = np.concatenate([np.arange(900, dtype=float)[::2], [np.nan] * 550])  # 55 % missing, same spread
    edges = quantile_edges(reference)
    assert numeric_counts(reference, edges)[-1] == 100
    assert numeric_counts(current, edges)[-1] == 550
    ref_shares = numeric_counts(reference, edges) / 1_000
    cur_shares = numeric_counts(current, edges) / 1_000
    assert population_stability(reference, current, categorical=False) == pytest.approx(
        _psi(list(ref_shares), list(cur_shares))
    )


def test_tied_reference_values_share_a_bin():
    reference = np.array([0.0] * 700 + list(range(1, 301)), dtype=float)  # 70 % zeros
    edges = quantile_edges(reference)
    counts = numeric_counts(reference, edges)
    assert counts[np.searchsorted(edges, 0.0, side="right")] == 700
    assert counts.sum() == 1_000


def test_categories_are_binned_by_value_with_missing_and_unseen_categories():
    reference = pa.array(["a"] * 50 + ["b"] * 40 + [None] * 10)
    current = pa.array(["a"] * 25 + ["b"] * 40 + [None] * 10 + ["c"] * 25)  # c never seen in training
    expected_counts, actual_counts = category_counts(reference.to_pylist(), current.to_pylist())
    assert expected_counts.tolist() == [10, 50, 40, 0]  # <missing>, a, b, c
    assert actual_counts.tolist() == [10, 25, 40, 25]
    psi = population_stability(reference, current, categorical=True)
    assert psi == pytest.approx(_psi([0.1, 0.5, 0.4, PSI_FLOOR], [0.1, 0.25, 0.4, 0.25]))


def test_psi_of_an_empty_side_is_undefined():
    assert math.isnan(psi_from_counts(np.array([5, 5]), np.array([0, 0])))
