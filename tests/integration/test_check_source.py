"""``transiscope check-source``: real files, a real HTTP server on 127.0.0.1, the real pipeline; no mocks.

Each bundled sample is checked, the proposed mapping validated against the mapping schema, then used as the
source's mapping in a real run, whose loaded records are compared with what the hand-written mapping loads.
Where a proposal cannot match the hand-written mapping, ``KNOWN_DIFFERENCES`` says why. The crosswalk is
compared apart: the draft proposes, per label, the closest concept (by folded-label similarity, or the same
label in *another* source's crosswalk, never the checked source's own), while hand-written crosswalks often
add a second, broader concept ("Repair Café" -> repair-cafes + fabriquer-reparer-zero-dechets) or map labels
no similarity finds ("agroecology" -> agriculture-alimentation, where the draft says se-nourrir, "Food"); so
the test asks that the proposed concepts share a concept or its domain with the hand-written ones for at
least half of the records.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT, SAMPLES, TRANSFORMS, PayloadServer, Reply
from tests.integration.test_faults import write_registry
from transiscope import cli, jobs
from transiscope.core.files import iter_jsonl
from transiscope.core.taxonomy import read_taxonomy
from transiscope.ingest.mappings import load_mapping_file as load_mapping
from transiscope.ingest.mappings import load_registry
from transiscope.ingest.samples import SampleServer
from transiscope.registry.schemas import mapping_problems
from transiscope.reports.check_source import check_source, format_report
from transiscope.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "check_source"
MESSY = FIXTURES / "messy-amap.csv"
PROJECT_SOURCES = {s.id: s for s in load_registry(TRANSFORMS / "sources.toml").sources}
SAMPLE_IDS = sorted(s.id for s in PROJECT_SOURCES.values() if s.sample_path is not None)
#: canonical fields compared between the hand-written and the proposed mapping's loaded records
KEY_FIELDS = (
    "name",
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "website",
    "email",
    "updated_at",
    "start",
    "end",
    "categories",
    "description",
)
#: where a proposal honestly cannot equal the hand-written mapping (field -> why), per source
KNOWN_DIFFERENCES: dict[str, dict[str, str]] = {
    "jardins-partages-paris": {"city": 'the hand-written mapping defaults city to "Paris"; no field says so'},
}


BROADER = {c.notation: c.broader for c in read_taxonomy(PROJECT / "ontology" / "taxonomy.ttl").concepts}


def _domains(concepts: list[str]) -> set[str]:
    """The concepts and their domains (broader concepts)."""
    return set(concepts) | {BROADER[c] for c in concepts if BROADER.get(c)}


def _settings(home: Path, registry: Path) -> Settings:
    return replace(Settings.from_env(), home=home, registry_path=registry)


def _loaded(settings: Settings, source_id: str, url: str) -> dict[str, dict]:
    summary = jobs.run_source(source_id, settings=settings, url=url, mode="sample")
    assert summary.outcome == "success", summary.error
    return {r["source_id"]: r for r in iter_jsonl(Path(summary.run_dir) / "valid.jsonl")}


@pytest.fixture(scope="module")
def sample_server():
    with SampleServer(load_registry(TRANSFORMS / "sources.toml")) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated TRANSISCOPE_HOME that check-source must never create (no store, no runs)."""
    home = tmp_path / "home"
    monkeypatch.setenv("TRANSISCOPE_HOME", str(home))
    monkeypatch.setenv("TRANSISCOPE_HTTP_RETRIES", "0")
    monkeypatch.setenv("TRANSISCOPE_HTTP_CONNECT_TIMEOUT", "2")
    return home


@pytest.mark.parametrize("source_id", SAMPLE_IDS)
def test_each_sample_gets_a_valid_proposal_that_loads_like_the_hand_written_mapping(
    source_id: str, home: Path, tmp_path: Path, sample_server: SampleServer
) -> None:
    source = PROJECT_SOURCES[source_id]
    out = tmp_path / f"{source_id}.mapping.toml"
    result = check_source(str(source.sample_path), out=out, name=source_id)
    assert not home.exists(), "check-source created the bus's home (store or runs)"
    assert result.detection.format == source.format
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert mapping_problems(data, out) == []
    load_mapping(out, source_id, kind=source.extra.get("kind"))  # compiles: functions, paths, options

    url = sample_server.url_for(source)
    runs = {}
    for label, mapping in (("hand", {}), ("proposed", {"mapping": str(out)})):
        (tmp_path / label).mkdir()
        registry = write_registry(tmp_path / label, {source_id: url}, **{source_id: {"min_interval": 0, **mapping}})
        runs[label] = _loaded(_settings(tmp_path / label / "home", registry), source_id, url)
    hand, proposed = runs["hand"], runs["proposed"]
    assert set(proposed) == set(hand), f"ids loaded differ: {set(proposed) ^ set(hand)}"
    assert result.counts["loaded"] == len(hand)  # the check said what the bus loads

    allowed = KNOWN_DIFFERENCES.get(source_id, {})
    compared = differing = 0
    for record_id, expected in hand.items():
        for name in KEY_FIELDS:
            if name not in expected or name in allowed:
                continue
            compared += 1
            if proposed[record_id].get(name) != expected[name]:
                differing += 1
    assert differing <= 0.1 * compared, f"{differing} of {compared} key values differ"
    overlap = sum(
        1
        for i, r in hand.items()
        if _domains(r["concepts"]) & _domains(proposed[i]["concepts"]) or r["concepts"] == proposed[i]["concepts"]
    )
    assert overlap >= len(hand) / 2, f"proposed concepts overlap the hand-written ones for {overlap} of {len(hand)}"


def test_a_messy_csv_gets_a_sensible_proposal_and_a_report_naming_its_problems(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "messy.toml"
    result = check_source(str(MESSY), out=out)
    report = format_report(result)
    assert not home.exists()
    assert result.detection.format == "csv" and "cp1252" in result.detection.how[0] and "';'" in result.detection.how[0]
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert mapping_problems(data, out) == []
    fields = data["fields"]
    assert fields["source_id"] == "Réf" and fields["name"]["path"] == "Nom"
    assert (fields["lat"], fields["lon"]) == ("Lat", "Long")
    assert fields["description"] == {"path": "Présentation", "apply": ["strip_html"]}
    assert fields["categories"] == {"path": "Catégorie(s)", "apply": ["split:/", "trim"]}
    assert fields["updated_at"] == {"path": "Dernière modif", "apply": ["parse_date:%d/%m/%Y"]}
    assert fields["website"]["path"] == "Site" and fields["email"]["path"] == "Mél"
    assert data["categories"]["Jardin Partagé"] == ["jardins-partages"]
    assert "Trucs divers" not in data["categories"] and '# suggestion: "Trucs divers"' in out.read_text(
        encoding="utf-8"
    )
    # 10 records (empty rows skipped): no name (M05) and the (0, 0) point (M09) are quarantined
    assert result.counts == {"fetched": 10, "loaded": 8, "quarantined": 2}
    assert "Every initiative has a name" in report and "lies in France" in report
    assert "swapped at the source" in report and "not a date" in report
    assert "'Nb. bénévoles'" in report  # a column no mapping can name
    assert "licence" in report.split("fix first:")[1]  # none was declared
    assert "Trucs divers" in report and "???" in report  # left for review


def test_check_source_reads_a_url_as_the_bus_does(
    home: Path, tmp_path: Path, payload_server: PayloadServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    url = payload_server.set("/check/annuaire.csv", Reply(200, MESSY.read_bytes(), {"Content-Type": "text/csv"}))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check-source", url]) == 0
    captured = capsys.readouterr()
    assert "would load        8 of 10 records" in captured.out
    assert "fetch http://127.0.0.1" in captured.err  # progress on stderr
    assert (tmp_path / "annuaire.mapping.toml").exists()  # the default output: ./<name>.mapping.toml
    assert not home.exists()


def test_a_paged_api_url_is_fetched_page_by_page(home: Path, tmp_path: Path, sample_server: SampleServer) -> None:
    url = sample_server.url_for(PROJECT_SOURCES["kvm-france"])
    result = check_source(url, out=tmp_path / "kvm.toml", name="kvm-check")
    assert result.detection.format == "kvm" and result.counts["fetched"] == 12
    assert result.counts["loaded"] == 10 and not home.exists()  # Solawi Basel Land (CH) would be quarantined
    assert any("declare another country" in line for line in result.fix_first), result.fix_first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{url}/check/nothing.json"], "HTTP 404"),
        (["http://127.0.0.1:9/feed.json"], "unreachable"),
        (["{url}/check/page.html"], "answered an HTML page"),
        (["{url}/check/broken.json"], "is not JSON"),
        (["{url}/check/prose.txt"], "is not JSON, GeoJSON, iCalendar or CSV"),
        (["{fixture}", "--format", "xml"], "unknown format 'xml'"),
        (["{fixture}", "--format", "geojson"], "does not look like geojson"),
        (["no/such/file.csv"], "no such file"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    home: Path,
    tmp_path: Path,
    payload_server: PayloadServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    payload_server.set(
        "/check/page.html",
        Reply(200, b"<!doctype html><html><title>Login</title></html>", {"Content-Type": "text/html"}),
    )
    payload_server.set("/check/broken.json", Reply(200, b'{"data": [{"id": 1,'))
    payload_server.set(
        "/check/prose.txt",
        Reply(200, b"Bonjour, ceci n'est pas un fichier de donnees\n", {"Content-Type": "text/plain"}),
    )
    json_fixture = tmp_path / "list.json"
    json_fixture.write_text('[{"id": "a", "name": "A"}]', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    argv = [a.format(url=payload_server.base, fixture=json_fixture) for a in args]
    assert cli.main(["check-source", *argv]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("  … ")]
    assert len(errors) == 1 and errors[0].startswith("transiscope: error: ") and message in errors[0], errors
    assert not home.exists() and not list(tmp_path.glob("*.mapping.toml"))


def test_samples_dir_holds_one_payload_per_sample_source() -> None:
    # the parametrised test above covers every sample the registry names
    assert {p.name for p in SAMPLES.iterdir() if p.name != "README.md"} == {
        PROJECT_SOURCES[s].sample_path.name for s in SAMPLE_IDS
    }
