"""The credit-risk spec's band rule: a grade per probability of default, every seller with exact reasons."""

from __future__ import annotations

import numpy as np

from ml.models.credit_risk import SPEC, risk_grades


def test_a_grade_starts_at_its_lower_bound():
    scores = np.array([0.0, 0.0199, 0.02, 0.049, 0.05, 0.0999, 0.10, 0.1999, 0.20, 1.0])
    assert risk_grades(scores).tolist() == ["A", "A", "B", "B", "C", "C", "D", "D", "E", "E"]


def test_every_seller_gets_exact_reasons():
    assert SPEC.bands.column == "risk_grade" and SPEC.bands.exact is None
