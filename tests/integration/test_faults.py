"""Extraction that survives bad sources: a fault-injecting server on 127.0.0.1, a real store.

For every fault the run's outcome and message are asserted, and so is the live graph of the source:
loaded once from a good payload before the fault, it must be exactly the same afterwards.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TRANSFORMS, Bus
from tests.integration.faults import Fault, FaultServer
from transiscope import jobs, runs

SOURCE = "presdecheznous"
GOOD = (TRANSFORMS / "samples" / f"{SOURCE}.json").read_bytes()
PAGED = "monnaies-locales"


def write_registry(directory: Path, urls: dict[str, str], **overrides: dict) -> Path:
    """The project's entries for ``urls`` (absolute file paths), with per-source ``overrides``."""
    with (TRANSFORMS / "sources.toml").open("rb") as handle:
        entries = {entry["id"]: entry for entry in tomllib.load(handle)["source"]}
    lines = []
    for source_id, url in urls.items():
        entry = {**entries[source_id], "url": url, **overrides.get(source_id, {})}
        for key in ("mapping", "sample"):
            if key in entry:
                entry[key] = str((TRANSFORMS / entry[key]).resolve())
        lines.append("[[source]]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()]
    path = directory / "sources.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture
def loaded(bus: Bus, faults: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The source loaded once from its good payload; returns (url, live graph before the fault)."""
    url = faults.set("/api/elements.json", Fault(body=GOOD))
    registry = write_registry(tmp_path, {SOURCE: url}, **{SOURCE: {"max_bytes": 3 * len(GOOD), "min_interval": 0}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "2")
    monkeypatch.setenv("TRANSISCOPE_HTTP_READ_TIMEOUT", "1")
    first = jobs.run_source(SOURCE)
    assert first.outcome == "success", first.error
    before = bus.graph_triples(SOURCE)
    assert before
    return url, before


@pytest.mark.parametrize(
    ("fault", "outcome", "message", "stage"),
    [
        (Fault(500, b"oops"), "failed", "answered HTTP 500 Internal Server Error after retries", "extract"),
        (Fault(404, b"{}"), "failed", "answered HTTP 404", "extract"),
        (Fault(delay=2.5, body=GOOD), "failed", "did not answer within 1 s", "extract"),
        (Fault(body=GOOD, cut_after=len(GOOD) // 2), "failed", "broke off", "extract"),
        (Fault(body=GOOD[: len(GOOD) // 2]), "failed", "is not JSON", "normalise"),
        (
            Fault(
                body=b"<!DOCTYPE html><html><head><title>Maintenance en cours</title></head><body>503</body></html>",
                headers={"Content-Type": "text/html; charset=utf-8"},
            ),
            "failed",
            "answered an HTML page (Content-Type text/html; charset=utf-8, title 'Maintenance en cours')",
            "extract",
        ),
        (
            Fault(body=json.dumps({"licence": "ODbL", "ontology": "gogofull", "data": []}).encode()),
            "rejected",
            "returned no records",
            "load",
        ),
        (Fault(body=json.dumps({"data": json.loads(GOOD)["data"] * 10}).encode()), "failed", "over the cap", "extract"),
    ],
)
def test_a_fault_leaves_the_live_graph_untouched(
    bus: Bus, faults: FaultServer, loaded, fault: Fault, outcome: str, message: str, stage: str
) -> None:
    _url, before = loaded
    faults.set("/api/elements.json", fault)
    summary = jobs.run_source(SOURCE)
    run = runs.read_run(Path(summary.run_dir))
    assert summary.outcome == outcome, summary.error
    assert message in summary.error and "\n" not in summary.error
    assert run["failed_stage"] == stage
    assert bus.graph_triples(SOURCE) == before
    if fault.status == 404:
        assert faults.hits["/api/elements.json"] == 1  # a 4xx other than 429 fails at once
    if fault.status == 500:
        assert faults.hits["/api/elements.json"] == 3  # 1 + TRANSISCOPE_HTTP_RETRIES


def test_503_with_retry_after_is_waited_for(bus: Bus, faults: FaultServer, loaded) -> None:
    _url, before = loaded
    faults.set("/api/elements.json", Fault(503, b"busy", {"Retry-After": "1"}), Fault(body=GOOD))
    began = time.monotonic()
    summary = jobs.run_source(SOURCE)
    # the payload is the one already live: after the wait, the run says so and loads nothing
    assert summary.outcome == "not-modified" and "unchanged since run" in summary.note, summary.error
    assert time.monotonic() - began >= 1.0
    assert faults.hits["/api/elements.json"] == 2
    assert bus.graph_triples(SOURCE) == before


@pytest.mark.parametrize("bad", ["duplicate", "all-null"])
def test_bad_records_are_quarantined_and_the_rest_loads_as_before(
    bus: Bus, faults: FaultServer, loaded, bad: str
) -> None:
    _url, before = loaded
    payload = json.loads(GOOD)
    if bad == "duplicate":
        payload["data"].append(dict(payload["data"][0]))
    else:
        payload["data"].append(dict.fromkeys(payload["data"][0]))
    faults.set("/api/elements.json", Fault(body=json.dumps(payload).encode()))
    summary = jobs.run_source(SOURCE)
    assert summary.outcome == "success", summary.error
    last = [q for q in runs.iter_quarantine(Path(summary.run_dir)) if q["record_index"] == len(payload["data"]) - 1]
    expected = "appears 2 times in the payload" if bad == "duplicate" else "has no id"
    assert len(last) == 1 and expected in last[0]["reasons"][0]
    counts = summary.counts
    assert counts["fetched"] == counts["loaded"] + counts["quarantined"] == len(payload["data"])
    assert bus.graph_triples(SOURCE) == before


def test_not_modified_loads_nothing_and_says_so(bus: Bus, faults: FaultServer, loaded) -> None:
    _url, before = loaded
    etag = '"v1-presdecheznous"'
    faults.set("/api/elements.json", Fault(body=GOOD, headers={"ETag": etag}))
    assert jobs.run_source(SOURCE, force=True).outcome == "success"  # same payload as loaded: forced
    faults.set("/api/elements.json", Fault(304, b"", {"ETag": etag}))
    summary = jobs.run_source(SOURCE)
    assert summary.outcome == "not-modified"
    assert faults.requests[-1][1].get("If-None-Match") == etag
    run = runs.read_run(Path(summary.run_dir))
    assert "not modified since run" in run["note"] and run["counts"]["loaded"] == 0
    assert set(run["stages"]) == {"extract"}  # nothing after the 304
    assert not (Path(summary.run_dir) / "raw.json").exists()
    assert bus.graph_triples(SOURCE) == before


def test_a_failing_page_fails_the_whole_paginated_run(
    bus: Bus, faults: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = json.loads((TRANSFORMS / "samples" / f"{PAGED}.json").read_text(encoding="utf-8"))
    route = "/api/monnaies"
    url = faults.set(f"{route}?per_page=5&page=1", Fault(body=json.dumps(pages[0]["payload"]).encode()))
    faults.set(f"{route}?per_page=5&page=2", Fault(body=json.dumps(pages[1]["payload"]).encode()))
    faults.set(f"{route}?per_page=5&page=3", Fault(body=json.dumps(pages[2]["payload"]).encode()))
    registry = write_registry(tmp_path, {PAGED: url.split("?")[0]}, **{PAGED: {"min_interval": 0}})
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "1")
    first = jobs.run_source(PAGED)
    assert first.outcome == "success", first.error
    raw = json.loads((Path(first.run_dir) / "raw.json").read_text(encoding="utf-8"))
    assert [p["params"]["page"] for p in raw] == [1, 2, 3]  # every page kept in the run's raw file
    before = bus.graph_triples(PAGED)
    faults.set(f"{route}?per_page=5&page=2", Fault(500, b"boom"))
    summary = jobs.run_source(PAGED)
    assert summary.outcome == "failed" and "HTTP 500" in summary.error and "page=2" in summary.error
    assert bus.graph_triples(PAGED) == before
