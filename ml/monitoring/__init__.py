"""Watch the published scores: drift (PSI) against the training window and realised performance.

For each day a monitoring run covers (the data days of the scores it was triggered by), as of the day after:

- **Drift** — the population stability index (PSI) of the published score and of the model's top features (by
  the version's total-gain importance) between the version's training window (the train rows of its training
  table between the ``train_as_of_from``/``train_as_of_to`` params logged on its MLflow run) and the features
  the day's scores were computed from, in the model's population (``ModelSpec.population``). Bins are
  quantiles of the reference; missing values are a bin of their own; categorical features are binned by
  category.
- **Realised performance** — once the outcome window of past scores has closed with the day, ROC AUC and
  calibration (ECE, mean score against the observed rate) of those scores against what happened: the label of
  the model's training table for the same entity and ``as_of_date`` = the scores' ``feature_as_of_date``, the
  very definition the model learned (so the population is the training table's).

Results replace their (model, as-of date, kind) in ``monitoring.model_monitoring`` in one transaction and are
logged as metrics of the version's MLflow run and logged model (step = the as-of date in days since the
epoch). A PSI above ``drift_psi_threshold`` then raises ``DriftDetected``, naming model, day, feature and
PSI; the results are recorded first. Monitoring runs in its own DAG: drift never blocks publishing.

Modules: :mod:`~ml.monitoring.drift` and :mod:`~ml.monitoring.performance` (the arithmetic, no I/O),
:mod:`~ml.monitoring.results` (one value, and the drift check over values), :mod:`~ml.monitoring.versions`
(a registered version and its reference rows), :mod:`~ml.monitoring.observed` (what the warehouse holds:
published scores, their feature rows, realised labels), :mod:`~ml.monitoring.store` (the monitoring table
and MLflow) and :mod:`~ml.monitoring.run` (a monitoring run, on top).
"""
