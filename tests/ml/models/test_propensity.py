"""The propensity spec's band rule (deciles) and which deciles get exact reasons."""

from __future__ import annotations

import numpy as np

from ml.models.propensity import SPEC, deciles, exact_reasons


def test_equal_scores_share_a_decile_whatever_the_order_of_the_rows():
    scores = np.array([0.9, 0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6])
    assert deciles(scores).tolist() == [1, 10, 1, 6, 8, 4, 9, 3, 7, 5]
    order = np.random.default_rng(0).permutation(len(scores))
    assert deciles(scores[order]).tolist() == deciles(scores)[order].tolist()
    big = np.random.default_rng(1).random(10_000)
    assert np.bincount(deciles(big))[1:].tolist() == [1_000] * 10


def test_a_decile_is_ten_times_the_number_of_higher_scores_over_the_row_count():
    rng = np.random.default_rng(2)
    for n in [1, 2, 3, 7, 9, 10, 11, 19, 101, 997]:
        for scores in (rng.random(n), rng.integers(0, 4, n) / 4, np.full(n, 0.3)):
            higher = (scores[None, :] > scores[:, None]).sum(axis=1)
            assert deciles(scores).tolist() == (higher * 10 // n + 1).tolist(), (n, scores)
    assert deciles(np.empty(0)).tolist() == []


def test_the_deciles_the_audiences_act_on_get_exact_reasons(monkeypatch):
    from ecomflow.core.settings import get_settings

    monkeypatch.setenv("ECOMFLOW_REASON_CODES_EXACT_DECILES", "3")
    get_settings.cache_clear()
    try:
        assert exact_reasons(np.arange(1, 11, dtype=np.int16)).tolist() == [True] * 3 + [False] * 7
    finally:
        monkeypatch.delenv("ECOMFLOW_REASON_CODES_EXACT_DECILES")
        get_settings.cache_clear()
    assert SPEC.bands.column == "decile" and SPEC.bands.rule is deciles and SPEC.bands.exact is exact_reasons
