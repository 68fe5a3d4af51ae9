"""The maintenance DAG: daily, the freshness alert of the stale sources, then the run-folder retention."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Bus, Reply, write_registry
from tests.dags.conftest import PROJECT_REGISTRY
from tests.integration.webhook_receiver import WebhookReceiver
from transiscope import jobs
from transiscope.runs import recent_runs

pytestmark = pytest.mark.airflow

SOURCE = "transiscope"


def test_maintenance_dag_shape(dagbag_of) -> None:
    bag = dagbag_of(PROJECT_REGISTRY)
    assert bag.import_errors == {}
    dag = bag.dags["transiscope_maintenance"]
    assert [t.task_id for t in dag.tasks] == ["freshness", "prune"]
    assert dag.get_task("prune").upstream_task_ids == {"freshness"}
    assert dag.is_paused_upon_creation is False and dag.catchup is False and dag.max_active_runs == 1
    assert all(t.retries == 2 and t.execution_timeout is not None for t in dag.tasks)


def test_a_failing_source_is_flagged_stale_and_old_runs_are_pruned(
    dagbag_of, bus: Bus, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert jobs.run_source(SOURCE, force=True).outcome == "success"
    write_registry(bus.registry.parent, {**bus.urls, SOURCE: bus.server.set("/gone.json", Reply(404, b"gone"))})
    assert [jobs.run_source(SOURCE, force=True).outcome for _ in range(3)] == ["failed"] * 3
    monkeypatch.setenv("TRANSISCOPE_STALE_FAILURES", "3")
    monkeypatch.setenv("TRANSISCOPE_KEEP_RUNS", "1")
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL", receiver.url)
    bag = dagbag_of(bus.registry)
    assert bag.dags["transiscope_maintenance"].test().state == "success"

    events = [json.loads(line) for line in (bus.home / "events" / "failures.jsonl").read_text("utf-8").splitlines()]
    (stale,) = [e for e in events if e["event"] == "source_stale"]
    assert stale["source"] == SOURCE and stale["consecutive_failures"] == 3
    assert "3 failed runs in a row" in stale["reasons"][0] and "HTTP 404" in stale["reasons"][0]
    assert stale["webhook"].startswith("delivered") and len(receiver.received) == 1
    # (the other sources of the suite's registry never ran: nothing was expected of them, no alert)
    kept = [run["outcome"] for _, run in recent_runs(bus.settings(), SOURCE)]
    assert kept == ["failed", "success"]  # the newest, and the newest success the next request needs
