"""The maintainers' kit page (``reports/kit.*``): the five problems met most across the sources' latest runs of
the month, counted over real runs of the sample sources, and what it says when there are fewer or none."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import SOURCE_IDS, Bus
from tests.integration.test_quality import _parse
from transiscope import jobs
from transiscope.ingest.mappings import load_registry
from transiscope.reports.kit import build_kit, render_kit
from transiscope.reports.quality import write_reports
from transiscope.runs import latest_processed_run, read_run, write_run
from transiscope.settings import PROJECT_ROOT

CROSSWALK = "not in the source's crosswalk"


def _records_with(bus: Bus, words: str) -> dict[str, int]:
    """Per source, the records of its latest run whose quarantine or warning reasons contain ``words``, counted
    from the run's own files (independently of the reports the kit is built from)."""
    settings = bus.settings()
    counts: dict[str, int] = {}
    for source_id in SOURCE_IDS:
        run_dir = latest_processed_run(settings, source_id)
        assert run_dir is not None
        entries = [
            json.loads(line)
            for name in ("quarantine.jsonl", "warnings.jsonl")
            if (run_dir / name).exists()
            for line in (run_dir / name).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        found = {e["record_index"] for e in entries if any(words in reason for reason in e["reasons"])}
        if found:
            counts[source_id] = len(found)
    return counts


def _problems(html: str) -> list[str]:
    block = re.search(r'<ol id="kit-problems">(.*?)</ol>', html, re.S)
    assert block, "no list of problems on the page"
    return re.findall(r"<li>", block.group(1))


def test_the_five_problems_met_most_across_the_sources(bus: Bus) -> None:
    for source_id in SOURCE_IDS:
        assert jobs.run_source(source_id).outcome == "success"
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    kit = json.loads((out / "kit.json").read_text(encoding="utf-8"))

    assert kit["sources_read"] == sorted(SOURCE_IDS) and kit["window_days"] == 30
    # the samples' problems: 9 kinds (a deleted record, an id given twice, a point at (0, 0), a missing name, a
    # latitude out of range, points outside France, a bad website, labels not in the crosswalk, no category)
    assert kit["problems_found"] == 9 and len(kit["problems"]) == 5
    top = [(p["key"].split(":")[2], p["records"], p["sources"]) for p in kit["problems"][:3]]
    assert top == [
        ("unmapped_count", 4, ["francetierslieux", "presdecheznous", "transiscope"]),
        ("concept_count", 3, ["presdecheznous", "transiscope"]),
        ("in_france", 2, ["presdecheznous", "transiscope"]),
    ]
    assert [p["records"] for p in kit["problems"][3:]] == [1, 1]
    crosswalk = _records_with(bus, CROSSWALK)
    assert sum(crosswalk.values()) == kit["problems"][0]["records"]
    assert sorted(crosswalk) == kit["problems"][0]["sources"]
    assert sum(_records_with(bus, "outside France").values()) == kit["problems"][2]["records"]
    example = kit["problems"][0]["example"]  # from the source where the problem touched most records
    assert example["source"] == "francetierslieux" and CROSSWALK in example["reason"]
    assert example["name"] and "table de correspondance" in example["reason_fr"]
    assert kit["problems"][0]["todo"]["fr"].startswith("dites à l'équipe de Transiscope à quelle catégorie")
    assert kit["problems"][1]["todo"]["en"] == "give every record a category the crosswalk maps"
    assert kit["problems"][2]["field"] == {"fr": "En France", "en": "In France"}

    french = (out / "kit.fr.html").read_text(encoding="utf-8")
    english = (out / "kit.en.html").read_text(encoding="utf-8")
    assert len(_problems(french)) == len(_problems(english)) == 5
    assert "4 fiches dans 3 sources" in french and "3 fiches dans 2 sources" in french
    assert "4 records in 3 sources" in english and "fiches" not in english
    text = " ".join(_parse(french).text)
    assert "unmapped_count" not in text and "transiscope report" not in text and "TRANSISCOPE_" not in text
    assert example["name"] in text
    for page in ("index.fr.html", "transiscope.fr.html", "presdecheznous.en.html", "kit.en.html"):
        lang = page.split(".")[-2]
        assert f'class="kit-link" href="kit.{lang}.html"' in (out / page).read_text(encoding="utf-8"), page

    # a source whose latest run is older than a month is left out of the kit
    old = latest_processed_run(settings, "francetierslieux")
    assert old is not None
    run = read_run(old)
    write_run(old, {**run, "started": (datetime.now(UTC) - timedelta(days=40)).isoformat(timespec="seconds")})
    write_reports(settings, load_registry(settings.registry_path), ["francetierslieux"])
    month = json.loads((out / "kit.json").read_text(encoding="utf-8"))
    assert month["sources_read"] == ["presdecheznous", "transiscope"]
    assert month["problems_found"] == 8  # the id given twice was only in francetierslieux
    assert (month["problems"][0]["records"], month["problems"][0]["sources"]) == (3, ["presdecheznous", "transiscope"])
    assert not any(p["key"].startswith("set-aside:id") for p in month["problems"])


def test_fewer_than_five_problems(bus: Bus) -> None:
    assert jobs.run_source("francetierslieux").outcome == "success"
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    kit = json.loads((out / "kit.json").read_text(encoding="utf-8"))
    assert kit["sources_read"] == ["francetierslieux"] and kit["problems_found"] == 2
    assert [(p["records"], p["severity"]) for p in kit["problems"]] == [(2, "warning"), (1, "critical")]
    duplicate = kit["problems"][1]
    assert duplicate["key"].startswith("set-aside:id")
    assert duplicate["todo"]["en"].startswith("give every record its own id")
    french = html.unescape((out / "kit.fr.html").read_text(encoding="utf-8"))
    assert len(_problems(french)) == 2 and "Seulement 2 sortes de problèmes ont été trouvées" in french
    assert "Only 2 kinds of problem were found" in (out / "kit.en.html").read_text(encoding="utf-8")


def test_no_run_at_all_says_so(bus: Bus) -> None:
    settings = bus.settings()
    out = write_reports(settings, load_registry(settings.registry_path))
    kit = json.loads((out / "kit.json").read_text(encoding="utf-8"))
    assert kit["sources_read"] == [] and kit["problems"] == [] and kit["problems_found"] == 0
    french = html.unescape((out / "kit.fr.html").read_text(encoding="utf-8"))
    assert "Aucune source n'a été lue ces 30 derniers jours" in french and 'id="kit-problems"' not in french
    assert "No source was read in the last 30 days" in (out / "kit.en.html").read_text(encoding="utf-8")


def _report(source_id: str, started: str, name: str) -> dict:
    """A source report in the shape ``build_source_report`` writes, with one failing check."""
    return {
        "source": {"id": source_id, "name": source_id},
        "run": {"started": started},
        "rejected_at_normalise": [],
        "expectations": [
            {
                "type": "expect_column_values_to_not_be_null",
                "column": "name",
                "severity": "critical",
                "description": "Every initiative has a name",
                "description_fr": "Chaque initiative a un nom",
                "failed": 2,
                "examples": [{"source_id": "a1", "name": name, "reason": "no name", "reason_fr": "pas de nom"}],
            }
        ],
        "positions": {"flags": []},
    }


def test_names_are_data_and_old_runs_are_left_out() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    hostile = '<img src=x onerror="alert(1)">Ferme'
    kit = build_kit(
        [_report("a", "2026-12-01T08:00:00+00:00", hostile), _report("b", "2026-10-01T08:00:00+00:00", "x")],
        now=now,
    )
    assert kit["sources_read"] == ["a"] and kit["problems"][0]["records"] == 2  # b was read more than a month ago
    page = render_kit(kit, "fr")
    assert "<img" not in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;Ferme" in page
    assert "Donnez un nom à chaque fiche".lower() in page.lower()


def test_the_guide_links_to_the_kit() -> None:
    for lang in ("fr", "en"):
        guide = (PROJECT_ROOT / "docs" / f"guide-sources.{lang}.md").read_text(encoding="utf-8")
        assert f"(/reports/kit.{lang}.html)" in guide, lang


def test_every_page_template_links_to_the_kit() -> None:
    templates = Path(PROJECT_ROOT / "transiscope" / "templates")
    pages = sorted(p.name for p in templates.glob("*.html.j2") if p.name != "base.html.j2")
    assert pages == ["index.html.j2", "kit.html.j2", "report.html.j2", "verifier.html.j2"]
    assert all('{% extends "base.html.j2" %}' in (templates / p).read_text(encoding="utf-8") for p in pages)
