"""GoGoCarto ``elements.json`` in the ``gogofull`` shape, and its taxonomy, for a GoGoCarto instance to import.

A GoGoCarto map imports an ``elements.json`` by URL and refreshes it on a schedule (its "import dynamique"):
``{"licence", "ontology": "gogofull", "data": [element...]}`` with, per element, ``id``, ``name``, ``geo``,
``address``, ``categories`` (names) and ``categoriesFull``, ISO dates, and custom fields at the top level.
Categories are the taxonomy's concepts (French labels), whose tree is ``taxonomy.json``; the source's own
labels ride along as ``sourceCategories``. The bus's own GoGoCarto connector reads the file back to the same
records (tests/integration/test_exports.py).

What GoGoCarto's importer does with it decides three things:

- text is plain, never HTML-escaped: the importer maps categories by their slugified name, so
  ``l&#x27;Ouche`` would not match ``l'Ouche`` of ``taxonomy.json``; JSON needs no escaping, and escaping
  belongs to whoever renders HTML (GoGoCarto does; the bus's map page puts every value in with
  ``textContent``). Markup is already stripped by the read model.
- a dynamic import never reads ``sourceKey``, so the credit of each record's source would be lost: the
  source is also a category of the "Sources" group (in ``taxonomy.json`` too) on every element, and ``source``.
- ``openHours`` is GoGoCarto's day map (``{"Mo": "09:00-12:00,14:00-18:00"}``); hours in any other OSM
  syntax (``Mo-Fr 09:00-18:00``, ``PH off``) go to ``osm_opening_hours``, verbatim, rather than a string
  GoGoCarto would take for a day map.
"""

from __future__ import annotations

from typing import Any

from transiscope.downstream.exports.files import json_text
from transiscope.downstream.exports.read import ReadModel

_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


#: the taxonomy.json group that credits the sources
SOURCES_GROUP = "Sources"


def open_hours(text: str | None) -> dict[str, str] | None:
    """``"Mo 09:00-12:00,14:00-18:00; Tu 10:00-12:00"`` -> GoGoCarto's ``{"Mo": "09:00-12:00,14:00-18:00"}``;
    None for hours in another syntax (exported as ``osm_opening_hours``)."""
    if not text:
        return None
    days: dict[str, str] = {}
    for part in text.split(";"):
        day, _, hours = part.strip().partition(" ")
        if day not in _DAYS or not hours or " " in hours.strip() or day in days:
            return None
        days[day] = hours.strip()
    return days


def element(record: dict[str, Any], model: ReadModel) -> dict[str, Any]:
    """One initiative of the read model as a gogofull element (it must have a point)."""
    concepts = model.concepts
    labels = [concepts[n].labels.get("fr", n) if n in concepts else n for n in record["categories"]]
    address = {
        key: record[field]
        for key, field in (
            ("streetAddress", "street"),
            ("addressLocality", "city"),
            ("postalCode", "postcode"),
            ("addressCountry", "country"),
        )
    }
    formatted = ", ".join(
        x for x in (record["street"], " ".join(x for x in (record["postcode"], record["city"]) if x)) if x
    )
    address["customFormatedAddress"] = formatted
    hours = open_hours(record["opening_hours"])
    source_name = record["source_name"] or record["source"]
    full = [
        {
            "id": notation,
            "name": label,
            "description": concepts[notation].definitions.get("fr", "") if notation in concepts else "",
            "index": index,
        }
        for index, (notation, label) in enumerate(zip(record["categories"], labels, strict=True))
    ]
    # the credit a dynamic import keeps: an option of the "Sources" group (taxonomy_json), ids as there
    full.append({"id": record["source"], "name": source_name, "description": "", "index": len(full)})
    out: dict[str, Any] = {
        "id": f"{record['source']}:{record['source_record_id']}",
        "name": record["name"],
        "geo": {"latitude": record["lat"], "longitude": record["lon"]},
        "address": {k: v for k, v in address.items() if v},
        "categories": [*labels, source_name],
        "categoriesFull": full,
        "source": source_name,
        "sourceKey": source_name,
        "status": 7,  # GoGoCarto's "imported" status
        "createdAt": record["created"],
        "updatedAt": record["modified"],
        "description": record["description"],
        "website": record["website"],
        "telephone": record["phone"],
        "email": record["email"],
        "openHours": hours,
        "osm_opening_hours": record["opening_hours"] if hours is None else None,
        "sourceCategories": list(record["source_categories"]),
        "upstreamSource": record["upstream_source"],
        "sourceUrl": record["source_url"],
        "licence": record["licence"],
        "departement": record["departement"],
        "uri": record["id"],
    }
    return {k: v for k, v in out.items() if v not in (None, "", [], {})}


def elements_json(records: list[dict[str, Any]], model: ReadModel, attribution: dict[str, Any]) -> str:
    """The ``elements.json`` document of the initiatives that have a point (GoGoCarto needs one)."""
    data = [element(r, model) for r in records if r["lat"] is not None]
    document = {
        "licence": attribution["licence_url"] or attribution["licence"],
        "ontology": "gogofull",
        "attribution": attribution,
        "data": data,
    }
    return json_text(document) + "\n"


def taxonomy_json(model: ReadModel, attribution: dict[str, Any]) -> str:
    """The category tree, GoGoCarto-style (groups of options, options with sub-categories), with the map's
    colour of each domain, plus the "Sources" group: one option per credited source."""
    concepts = model.concepts
    children: dict[str, list[str]] = {}
    for concept in concepts.values():
        if concept.broader:
            children.setdefault(concept.broader, []).append(concept.notation)

    def option(notation: str, depth: int = 0) -> dict[str, Any]:
        concept = concepts[notation]
        node: dict[str, Any] = {
            "id": notation,
            "name": concept.labels.get("fr", notation),
            "nameEn": concept.labels.get("en"),
            "description": concept.definitions.get("fr"),
            "color": concept.colour,
            "uri": concept.iri,
        }
        kids = sorted(children.get(notation, []))
        if kids and depth < 5:  # the taxonomy is two levels deep; the bound guards against a cycle
            node["subcategories"] = [{"name": "Catégories", "options": [option(k, depth + 1) for k in kids]}]
        return {k: v for k, v in node.items() if v is not None}

    groups = [
        {"id": "domaines", "name": "Domaines", "options": [option(n) for n in model.top_order]},
        {
            "id": "sources",
            "name": SOURCES_GROUP,
            "options": [
                {"id": s["id"], "name": s["name"], "licence": s["licence"], "url": s["landing_page"]}
                for s in attribution["sources"]
            ],
        },
    ]
    return json_text({"attribution": attribution, "taxonomy": groups}, indent=1) + "\n"
