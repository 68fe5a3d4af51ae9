"""Failure notifications: one structured event per failed run, kept on disk and optionally posted.

Why: operators must tell at a glance what failed, why, and whether any data was affected, without
opening Airflow. Each event is one JSON line in ``$TRANSISCOPE_HOME/events/failures.jsonl`` (the audit
trail, always written) and, when ``TRANSISCOPE_NOTIFY_WEBHOOK_URL`` is set, a JSON POST to that webhook
(a chat room's incoming webhook, an alerting system...). The payload carries a one-line ``text`` (the
field Slack, Mattermost, Rocket.Chat and Discord-compatible receivers display) and the whole event.

The Airflow listener in ``plugins/`` calls :func:`notify_failure`; this module never imports Airflow.
A notification problem is logged and recorded in the event, never raised: it must not hide the failure
it reports, nor break the scheduler that calls it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from transiscope.core.errors import NotificationError
from transiscope.downstream.steps import TASKS, last_task_result
from transiscope.operations import (
    DOWNSTREAM_DAG_PREFIX,
    find_airflow_run,
    last_successful_run,
    report_url,
    run_summary,
    source_of_dag_id,
)
from transiscope.settings import NotifySettings, Settings

log = logging.getLogger(__name__)


EVENTS_FILE = Path("events") / "failures.jsonl"


def events_path(settings: Settings) -> Path:
    return settings.home / EVENTS_FILE


def failure_event(
    settings: Settings,
    *,
    dag_id: str,
    airflow_run_id: str,
    message: str = "",
    base_url: str | None = None,
    when: datetime | None = None,
) -> dict[str, Any]:
    """The event of a failed DAG run; for an ingest DAG, enriched with the bus's own record of the run
    (``run.json``: failed stage, error kind and message, counts) and what the live graph holds now."""
    event: dict[str, Any] = {
        "event": "dag_run_failed",
        "time": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "dag_id": dag_id,
        "airflow_run_id": airflow_run_id,
        "airflow_message": message,
    }
    source_id = source_of_dag_id(dag_id)
    if source_id is None:
        return _downstream_failure(settings, dag_id, event)
    event["source"] = source_id
    base = base_url or settings.public_url
    event["report_url"] = report_url(base, source_id)
    run_dir = find_airflow_run(settings, source_id, airflow_run_id)
    if run_dir is None:  # the run failed before its run directory existed (start task, registry...)
        event["error"] = f"the run of {source_id} failed before it started ({message or 'no message'})"
        return event
    summary = run_summary(run_dir)
    event.update({key: value for key, value in summary.items() if key != "source"})
    event.setdefault("error", f"the run did not finish (outcome {summary['outcome']}); see the task logs")
    kept = last_successful_run(settings, source_id)
    # A failed or rejected run never swaps its graph in (staging + one transaction), so the live graph
    # is still the one of the newest successful run.
    event["live_graph"] = (
        f"unchanged: still the data of run {kept}" if kept else "unchanged: the source has never been loaded"
    )
    return event


def _downstream_failure(settings: Settings, dag_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """A downstream DAG's event gets the step that failed, the kind of error and its message, as its task
    recorded them (the Airflow message alone says only that a task failed)."""
    step = dag_id.removeprefix(DOWNSTREAM_DAG_PREFIX)
    if not dag_id.startswith(DOWNSTREAM_DAG_PREFIX) or step not in TASKS:
        return event
    event["step"] = step
    for task_id in TASKS[step]:
        result = last_task_result(settings, task_id)
        if result and result.get("outcome") == "failed":
            event.update(failed_task=task_id, error_kind=result.get("error_kind"), error=result.get("error"))
            break
    else:
        event["error"] = (
            f"the {step} step did not finish ({event['airflow_message'] or 'no message'}); see the task logs"
        )
    return event


def event_text(event: dict[str, Any]) -> str:
    """The event in one line for people; ``&``, ``<`` and ``>`` escaped as chat webhooks require."""
    if "source" in event:
        where = f" at {event['failed_stage']}" if event.get("failed_stage") else ""
        kind = f" ({event['error_kind']})" if event.get("error_kind") else ""
        text = (
            f"Transiscope: the ingest of {event['source']} failed{where}{kind}: {event.get('error')}. "
            f"Live graph {event.get('live_graph', 'unchanged')}. Report: {event['report_url']}"
        )
    elif "step" in event:
        where = f" at {event['failed_task']}" if event.get("failed_task") else ""
        kind = f" ({event['error_kind']})" if event.get("error_kind") else ""
        text = f"Transiscope: the {event['step']} step failed{where}{kind}: {event.get('error')}"
    else:
        text = f"Transiscope: DAG {event['dag_id']} run {event['airflow_run_id']} failed: {event['airflow_message']}"
    return _for_chat(text)


def _for_chat(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as chat webhooks require."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def record_event(settings: Settings, event: dict[str, Any]) -> Path:
    """Append the event as one JSON line (one ``write`` of one line: concurrent writers do not interleave)."""
    path = events_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
    return path


def post_webhook(notify: NotifySettings, payload: dict[str, Any]) -> int:
    """POST ``payload`` as JSON; retried with backoff on connection errors, 429 and 5xx (urllib3's
    ``Retry``, honouring ``Retry-After``). Returns the HTTP status; raises :class:`NotificationError`."""
    retry = Retry(
        total=notify.retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    headers = {"User-Agent": "transiscope-bus/0.1"}
    if notify.webhook_token:
        headers["Authorization"] = f"Bearer {notify.webhook_token}"
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            reply = session.post(notify.webhook_url, json=payload, headers=headers, timeout=notify.timeout)
        except requests.RequestException as exc:
            raise NotificationError(f"webhook {notify.webhook_url} unreachable: {exc.__class__.__name__}") from None
    if not reply.ok:
        raise NotificationError(f"webhook {notify.webhook_url} answered HTTP {reply.status_code}: {reply.text[:200]!r}")
    return reply.status_code


def notify_stale(settings: Settings, notify: NotifySettings, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``source_stale`` event per stale source (:func:`transiscope.operations.stale_sources`), recorded and
    posted like a failure; never raises."""
    events = []
    for alert in alerts:
        event = {
            "event": "source_stale",
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            **alert,
            "report_url": report_url(settings.public_url, alert["source"]),
        }
        text = (
            f"Transiscope: the data of {alert['source']} is stale: {'; '.join(alert['reasons'])}. "
            f"Report: {event['report_url']}"
        )
        event["text"] = _for_chat(text)
        events.append(_deliver(settings, notify, event, event["text"]))
    return events


def _deliver(settings: Settings, notify: NotifySettings, event: dict[str, Any], text: str) -> dict[str, Any]:
    """Post the event to the webhook when one is configured, then record it with the delivery's outcome; a
    problem is logged and kept in the event, never raised."""
    if notify.webhook_url:
        try:
            status = post_webhook(notify, {"text": text, "event": event})
            event["webhook"] = f"delivered (HTTP {status})"
        except NotificationError as exc:
            log.error("%s notification not delivered: %s", event["event"], exc)
            event["webhook"] = f"not delivered: {exc}"
    try:
        record_event(settings, event)
    except OSError as exc:
        log.error("could not record the %s event in %s: %s", event["event"], events_path(settings), exc)
    log.warning("%s", text)
    return event


def notify_failure(
    settings: Settings, notify: NotifySettings, *, dag_id: str, airflow_run_id: str, message: str = ""
) -> dict[str, Any]:
    """Build the event of a failed DAG run, post it to the webhook when one is configured, and record it
    (with the delivery's outcome). Never raises: problems are logged and kept in the event."""
    try:
        event = failure_event(settings, dag_id=dag_id, airflow_run_id=airflow_run_id, message=message)
    except Exception as exc:
        log.exception("could not read the run of %s %s", dag_id, airflow_run_id)
        event = {
            "event": "dag_run_failed",
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "dag_id": dag_id,
            "airflow_run_id": airflow_run_id,
            "airflow_message": message,
            "error": f"(the run's record could not be read: {exc})",
        }
    return _deliver(settings, notify, event, event_text(event))
