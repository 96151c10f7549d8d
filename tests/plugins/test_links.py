"""The ``ecomflow`` Airflow plugin: loaded by Airflow, attached to the real DAGs' tasks, resolved from real XComs."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest

from ecomflow.core.settings import PLUGINS_DIR, Settings


@pytest.fixture(scope="module")
def links(airflow_db):
    """The plugin module as Airflow's plugins manager loaded it from the plugins folder."""
    from airflow import plugins_manager

    plugins_manager.ensure_plugins_loaded()
    return importlib.import_module("ecomflow_links")


def _as_the_api_server_sees_it(dag):
    """A DAG after the serialization round trip the api-server's DAG bag goes through (plugins links attached)."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_airflow_loads_the_plugin_from_the_plugins_folder(links):
    from airflow import plugins_manager

    info = {plugin["name"]: plugin for plugin in plugins_manager.get_plugin_info()}
    assert "ecomflow" in info, f"plugin not loaded; import errors: {plugins_manager.get_import_errors()}"
    assert str(info["ecomflow"]["source"]) == "$PLUGINS_FOLDER/ecomflow_links.py"
    assert not [path for path in plugins_manager.get_import_errors() if str(PLUGINS_DIR) in path]
    names = {link.name for link in plugins_manager.get_operator_extra_links()}
    assert {"MLflow run", "dbt docs"} <= names
    views = {view["name"]: view["href"] for view in info["ecomflow"]["external_views"]}
    assert views == {"MLflow": links.get_settings().mlflow_ui, "dbt docs": links.dbt_docs_url()}


def test_training_and_scoring_tasks_link_to_mlflow_and_dbt_tasks_to_the_docs(links, dbt_manifest):
    from ecomflow.demo.pipeline import load_dags

    dags = {dag_id: _as_the_api_server_sees_it(dag) for dag_id, dag in load_dags().items()}
    assert "MLflow run" in dags["train"].get_task("fit").extra_links
    assert "MLflow run" in dags["score_and_publish"].get_task("score").extra_links
    dbt_tasks = [task for task in dags["warehouse"].tasks if task.task_type.startswith("Dbt")]
    assert dbt_tasks and all("dbt docs" in task.extra_links for task in dbt_tasks)
    assert all("dbt docs" not in task.extra_links for task in dags["ingest"].tasks)

    docs = links.get_settings().dbt_docs_url
    by_id = {task.task_id: task for task in dbt_tasks}
    model = by_id["dbt.feat_customer_daily.run"]
    assert model.operator_extra_link_dict["dbt docs"].get_link(model, ti_key=None) == (
        f"{docs}/#!/model/model.ecomflow.feat_customer_daily"
    )
    producer = by_id["dbt.dbt_producer_watcher"]
    assert producer.operator_extra_link_dict["dbt docs"].get_link(producer, ti_key=None) == f"{docs}/#!/overview"


LINKS_CHECK_DAGS = Path(__file__).parent / "dags"


def run_links_check(run_ids: dict[str, str]):
    """Run ``dags/links_check.py`` for real (``dag.test()``), its results carrying ``run_ids``; returns the run.

    The DAG lives outside the platform's DAG folder, so it is registered in the metadata DB first the way the
    dag-processor would (``dag.test()`` only syncs the configured bundles).
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=LINKS_CHECK_DAGS, bundle_path=LINKS_CHECK_DAGS, bundle_name="dags-folder")
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, "dags-folder", None)
    dag_run = bag.dags["links_check"].test(logical_date=None, run_conf={"run_ids": run_ids})
    assert str(dag_run.state) == "success"
    return dag_run


@pytest.fixture(scope="module")
def link_run(links):
    """A real run of ``links_check``, and the run ids its tasks returned."""
    run_ids = {name: uuid.uuid4().hex for name in ("a", "b", "old", "new")}
    return run_links_check(run_ids), run_ids


def test_the_mlflow_link_is_resolved_from_each_task_instances_xcom(links, link_run):
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dag_run, run_ids = link_run
    dag = SerializedDagModel.get_dag(dag_run.dag_id)  # what the api-server resolves links against
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        found = {(ti.task_id, ti.map_index): dag.get_task(ti.task_id).get_extra_links(ti, "MLflow run") for ti in tis}
    assert found == {
        ("fit", 0): links.mlflow_run_url(run_ids["a"]),
        ("fit", 1): links.mlflow_run_url(run_ids["b"]),
        ("score", -1): links.mlflow_run_url(run_ids["new"]),
        ("count", -1): "",
    }
    assert found["fit", 0] == f"{Settings().mlflow_uri}/#/runs/{run_ids['a']}"


def test_result_shapes_and_urls(links):
    assert links.run_id_of({"run_id": "r1", "version": "3"}) == "r1"
    assert links.run_id_of([{"run_id": "r1"}, {"run_id": "r2"}]) == "r2"
    assert links.run_id_of([{"rows": 0}]) is None
    assert links.run_id_of({"model": "m"}) is None
    assert links.run_id_of("r1") is None
    assert links.run_id_of(None) is None
    assert links.mlflow_run_url("abc", "https://mlflow.example/") == "https://mlflow.example/#/runs/abc"
    docs = "https://docs.example"
    assert links.dbt_docs_url("seed.ecomflow.channels", docs) == f"{docs}/#!/seed/seed.ecomflow.channels"
    assert links.dbt_docs_url("source.ecomflow.raw.orders", docs) == f"{docs}/#!/source/source.ecomflow.raw.orders"


def test_public_mlflow_url_overrides_the_tracking_uri():
    settings = Settings(mlflow_tracking_uri="http://mlflow:5000", mlflow_ui_url="https://mlflow.example.com/")
    assert settings.mlflow_ui == "https://mlflow.example.com"
    assert Settings(mlflow_tracking_uri="http://mlflow:5000/").mlflow_ui == "http://mlflow:5000"
