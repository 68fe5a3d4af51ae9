"""Failure notifications (transiscope/notify.py) against real runs and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.conftest import Bus, Reply
from tests.integration.webhook_receiver import WebhookReceiver
from transiscope import jobs, notify, runs
from transiscope.core.errors import ConfigError, SourceHTTPError
from transiscope.ingest import run_context, stage_functions

SOURCE = "transiscope"
DAG_ID = f"ingest_{SOURCE}"
PUBLIC = "http://127.0.0.1:8890"


def _failed_airflow_run(bus: Bus, airflow_run_id: str, reply: Reply) -> str:
    """What the ingest DAG does: start a run tagged with the Airflow run, then an extract that fails."""
    bus.server.set(urlsplit(bus.urls[SOURCE]).path, reply)
    run_dir = run_context.start_run(SOURCE, runner="airflow", airflow={"dag_id": DAG_ID, "run_id": airflow_run_id})
    with pytest.raises(SourceHTTPError):
        stage_functions.extract(run_dir)
    return runs.read_run(run_dir)["run_id"]


def test_failed_ingest_is_recorded_and_posted(bus: Bus, receiver: WebhookReceiver, monkeypatch) -> None:
    good = jobs.run_source(SOURCE)
    assert good.outcome == "success"
    failed_id = _failed_airflow_run(bus, "manual__2026-01-01T00:00:00+00:00", Reply(404, b"gone"))
    monkeypatch.setenv("TRANSISCOPE_PUBLIC_URL", PUBLIC)
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_TOKEN", "s3cret")

    event = notify.notify_failure(
        bus.settings(),
        notify.NotifySettings.from_env(),
        dag_id=DAG_ID,
        airflow_run_id="manual__2026-01-01T00:00:00+00:00",
        message="task_failure",
    )

    assert event["source"] == SOURCE and event["run_id"] == failed_id
    assert event["outcome"] == "failed" and event["failed_stage"] == "extract" and event["error_kind"] == "http"
    assert "404" in event["error"]
    assert event["live_graph"] == f"unchanged: still the data of run {good.run_id}"
    assert event["report_url"] == f"{PUBLIC}/reports/{SOURCE}.en.html"
    assert event["webhook"] == "delivered (HTTP 200)"

    (payload,) = receiver.wait_for(1, timeout=5)
    assert receiver.headers[0]["Authorization"] == "Bearer s3cret"
    assert payload["event"]["run_id"] == failed_id and payload["event"]["error"] == event["error"]
    assert payload["text"].startswith(f"Transiscope: the ingest of {SOURCE} failed at extract (http): ")
    assert good.run_id in payload["text"]

    lines = notify.events_path(bus.settings()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [event]


def test_webhook_is_retried_on_5xx_then_delivered(bus: Bus, monkeypatch) -> None:
    receiver = WebhookReceiver(503, 502, 200)
    try:
        _failed_airflow_run(bus, "scheduled__x", Reply(500, b"boom"))
        settings = notify.NotifySettings(webhook_url=receiver.url, retries=3, timeout=2)
        event = notify.notify_failure(bus.settings(), settings, dag_id=DAG_ID, airflow_run_id="scheduled__x")
        assert receiver.attempts == 3 and len(receiver.received) == 1
        assert event["webhook"] == "delivered (HTTP 200)"
        assert event["live_graph"] == "unchanged: the source has never been loaded"
    finally:
        receiver.close()


def test_undeliverable_webhook_is_recorded_not_raised(bus: Bus) -> None:
    receiver = WebhookReceiver(400)
    try:
        _failed_airflow_run(bus, "manual__y", Reply(404, b"gone"))
        settings = notify.NotifySettings(webhook_url=receiver.url, retries=1, timeout=2)
        event = notify.notify_failure(bus.settings(), settings, dag_id=DAG_ID, airflow_run_id="manual__y")
        assert receiver.attempts == 1  # a 4xx is not retried
        assert event["webhook"].startswith("not delivered: webhook") and "HTTP 400" in event["webhook"]
        closed = notify.NotifySettings(webhook_url="http://127.0.0.1:9/hook", retries=0, timeout=1)
        event = notify.notify_failure(bus.settings(), closed, dag_id=DAG_ID, airflow_run_id="manual__y")
        assert "unreachable" in event["webhook"]
        assert len(notify.events_path(bus.settings()).read_text(encoding="utf-8").splitlines()) == 2
    finally:
        receiver.close()


def test_run_that_never_started_and_other_dags(bus: Bus) -> None:
    settings = bus.settings()
    event = notify.failure_event(
        settings, dag_id=DAG_ID, airflow_run_id="nope", message="task_failure", base_url=PUBLIC
    )
    assert event["error"] == f"the run of {SOURCE} failed before it started (task_failure)"
    other = notify.failure_event(settings, dag_id="transiscope_export", airflow_run_id="r1", message="task_failure")
    assert "source" not in other and other["step"] == "export"
    assert notify.event_text(other) == (
        "Transiscope: the export step failed: the export step did not finish (task_failure); see the task logs"
    )
    unknown = notify.failure_event(settings, dag_id="someone_else", airflow_run_id="r2", message="task_failure")
    assert notify.event_text(unknown) == "Transiscope: DAG someone_else run r2 failed: task_failure"


def test_downstream_failure_says_step_kind_and_message(bus: Bus, monkeypatch) -> None:
    """A failed downstream task records its outcome; the DAG's notification says which step, which task,
    what kind of error and its message, not only that a task failed."""
    from transiscope import jobs
    from transiscope.downstream.steps import last_task_result

    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(bus.home / "no-territories"))
    monkeypatch.setenv("TRANSISCOPE_CACHE_DIR", str(bus.home / "empty-cache"))
    settings = bus.settings()
    with pytest.raises(ConfigError) as failure:
        jobs.run_task("gaps", settings)
    recorded = last_task_result(settings, "gaps")
    assert recorded is not None and recorded["outcome"] == "failed" and recorded["error"] == str(failure.value)
    event = notify.failure_event(settings, dag_id="transiscope_gaps", airflow_run_id="r3", message="task_failure")
    assert event["step"] == "gaps" and event["failed_task"] == "gaps" and event["error_kind"] == "config"
    assert notify.event_text(event).startswith("Transiscope: the gaps step failed at gaps (config): ")


def test_hostile_error_text_is_escaped_for_chat() -> None:
    event = {
        "source": "s",
        "failed_stage": "normalise",
        "error_kind": "malformed",
        "report_url": "u",
        "error": "field <script>alert(1)</script> & co",
        "live_graph": "unchanged",
    }
    text = notify.event_text(event)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_settings_from_env(monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL", "ftp://example.org/hook")
    with pytest.raises(ConfigError, match="TRANSISCOPE_NOTIFY_WEBHOOK_URL"):
        notify.NotifySettings.from_env()
    monkeypatch.delenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL")
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_TIMEOUT", "soon")
    with pytest.raises(ConfigError):
        notify.NotifySettings.from_env()
