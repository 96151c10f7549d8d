"""Simple baselines fitted on the same split as the model, so its lift over them is logged side by side.

Every model gets a logistic regression on the same features (median-imputed and standardised numbers,
one-hot categories). A spec may add a business rule score (the RFM score for propensity), which needs no
fitting and ranks but is not a probability, so only its ranking metrics are logged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def logistic_regression_scores(
    frame: pd.DataFrame, labels: np.ndarray, train: np.ndarray, categorical: tuple[str, ...]
) -> np.ndarray:
    """Fit a logistic regression on the ``train`` rows of ``frame``; return its probabilities for every row."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categories = [name for name in frame.columns if name in categorical]
    numbers = [name for name in frame.columns if name not in categorical]
    scale = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
    encode = ColumnTransformer(
        [
            ("numbers", scale, numbers),
            ("categories", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categories),
        ]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500, C=1.0))
    inputs = frame.astype({name: "object" for name in categories})
    model.fit(inputs[train], labels[train])
    return model.predict_proba(inputs)[:, 1]


def percentile_rank(values: np.ndarray, missing_rank: float = 0.0) -> np.ndarray:
    """Rank of each value in (0, 1], ties averaged; missing values get ``missing_rank``."""
    ranks = pd.Series(values).rank(pct=True).to_numpy()
    return np.where(np.isnan(ranks), missing_rank, ranks)
