"""The GoGoCarto connector on both payload shapes (2018: option ids and d/m/Y; 2021+: names, ISO)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from transiscope.core.errors import MalformedPayload
from transiscope.ingest.formats import RecordRejected, gogocarto
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.ingest.records import INITIATIVE_COLUMNS
from transiscope.settings import PROJECT_ROOT

REGISTRY = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")


def _elements(source_id: str) -> dict[str, dict]:
    source = REGISTRY.get(source_id)
    return {str(e["id"]): e for e in gogocarto.parse(source.sample_path.read_bytes(), source)}


def _normalise(source_id: str, element: dict, index: int = 0) -> dict:
    source = REGISTRY.get(source_id)
    return gogocarto.normalise(element, index, source, load_mapping(source))


def test_2021_shape_record() -> None:
    element = _elements("transiscope")["3jY"]
    record = _normalise("transiscope", element)
    assert tuple(record) == INITIATIVE_COLUMNS
    assert record["source"] == "transiscope" and record["source_id"] == "3jY"
    assert record["categories"] == [c["name"] for c in element["categoriesFull"]]
    assert record["concepts"], "mapped labels give taxonomy concepts"
    assert record["updated_at"] == element["updatedAt"]  # ISO with its offset, kept as given
    assert record["lat"] == element["geo"]["latitude"]
    # the sample's description carries a <script>: neither the tag nor its content survives
    assert "<script>" in element["description"]
    assert "<" not in record["description"] and "alert" not in record["description"]
    assert record["licence"] == "ODbL-1.0"
    assert record["source_url"].startswith("https://transiscope.gogocarto.fr/map#/fiche/")


def test_2018_shape_reads_option_ids_and_day_first_dates() -> None:
    element = _elements("presdecheznous")["2Xk"]
    assert all(isinstance(c, int) for c in element["categories"])
    record = _normalise("presdecheznous", element)
    names = {str(c["id"]): c["name"] for c in element["categoriesFull"]}
    assert record["categories"] == [names[str(c)] for c in element["categories"]]
    day, month, year = element["updatedAt"].split("/")
    assert record["updated_at"] == f"{year}-{month}-{day}"
    assert record["email"] is None  # "hidden" in the source


def test_2018_option_ids_without_categories_full_use_the_ids() -> None:
    element = {"id": "x1", "name": "Jardin", "categories": ["12", 81], "geo": {"latitude": 45, "longitude": 4}}
    record = _normalise("presdecheznous", element)
    assert record["categories"] == ["12", "81"]
    assert record["unmapped_categories"] == ["12", "81"]


def test_coordinates_given_as_strings() -> None:
    element = _elements("presdecheznous")["1aG"]
    assert isinstance(element["geo"]["latitude"], str)
    record = _normalise("presdecheznous", element)
    assert record["lat"] == pytest.approx(45.754) and record["lon"] == pytest.approx(4.843)


def test_unmapped_label_is_kept_verbatim_and_reported() -> None:
    record = _normalise("transiscope", _elements("transiscope")["3hX"])
    assert record["categories"] == ["Low-tech"]
    assert record["concepts"] == [] and record["unmapped_categories"] == ["Low-tech"]


def test_private_email_is_dropped_with_a_note() -> None:
    record = _normalise("transiscope", _elements("transiscope")["3cM"])
    assert record["email"] is None
    assert any("not published" in note for note in record["notes"])


def test_opening_hours_become_osm_syntax() -> None:
    element = {"id": "h", "name": "n", "openHours": {"Tu": "09:00-12:00, 14:00-18:00", "Mo": "10:00-12:00"}}
    assert _normalise("transiscope", element)["opening_hours"] == "Mo 10:00-12:00; Tu 09:00-12:00,14:00-18:00"


def test_hostile_id_is_quoted_in_the_record_url() -> None:
    record = _normalise("presdecheznous", _elements("presdecheznous")["éco lieu>12"])
    assert record["source_id"] == "éco lieu>12"
    assert " " not in record["source_url"] and ">" not in record["source_url"]


@pytest.mark.parametrize("element", [None, "text", 12, {"name": "no id"}, {"id": "  ", "name": "blank id"}])
def test_records_that_cannot_be_tracked_are_rejected(element: object) -> None:
    with pytest.raises(RecordRejected):
        _normalise("transiscope", element)


def test_statuses_the_map_does_not_show_mean_inactive() -> None:
    assert "deleted" in gogocarto.is_inactive({"status": -4})
    assert "duplicate" in gogocarto.is_inactive({"status": "-6"})
    assert "never validated" in gogocarto.is_inactive({"status": 0})
    assert gogocarto.is_inactive({"status": -1}) is None  # validated, a modification pending: shown on the map
    assert gogocarto.is_inactive({"status": 7}) is None
    assert gogocarto.is_inactive({"status": None}) is None
    assert gogocarto.is_inactive({"status": True}) is None


FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "gogocarto"


def test_taxonomy_json_gives_every_option_name_nested_or_not() -> None:
    names = gogocarto.option_names(json.loads((FIXTURES / "taxonomy.json").read_text(encoding="utf-8")))
    assert names["10"] == "Agriculture & Alimentation"  # entities decoded
    assert names["11"] == "AMAP / Paniers" and names["21"] == "Habitat participatif"  # in subcategories
    assert names["90"] == "Bio"  # another group
    assert "1" not in names and "2" not in names  # groups are not options
    assert gogocarto.option_names({"taxonomy": [{"options": [{"id": 5, "name": "X"}]}]}) == {"5": "X"}
    assert gogocarto.option_names("not a taxonomy") == {}


def _bound(source_id: str, option_names: dict[str, str], **fields: tuple[str, ...]):
    source = REGISTRY.get(source_id)
    mapping = load_mapping(source)
    mapping = dataclasses.replace(mapping, fields={**mapping.fields, **fields})
    return gogocarto.bind_run(
        mapping,
        {"taxonomy": {"url": "u", "payload": [{"options": [{"id": k, "name": v} for k, v in option_names.items()]}]}},
        source,
    )


@pytest.mark.parametrize(
    "element",
    [
        {"optionValues": [12, 81]},
        {"optionValues": ["12", "81"]},
        {"optionValues": [{"id": 12, "description": "le samedi"}, {"id": "81", "description": ""}]},
        {"taxonomy": [12, 81]},
        {"categories": [12, 81]},
    ],
)
def test_option_ids_anywhere_resolve_through_the_taxonomy(element: dict) -> None:
    mapping = _bound("presdecheznous", {"12": "Jardin partagé", "81": "Spiritualité"})
    record = gogocarto.normalise({"id": "x", "name": "n", **element}, 0, REGISTRY.get("presdecheznous"), mapping)
    assert record["categories"] == ["Jardin partagé", "Spiritualité"]
    assert record["concepts"] == ["jardins-partages"] and record["unmapped_categories"] == ["Spiritualité"]


def test_categories_full_comes_first_and_unknown_ids_are_noted() -> None:
    mapping = _bound("presdecheznous", {"12": "Jardin partagé"})
    element = {"id": "x", "name": "n", "categoriesFull": [{"id": 3, "name": "Habitat"}], "optionValues": [12]}
    assert gogocarto.normalise(element, 0, REGISTRY.get("presdecheznous"), mapping)["categories"] == ["Habitat"]
    record = gogocarto.normalise(
        {"id": "y", "name": "n", "optionValues": [12, 99]}, 1, REGISTRY.get("presdecheznous"), mapping
    )
    assert record["categories"] == ["Jardin partagé", "99"]
    assert any("99" in note and "not in the map's taxonomy.json" in note for note in record["notes"])


def test_a_mapping_can_point_categories_elsewhere() -> None:
    mapping = _bound("transiscope", {}, categories=("thematiques",))
    element = {"id": "x", "name": "n", "categories": ["Culture"], "thematiques": ["Santé", "Solidarité"]}
    record = gogocarto.normalise(element, 0, REGISTRY.get("transiscope"), mapping)
    assert record["categories"] == ["Santé", "Solidarité"] and record["concepts"] == ["sante", "solidarite"]


def test_ids_that_need_the_taxonomy_are_detected() -> None:
    mapping = load_mapping(REGISTRY.get("presdecheznous"))
    assert gogocarto.needs_taxonomy([{"optionValues": [{"id": 4}]}], mapping)
    assert not gogocarto.needs_taxonomy([{"categories": [4], "categoriesFull": [{"id": 4, "name": "A"}]}], mapping)
    assert not gogocarto.needs_taxonomy([{"categories": ["Culture"]}], load_mapping(REGISTRY.get("transiscope")))


def test_the_taxonomy_url_is_beside_the_elements_endpoint() -> None:
    source = REGISTRY.get("presdecheznous")
    url = "https://presdecheznous.gogocarto.fr/api/elements.json?ontology=gogofull&limit=10"
    assert gogocarto.taxonomy_url(url, source) == "https://presdecheznous.gogocarto.fr/api/taxonomy.json"
    other = dataclasses.replace(source, extra={"taxonomy_url": "https://carte.example.org/taxo.json"})
    assert gogocarto.taxonomy_url(url, other) == "https://carte.example.org/taxo.json"


@pytest.mark.parametrize(
    ("stated", "spdx"),
    [
        ("https://opendatacommons.org/licenses/odbl/summary/", "ODbL-1.0"),
        ("ODbL", "ODbL-1.0"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
        ("CC BY-SA 4.0", "CC-BY-SA-4.0"),
        ("Licence Ouverte / Etalab 2.0", "etalab-2.0"),
        ("https://carte.example.org/conditions", "https://carte.example.org/conditions"),
        ("libre de droits", None),
        (12, None),
    ],
)
def test_the_payload_licence_is_read(stated: object, spdx: str | None) -> None:
    assert gogocarto.licence_of(stated) == spdx


def test_an_unreadable_payload_licence_leaves_the_registrys_with_a_note() -> None:
    source = REGISTRY.get("transiscope")
    mapping = gogocarto.bind_run(load_mapping(source), {"licence": "libre de droits"}, source)
    record = gogocarto.normalise({"id": "x", "name": "n"}, 0, source, mapping)
    assert record["licence"] == "ODbL-1.0" and any("names no licence" in note for note in record["notes"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is empty"),
        (b"<!DOCTYPE html><html>Maintenance</html>", "is not JSON"),
        ('{"data": ["caf\u00e9"]}'.encode("latin-1"), "is not UTF-8"),
        (b'{"licence": "ODbL", "elements": []}', 'no "data" list'),
        (b'{"data": {"id": 1}}', '"data" is a dict, not a list'),
        (b'"just a string"', "expected a JSON object"),
    ],
)
def test_malformed_payloads(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message) as caught:
        gogocarto.parse(body, REGISTRY.get("transiscope"))
    assert "\n" not in str(caught.value)


def test_bare_list_and_bom_are_accepted() -> None:
    body = b"\xef\xbb\xbf" + json.dumps([{"id": "a"}]).encode()
    assert gogocarto.parse(body, REGISTRY.get("transiscope")) == [{"id": "a"}]
