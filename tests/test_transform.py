"""The run's days handed to dbt as environment variables (``ecomflow.transform.run_env``)."""

from __future__ import annotations

import datetime as dt

import pytest

from ecomflow.orchestration import dbt_vars
from ecomflow.transform import run_env


def test_every_bound_is_set_and_those_not_given_are_emptied():
    env = run_env({"day_from": "2025-03-10"})
    assert env == {
        "ECOMFLOW_DAY_FROM": "2025-03-10",
        "ECOMFLOW_DAY_TO": "",
        "ECOMFLOW_AS_OF_FROM": "",
        "ECOMFLOW_AS_OF_TO": "",
    }


def test_a_runs_days_become_the_four_bounds():
    env = run_env(dbt_vars([dt.date(2025, 3, 12), dt.date(2025, 3, 10)]))
    assert env == {
        "ECOMFLOW_DAY_FROM": "2025-03-10",
        "ECOMFLOW_DAY_TO": "2025-03-12",
        "ECOMFLOW_AS_OF_FROM": "2025-03-11",
        "ECOMFLOW_AS_OF_TO": "2025-03-13",
    }


def test_an_unknown_bound_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown run bound.*day_form"):
        run_env({"day_form": "2025-03-10"})
