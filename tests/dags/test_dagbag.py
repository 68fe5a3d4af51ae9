"""The ingest DAG file as Airflow's DagBag sees it: one DAG per registry source, the right shape."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.dags.conftest import AIRFLOW_ENV, DAGS_FOLDER, PROJECT_REGISTRY
from transiscope.core.errors import ConfigError, SourceHTTPError, SourceUnreachable, StoreLocked
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.stages import NAMES as STAGE_NAMES
from transiscope.operations import STORE_WRITE_POOL, host_pool

pytestmark = pytest.mark.airflow

#: start, then the stages of the stage table in their order
TASK_IDS = ["start", *STAGE_NAMES]
DAG_FILE = DAGS_FOLDER / "transiscope_ingest.py"


def _ingest_dags(bag) -> dict:
    return {dag_id: dag for dag_id, dag in bag.dags.items() if dag_id.startswith("ingest_")}


@pytest.fixture(scope="module")
def project_bag(airflow_db: Path):
    """The project's DAG folder parsed once for the per-DAG tests below."""
    from airflow.dag_processing.dagbag import BundleDagBag

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRANSISCOPE_REGISTRY", str(PROJECT_REGISTRY))
        return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER)


def test_one_dag_per_source(project_bag) -> None:
    assert project_bag.import_errors == {}
    registry = load_registry(PROJECT_REGISTRY)
    assert sorted(_ingest_dags(project_bag)) == sorted(f"ingest_{source.id}" for source in registry.sources)


@pytest.mark.parametrize("source", load_registry(PROJECT_REGISTRY).sources, ids=lambda source: source.id)
def test_each_dag_has_the_tasks_in_a_chain(project_bag, source) -> None:
    """One test per source's DAG: a wrong DAG does not hide the checks of the others."""
    dag = _ingest_dags(project_bag)[f"ingest_{source.id}"]
    assert [t.task_id for t in dag.topological_sort()] == [*TASK_IDS, "summary"]
    summary = dag.get_task("summary")  # a teardown after load: it runs even when a step failed
    assert summary.is_teardown and summary.upstream_task_ids == {"load"} and not summary.downstream_task_ids
    assert dag.get_task("load").pool == STORE_WRITE_POOL
    assert dag.get_task("extract").pool == host_pool(source.url)
    for upstream, downstream in zip(TASK_IDS, TASK_IDS[1:], strict=False):  # a chain, nothing else
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {"transiscope", "ingest", source.format} <= set(dag.tags)
    assert len(dag.params) == 0  # per-source values are bound in the factory, not DAG params
    for text in (
        source.name,
        source.licence,
        source.publisher,
        source.maintainer,
        source.landing_page,
        source.url,
        *TASK_IDS,
    ):
        assert text in dag.doc_md
    assert all(t.execution_timeout is not None for t in dag.tasks)
    assert {t.value for t in dag.allowed_run_types} == {"scheduled", "manual"}  # a backfill would fetch today's data
    assert dag.get_task("extract").retries == 1
    assert dag.get_task("load").retries == 3  # only while the embedded store is locked
    # every other task retries infrastructure failures (an Execution-API time-out) twice, data errors never
    assert all(t.retries == 2 for t in dag.tasks if t.task_id not in ("extract", "load"))

    outlets = {t.task_id: list(t.outlets) for t in dag.tasks}
    (asset,) = outlets.pop("load")
    assert all(o == [] for o in outlets.values()), outlets
    assert asset.name == f"transiscope_source_{source.id}"
    assert asset.uri == f"x-transiscope://graph/source/{source.id}"
    assert asset.extra["graph"].endswith(f"/graph/source/{source.id}")


def test_schedule_comes_from_the_registry(dagbag_of) -> None:
    bag = dagbag_of(PROJECT_REGISTRY)
    for source in load_registry(PROJECT_REGISTRY).sources:
        dag = bag.dags[f"ingest_{source.id}"]
        assert dag.schedule == source.schedule


def test_parsing_context_builds_only_the_dag_of_the_running_task(dagbag_of, monkeypatch) -> None:
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "ingest_presdecheznous")
    bag = dagbag_of(PROJECT_REGISTRY)
    assert bag.import_errors == {}
    assert list(_ingest_dags(bag)) == ["ingest_presdecheznous"]


def test_broken_registry_is_a_readable_import_error(dagbag_of, tmp_path: Path) -> None:
    broken = tmp_path / "sources.toml"
    broken.write_text(
        PROJECT_REGISTRY.read_text(encoding="utf-8")
        + '\n[[source]]\nid = "Bad Id!"\nname = "Broken"\nformat = "gogocarto"\n'
        'url = "https://example.org/api/elements.json"\nlicence = "ODbL-1.0"\nmapping = "mappings/transiscope.toml"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as expected:
        load_registry(broken)
    bag = dagbag_of(broken)
    assert list(bag.dags) == ["transiscope_maintenance"]  # the one DAG that reads no registry when parsed
    # each DAG file that reads the registry (ingest, downstream) shows the same one-line error
    assert sorted(Path(path).name for path in bag.import_errors) == [
        "transiscope_downstream.py",
        "transiscope_ingest.py",
    ]
    for error in bag.import_errors.values():
        assert str(expected.value) in error
        assert "ConfigError" in error


def test_missing_registry_is_a_readable_import_error(dagbag_of, tmp_path: Path) -> None:
    bag = dagbag_of(tmp_path / "nowhere.toml")
    assert len(bag.import_errors) == 2
    for error in bag.import_errors.values():
        assert f"source registry not found: {tmp_path / 'nowhere.toml'}" in error


def test_parsing_imports_nothing_heavy(airflow_db) -> None:
    """Parse in a fresh interpreter: no pandas, Great Expectations or pipeline import at the top level (how long
    parsing takes is measured by ``bench/dag_parse.py``, not asserted here)."""
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from airflow.dag_processing.dagbag import BundleDagBag\n"
        "t = time.monotonic()\n"
        f"bag = BundleDagBag(dag_folder={str(DAGS_FOLDER)!r}, bundle_path=Path({str(DAGS_FOLDER)!r}))\n"
        "print(json.dumps({'seconds': time.monotonic() - t, 'errors': list(bag.import_errors),\n"
        "  'dags': len(bag.dags), 'heavy': sorted(m for m in ('pandas', 'great_expectations',\n"
        "  'transiscope.ingest.pipeline', 'transiscope.ingest.stage_functions', 'transiscope.ingest.run_context',\n"
        "  'transiscope.ingest.validate') if m in sys.modules)}))\n"
    )
    env = {**os.environ, **AIRFLOW_ENV, "TRANSISCOPE_REGISTRY": str(PROJECT_REGISTRY)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == [] and report["dags"] == len(load_registry(PROJECT_REGISTRY).sources) + 4
    assert report["heavy"] == []


def _dag_module():
    if str(DAGS_FOLDER) not in sys.path:  # as Airflow's bundle DagBag does
        sys.path.append(str(DAGS_FOLDER))
    spec = importlib.util.spec_from_file_location("transiscope_ingest_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_extract_retries_only_transient_failures(monkeypatch) -> None:
    from airflow.sdk import RetryAction

    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(PROJECT_REGISTRY))
    policy = _dag_module().RetryIfTransient()  # imported by the DAG file from transiscope_airflow
    for exc in (
        SourceUnreachable("down"),
        SourceHTTPError("busy", 503),
        SourceHTTPError("slow", 429),
        StoreLocked("locked"),
        httpx.ReadTimeout("the Execution API did not answer"),
        ConnectionResetError("reset"),
    ):
        assert policy.evaluate(exc, 1, 2).action is RetryAction.RETRY, exc
        last = policy.evaluate(exc, 3, 2)  # the last of 1 + 2 tries says it fails, and why
        assert last.action is RetryAction.FAIL and last.reason.startswith("fail: still failing"), exc
    for exc in (SourceHTTPError("gone", 404), ConfigError("bad"), ValueError("bug")):
        decision = policy.evaluate(exc, 1, 2)
        assert decision.action is RetryAction.FAIL and decision.reason.startswith("fail: not transient"), exc


def test_the_operator_sets_the_retry_delay(dagbag_of, monkeypatch) -> None:
    """``TRANSISCOPE_RETRY_DELAY`` (seconds) replaces the stages' own delays between tries."""
    from datetime import timedelta

    monkeypatch.setenv("TRANSISCOPE_RETRY_DELAY", "2")
    dag = dagbag_of(PROJECT_REGISTRY).dags["ingest_transiscope"]
    assert {dag.get_task(name).retry_delay for name in TASK_IDS if name != "start"} == {timedelta(seconds=2)}
