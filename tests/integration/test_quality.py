"""Quality reports for source maintainers, built from real runs of the sample sources."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import Bus, Reply, sample_path, write_registry
from transiscope import jobs
from transiscope.cli import main
from transiscope.ingest.mappings import load_registry
from transiscope.reports.quality import WEIGHTS, build_source_report, write_reports


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def _parse(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def _serve(bus: Bus, payload: dict, source_id: str = "transiscope") -> None:
    url = bus.server.set(f"/q/{source_id}.json", Reply(200, json.dumps(payload).encode()))
    write_registry(bus.registry.parent, {**bus.urls, source_id: url})


def test_report_of_a_sample_source(bus: Bus) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    twin = dict(payload["data"][0], id="3aF-bis")  # same name, same place, another id
    payload["data"].append(twin)
    _serve(bus, payload)
    assert jobs.run_source("transiscope").outcome == "success"
    settings = bus.settings()
    report = build_source_report(settings, load_registry(settings.registry_path).get("transiscope"))

    run = report["run"]
    assert (run["fetched"], run["loaded"], run["quarantined"]) == (15, 13, 2)
    assert report["completeness"]["name"] == 1.0  # 3nB has a name; 3pC never reached normalisation
    assert 0 < report["completeness"]["website"] < 1
    failing = {(e["column"], e["severity"]): e for e in report["expectations"]}
    france = failing[("in_france", "critical")]
    assert france["failed"] == 1 and france["examples"][0]["source_id"] == "3nB"
    assert failing[("unmapped_count", "warning")]["examples"][0]["reason"].endswith("yet: Low-tech")
    assert report["rejected_at_normalise"][0]["count"] == 1  # 3pC, status -4
    assert [sorted(d["source_id"] for d in group) for group in report["duplicates"]] == [["3aF", "3aF-bis"]]
    assert report["uncategorised"]["count"] == 1 and report["uncategorised"]["examples"][0]["source_id"] == "3hX"
    assert report["unmapped_labels"] == [{"label": "Low-tech", "records": 1}]
    scores = report["scores"]
    assert scores["validity"] == round(13 / 15, 4)
    assert report["score"] == round(100 * sum(WEIGHTS[k] * scores[k] for k in WEIGHTS), 1)
    assert [t["outcome"] for t in report["trend"]] == ["success"]


def test_stale_records_and_trend(bus: Bus) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"][0]["updatedAt"] = "2015-03-01T10:00:00+01:00"
    _serve(bus, payload)
    assert jobs.run_source("transiscope").outcome == "success"
    bus.server.set("/q/transiscope.json", Reply(500, b"down"))
    assert jobs.run_source("transiscope").outcome == "failed"
    settings = bus.settings()
    report = build_source_report(settings, load_registry(settings.registry_path).get("transiscope"))
    stale = report["stale"]["examples"][0]
    assert stale == {
        "source_id": "3aF",
        "name": payload["data"][0]["name"],
        "updated_at": "2015-03-01T10:00:00+01:00",
        "page": stale["page"],
    }
    assert stale["page"].endswith("/map#/fiche/AMAP-des-Pentes/3aF/")  # the record's page on the source's map
    assert [t["outcome"] for t in report["trend"]] == ["failed", "success"]
    assert "HTTP 500" in report["trend"][0]["error"]
    assert report["run"]["outcome"] == "success"  # the last run that read records


def test_html_in_both_languages_escapes_hostile_strings(bus: Bus) -> None:
    payload = json.loads(sample_path("transiscope").read_text(encoding="utf-8"))
    payload["data"][1]["id"] = '<img src=x onerror="alert(1)">'
    payload["data"][1]["categoriesFull"] = [{"id": 1, "name": "<script>alert(2)</script>Zéro"}]
    _serve(bus, payload)
    assert jobs.run_source("transiscope").outcome == "success"
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    for lang, heading in (("fr", "Qualité des données"), ("en", "Data quality")):
        html = (out / f"transiscope.{lang}.html").read_text(encoding="utf-8")
        parsed = _parse(html)
        assert f'<html lang="{lang}">' in html and heading in "".join(parsed.text)
        assert "img" not in parsed.tags and "script" not in parsed.tags
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in index["sources"]][0] == "transiscope"  # the only source read
    assert [s["score"] for s in index["sources"]][1:] == [None, None]
    text = "".join(_parse((out / "index.en.html").read_text(encoding="utf-8")).text)
    assert "score = 100 × (0.40 V + 0.30 C + 0.15 W + 0.15 F)" in text


def test_cli_run_writes_reports_and_report_command(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-downstream"]) == 0
    assert "quality reports:" in capsys.readouterr().err
    reports = bus.home / "reports"
    assert {p.name for p in reports.glob("*.html")} >= {
        "index.fr.html",
        "index.en.html",
        "transiscope.fr.html",
        "presdecheznous.en.html",
        "francetierslieux.fr.html",
    }
    ranked = [s["score"] for s in json.loads((reports / "index.json").read_text())["sources"]]
    assert ranked == sorted(ranked, reverse=True) and all(0 < s <= 100 for s in ranked)
    assert main(["report", "presdecheznous"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("presdecheznous: score ") and "index:" in out


def test_points_far_from_their_declared_postcode(bus: Bus, territories_dir, monkeypatch) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(territories_dir))
    payload = json.loads(sample_path("presdecheznous").read_text(encoding="utf-8"))
    moved = payload["data"][0]
    moved["address"]["postalCode"] = "69001"  # declares Lyon 1er...
    moved["geo"] = {"latitude": 48.8566, "longitude": 2.3522}  # ...but stands in Paris
    _serve(bus, payload, "presdecheznous")
    assert jobs.run_source("presdecheznous").outcome == "success"
    settings = bus.settings()
    far = build_source_report(settings, load_registry(settings.registry_path).get("presdecheznous"))[
        "far_from_declared"
    ]
    assert far["checked"] and far["count"] == 1
    example = far["examples"][0]
    assert example["source_id"] == moved["id"] and example["declared"] == "postcode 69001"
    assert 380 < example["km"] < 400  # Paris – Lyon 1er, straight line


def test_far_check_says_when_it_could_not_run(bus: Bus, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(tmp_path / "none"))
    assert jobs.run_source("francetierslieux").outcome == "success"
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    report = json.loads((out / "francetierslieux.json").read_text())
    assert report["far_from_declared"]["checked"] is False
    assert "Not checked: no territories data" in (out / "francetierslieux.en.html").read_text()


def test_french_page_speaks_french(bus: Bus) -> None:
    assert jobs.run_source("presdecheznous").outcome == "success"
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    french = "".join(_parse((out / "presdecheznous.fr.html").read_text(encoding="utf-8")).text)
    english = "".join(_parse((out / "presdecheznous.en.html").read_text(encoding="utf-8")).text)
    assert "la latitude 123.4 n'est pas comprise entre -90 et 90" in french
    assert "Les latitudes sont comprises entre -90 et 90" in french
    assert "latitude 123.4 is not between -90 and 90" in english and "n'est pas" not in english


MIXED_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "csv" / "amap-herault-mixed-encoding.csv"


def _run_csv(bus: Bus, tmp_path, monkeypatch, body: bytes, mapping_text: str, said: list[str] | None = None):
    from tests.integration.faults import Fault, FaultServer
    from tests.integration.test_faults import write_registry as write_entries

    mapping = tmp_path / "amap-herault.toml"
    mapping.write_text(mapping_text, encoding="utf-8")
    server = FaultServer()
    try:
        url = server.set("/export.csv", Fault(body=body))
        overrides = {"mapping": str(mapping), "min_interval": 0}
        registry = write_entries(tmp_path, {"ressourceries": url}, ressourceries=overrides)
        monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(registry))
        return jobs.run_source("ressourceries", progress=(said if said is not None else []).append)
    finally:
        server.close()


def test_a_mapped_column_empty_in_every_record_is_a_run_warning_and_a_report_line(
    bus: Bus, tmp_path, monkeypatch
) -> None:
    text = (MIXED_CSV.parent / "amap-herault.toml").read_text(encoding="utf-8")
    said: list[str] = []
    summary = _run_csv(bus, tmp_path, monkeypatch, MIXED_CSV.read_bytes(), text, said)
    assert summary.outcome == "success", summary.error
    assert [line for line in said if "warning:" in line] == [
        "ressourceries: warning: source 'ressourceries': mapped field 'email' (from 'Courriel') is empty in every "
        "one of the 4 records: did the source rename or drop it? check the mapping amap-herault.toml"
    ]
    run = json.loads((Path(summary.run_dir) / "run.json").read_text(encoding="utf-8"))
    empty = run["stages"]["normalise"]["empty_fields"]
    assert [(e["field"], e["paths"], e["records"]) for e in empty] == [("email", ["Courriel"], 4)]
    assert "'email' (from 'Courriel') is empty in every one of the 4 records" in empty[0]["message"]
    settings = bus.settings()
    report = build_source_report(settings, load_registry(settings.registry_path).get("ressourceries"))
    assert [e["field"] for e in report["empty_fields"]] == ["email"]
    from transiscope.reports.quality import render

    french = " ".join(" ".join(_parse(render(report, "fr")).text).split())
    english = " ".join(" ".join(_parse(render(report, "en")).text).split())
    assert "Champ « Courriel » vide dans toutes les fiches (lu dans Courriel de la source)" in french
    assert "Field “Email” empty in every record (read from Courriel in the source)" in english
    # the category column survived the mixed encodings: not among the empty ones, and read with its accents
    assert report["completeness"]["categories"] == 1.0


def test_schema_drift_names_the_missing_mapped_fields_and_the_unused_payload_fields(
    bus: Bus, tmp_path, monkeypatch
) -> None:
    text = (MIXED_CSV.parent / "amap-herault.toml").read_text(encoding="utf-8")
    renamed = MIXED_CSV.read_bytes().replace(b"Identifiant;", b"ID;", 1).replace(b";Courriel", b";Site", 1)
    summary = _run_csv(bus, tmp_path, monkeypatch, renamed, text)
    assert summary.outcome == "rejected"  # the batch, kept out of the store with its reason
    error = summary.error or ""
    assert "schema drift: mapped field(s) 'Identifiant' missing from all 4 records" in error, error
    assert "fields of the payload the mapping does not use: ID, Site" in error, error
    assert "does not know" not in error and "Nom" not in error.split("does not use:")[1]
