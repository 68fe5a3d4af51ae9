"""``dag.test()`` of an ingest DAG, end to end: real HTTP on 127.0.0.1, real store, real Airflow DB."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Bus, Reply, sample_path
from tests.sample_counts import SAMPLE_COUNTS
from transiscope.core import vocab
from transiscope.ingest.stages import NAMES as STAGE_NAMES

pytestmark = pytest.mark.airflow

SOURCE = "transiscope"
DAG_ID = f"ingest_{SOURCE}"
#: start, then the stages of the stage table in their order
TASK_IDS = ["start", *STAGE_NAMES]
#: from transforms/samples/README.md
FETCHED, LOADED, QUARANTINED = SAMPLE_COUNTS["transiscope"]


def _run_dag(dagbag_of, bus: Bus):
    """Parse the DAG folder now (the bus fixture has set the registry) and run the source's DAG once."""
    bag = dagbag_of(bus.registry)
    assert bag.import_errors == {}
    dag_run = bag.dags[DAG_ID].test()
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    return dag_run, states


def _run_json(bus: Bus, airflow_run_id: str) -> dict:
    for path in (bus.home / "runs" / SOURCE).glob("*/run.json"):
        run = json.loads(path.read_text(encoding="utf-8"))
        if run["airflow"].get("run_id") == airflow_run_id:
            return run
    raise AssertionError(f"no run directory for Airflow run {airflow_run_id}")


def _initiatives(bus: Bus) -> int:
    base = bus.settings().base_iri
    with bus.store() as store:
        rows = store.select(
            f"SELECT (COUNT(?i) AS ?n) WHERE {{ GRAPH <{vocab.source_graph(base, SOURCE)}> "
            f"{{ ?i a <{vocab.TS}Initiative> }} }}"
        )
    return int(rows[0]["n"].value)


def _provenance(bus: Bus, airflow_run_id: str) -> dict[str, str]:
    base = bus.settings().base_iri
    with bus.store() as store:
        rows = store.select(
            f"SELECT ?runner ?dag ?outcome ?loaded WHERE {{ GRAPH <{vocab.metadata_graph(base)}> {{ "
            f"?r <{vocab.TS}airflowRunId> {json.dumps(airflow_run_id)} ; <{vocab.TS}runner> ?runner ; "
            f"<{vocab.TS}airflowDagId> ?dag ; <{vocab.TS}outcome> ?outcome . "
            f"OPTIONAL {{ ?r <{vocab.TS}loaded> ?loaded }} }} }}"
        )
    assert len(rows) == 1, rows
    return {name: term.value for name, term in rows[0].items()}


def _asset_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == f"transiscope_source_{SOURCE}")
        ).all()
        return [dict(event.extra or {}) for event in events]


def _xcoms(airflow_run_id: str) -> dict[tuple[str, str], object]:
    """Every XCom of a DAG run: only the run directory may travel between tasks, never records."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(XComModel.dag_id == DAG_ID, XComModel.run_id == airflow_run_id)
        ).all()
        return {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}


def test_dag_run_loads_the_source(dagbag_of, bus: Bus) -> None:
    dag_run, states = _run_dag(dagbag_of, bus)
    assert dag_run.state == "success"
    assert states == dict.fromkeys([*TASK_IDS, "summary"], "success")

    assert _initiatives(bus) == LOADED
    run = _run_json(bus, dag_run.run_id)
    assert run["outcome"] == "success" and run["runner"] == "airflow"
    assert (run["counts"]["fetched"], run["counts"]["loaded"], run["counts"]["quarantined"]) == (
        FETCHED,
        LOADED,
        QUARANTINED,
    )
    assert _provenance(bus, dag_run.run_id) == {
        "runner": "airflow",
        "dag": DAG_ID,
        "outcome": "success",
        "loaded": str(LOADED),
    }

    (event,) = _asset_events()  # the load emitted the source's Asset event, with the run's counts
    assert set(event) == {"source", "run_id", "fetched", "loaded", "quarantined", "warnings", "triples"}
    assert event["run_id"] == run["run_id"] and event["loaded"] == LOADED and event["quarantined"] == QUARANTINED

    run_dir = str(next((bus.home / "runs" / SOURCE).glob(f"{run['run_id']}")))
    xcoms = _xcoms(dag_run.run_id)
    summary = xcoms.pop(("summary", "return_value"))  # the run summary, small, next to the run directory
    assert xcoms == {(task_id, "return_value"): run_dir for task_id in TASK_IDS}
    assert summary["outcome"] == "success" and summary["run_id"] == run["run_id"]
    assert (summary["fetched"], summary["loaded"], summary["quarantined"]) == (FETCHED, LOADED, QUARANTINED)
    assert summary["triples"] == run["counts"]["triples"] and len(json.dumps(summary)) < 1000


def test_failed_extract_keeps_the_live_graph(dagbag_of, bus: Bus) -> None:
    first, _ = _run_dag(dagbag_of, bus)
    assert first.state == "success"
    before = bus.graph_triples(SOURCE)
    assert before and _initiatives(bus) == LOADED
    events_before = _asset_events()

    path = urlsplit(bus.urls[SOURCE]).path
    bus.server.set(path, Reply(404, b"not found"))
    dag_run, states = _run_dag(dagbag_of, bus)

    assert dag_run.state == "failed"
    assert states["start"] == "success"
    assert states["extract"] == "failed"  # failed at once: a 404 is not transient, no Airflow retry
    assert all(states[t] == "upstream_failed" for t in TASK_IDS[2:]), states
    assert states["summary"] == "success"  # the teardown ran, and did not turn the run into a success
    assert bus.server.hits[path] == 1  # and no HTTP retry either

    assert bus.graph_triples(SOURCE) == before  # the earlier graph is intact
    assert _asset_events() == events_before  # no Asset event for a failed run
    run = _run_json(bus, dag_run.run_id)
    assert run["outcome"] == "failed" and run["failed_stage"] == "extract" and "404" in run["error"]
    assert _provenance(bus, dag_run.run_id) == {"runner": "airflow", "dag": DAG_ID, "outcome": "failed"}
    assert Path(run["registry"]) == bus.registry
    report = json.loads((bus.home / "reports" / f"{SOURCE}.json").read_text(encoding="utf-8"))
    assert [t["outcome"] for t in report["trend"]][:2] == ["failed", "success"]  # refreshed by the failure too


def test_not_modified_source_skips_the_load_and_wakes_nothing(dagbag_of, bus: Bus) -> None:
    path = urlsplit(bus.urls[SOURCE]).path
    body = sample_path(SOURCE).read_bytes()
    etag = '"v1-transiscope"'
    bus.server.set(path, Reply(200, body, {"ETag": etag, "Content-Type": "application/json"}))
    first, _ = _run_dag(dagbag_of, bus)
    assert first.state == "success"
    before, events_before = bus.graph_triples(SOURCE), _asset_events()

    bus.server.set(path, Reply(304, b"", {"ETag": etag}))
    dag_run, states = _run_dag(dagbag_of, bus)
    assert dag_run.state == "success"  # nothing wrong: the source has nothing new
    assert states["extract"] == "skipped" and all(states[t] == "skipped" for t in TASK_IDS[2:]), states
    assert states["summary"] == "success"
    assert _asset_events() == events_before  # the downstream DAGs are not woken for nothing
    assert bus.graph_triples(SOURCE) == before
    run = _run_json(bus, dag_run.run_id)
    assert run["outcome"] == "not-modified" and "not modified since run" in run["note"]
    summary = _xcoms(dag_run.run_id)[("summary", "return_value")]
    assert summary["outcome"] == "not-modified" and summary["loaded"] == 0
