"""End to end: the bus operated by a real Airflow 3.3, as an operator drives it, through the REST API v2.

What runs, all on 127.0.0.1 with free ports and a fresh temporary folder: an Oxigraph server (the store,
``TRANSISCOPE_STORE=remote``), a payload server answering the recorded sample of one source, a webhook
receiver, and Airflow's api-server, scheduler (LocalExecutor) and dag-processor as subprocesses on a new
SQLite DB, with ``dags/`` and ``plugins/`` of this checkout. Nothing is mocked and no test code runs inside
Airflow: the test only talks HTTP to the api-server, the Oxigraph server and its own two servers.

Why the LocalExecutor on SQLite: Airflow 3.3 accepts it (``airflow standalone`` forces it, and SQLite
is the DB of ``make airflow``); the SequentialExecutor is gone. Why the registry copy schedules its
source ``none``: unpausing a ``@daily`` DAG with ``catchup=False`` would start a scheduled run at once,
next to the manual one the test triggers.

The story: trigger the ingest DAG -> the run succeeds, the load's Asset event starts the link, gaps
and export DAGs, which succeed; the store holds the source graph and the exports exist. Then the source
answers 404 and the ingest is triggered again -> the run fails at extract with the bus's one-line
message in the task log and in the summary's XCom, the source graph is unchanged, no downstream run
starts, and the plugin's listener posts the failure to the webhook. Then the source answers 503 before it
comes back: Airflow retries the extract (a transient failure), the run succeeds, and the metadata graph holds
one outcome for it. That load and a second one are made while an operator has paused the link DAG; once it is
unpaused, a third load wakes one link run (none ran while paused) that follows the last load, and one export
run follows it, crediting the loads that link run followed.

Every process is stopped by the fixtures' finalizers (its whole process group, so the LocalExecutor's
workers go too), every wait is bounded. Set ``TRANSISCOPE_E2E_RECORD=FILE`` to keep what the REST API
answered (trimmed) as JSON, for the operations notes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from tests.conftest import PROJECT, PayloadServer, Reply, sample_path, write_registry
from tests.integration.servers import Server, _die_with_parent, free_port, start_oxigraph
from tests.integration.webhook_receiver import WebhookReceiver
from transiscope.ingest.stages import NAMES as STAGE_NAMES

pytestmark = pytest.mark.e2e

SOURCE = "transiscope"
INGEST = f"ingest_{SOURCE}"
DOWNSTREAM = ("transiscope_link", "transiscope_gaps", "transiscope_export")
LINK = DOWNSTREAM[0]
INGEST_TASKS = ("start", *STAGE_NAMES, "summary")
BASE_IRI = "https://w3id.org/transiscope/"
SOURCE_GRAPH = f"{BASE_IRI}graph/source/{SOURCE}"
#: transforms/samples/README.md: 12 of the 14 elements of the transiscope sample load
LOADED = 12

#: bounds of every wait, in seconds (the whole test takes about two minutes on two cores)
MIGRATE_TIMEOUT = 240
STARTUP_TIMEOUT = 120
RUN_TIMEOUT = 240
NOTIFY_TIMEOUT = 60
STOP_TIMEOUT = 20

#: the parsed commune layer (gaps) is cached across tests of a session by tests/conftest.py
KEPT_FROM_PARENT = ("TRANSISCOPE_CACHE_DIR", "TRANSISCOPE_SHARED_DATA")


# -- processes ------------------------------------------------------------------------------------
@dataclass
class Component:
    """An Airflow component started by the test: its process (leader of its own process group) and log."""

    name: str
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group (the scheduler's executor workers and task processes are in it),
        then SIGKILL whatever is left after a bounded wait."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def _start(name: str, command: list[str], env: dict[str, str], logs: Path) -> Component:
    log = logs / f"{name}.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command,
            env=env,
            cwd=logs,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Component(name, process, log)


def _run(command: list[str], env: dict[str, str], timeout: float, what: str) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


# -- the stack ------------------------------------------------------------------------------------
@dataclass
class Stack:
    """What the test drives: the Airflow REST API, and the servers around the bus."""

    api: str
    home: Path
    bus_home: Path
    store: Server
    payloads: PayloadServer
    source_path: str
    receiver: WebhookReceiver
    components: list[Component]
    session: requests.Session = field(default_factory=requests.Session)
    #: trimmed REST answers kept for the operations notes (TRANSISCOPE_E2E_RECORD)
    record: dict[str, Any] = field(default_factory=dict)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.session.request(method, f"{self.api}/api/v2/{path}", timeout=30, **kwargs)
        assert reply.ok, f"{method} /api/v2/{path}: HTTP {reply.status_code} {reply.text[:500]}\n{self.tails()}"
        return reply.json() if reply.content else None

    def tails(self) -> str:
        """The end of every component's log, for a failure message that says where to look."""
        return "\n".join(f"--- {c.name} (exit {c.process.poll()}) ---\n{c.tail()}" for c in self.components)

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Poll ``check`` until it returns something true (returned), a component dies, or the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [c.name for c in self.components if c.process.poll() is not None]
            if dead:
                pytest.fail(f"Airflow {', '.join(dead)} exited while waiting for {what}\n{self.tails()}")
            with contextlib.suppress(requests.RequestException):
                value = check()
                if value:
                    return value
            time.sleep(1)
        pytest.fail(f"{what}: not within {timeout:g} s\n{self.tails()}")

    # -- REST API v2 -----------------------------------------------------------------------------
    def trigger(self, dag_id: str, note: str, conf: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"logical_date": None, "note": note, **({"conf": conf} if conf else {})}
        run = self.call("POST", f"dags/{dag_id}/dagRuns", json=body)
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def finished(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        return self.wait(done, timeout, f"the end of {dag_id} run {run_id}")

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"dags/{dag_id}/dagRuns", params={"order_by": "run_after"})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        found = self.call("GET", f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        return {ti["task_id"]: ti for ti in found["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as text, as the UI shows it: each structured event on a line, and an exception as
        ``type: message`` (the API gives it apart, in ``error_detail``)."""
        found = self.call(
            "GET",
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = found["content"]
        if isinstance(content, str):
            return content
        lines = []
        for item in content:
            if not isinstance(item, dict):
                lines.append(str(item))
                continue
            lines.append(str(item.get("event", "")))
            errors = item.get("error_detail") or ()
            lines.extend(f"{error.get('exc_type')}: {error.get('exc_value')}" for error in errors)
        return "\n".join(lines)

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.call(
            "GET",
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/return_value",
            params={"deserialize": "true"},
        )
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value

    # -- the store ---------------------------------------------------------------------------------
    def outcomes(self, run_id: str) -> list[str]:
        """Every ts:outcome the metadata graph holds for the run (exactly one when its record is honest)."""
        query = (
            f"SELECT ?outcome WHERE {{ GRAPH <{BASE_IRI}graph/metadata> {{ "
            f'?run <http://purl.org/dc/terms/identifier> "{run_id}" ; <{BASE_IRI}ontology#outcome> ?outcome }} }}'
        )
        reply = requests.get(
            self.store.query_url,
            timeout=30,
            headers={"Accept": "application/sparql-results+json"},
            params={"query": query},
        )
        reply.raise_for_status()
        return sorted(b["outcome"]["value"] for b in reply.json()["results"]["bindings"])

    def source_graph(self) -> set[tuple[str, str, str]]:
        reply = requests.get(
            self.store.query_url,
            timeout=30,
            headers={"Accept": "application/sparql-results+json"},
            params={"query": f"SELECT ?s ?p ?o WHERE {{ GRAPH <{SOURCE_GRAPH}> {{ ?s ?p ?o }} }}"},
        )
        reply.raise_for_status()
        return {(b["s"]["value"], b["p"]["value"], b["o"]["value"]) for b in reply.json()["results"]["bindings"]}


def _component_env(home: Path, port: int, bus: dict[str, str]) -> dict[str, str]:
    """The environment of every Airflow component: nothing inherited from another Airflow (the DAG tests
    configure one in this very process), the bus's variables, and Airflow's own configuration."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "_AIRFLOW", "TRANSISCOPE_")) or key in KEPT_FROM_PARENT
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(bus)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            # no users, every caller is an admin: GET /auth/token hands out a token (a test machine only)
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__WORKERS": "1",
            # shared by the api-server (signs) and the task workers (present): one secret for all components
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    return env


def _manual_only(registry: Path) -> None:
    """No schedule in the registry copy: unpausing must not start a run besides the one triggered."""
    text = registry.read_text(encoding="utf-8")
    registry.write_text(re.sub(r'(?m)^schedule = ".*"$', 'schedule = "none"', text), encoding="utf-8")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, territories_dir: Path) -> Iterator[Stack]:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("airflow-e2e")
    home, bus_home, logs = root / "airflow-home", root / "transiscope-home", root / "logs"
    for folder in (home, bus_home, logs):
        folder.mkdir()
    with contextlib.ExitStack() as cleanup:
        store = start_oxigraph(root)
        cleanup.callback(store.stop)
        payloads = PayloadServer()
        cleanup.callback(payloads.close)
        receiver = WebhookReceiver(200)
        cleanup.callback(receiver.close)
        source_path = f"/e2e/{SOURCE}.json"
        registry = write_registry(root, {SOURCE: payloads.serve_file(source_path, sample_path(SOURCE))})
        _manual_only(registry)

        port = free_port()
        bus = {
            **store.env(),
            "TRANSISCOPE_HOME": str(bus_home),
            "TRANSISCOPE_REGISTRY": str(registry),
            "TRANSISCOPE_TERRITORIES_DIR": str(territories_dir),
            "TRANSISCOPE_NOTIFY_WEBHOOK_URL": receiver.url,
            "TRANSISCOPE_PUBLIC_URL": "http://127.0.0.1:8890",
            "TRANSISCOPE_GEOCODER": "none",  # the sample's points are given; no geocoding service here
            "TRANSISCOPE_HTTP_RETRIES": "1",
            "TRANSISCOPE_HTTP_BACKOFF": "0.05",
            "TRANSISCOPE_HTTP_CONNECT_TIMEOUT": "2",
            "TRANSISCOPE_HTTP_READ_TIMEOUT": "20",
            "TRANSISCOPE_RETRY_DELAY": "2",  # a retried task tries again within seconds, not minutes
        }
        env = _component_env(home, port, bus)
        airflow = [sys.executable, "-m", "airflow"]
        _run([*airflow, "db", "migrate"], env, MIGRATE_TIMEOUT, "airflow db migrate")
        pools = json.loads(
            _run([sys.executable, "-m", "transiscope", "airflow-pools"], env, 60, "transiscope airflow-pools")
        )

        components: list[Component] = []
        for name, command in (
            ("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]),
            ("scheduler", ["scheduler", "--skip-serve-logs"]),
            ("dag-processor", ["dag-processor"]),
        ):
            component = _start(name, [*airflow, *command], env, logs)
            cleanup.callback(component.stop)
            components.append(component)
        up = Stack(f"http://127.0.0.1:{port}", home, bus_home, store, payloads, source_path, receiver, components)
        cleanup.callback(up.session.close)

        up.wait(
            lambda: requests.get(f"{up.api}/api/v2/monitor/health", timeout=5).ok,
            STARTUP_TIMEOUT,
            "the api-server's health endpoint",
        )
        token = requests.get(f"{up.api}/auth/token", timeout=10)
        assert token.status_code == 201, f"GET /auth/token: HTTP {token.status_code} {token.text[:300]}"
        up.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        for name, pool in pools.items():  # what `make airflow` does with `airflow pools import`
            # the api-server's SQLite may be busy with the scheduler's first writes (HTTP 500 after its 5 s lock
            # wait): the same POST again, a few times at most
            for attempt in range(5):
                reply = up.session.post(f"{up.api}/api/v2/pools", json={"name": name, **pool}, timeout=30)
                if reply.status_code < 500 or attempt == 4:
                    break
                time.sleep(2)
            assert reply.ok, f"POST /api/v2/pools: HTTP {reply.status_code} {reply.text[:500]}\n{up.tails()}"
        for dag_id in (INGEST, *DOWNSTREAM):
            up.wait(
                lambda dag_id=dag_id: up.session.get(f"{up.api}/api/v2/dags/{dag_id}", timeout=10).ok,
                STARTUP_TIMEOUT,
                f"the dag-processor to parse {dag_id}",
            )
            assert up.call("PATCH", f"dags/{dag_id}", json={"is_paused": False})["is_paused"] is False
        errors = up.call("GET", "importErrors")
        assert errors["total_entries"] == 0, errors
        print(f"stack up in {time.monotonic() - started:.1f} s")
        yield up
        _keep_record(up)


def _keep_record(up: Stack) -> None:
    target = os.environ.get("TRANSISCOPE_E2E_RECORD")
    if target and up.record:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(up.record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- trimming what an operator reads ---------------------------------------------------------------
DAG_RUN_FIELDS = ("dag_id", "dag_run_id", "state", "run_type", "triggered_by", "start_date", "end_date", "note")
TI_FIELDS = ("task_id", "state", "try_number", "duration", "pool", "operator_name")


def _trim(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: item.get(name) for name in fields if name in item}


def _ti_states(tis: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    return {task_id: tis[task_id]["state"] for task_id in INGEST_TASKS if task_id in tis}


# -- the test -------------------------------------------------------------------------------------
def test_ingest_feeds_downstream_and_a_failure_is_contained_and_notified(stack: Stack) -> None:
    began = time.monotonic()
    exports = stack.bus_home / "exports"
    assert stack.source_graph() == set() and not exports.exists()

    # 1. a manual run of the ingest DAG succeeds and loads the source graph
    run_id = stack.trigger(INGEST, "e2e: first load")
    run = stack.finished(INGEST, run_id)
    tis = stack.task_instances(INGEST, run_id)
    assert run["state"] == "success", (_ti_states(tis), stack.tails())
    assert _ti_states(tis) == dict.fromkeys(INGEST_TASKS, "success")
    summary = stack.xcom(INGEST, run_id, "summary")
    assert summary["outcome"] == "success" and summary["loaded"] == LOADED, summary
    summary_log = stack.task_log(INGEST, run_id, "summary")
    assert f"run {summary['run_id']} of {SOURCE}: success (fetched 14, loaded {LOADED}" in summary_log
    loaded_graph = stack.source_graph()
    assert len(loaded_graph) == summary["triples"] > 0
    stack.record["success"] = {
        "dag_run": _trim(run, DAG_RUN_FIELDS),
        "task_instances": [_trim(tis[t], TI_FIELDS) for t in INGEST_TASKS],
        "summary_xcom": summary,
        "summary_log_line": _line_with(summary_log, f"run {summary['run_id']}"),
    }
    print(f"ingest succeeded in {time.monotonic() - began:.1f} s")

    # 2. the load's Asset event starts link and gaps, the link run's Asset event the export; all succeed
    downstream: dict[str, dict[str, Any]] = {}
    for dag_id in DOWNSTREAM:

        def asset_run(dag_id: str = dag_id) -> dict[str, Any] | None:
            runs = [r for r in stack.dag_runs(dag_id) if r["run_type"] == "asset_triggered"]
            return runs[-1] if runs and runs[-1]["state"] in ("success", "failed") else None

        downstream[dag_id] = stack.wait(asset_run, RUN_TIMEOUT, f"an asset-triggered run of {dag_id} to end")
        assert downstream[dag_id]["state"] == "success", (
            dag_id,
            stack.task_instances(dag_id, downstream[dag_id]["dag_run_id"]),
            stack.tails(),
        )
        events = stack.call(
            "GET", f"dags/{dag_id}/dagRuns/{quote(downstream[dag_id]['dag_run_id'], safe='')}/upstreamAssetEvents"
        )["asset_events"]
        if dag_id == "transiscope_export":  # scheduled on the links Asset: after the link run that followed the load
            assert [event["extra"].get("after_runs") for event in events] == [[summary["run_id"]]], events
        else:
            assert [event["extra"].get("run_id") for event in events] == [summary["run_id"]], events
    export = stack.xcom("transiscope_export", downstream["transiscope_export"]["dag_run_id"], "export")
    assert export["outcome"] == "success" and export["initiatives"] == LOADED and export["unchanged"] is False
    geojson = json.loads((exports / "initiatives.geojson").read_text(encoding="utf-8"))
    assert len(geojson["features"]) > 0
    assert (exports / "gaps" / "index.json").exists()
    stack.record["downstream"] = {dag_id: _trim(r, DAG_RUN_FIELDS) for dag_id, r in downstream.items()}
    stack.record["downstream_asset_event_extra"] = events[0]["extra"]  # the export run's (the last one read)
    print(f"downstream done at {time.monotonic() - began:.1f} s")

    # 3. the source now answers 404: the run fails at extract, with the bus's one line, the graph kept
    stack.payloads.set(
        stack.source_path, Reply(404, b"<html><title>gone</title></html>", {"Content-Type": "text/html"})
    )
    failed_id = stack.trigger(INGEST, "e2e: source answers 404")
    failed = stack.finished(INGEST, failed_id)
    tis = stack.task_instances(INGEST, failed_id)
    assert failed["state"] == "failed", (_ti_states(tis), stack.tails())
    assert _ti_states(tis) == {
        "start": "success",
        "extract": "failed",
        **dict.fromkeys(INGEST_TASKS[2:-1], "upstream_failed"),
        "summary": "success",
    }
    assert tis["extract"]["try_number"] == 1  # a 404 is not transient: no retry although retries=1
    host = urlsplit(stack.payloads.base).netloc
    message = f"source '{SOURCE}': {host} answered HTTP 404 Not Found for {stack.payloads.url(stack.source_path)}"
    extract_log = stack.task_log(INGEST, failed_id, "extract")
    assert message in extract_log, extract_log[-3000:]
    failed_summary = stack.xcom(INGEST, failed_id, "summary")
    assert failed_summary["outcome"] == "failed" and failed_summary["failed_stage"] == "extract"
    assert failed_summary["error_kind"] == "http" and failed_summary["error"] == message
    failed_log = stack.task_log(INGEST, failed_id, "summary")
    assert f"failed at extract (http): {message}" in failed_log
    assert stack.source_graph() == loaded_graph

    # 4. the plugin's listener (in the scheduler) posts one notification for the failed run
    def ingest_notifications() -> list[dict[str, Any]]:
        return [p for p in stack.receiver.received if p["event"].get("dag_id") == INGEST]

    (payload,) = stack.wait(ingest_notifications, NOTIFY_TIMEOUT, "the webhook notification")
    others = [p for p in stack.receiver.received if p["event"].get("dag_id") != INGEST]
    assert others == [], others  # no other DAG failed, no source went stale
    event = payload["event"]
    assert event["dag_id"] == INGEST and event["airflow_run_id"] == failed_id
    assert event["failed_stage"] == "extract" and event["error_kind"] == "http" and event["error"] == message
    assert event["live_graph"] == f"unchanged: still the data of run {summary['run_id']}"
    assert payload["text"].startswith(f"Transiscope: the ingest of {SOURCE} failed at extract (http): ")
    # no Asset event, so no downstream run after the failure
    for dag_id in DOWNSTREAM:
        assert [r["dag_run_id"] for r in stack.dag_runs(dag_id)] == [downstream[dag_id]["dag_run_id"]]
    stack.record["failure"] = {
        "dag_run": _trim(failed, DAG_RUN_FIELDS),
        "task_instances": [_trim(tis[t], TI_FIELDS) for t in INGEST_TASKS],
        "summary_xcom": failed_summary,
        "extract_log_line": _line_with(extract_log, message),
        "summary_log_line": _line_with(failed_log, "failed at extract"),
        "webhook_payload": payload,
    }

    # 5. the link DAG paused by an operator: the loads made meanwhile wake no link run (gaps still follows them)
    stack.call("PATCH", f"dags/{LINK}", json={"is_paused": True})

    # 6. the source is busy (503 on both of the extract's HTTP tries), then back: Airflow retries the extract
    # (transient), the run succeeds, and its run has one outcome in the metadata graph and in run.json
    stack.payloads.set(
        stack.source_path, Reply(503, b"busy"), Reply(503, b"busy"), Reply(200, sample_path(SOURCE).read_bytes())
    )
    retried_id = stack.trigger(INGEST, "e2e: source busy, then back", conf={"force": True})
    retried = stack.finished(INGEST, retried_id)
    tis = stack.task_instances(INGEST, retried_id)
    assert retried["state"] == "success", (_ti_states(tis), stack.tails())
    assert tis["extract"]["try_number"] == 2  # one Airflow retry after the transient failure
    assert "503" in stack.task_log(INGEST, retried_id, "extract", try_number=1)
    retried_summary = stack.xcom(INGEST, retried_id, "summary")
    assert retried_summary["outcome"] == "success" and "failed_stage" not in retried_summary, retried_summary
    outcomes = stack.outcomes(retried_summary["run_id"])
    assert outcomes == ["success"], outcomes  # not "failed" next to "success"
    stack.record["retried"] = {
        "dag_run": _trim(retried, DAG_RUN_FIELDS),
        "extract_tries": tis["extract"]["try_number"],
        "metadata_outcomes": outcomes,
    }

    # 7. a second load while link is paused, then link unpaused and a third load: one link run follows, then one
    # export run
    loads = [retried_summary["run_id"]]
    for note in ("e2e: a load while link is paused", "e2e: a load after link is unpaused"):
        if loads[1:]:
            stack.call("PATCH", f"dags/{LINK}", json={"is_paused": False})
        load_id = stack.trigger(INGEST, note, conf={"force": True})
        load_run = stack.finished(INGEST, load_id)
        assert load_run["state"] == "success", (_ti_states(stack.task_instances(INGEST, load_id)), stack.tails())
        loads.append(stack.xcom(INGEST, load_id, "summary")["run_id"])
    caught_up: dict[str, dict[str, Any]] = {}
    for dag_id in (LINK, "transiscope_export"):

        def second_run(dag_id: str = dag_id) -> dict[str, Any] | None:
            runs = [r for r in stack.dag_runs(dag_id) if r["run_type"] == "asset_triggered"]
            return runs[-1] if len(runs) > 1 and runs[-1]["state"] in ("success", "failed") else None

        caught_up[dag_id] = stack.wait(second_run, RUN_TIMEOUT, f"the second asset-triggered run of {dag_id} to end")
        assert caught_up[dag_id]["state"] == "success", (dag_id, stack.tails())
        assert [r["dag_run_id"] for r in stack.dag_runs(dag_id)][-2] == downstream[dag_id]["dag_run_id"]
    link_events = stack.call(
        "GET", f"dags/{LINK}/dagRuns/{quote(caught_up[LINK]['dag_run_id'], safe='')}/upstreamAssetEvents"
    )["asset_events"]
    # Airflow takes a run's events from a window that opens at the DAG's previous asset-triggered run: the woken
    # run consumes the loads made while paused with the last one (several events, one run; link reads the whole
    # store, so it covers every load before it), and the export that follows credits what that link run followed.
    consumed = sorted(event["extra"].get("run_id") for event in link_events)  # the API lists them in no set order
    assert loads[-1] in consumed and len(consumed) >= 2 and set(consumed) <= set(loads), (loads, consumed)
    export_events = stack.call(
        "GET",
        f"dags/transiscope_export/dagRuns/{quote(caught_up['transiscope_export']['dag_run_id'], safe='')}"
        "/upstreamAssetEvents",
    )["asset_events"]
    assert [event["extra"].get("after_runs") for event in export_events] == [consumed], export_events
    stack.record["caught_up"] = {
        "loads": loads,
        "link_run": _trim(caught_up[LINK], DAG_RUN_FIELDS),
        "link_consumed_run_ids": consumed,
        "export_after_runs": export_events[0]["extra"].get("after_runs"),
    }
    stack.record["seconds_after_stack_up"] = round(time.monotonic() - began, 1)
    print(f"failure contained and notified at {time.monotonic() - began:.1f} s")


def _line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")
