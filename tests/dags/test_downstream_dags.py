"""The DAGs after the loads (link, gaps, export): scheduled on the source Assets, one task each but gaps (two)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Bus
from tests.dags.conftest import PROJECT_REGISTRY
from tests.sample_counts import SAMPLE_COUNTS
from transiscope.ingest.mappings import load_registry
from transiscope.operations import STORE_WRITE_POOL, source_asset_name

pytestmark = pytest.mark.airflow

STEPS = ("link", "gaps", "export")


def test_one_dag_per_step_scheduled_on_every_source_asset(dagbag_of) -> None:
    from airflow.sdk import AssetAny

    bag = dagbag_of(PROJECT_REGISTRY)
    assert bag.import_errors == {}
    sources = load_registry(PROJECT_REGISTRY).sources
    for step in STEPS:
        dag = bag.dags[f"transiscope_{step}"]
        condition = dag.timetable.asset_condition
        if step == "export":  # after the link step, so a consolidated marker credits the current links
            assert [a.name for a in condition.objects] == ["transiscope_links"]
        else:
            assert isinstance(condition, AssetAny)
            names = sorted(asset.name for asset in condition.objects)
            assert names == sorted(source_asset_name(s.id) for s in sources)  # any source's successful load
        outlets = [o.name for t in dag.tasks for o in t.outlets]
        assert outlets == (["transiscope_links"] if step == "link" else [])
        # gaps writes its files after the store phase, outside the store-writes pool
        tasks = ["gaps", "gaps_files"] if step == "gaps" else [step]
        assert [t.task_id for t in dag.tasks] == tasks
        for task in dag.tasks:
            assert task.pool == (STORE_WRITE_POOL if task.task_id in ("link", "gaps") else "default_pool")
            assert task.execution_timeout is not None and task.retries == 2
        if step == "gaps":
            assert dag.get_task("gaps_files").upstream_task_ids == {"gaps"}
        assert dag.max_active_runs == 1 and dag.catchup is False
        assert dag.is_paused_upon_creation is False  # a load made before anyone unpaused it still wakes it
        assert {"transiscope", "downstream", step} <= set(dag.tags)
        assert f"transiscope downstream {step}" in dag.doc_md


def test_export_dag_writes_the_exports_of_what_the_ingest_loaded(dagbag_of, bus: Bus) -> None:
    bag = dagbag_of(bus.registry)
    assert bag.dags["ingest_transiscope"].test().state == "success"
    dag_run = bag.dags["transiscope_export"].test()
    assert dag_run.state == "success"
    (ti,) = dag_run.get_task_instances()
    result = ti.xcom_pull(task_ids="export")
    assert result["step"] == "export" and result["outcome"] == "success"
    geojson = json.loads((bus.home / "exports" / "initiatives.geojson").read_text(encoding="utf-8"))
    assert result["initiatives"] == SAMPLE_COUNTS["transiscope"].loaded
    assert len(geojson["features"]) == result["initiatives"] - sum(
        1 for f in geojson["features"] if f.get("geometry") is None
    )


def test_failed_step_fails_its_task_with_the_bus_message(dagbag_of, bus: Bus, monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(bus.home / "no-territories"))
    monkeypatch.setenv("TRANSISCOPE_CACHE_DIR", str(bus.home / "empty-cache"))
    monkeypatch.delenv("TRANSISCOPE_TERRITORIES_URL", raising=False)
    bag = dagbag_of(bus.registry)
    dag_run = bag.dags["transiscope_gaps"].test()
    assert dag_run.state == "failed"
