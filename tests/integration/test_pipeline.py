"""The whole pipeline of a source over real HTTP (127.0.0.1) into a real on-disk pyoxigraph store."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import SOURCE_IDS, Bus, Reply, sample_path
from tests.sample_counts import SAMPLE_COUNTS
from transiscope import jobs, runs
from transiscope.core import vocab
from transiscope.core.errors import StoreLocked
from transiscope.ingest import pipeline, run_context, safety_valves, stage_functions
from transiscope.ingest.mappings import load_registry
from transiscope.reports.quality import build_source_report
from transiscope.settings import Settings
from transiscope.store import provenance
from transiscope.store.embedded import EmbeddedStore

#: (fetched, loaded, quarantined) of each bundled sample, from transforms/samples/README.md
EXPECTED = SAMPLE_COUNTS


def _run(source_id: str) -> pipeline.RunSummary:
    """Every stage, even on a payload already loaded (the tests here rerun the samples on purpose)."""
    return jobs.run_source(source_id, force=True)


def _quarantine(summary: pipeline.RunSummary) -> list[dict]:
    return list(runs.iter_quarantine(Path(summary.run_dir)))


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_nothing_lost(bus: Bus, source_id: str) -> None:
    summary = _run(source_id)
    assert summary.outcome == "success", summary.error
    counts = summary.counts
    assert (counts["fetched"], counts["loaded"], counts["quarantined"]) == EXPECTED[source_id]
    assert counts["fetched"] == counts["loaded"] + counts["quarantined"]
    raw = json.loads(sample_path(source_id).read_text(encoding="utf-8"))["data"]
    quarantined = _quarantine(summary)
    for entry in quarantined:
        assert entry["reasons"] and all(isinstance(r, str) and r for r in entry["reasons"])
        assert entry["raw"] == raw[entry["record_index"]]  # the raw record, as the source sent it
    with bus.store() as store:
        loaded = store.select(
            f"SELECT (COUNT(?i) AS ?n) WHERE {{ GRAPH <{vocab.source_graph(rdf_base(), source_id)}> "
            f"{{ ?i a <{vocab.TS}Initiative> }} }}"
        )
    assert int(loaded[0]["n"].value) == counts["loaded"]
    loaded_positions = {
        json.loads(line)["record_index"] for line in (Path(summary.run_dir) / "valid.jsonl").read_text().splitlines()
    }
    assert loaded_positions.isdisjoint(e["record_index"] for e in quarantined)
    assert len(loaded_positions | {e["record_index"] for e in quarantined}) == len(raw)


def rdf_base() -> str:
    from transiscope.settings import Settings

    return Settings.from_env().base_iri


def test_idempotent_rerun(bus: Bus) -> None:
    first = _run("presdecheznous")
    before = bus.graph_triples("presdecheznous")
    second = _run("presdecheznous")
    assert first.run_id != second.run_id and second.outcome == "success"
    assert bus.graph_triples("presdecheznous") == before
    assert len(before) == second.counts["triples"]
    # the same triples file: the graph is not rewritten, only the run's provenance is
    load = runs.read_run(Path(second.run_dir))["stages"]["load"]
    assert load["graph"] == f"unchanged: same triples as run {first.run_id}"
    with bus.store() as store:
        live = provenance.previous_good_load(store, rdf_base(), "presdecheznous")
    assert live is not None and live.run_id == second.run_id and live.triples_digest.startswith("sha256:")


def test_unchanged_inputs_stop_after_the_extract(bus: Bus, tmp_path: Path) -> None:
    """Same payload, mapping and rules as the live graph's run: the run says so and loads nothing;
    a changed mapping, --force, or a live graph that is not that run's makes the stages run again."""
    first = jobs.run_source("presdecheznous")
    before = bus.graph_triples("presdecheznous")
    again = jobs.run_source("presdecheznous")
    assert again.outcome == "not-modified" and again.counts == {"fetched": 0, "loaded": 0, "quarantined": 0}
    assert f"unchanged since run {first.run_id}" in again.note and "nothing to load" in again.note
    assert list(runs.read_run(Path(again.run_dir))["stages"]) == ["extract"]
    assert bus.graph_triples("presdecheznous") == before
    forced = jobs.run_source("presdecheznous", force=True)
    assert forced.outcome == "success" and forced.counts["loaded"] == first.counts["loaded"]
    # the store no longer holds the run the digest points at (wiped, restored...): never skip on a guess
    with bus.store(read_only=False) as store:
        store.update(
            f"DELETE WHERE {{ GRAPH <{vocab.metadata_graph(rdf_base())}> "
            f"{{ <{vocab.source_iri(rdf_base(), 'presdecheznous')}> <{vocab.TS}lastSuccessfulRun> ?r }} }}"
        )
    assert jobs.run_source("presdecheznous").outcome == "success"


def test_quarantine_reasons_of_the_samples(bus: Bus) -> None:
    reasons = {e["source_id"]: e["reasons"] for e in _quarantine(_run("transiscope"))}
    assert set(reasons) == {"3nB", "3pC"}
    assert "status -4 (deleted)" in reasons["3pC"][0]
    assert "outside France" in reasons["3nB"][0]
    reasons = {e["source_id"]: e["reasons"] for e in _quarantine(_run("francetierslieux"))}
    assert list(reasons) == ["7Hb"] and "appears 2 times" in reasons["7Hb"][0]


def test_provenance_and_vocabularies_are_in_the_store(bus: Bus) -> None:
    summary = _run("transiscope")
    base = rdf_base()
    with bus.store() as store:
        run = store.select(
            f"SELECT ?outcome ?loaded ?runner ?mode WHERE {{ GRAPH <{vocab.metadata_graph(base)}> {{ "
            f"<{vocab.source_iri(base, 'transiscope')}> <{vocab.TS}lastSuccessfulRun> ?r . "
            f"?r <{vocab.TS}outcome> ?outcome ; <{vocab.TS}loaded> ?loaded ; <{vocab.TS}runner> ?runner ; "
            f"<{vocab.TS}mode> ?mode }} }}"
        )
        concepts = store.select(
            f"SELECT (COUNT(?c) AS ?n) WHERE {{ GRAPH <{vocab.ontology_graph(base, 'taxonomy')}> "
            "{ ?c a <http://www.w3.org/2004/02/skos/core#Concept> } }"
        )
        dangling = store.select(
            f"SELECT ?c WHERE {{ ?i <{vocab.TS}category> ?c FILTER NOT EXISTS {{ ?c a "
            "<http://www.w3.org/2004/02/skos/core#Concept> } }"
        )
    assert [(r["outcome"].value, int(r["loaded"].value), r["runner"].value, r["mode"].value) for r in run] == [
        ("success", summary.counts["loaded"], "cli", "live")
    ]
    assert int(concepts[0]["n"].value) >= 24
    assert dangling == [], "every category used by the data exists in the taxonomy"
    with bus.store() as store:
        sources = store.select(
            f"SELECT ?notation ?dataset WHERE {{ GRAPH <{vocab.ontology_graph(base, 'sources')}> {{ "
            "?c <http://www.w3.org/2004/02/skos/core#notation> ?notation ; <http://xmlns.com/foaf/0.1/focus> ?dataset "
            "} }"
        )
    assert sorted((r["notation"].value, r["dataset"].value) for r in sources) == sorted(
        (source_id, vocab.source_iri(base, source_id)) for source_id in bus.urls
    ), "the map's Sources group: one concept per configured source, linked to its DCAT dataset"


# -- bad input: one clear line, and the previous graph is never wiped -------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _point_source_at(bus: Bus, source_id: str, url: str) -> None:
    from tests.conftest import write_registry

    write_registry(bus.registry.parent, {**bus.urls, source_id: url})


def _assert_failed_and_kept(bus: Bus, summary: pipeline.RunSummary, before: set[str], *fragments: str) -> None:
    assert summary.outcome in ("failed", "rejected")
    assert summary.error and "\n" not in summary.error
    for fragment in fragments:
        assert fragment in summary.error
    assert bus.graph_triples("transiscope") == before, "the previous live graph must be kept"
    with bus.store() as store:
        rows = store.select(
            f"SELECT ?outcome ?msg WHERE {{ GRAPH <{vocab.metadata_graph(rdf_base())}> {{ "
            f'?r <{vocab.DCT}identifier> "{summary.run_id}" ; <{vocab.TS}outcome> ?outcome ; '
            f"<{vocab.TS}errorMessage> ?msg }} }}"
        )
    assert [(r["outcome"].value, r["msg"].value) for r in rows] == [(summary.outcome, summary.error)]


@pytest.fixture
def loaded(bus: Bus) -> set[str]:
    assert _run("transiscope").outcome == "success"
    triples = bus.graph_triples("transiscope")
    assert triples
    return triples


def test_unreachable_source(bus: Bus, loaded: set[str]) -> None:
    _point_source_at(bus, "transiscope", f"http://127.0.0.1:{_closed_port()}/api/elements.json")
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "unreachable", "connection was refused")


def test_http_500_then_success_is_retried(bus: Bus, loaded: set[str]) -> None:
    path = "/retry/elements.json"
    url = bus.server.set(
        path, Reply(500, b"oops"), Reply(503, b"busy"), Reply(200, sample_path("transiscope").read_bytes())
    )
    _point_source_at(bus, "transiscope", url)
    summary = _run("transiscope")
    assert summary.outcome == "success", summary.error
    assert bus.server.hits[path] == 3
    assert bus.graph_triples("transiscope") == loaded


def test_429_retry_after_is_honoured(bus: Bus) -> None:
    path = "/throttled/elements.json"
    url = bus.server.set(
        path, Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, sample_path("transiscope").read_bytes())
    )
    _point_source_at(bus, "transiscope", url)
    summary = _run("transiscope")
    assert summary.outcome == "success" and bus.server.hits[path] == 2
    run = runs.read_run(Path(summary.run_dir))
    assert run["stages"]["extract"]["seconds"] >= 0.9  # slept for the Retry-After second


def test_persistent_500_fails_after_retries(bus: Bus, loaded: set[str]) -> None:
    url = bus.server.set("/down/elements.json", Reply(500, b"oops"))
    _point_source_at(bus, "transiscope", url)
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "HTTP 500", "after retries")
    assert bus.server.hits["/down/elements.json"] == 4  # first try + 3 retries


def test_non_json_body(bus: Bus, loaded: set[str]) -> None:
    url = bus.server.set(
        "/html/elements.json", Reply(200, b"<html><body>Maintenance</body></html>", {"Content-Type": "text/html"})
    )
    _point_source_at(bus, "transiscope", url)
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "answered an HTML page", "Maintenance")


def test_empty_data_list(bus: Bus, loaded: set[str]) -> None:
    url = bus.server.set("/empty/elements.json", Reply(200, b'{"licence": "ODbL", "data": []}'))
    _point_source_at(bus, "transiscope", url)
    summary = _run("transiscope")
    _assert_failed_and_kept(bus, summary, loaded, "returned no records", "was kept")
    assert summary.outcome == "rejected"


def test_sudden_shrink_is_rejected(bus: Bus, loaded: set[str]) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"] = payload["data"][:3]
    url = bus.server.set("/shrunk/elements.json", Reply(200, json.dumps(payload).encode()))
    _point_source_at(bus, "transiscope", url)
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "shrank from 12 to 3", "TRANSISCOPE_MAX_SHRINK")


def test_all_records_invalid_is_rejected(bus: Bus, loaded: set[str]) -> None:
    body = json.dumps({"data": [{"id": "a", "name": "", "geo": {"latitude": 0, "longitude": 0}}]}).encode()
    url = bus.server.set("/invalid/elements.json", Reply(200, body))
    _point_source_at(bus, "transiscope", url)
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "all 1 records were quarantined")


def test_payload_over_the_size_cap(bus: Bus, loaded: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_HTTP_MAX_BYTES", "1000")
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "announces 18,", "over the cap of 1,000")
    # without Content-Length, the cap applies while streaming
    url = bus.server.set(
        "/stream/elements.json", Reply(200, sample_path("transiscope").read_bytes(), send_length=False)
    )
    _point_source_at(bus, "transiscope", url)
    _assert_failed_and_kept(bus, _run("transiscope"), loaded, "sent more than the cap of 1,000 bytes")


def test_locked_store_gives_a_clear_error(bus: Bus, loaded: set[str]) -> None:
    with EmbeddedStore(bus.home / "store"):
        summary = _run("transiscope")
        with pytest.raises(StoreLocked, match="being written by another process"):
            EmbeddedStore(bus.home / "store")
    assert summary.outcome == "failed" and "being written by another process" in summary.error
    fetched, accepted, quarantined = SAMPLE_COUNTS["transiscope"]
    assert summary.counts == {"fetched": fetched, "loaded": 0, "quarantined": quarantined, "not_loaded": accepted}
    assert bus.graph_triples("transiscope") == loaded


def _run_record(bus: Bus, run_id: str) -> dict[str, list[str]]:
    """What the metadata graph says of one run: its outcomes, end times and error messages."""
    base = rdf_base()
    found: dict[str, list[str]] = {}
    with bus.store() as store:
        for name, predicate in (
            ("outcome", f"{vocab.TS}outcome"),
            ("ended", f"{vocab.PROV}endedAtTime"),
            ("error", f"{vocab.TS}errorMessage"),
        ):
            rows = store.select(
                f"SELECT ?v WHERE {{ GRAPH <{vocab.metadata_graph(base)}> {{ "
                f'?r <{vocab.DCT}identifier> "{run_id}" ; <{predicate}> ?v }} }}'
            )
            found[name] = sorted(r["v"].value for r in rows)
    return found


def _status_rows(capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, str], str]:
    from transiscope.cli import main

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    return {line.split()[0]: line for line in out.splitlines()[2:] if line and not line.startswith(" ")}, out


def test_a_failure_while_the_store_is_locked_is_recorded_by_the_next_writer(
    bus: Bus, loaded: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: two failures of a source while another writer held the store left no PROV activity, and
    ``status`` said 'never run'. They are kept in their run folders, shown by ``status``, and written to the
    metadata graph, once each, by the next load of any source."""
    with EmbeddedStore(bus.home / "store"):
        first = _run("transiscope")
        second = _run("transiscope")
        while_locked, _ = _status_rows(capsys)  # readers are not stopped by the writer
    for summary in (first, second):
        assert summary.outcome == "failed" and "being written by another process" in summary.error
        assert runs.is_pending(Path(summary.run_dir))
        assert _run_record(bus, summary.run_id)["outcome"] == []
    rows, out = _status_rows(capsys)
    for row in (while_locked["transiscope"], rows["transiscope"]):
        assert "failed (not yet in the store)" in row and second.run_id in row
    assert "transiscope: the embedded store" in out and "being written by another process" in out

    assert _run("presdecheznous").outcome == "success"  # the next writer, of another source
    for summary in (first, second):
        record = _run_record(bus, summary.run_id)
        assert record["outcome"] == ["failed"] and len(record["ended"]) == 1
        assert record["error"] == [summary.error]
        assert not runs.is_pending(Path(summary.run_dir))
    rows, _ = _status_rows(capsys)
    assert "not yet in the store" not in rows["transiscope"]
    assert "failed" in rows["transiscope"] and second.run_id in rows["transiscope"]
    # written once: a later writer finds nothing left to write
    assert _run("presdecheznous").outcome == "success"
    assert _run_record(bus, second.run_id)["outcome"] == ["failed"]
    assert bus.graph_triples("transiscope") == loaded


def test_a_stage_retried_after_a_failure_leaves_one_outcome(
    bus: Bus, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: extract failed on a 500 and passed on its Airflow retry; run.json kept ``failed_stage`` and the
    500 next to ``outcome: success``, and the metadata graph held both outcomes and both end times."""
    from transiscope.core.errors import TransiscopeError
    from transiscope.ingest import stages

    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "0")  # the 500 fails the stage, as after the HTTP retries
    path = "/flaky/elements.json"
    url = bus.server.set(path, Reply(500, b"oops"), Reply(200, sample_path("transiscope").read_bytes()))
    _point_source_at(bus, "transiscope", url)
    run_dir = run_context.start_run("transiscope", runner="airflow", force=True)
    with pytest.raises(TransiscopeError, match="500"):
        jobs.run_stage("extract", run_dir)
    failed = runs.read_run(run_dir)
    assert failed["outcome"] == "failed" and failed["failed_stage"] == "extract" and "500" in failed["error"]
    assert _run_record(bus, failed["run_id"])["outcome"] == ["failed"]

    for name in stages.NAMES:  # the retry of extract, then the stages after it
        jobs.run_stage(name, run_dir)
    run = runs.read_run(run_dir)
    assert run["outcome"] == "success" and run["counts"]["loaded"] == EXPECTED["transiscope"][1]
    assert not {"failed_stage", "error", "error_kind"} & set(run) and run["ended"]
    assert bus.server.hits[path] == 2
    record = _run_record(bus, run["run_id"])
    assert record["outcome"] == ["success"] and len(record["ended"]) == 1 and record["error"] == []
    rows, _ = _status_rows(capsys)
    assert "success" in rows["transiscope"] and run["run_id"] in rows["transiscope"]


# -- batch-level valves (issue: data quality) --------------------------------------------------------
def test_schema_drift_stops_the_load(bus: Bus, loaded: set[str]) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    for element in payload["data"]:
        element["title"] = element.pop("name")  # the source renamed a column
    url = bus.server.set("/drift/elements.json", Reply(200, json.dumps(payload).encode()))
    _point_source_at(bus, "transiscope", url)
    summary = _run("transiscope")
    _assert_failed_and_kept(
        bus, summary, loaded, "schema drift", "'name' missing from all 14 records", "title", "transiscope.toml"
    )
    assert summary.outcome == "rejected"


def test_quarantine_rate_over_threshold(bus: Bus, loaded: set[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_MAX_QUARANTINE_SHARE", "0.1")  # the sample quarantines 2/14 = 14 %
    summary = _run("transiscope")
    _assert_failed_and_kept(bus, summary, loaded, "2 of 14 records quarantined (14%", "allowed 10%")


@pytest.mark.parametrize(("loaded", "rejected"), [(40, True), (49, True), (50, False), (100, False)])
def test_shrink_threshold(loaded: int, rejected: bool) -> None:
    from transiscope.core.errors import BatchRejected
    from transiscope.ingest.mappings import load_registry
    from transiscope.settings import Settings

    settings = Settings.from_env()  # max_shrink 0.5
    source = load_registry(settings.registry_path).get("transiscope")
    counts = {"fetched": loaded, "loaded": loaded, "quarantined": 0}
    if rejected:
        with pytest.raises(BatchRejected, match=f"shrank from 100 to {loaded} loadable records"):
            safety_valves.check_batch(source, counts, ("r1", 100), settings)
    else:
        safety_valves.check_batch(source, counts, ("r1", 100), settings)


def test_rejected_batch_still_accounts_for_every_record(bus: Bus, loaded: set[str]) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"] = payload["data"][:4]  # 12 -> 4 loadable: -67 %
    url = bus.server.set("/shrunk60/elements.json", Reply(200, json.dumps(payload).encode()))
    _point_source_at(bus, "transiscope", url)
    summary = _run("transiscope")
    assert summary.outcome == "rejected" and "shrank from 12 to 4" in summary.error
    assert summary.counts == {"fetched": 4, "loaded": 0, "quarantined": 4}
    entries = _quarantine(summary)
    assert sorted(e["record_index"] for e in entries) == [0, 1, 2, 3]
    assert all(e["stage"] == "batch" and e["reasons"][0].startswith("the whole batch was rejected: ") for e in entries)
    assert bus.graph_triples("transiscope") == loaded


def test_quarantine_command_shows_the_latest_processed_run(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    from transiscope.cli import main

    payload = json.loads(sample_path("presdecheznous").read_text(encoding="utf-8"))
    url = bus.server.set("/pdcn/elements.json", Reply(200, json.dumps(payload).encode()))
    _point_source_at(bus, "presdecheznous", url)
    assert _run("presdecheznous").outcome == "success"
    assert main(["quarantine", "presdecheznous"]) == 0
    out = capsys.readouterr().out
    assert "6Hs" in out and "no name" in out and "8Lp" in out and "latitude 123.4" in out

    # the source fixes 6Hs; an unreachable run afterwards does not hide the last quarantine
    fixed = next(e for e in payload["data"] if e["id"] == "6Hs")
    fixed["name"] = "Le Jardin retrouvé"
    bus.server.set("/pdcn/elements.json", Reply(200, json.dumps(payload).encode()))
    assert _run("presdecheznous").outcome == "success"
    _point_source_at(bus, "presdecheznous", f"http://127.0.0.1:{_closed_port()}/x")
    assert _run("presdecheznous").outcome == "failed"
    assert main(["quarantine", "presdecheznous", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["source_id"] for e in entries] == ["8Lp"]
    assert entries[0]["raw"]["geo"]["latitude"] == 123.4


def test_void_statistics_and_validation_summary(bus: Bus) -> None:
    _run("transiscope")
    summary = _run("transiscope")  # twice: statistics are replaced, not accumulated
    base = rdf_base()
    source = vocab.source_iri(base, "transiscope")
    with bus.store() as store:
        classes = {
            r["c"].value.rsplit("/", 1)[-1].rsplit("#", 1)[-1]: int(r["n"].value)
            for r in store.select(
                f"SELECT ?c ?n WHERE {{ <{source}> <http://rdfs.org/ns/void#classPartition> ?p . "
                "?p <http://rdfs.org/ns/void#class> ?c ; <http://rdfs.org/ns/void#entities> ?n }"
            )
        }
        count = store.select(f"SELECT ?n WHERE {{ <{source}> <http://rdfs.org/ns/void#classes> ?n }}")
        checks = store.select(
            f"SELECT ?check ?severity ?failed WHERE {{ <{vocab.run_iri(base, 'transiscope', summary.run_id)}> "
            f"<{vocab.TS}checkResult> ?c . ?c <{vocab.TS}check> ?check ; <{vocab.TS}severity> ?severity ; "
            f"<{vocab.TS}failedRecords> ?failed }}"
        )
    assert classes["Initiative"] == classes["Organization"] == 12
    assert classes["PostalAddress"] == 12 and classes["Geometry"] == 12
    assert [int(r["n"].value) for r in count] == [len(classes)]
    found = {(r["check"].value, r["severity"].value, int(r["failed"].value)) for r in checks}
    assert ("expect_column_values_to_be_in_set(in_france)", "critical", 1) in found
    assert ("expect_column_values_to_be_between(unmapped_count)", "warning", 1) in found


def test_shape_violations_are_quarantined_before_the_load(bus: Bus) -> None:
    """A record the expectations let through but the SHACL shapes reject never reaches the store."""
    run_dir = run_context.start_run("transiscope")
    for stage in (stage_functions.extract, stage_functions.normalise, stage_functions.validate):
        stage(run_dir)
    valid_path = run_dir / "valid.jsonl"
    records = [json.loads(line) for line in valid_path.read_text(encoding="utf-8").splitlines()]
    broken = records[0]
    broken["concepts"] = ["n-existe-pas"]  # a crosswalk typo: not a concept of the taxonomy
    valid_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    stage_functions.to_rdf(run_dir)
    stats = stage_functions.shapes(run_dir)
    assert stats["quarantined"] == 1 and stats["violations"] >= 1
    counts = stage_functions.load(run_dir)
    assert counts["loaded"] == len(records) - 1 and counts["shape_violations"] == stats["violations"]
    assert counts["fetched"] == counts["loaded"] + counts["quarantined"]
    entry = next(e for e in runs.iter_quarantine(run_dir) if e["stage"] == "shapes")
    assert entry["source_id"] == broken["source_id"] and entry["raw"]["id"] == broken["source_id"]
    assert any("n-existe-pas" in reason and "taxonomy" in reason for reason in entry["reasons"])
    assert any("taxonomie" in reason for reason in entry["reasons_fr"])
    iri = vocab.initiative_iri(rdf_base(), "transiscope", broken["source_id"])
    assert not any(line.startswith(f"<{iri}") for line in bus.graph_triples("transiscope"))
    assert len(bus.graph_triples("transiscope")) == counts["triples"]
    settings = Settings.from_env()
    report = build_source_report(settings, load_registry(settings.registry_path).get("transiscope"))
    shacl = [group for group in report["rejected_at_normalise"] if group["kind"].startswith("SHACL")]
    assert shacl and shacl[0]["count"] == 1 and shacl[0]["examples"][0]["reason_fr"]


def test_load_refuses_triples_the_shapes_have_not_checked(bus: Bus) -> None:
    run_dir = run_context.start_run("transiscope")
    for stage in (stage_functions.extract, stage_functions.normalise, stage_functions.validate, stage_functions.to_rdf):
        stage(run_dir)
    with pytest.raises(RuntimeError, match="shapes stage has not run"):
        stage_functions.load(run_dir, record_failures=False)
    assert bus.graph_triples("transiscope") == set()


def test_sources_prepared_in_worker_processes(bus: Bus) -> None:
    """``run --jobs 2``: the stages before the load run in two worker processes, the loads here one at a time;
    every source ends as it does alone, and the summaries come in the order asked."""
    settings = Settings.from_env()
    asked = list(SOURCE_IDS)
    summaries = jobs.run_sources([pipeline.SourceJob(s) for s in asked], settings=settings, workers=2)
    assert [s.source for s in summaries] == asked
    for summary in summaries:
        assert summary.outcome == "success", (summary.source, summary.error)
        counts = summary.counts
        assert (counts["fetched"], counts["loaded"], counts["quarantined"]) == EXPECTED[summary.source]
    with bus.store() as store:
        for source_id in asked:
            assert store.count(vocab.source_graph(settings.base_iri, source_id)) == next(
                s.counts["triples"] for s in summaries if s.source == source_id
            )
