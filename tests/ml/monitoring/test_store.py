"""How ``ml.monitoring.store`` names and steps monitoring values in MLflow."""

from __future__ import annotations

import datetime as dt

from ml.monitoring.results import Result
from ml.monitoring.store import as_of_step, metric_key


def test_metrics_are_keyed_by_kind_and_stepped_by_the_as_of_date():
    psi = Result("credit_risk", "3", dt.date(1970, 1, 11), "psi", "gmv_3m", 0.1)
    auc = Result("credit_risk", "3", dt.date(1970, 1, 11), "roc_auc", "score", 0.8)
    assert metric_key(psi) == "monitoring/psi/gmv_3m"
    assert metric_key(auc) == "monitoring/realised/roc_auc"
    assert (
        metric_key(Result("credit_risk", "3", psi.as_of_date, "current_rows", "score", 80)) == "monitoring/current_rows"
    )
    assert as_of_step(psi.as_of_date) == 10
