"""Every supported format end to end: the bundled samples served on 127.0.0.1 (the sample server answers
multi-request sources page by page), the real pipeline, a real store; then the events in RDF, Karte von
morgen's bbox tiling past its cap, and OpenAgenda's incremental runs with deletions."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import TRANSFORMS, Bus
from tests.integration.test_faults import write_registry
from transiscope import jobs, runs
from transiscope.core import vocab
from transiscope.ingest import pipeline, rdf
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.samples import SampleServer

#: (fetched, loaded, quarantined) of each sample whose count does not depend on today's date
EXPECTED = {
    "kvm-france": (12, 10, 2),  # Solawi Basel Land declares CH
    "kvm-events": (5, 4, 1),
    "agenda-transition": (9, 8, 1),
    "amap-idf": (5, 5, 0),
    "ressourceries": (5, 4, 1),  # R-05 lies in Martigny, Switzerland
    "jardins-partages-paris": (6, 6, 0),
    "monnaies-locales": (10, 8, 2),
    "murmurations-fr": (5, 4, 1),
}
ICAL = ("mobilizon-alternatiba", "repaircafe-rennes")


@pytest.fixture
def samples(bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SampleServer]:
    with SampleServer(load_registry(TRANSFORMS / "sources.toml")) as server:
        project = load_registry(TRANSFORMS / "sources.toml")
        urls = {s.id: server.url_for(s) for s in project.sources if s.id in EXPECTED or s.id in ICAL}
        registry = write_registry(tmp_path, urls, **{sid: {"min_interval": 0} for sid in urls})
        monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        yield server


def _quarantine(summary: pipeline.RunSummary) -> dict:
    return {q["source_id"]: q["reasons"] for q in runs.iter_quarantine(Path(summary.run_dir))}


@pytest.mark.parametrize("source_id", sorted(EXPECTED))
def test_each_format_end_to_end(bus: Bus, samples: SampleServer, source_id: str) -> None:
    summary = jobs.run_source(source_id)
    assert summary.outcome == "success", summary.error
    counts = summary.counts
    assert (counts["fetched"], counts["loaded"], counts["quarantined"]) == EXPECTED[source_id]
    assert bus.graph_triples(source_id)


def test_quarantine_reasons_name_what_is_wrong(bus: Bus, samples: SampleServer) -> None:
    reasons = _quarantine(jobs.run_source("murmurations-fr"))
    [(gone, why)] = reasons.items()  # the profile URL is the id (the index's answers carry no node_id)
    assert gone.endswith("/gone.example.org/profile.json") and why[0].startswith(f"the profile {gone} could not")
    assert "HTTP 404" in why[0]
    reasons = _quarantine(jobs.run_source("agenda-transition"))
    assert list(reasons.values()) == [["state 0 on OpenAgenda: not a published event"]]
    reasons = _quarantine(jobs.run_source("kvm-events"))
    assert "before it starts" in reasons["18" * 16][0]


@pytest.mark.parametrize("source_id", ICAL)
def test_ical_feeds_end_to_end(bus: Bus, samples: SampleServer, source_id: str) -> None:
    summary = jobs.run_source(source_id)
    assert summary.outcome == "success", summary.error
    counts = summary.counts
    assert counts["fetched"] == counts["loaded"] + counts["quarantined"]
    assert 12 <= counts["loaded"] <= 18  # monthly series over the 13-month window + one-off events


def _value(row, name: str) -> str | None:
    try:
        term = row[name]
    except KeyError:  # unbound OPTIONAL variable
        return None
    return None if term is None else term.value


def _select(
    bus: Bus, query: str, names: tuple[str, ...] = ("e", "start", "end", "status", "lat", "parent")
) -> list[dict]:
    with bus.store() as store:
        return [{name: _value(row, name) for name in names} for row in store.select(vocab.SPARQL_PREFIXES + query)]


def test_events_are_schema_events_with_zoned_times_places_status_and_sub_events(
    bus: Bus, samples: SampleServer
) -> None:
    assert jobs.run_source("agenda-transition").outcome == "success"
    assert jobs.run_source("kvm-events").outcome == "success"
    assert jobs.run_source("mobilizon-alternatiba").outcome == "success"
    rows = _select(
        bus,
        """SELECT ?e ?start ?end ?status ?lat ?parent WHERE {
        ?e a schema:Event ; schema:name ?name ; schema:startDate ?start ; schema:eventStatus ?status ;
           ts:source ?src .
        OPTIONAL { ?e schema:endDate ?end } OPTIONAL { ?e schema:superEvent ?parent }
        OPTIONAL { ?e schema:location/geo:hasGeometry/schema:latitude ?lat } }""",
    )
    by_iri = {r["e"]: r for r in rows}
    base = bus.settings().base_iri
    parent = by_iri[rdf.event_iri(base, "agenda-transition", "91650113")]
    assert parent["start"] == "2026-12-05T14:00:00+01:00" and parent["end"] == "2027-02-06T18:00:00+01:00"
    subs = [r for r in rows if r["parent"] == rdf.event_iri(base, "agenda-transition", "91650113")]
    assert len(subs) == 3 and {r["start"] for r in subs} >= {"2027-01-09T14:00:00+01:00"}
    cancelled = by_iri[rdf.event_iri(base, "agenda-transition", "91650114")]
    assert cancelled["status"] == "http://schema.org/EventCancelled"
    # Karte von morgen: 14:00 "UTC" is 14:00 in Paris, an offset of +01:00 in December
    kvm = by_iri[rdf.event_iri(base, "kvm-events", "15" * 16)]
    assert kvm["start"] == "2026-12-12T14:00:00+01:00" and kvm["lat"] == "45.7745"
    summer = by_iri[rdf.event_iri(base, "kvm-events", "16" * 16)]
    assert summer["start"] == "2026-07-04T18:30:00+02:00"
    # iCal: an all-day event is a pair of dates, DTEND exclusive -> the last day; a TZID keeps its zone
    all_day = by_iri[rdf.event_iri(base, "mobilizon-alternatiba", "8f2c1a9e-0002@mobilizon.fr")]
    assert (all_day["start"], all_day["end"]) == ("2027-06-12", "2027-06-13")
    assert (
        by_iri[rdf.event_iri(base, "mobilizon-alternatiba", "8f2c1a9e-0003@mobilizon.fr")]["status"]
        == "http://schema.org/EventCancelled"
    )


class _KvmWorld:
    """A Karte von morgen API over 30 entries, with a search cap of 10 hits per bounding box."""

    def __init__(self) -> None:
        self.entries = [
            {
                "id": f"{i:032x}",
                "title": f"Initiative {i}",
                "lat": 43.0 + (i % 6) * 1.2,
                "lng": -1.0 + (i // 6) * 1.5,
                "city": "Quelque part",
                "tags": ["amap"],
                "license": "CC0-1.0" if i % 2 else "ODbL-1.0",
                "categories": [],
            }
            for i in range(30)
        ]
        self.searches = 0
        world = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.endswith("/v0/search"):
                    world.searches += 1
                    south, west, north, east = map(float, parse_qs(parts.query)["bbox"][0].split(","))
                    limit = int(parse_qs(parts.query)["limit"][0])
                    hits = [e for e in world.entries if south <= e["lat"] < north and west <= e["lng"] < east]
                    body = {
                        "visible": [{"id": e["id"], "lat": e["lat"], "lng": e["lng"]} for e in hits[:limit]],
                        "invisible": [],
                    }
                elif "/v0/entries/" in parts.path:
                    ids = parts.path.rsplit("/", 1)[1].split(",")
                    body = [e for e in world.entries if e["id"] in ids]
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def run_source(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits: dict[str, str] | None = None, **entry: object
    ) -> pipeline.RunSummary:
        """Run kvm-france against this world (search cap 10, the mapping ``edits`` and registry ``entry``
        values applied), then stop the world's server."""
        mapping = (TRANSFORMS / "mappings" / "kvm-france.toml").read_text(encoding="utf-8")
        for before, after in {"limit = 2000": "limit = 10", **(edits or {})}.items():
            mapping = mapping.replace(before, after)
        (tmp_path / "kvm.toml").write_text(mapping, encoding="utf-8")
        host, port = self.httpd.server_address[:2]
        registry = write_registry(
            tmp_path,
            {"kvm-france": f"http://{host}:{port}/v0/search"},
            **{"kvm-france": {"min_interval": 0, "mapping": str(tmp_path / "kvm.toml"), **entry}},
        )
        monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        try:
            return jobs.run_source("kvm-france")
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def test_kvm_tiles_the_bbox_past_the_search_cap(bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = _KvmWorld()
    summary = world.run_source(tmp_path, monkeypatch, {"ids_per_request = 50": "ids_per_request = 7"})
    assert summary.outcome == "success", summary.error
    assert summary.counts["fetched"] == 30 and world.searches > 1
    raw = json.loads((Path(summary.run_dir) / "raw.json").read_text(encoding="utf-8"))
    assert sum(1 for p in raw if p["role"] == "entries") == 5  # 30 ids in batches of 7
    licences = {json.loads(line)["licence"] for line in (Path(summary.run_dir) / "valid.jsonl").open()}
    assert licences == {"CC0-1.0", "ODbL-1.0"}  # the licence of each entry, not the source's


def test_openagenda_incremental_run_applies_updates_and_deletions(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.faults import Fault, FaultServer

    pages = json.loads((TRANSFORMS / "samples" / "agenda-transition.json").read_text(encoding="utf-8"))
    events = [e for p in pages for e in p["payload"]["events"]]
    server = FaultServer()
    try:
        url = server.set(
            "/v2/agendas/transition-citoyenne/events",
            Fault(body=json.dumps({"total": len(events), "events": events, "after": None}).encode()),
        )
        registry = write_registry(tmp_path, {"agenda-transition": url}, **{"agenda-transition": {"min_interval": 0}})
        monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        first = jobs.run_source("agenda-transition")
        assert first.outcome == "success", first.error
        renamed = dict(events[2], title={"fr": "Troc de graines (nouveau titre)"}, updatedAt="2026-11-28T10:00:00Z")
        server.set(
            "/v2/agendas/transition-citoyenne/events",
            Fault(body=json.dumps({"total": 1, "events": [renamed], "after": None}).encode()),
            Fault(body=json.dumps({"total": 1, "events": [{"uid": 91650116}], "after": None}).encode()),
        )
        second = jobs.run_source("agenda-transition")
        # nothing updated, nothing removed since: the merged records are those of the live graph
        empty = json.dumps({"total": 0, "events": [], "after": None}).encode()
        server.set("/v2/agendas/transition-citoyenne/events", Fault(body=empty), Fault(body=empty))
        third = jobs.run_source("agenda-transition")
    finally:
        server.close()
    assert third.outcome == "not-modified" and f"unchanged since run {second.run_id}" in third.note
    assert second.outcome == "success", second.error
    queries = [path for path, _ in server.requests[-4:-2]]
    assert "updatedAt%5Bgte%5D=" in queries[0] and "removed=1" in queries[1]
    lines = (Path(second.run_dir) / "valid.jsonl").read_text(encoding="utf-8").splitlines()
    records = {json.loads(line)["source_id"]: json.loads(line) for line in lines}
    assert "91650116" not in records  # deleted upstream
    assert records["91650115"]["name"] == "Troc de graines (nouveau titre)"
    assert "91650113" in records and second.counts["loaded"] == first.counts["loaded"] - 1


def test_a_paged_source_over_its_request_cap_fails_with_the_setting_to_change(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _KvmWorld()
    summary = world.run_source(tmp_path, monkeypatch, max_requests=3)
    assert summary.outcome == "failed" and world.searches == 3
    assert "more than 3 requests in one run" in summary.error and "max_requests" in summary.error
