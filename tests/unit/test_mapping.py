"""Declarative mappings, the schema check, and the pure parts of the connectors (CSV, iCal, GeoJSON)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from transiscope.core.errors import ConfigError, MalformedPayload
from transiscope.ingest.formats import RecordRejected, ical, tabular
from transiscope.ingest.france import fix_swapped
from transiscope.ingest.mapping import FUNCTIONS, apply_mapping, normalise_email, normalise_phone, normalise_url
from transiscope.ingest.mappings import check_registry
from transiscope.ingest.mappings import load_mapping_file as load_mapping
from transiscope.settings import PROJECT_ROOT

CSV_MAPPING = """format = "csv"
kind = "initiatives"

[fields]
source_id = "Id"
name = { path = "Nom", apply = ["trim"] }
lat = "Lat"
lon = "Lon"
categories = { path = "Thèmes", apply = ["split:,"] }
updated_at = { path = "Maj", apply = ["parse_date:%d/%m/%Y"] }

[categories]
"AMAP" = ["amap-circuits-courts"]
"legumes" = ["agriculture-alimentation"]
"""


def _mapping(tmp_path: Path, text: str, name: str = "m.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_mapping(path, "test")


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        ('apply = ["trim"]', 'apply = ["eval"]', 6),
        ('path = "Nom"', 'path = "a..b"', 6),
        ('lat = "Lat"', 'latitude = "Lat"', 7),
        ('apply = ["parse_date:%d/%m/%Y"]', 'apply = ["parse_date"]', 10),
        ('kind = "initiatives"', 'kind = "initiatives"\nfilter = "x"', 3),
    ],
)
def test_a_bad_mapping_names_the_file_and_the_line(tmp_path: Path, change: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as info:
        _mapping(tmp_path, CSV_MAPPING.replace(change, message), "amap.toml")
    assert f"amap.toml, line {line}" in str(info.value), str(info.value)


def test_no_function_runs_code_from_configuration() -> None:
    assert "eval" not in FUNCTIONS and "exec" not in FUNCTIONS
    assert set(FUNCTIONS) >= {
        "strip_html",
        "decode_entities",
        "parse_date",
        "split",
        "lower",
        "trim",
        "phone",
        "url",
        "email",
        "crosswalk",
    }


def test_fields_functions_defaults_crosswalk_and_swapped_coordinates(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, CSV_MAPPING)
    row = {
        "Id": "A1",
        "Nom": "  AMAP   des Lilas ",
        "Lat": "2,4163",
        "Lon": "48,8799",
        "Thèmes": "AMAP, Légumes",
        "Maj": "14/03/2026",
    }
    record = apply_mapping(row, 0, "test", mapping.spec, mapping.categories, "ODbL-1.0")
    assert record["name"] == "AMAP des Lilas"
    assert (record["lat"], record["lon"]) == (2.4163, 48.8799)  # as given: the normalise stage checks the batch
    assert fix_swapped([record]) == 1  # with the boxes here; the stage passes the départements' outlines
    assert (record["lat"], record["lon"]) == (48.8799, 2.4163)  # swapped at the source: fixed, and said
    assert any("swapped" in note for note in record["notes"])
    assert record["categories"] == ["AMAP", "Légumes"]
    assert record["concepts"] == ["amap-circuits-courts", "agriculture-alimentation"]  # accent/case-blind match
    assert record["updated_at"] == "2026-03-14" and record["licence"] == "ODbL-1.0"
    with pytest.raises(RecordRejected, match="no id"):
        apply_mapping(dict.fromkeys(row), 1, "test", mapping.spec, mapping.categories, None)


def test_contact_normalisers_drop_what_is_not_a_contact() -> None:
    assert normalise_phone("01 43 00 00 01") == "+33143000001"
    assert normalise_phone("private") is None
    assert normalise_url("www.x.example.org") == "https://www.x.example.org"
    assert normalise_url("javascript:alert(1)") is None
    assert normalise_email("mailto:Contact@Example.org") == "contact@example.org"
    assert normalise_email("hidden") is None


@pytest.mark.parametrize(
    ("encoding", "bom", "sep"), [("utf-8", True, ","), ("utf-8", False, ";"), ("cp1252", False, ";")]
)
def test_csv_encodings_and_separators(tmp_path: Path, encoding: str, bom: bool, sep: str) -> None:
    text = sep.join(["Id", "Nom", "Ville"]) + "\r\n" + sep.join(["1", "Épicerie « Le Zinc »", "Sète"]) + "\r\n\r\n"
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    decoded, used = tabular.decode(raw, "auto")
    assert "Épicerie" in decoded and used == ("utf-8" if encoding == "utf-8" else "cp1252")


def test_project_registry_has_every_format_and_passes_the_check() -> None:
    registry = PROJECT_ROOT / "transforms" / "sources.toml"
    assert check_registry(registry, PROJECT_ROOT / "expectations", PROJECT_ROOT / "ontology" / "taxonomy.ttl") == []
    from transiscope.ingest.mappings import load_registry
    from transiscope.registry.sources import SUPPORTED_FORMATS

    loaded = load_registry(registry)
    assert len(loaded.sources) >= 12
    assert {s.format for s in loaded.sources} == set(SUPPORTED_FORMATS)


def test_the_check_reports_every_problem_at_once(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        CSV_MAPPING.replace('"agriculture-alimentation"', '"agriculture"').replace(
            'apply = ["trim"]', 'apply = ["shout"]'
        ),
        encoding="utf-8",
    )
    (tmp_path / "ok.toml").write_text(
        CSV_MAPPING.replace('"agriculture-alimentation"', '"no-such-concept"'), encoding="utf-8"
    )
    entry = (
        '[[source]]\nid = "{id}"\nname = "N"\nformat = "csv"\nurl = "https://x.example.org/a.csv"\n'
        'licence = "ODbL-1.0"\nmapping = "{m}"\n'
    )
    registry = tmp_path / "sources.toml"
    registry.write_text(
        entry.format(id="one", m="bad.toml")
        + entry.format(id="two", m="ok.toml")
        + entry.format(id="three", m="ok.toml")
        + 'licnce = "x"\n',
        encoding="utf-8",
    )
    problems = check_registry(registry, tmp_path, PROJECT_ROOT / "ontology" / "taxonomy.ttl")
    text = "\n".join(problems)
    assert "unknown function 'shout'" in text and "bad.toml, line 6" in text
    assert "'no-such-concept': no concept with this notation" in text
    assert "unknown key(s) licnce" in text
    assert "expectation suite two.json not found" in text
    assert len(problems) >= 4


FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:test
BEGIN:VEVENT
UID:series@x
DTSTART;TZID=Europe/Paris:20260105T183000
DTEND;TZID=Europe/Paris:20260105T200000
RRULE:FREQ=WEEKLY;BYDAY=MO
EXDATE;TZID=Europe/Paris:20260720T183000
SUMMARY:Atelier hebdo
GEO:48.1;-1.6
CATEGORIES:Vélo,Réparation
END:VEVENT
BEGIN:VEVENT
UID:day@x
DTSTART;VALUE=DATE:20260612
DTEND;VALUE=DATE:20260613
SUMMARY:Fête
STATUS:CANCELLED
ORGANIZER;CN=Collectif:mailto:someone@example.org
END:VEVENT
END:VCALENDAR
""".encode()


def test_ical_expands_recurrences_in_a_bounded_window_with_zones_all_day_and_status() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    options = {"window_days": 60, "past_days": 0, "timezone": "Europe/Paris", "max_occurrences": 100}
    elements = ical.expand(FEED, "t", options, now=now)
    series = [e for e in elements if e["parent_uid"] == "series@x"]
    # Mondays from 2026-06-01 to 2026-07-31, less the EXDATE of 20 July
    assert len(series) == 8
    assert series[0]["dtstart"] == "2026-06-01T18:30:00+02:00" and series[0]["uid"] == "series@x@20260601T183000+0200"
    assert series[0]["geo"] == {"lat": 48.1, "lon": -1.6} and series[0]["categories"] == ["Vélo", "Réparation"]
    parent = next(e for e in elements if e["uid"] == "series@x")
    assert parent["dtstart"] == series[0]["dtstart"] and parent["parent_uid"] is None
    day = next(e for e in elements if e["uid"] == "day@x")
    assert (day["dtstart"], day["dtend"], day["all_day"]) == ("2026-06-12", "2026-06-12", True)
    assert day["status"] == "cancelled" and day["organizer"] == "Collectif"  # the name, never the address
    winter = ical.expand(FEED, "t", dict(options, window_days=30), now=datetime(2026, 12, 1, tzinfo=UTC))
    assert next(e for e in winter if e["parent_uid"])["dtstart"].endswith("+01:00")


def test_ical_and_csv_refuse_what_is_not_their_format() -> None:
    with pytest.raises(MalformedPayload, match="not an iCalendar feed"):
        ical.expand(b"<html><body>error</body></html>", "t", {"window_days": 1, "past_days": 0, "max_occurrences": 1})
    payload = json.dumps({"type": "FeatureCollection"}).encode()
    from transiscope.ingest.formats import geojson

    class _Source:
        id = "t"

    with pytest.raises(MalformedPayload, match='no "features" list'):
        geojson.parse(payload, _Source())


GOGOCARTO_TYPO = PROJECT_ROOT / "tests" / "fixtures" / "mappings" / "gogocarto-typo.toml"


def test_unknown_gogocarto_field_keys_are_errors_with_line_and_nearest_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_mapping(GOGOCARTO_TYPO, "typo")
    text = str(info.value)
    assert "gogocarto-typo.toml, line 7: [fields].descripton is not a field key" in text, text
    assert "(did you mean 'description'?)" in text
    assert "gogocarto-typo.toml, line 10: [fields].mail" in text and "(did you mean 'email'?)" in text
    assert "categories" not in text.split("(known:")[0]  # a key the connector reads is not a mistake
    # what `transiscope sources --check` runs: the same problem, not "valid"
    registry = tmp_path / "sources.toml"
    registry.write_text(
        '[[source]]\nid = "carte"\nname = "Carte"\nformat = "gogocarto"\n'
        'url = "https://carte.example.org/api/elements.json"\nlicence = "ODbL-1.0"\n'
        f'mapping = "{GOGOCARTO_TYPO.as_posix()}"\n',
        encoding="utf-8",
    )
    problems = check_registry(registry, tmp_path, PROJECT_ROOT / "ontology" / "taxonomy.ttl")
    assert any("line 7: [fields].descripton" in p and "'description'" in p for p in problems), problems
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(
        GOGOCARTO_TYPO.read_text(encoding="utf-8").replace("descripton", "description").replace("mail =", "email ="),
        encoding="utf-8",
    )
    assert load_mapping(fixed, "fixed").fields["description"] == ("descriptionMore", "description")


@pytest.mark.parametrize(
    ("change", "typo", "line", "nearest"),
    [
        ('lat = "Lat"', 'lat = "Lat"\nwebiste = "Site"', 8, "'website'"),
        ('apply = ["trim"]', 'apply = ["trm"]', 6, "'trim'"),
        ('name = { path = "Nom"', 'name = { pth = "Nom"', 6, "'path'"),
        ('kind = "initiatives"', 'kind = "initiatives"\ndefauts = {}', 3, "'defaults'"),
    ],
)
def test_declarative_mapping_typos_name_the_line_and_the_nearest_key(
    tmp_path: Path, change: str, typo: str, line: int, nearest: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _mapping(tmp_path, CSV_MAPPING.replace(change, typo), "amap.toml")
    text = str(info.value)
    assert f"amap.toml, line {line}" in text and f"(did you mean {nearest}?)" in text, text


MIXED_CSV = PROJECT_ROOT / "tests" / "fixtures" / "csv" / "amap-herault-mixed-encoding.csv"


def test_a_utf8_header_over_latin1_rows_keeps_every_column_and_accent() -> None:
    from transiscope.registry.sources import Source

    raw = MIXED_CSV.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture is what it says: readable as a whole in neither encoding
    assert "catégorie".encode() in raw.split(b"\n", 1)[0] and "Sète".encode("latin-1") in raw
    source = Source(
        id="amap-herault",
        name="AMAP de l'Hérault",
        format="csv",
        url="https://amap-herault.example.org/export.csv",
        licence="ODbL-1.0",
        mapping_path=MIXED_CSV.with_name("amap-herault.toml"),
    )
    rows = tabular.parse(raw, source)
    assert len(rows) == 4 and "catégorie" in rows[0] and "catÃ©gorie" not in rows[0]
    assert tabular.decode(raw, "auto")[1] == "utf-8 header, cp1252 rows"  # what check-source shows
    from transiscope.ingest.mappings import load_mapping as load_source_mapping

    mapping = load_source_mapping(source)
    records = [tabular.normalise(row, i, source, mapping) for i, row in enumerate(rows)]
    assert [r["categories"] for r in records] == [
        ["Agriculture & Alimentation"],
        ["Épicerie & Supérette"],
        ["Jardin partagé"],
        ["Recyclerie / Ressourcerie"],
    ]
    assert records[1]["concepts"] == ["magasins-commerces"]
    assert records[0]["city"] == "Sète" and records[1]["name"] == "Épicerie solidaire « La Cagette »"
    assert records[3]["city"] == "Clermont-l'Hérault"
