"""Operating an ingest DAG: the failure notification of the plugin's listener, its UI links, the pools file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from tests.conftest import Bus, Reply
from tests.dags.conftest import AIRFLOW_ENV, PROJECT_REGISTRY
from tests.integration.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.airflow

SOURCE = "transiscope"
DAG_ID = f"ingest_{SOURCE}"


def test_failed_run_is_notified_once(dagbag_of, bus: Bus, receiver: WebhookReceiver, monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("TRANSISCOPE_PUBLIC_URL", "http://127.0.0.1:8890")
    bus.server.set(urlsplit(bus.urls[SOURCE]).path, Reply(404, b"<html>gone</html>"))
    bag = dagbag_of(bus.registry)
    dag_run = bag.dags[DAG_ID].test()
    assert dag_run.state == "failed"

    (payload,) = receiver.wait_for(1, timeout=10)  # one notification per failed run, not per task
    event = payload["event"]
    assert event["dag_id"] == DAG_ID and event["airflow_run_id"] == dag_run.run_id
    assert event["failed_stage"] == "extract" and event["error_kind"] == "http" and "404" in event["error"]
    assert event["live_graph"] == "unchanged: the source has never been loaded"
    assert payload["text"].startswith("Transiscope: the ingest of transiscope failed at extract (http)")
    recorded = [json.loads(line) for line in (bus.home / "events" / "failures.jsonl").read_text().splitlines()]
    assert recorded == [{**event, "webhook": "delivered (HTTP 200)"}]


def test_successful_run_is_not_notified(dagbag_of, bus: Bus, receiver: WebhookReceiver, monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_NOTIFY_WEBHOOK_URL", receiver.url)
    dag_run = dagbag_of(bus.registry).dags[DAG_ID].test()
    assert dag_run.state == "success"
    assert receiver.received == [] and not (bus.home / "events" / "failures.jsonl").exists()


def test_plugin_links_and_views(airflow_db, monkeypatch) -> None:
    """The plugin as Airflow loads it: its listener, links on ingest tasks only, views from the config."""
    code = (
        "import json\n"
        "from airflow import plugins_manager\n"
        "from airflow.models.taskinstancekey import TaskInstanceKey\n"
        "links = {l.name: l for l in plugins_manager.get_global_operator_extra_links()}\n"
        "(info,) = [p for p in plugins_manager.get_plugin_info() if p['name'] == 'transiscope']\n"
        "key = lambda dag: TaskInstanceKey(dag, 'load', 'manual__1', 1)\n"
        "def of(dag): return {n: l.get_link(None, ti_key=key(dag)) for n, l in links.items()}\n"
        "print(json.dumps({'ingest': of('ingest_kvm-france'), 'other': of('transiscope_export'),\n"
        "  'views': {v['name']: v['href'] for v in info['external_views']},\n"
        "  'listeners': info['listeners']}))\n"
    )
    env = {
        **os.environ,
        **AIRFLOW_ENV,
        "TRANSISCOPE_REGISTRY": str(PROJECT_REGISTRY),
        "TRANSISCOPE_PUBLIC_URL": "https://bus.example.org",
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ingest"] == {
        "Quality report": "https://bus.example.org/reports/kvm-france.en.html",
        "SPARQL endpoint": "https://bus.example.org/",
    }
    assert report["other"] == {"Quality report": "", "SPARQL endpoint": ""}
    assert report["views"] == {
        "SPARQL endpoint": "https://bus.example.org/",
        "Quality reports": "https://bus.example.org/reports/index.en.html",
    }
    assert report["listeners"] == ["transiscope_plugin.FailureNotifier"]
