"""The pipeline's real training and scoring task instances link to the MLflow runs they logged or scored with."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(("dag_id", "task_id"), [("train", "fit"), ("score_and_publish", "score")])
def test_training_and_scoring_tasks_link_to_their_mlflow_run(pipeline, dag_id, task_id):
    from airflow import plugins_manager
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from mlflow import MlflowClient

    plugins_manager.ensure_plugins_loaded()
    links = importlib.import_module("ecomflow_links")
    dag = SerializedDagModel.get_dag(dag_id)  # what the api-server resolves links against
    checked = 0
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, task_id=task_id, state="success").all()
        for ti in tis:
            xcom = session.scalars(
                XComModel.get_many(
                    key="return_value", run_id=ti.run_id, dag_ids=dag_id, task_ids=task_id, map_indexes=ti.map_index
                )
            ).first()
            result = XComModel.deserialize_value(xcom)
            run_id = links.run_id_of(result)
            assert run_id, f"{dag_id}.{task_id}[{ti.map_index}] returned no MLflow run id: {result!r}"
            assert dag.get_task(task_id).get_extra_links(ti, "MLflow run") == links.mlflow_run_url(run_id)
            assert MlflowClient().get_run(run_id).info.run_id == run_id
            checked += 1
    assert checked, f"the pipeline ran no successful {dag_id}.{task_id}"
