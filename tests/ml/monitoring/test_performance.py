"""The label windows of ``ml.monitoring.performance``: when the outcome of a score is known, per spec."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ecomflow.core.dates import add_months
from ml.models import get_spec
from ml.monitoring.performance import outcome_known_from


def test_label_windows_close_on_the_last_day_of_the_training_tables_windows():
    propensity, credit = get_spec("purchase_propensity"), get_spec("credit_risk")
    # train_customer_purchase: an order in [D, D + 14) is known once day D + 13 is loaded.
    assert outcome_known_from(propensity, dt.date(2026, 12, 1)) == dt.date(2026, 12, 14)
    # train_seller_default: a default in [M, M + 6 months) is known once the day before M + 6 months is loaded.
    assert outcome_known_from(credit, dt.date(2026, 7, 1)) == dt.date(2026, 12, 31)
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)


def test_windows_and_population_belong_to_the_spec_not_to_its_name():
    renamed = dataclasses.replace(get_spec("credit_risk"), name="credit_risk_challenger_b")
    assert outcome_known_from(renamed, dt.date(2026, 7, 1)) == dt.date(2026, 12, 31)
    assert renamed.population().startswith("n_active_loans > 0")
    assert get_spec("purchase_propensity").population() == "true"
    without_window = dataclasses.replace(renamed, label_known_from=None)
    with pytest.raises(KeyError, match="credit_risk_challenger_b.*no label_known_from"):
        outcome_known_from(without_window, dt.date(2026, 7, 1))
