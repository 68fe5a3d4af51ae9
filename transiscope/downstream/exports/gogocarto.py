"""GoGoCarto ``elements.json`` in the ``gogofull`` shape, and its taxonomy, for a GoGoCarto instance to import.

A GoGoCarto map imports an ``elements.json`` by URL and refreshes it on a schedule (its "import dynamique"):
``{"licence", "ontology": "gogofull", "data": [element...]}`` with, per element, ``id``, ``name``, ``geo``,
``address``, ``categories`` (names) and ``categoriesFull``, ``sourceKey``, ISO dates, and custom fields at the
top level. Categories are the taxonomy's concepts (French labels), whose tree is ``taxonomy.json``; the
source's own labels ride along as ``sourceCategories``. Text is HTML-escaped, since GoGoCarto shows fields as
HTML; the bus's own GoGoCarto connector reads it back to the same records (tests/integration/test_exports.py).
"""

from __future__ import annotations

import html
from typing import Any

from transiscope.downstream.exports.files import json_text
from transiscope.downstream.exports.read import ReadModel

_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def _esc(value: str | None) -> str | None:
    return html.escape(value) if value else None


def open_hours(text: str | None) -> dict[str, str] | str | None:
    """``"Mo 09:00-12:00,14:00-18:00; Tu 10:00-12:00"`` -> GoGoCarto's ``{"Mo": "09:00-12:00,14:00-18:00"}``;
    hours in another syntax stay a string (GoGoCarto shows it as text)."""
    if not text:
        return None
    days: dict[str, str] = {}
    for part in text.split(";"):
        day, _, hours = part.strip().partition(" ")
        if day not in _DAYS or not hours or " " in hours.strip() or day in days:
            return html.escape(text)
        days[day] = hours.strip()
    return days


def element(record: dict[str, Any], model: ReadModel) -> dict[str, Any]:
    """One initiative of the read model as a gogofull element (it must have a point)."""
    concepts = model.concepts
    labels = [concepts[n].labels.get("fr", n) if n in concepts else n for n in record["categories"]]
    address = {
        key: _esc(record[field])
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
    address["customFormatedAddress"] = _esc(formatted)
    out: dict[str, Any] = {
        "id": f"{record['source']}:{record['source_record_id']}",
        "name": _esc(record["name"]),
        "geo": {"latitude": record["lat"], "longitude": record["lon"]},
        "address": {k: v for k, v in address.items() if v},
        "categories": [html.escape(label) for label in labels],
        "categoriesFull": [
            {
                "id": notation,
                "name": html.escape(label),
                "description": html.escape(concepts[notation].definitions.get("fr", ""))
                if notation in concepts
                else "",
                "index": index,
            }
            for index, (notation, label) in enumerate(zip(record["categories"], labels, strict=True))
        ],
        "sourceKey": _esc(record["source_name"]),
        "status": 7,  # GoGoCarto's "imported" status
        "createdAt": record["created"],
        "updatedAt": record["modified"],
        "description": _esc(record["description"]),
        "website": record["website"],
        "telephone": _esc(record["phone"]),
        "email": _esc(record["email"]),
        "openHours": open_hours(record["opening_hours"]),
        "sourceCategories": [html.escape(label) for label in record["source_categories"]],
        "upstreamSource": _esc(record["upstream_source"]),
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
            "name": "Sources",
            "options": [
                {"id": s["id"], "name": s["name"], "licence": s["licence"], "url": s["landing_page"]}
                for s in attribution["sources"]
            ],
        },
    ]
    return json_text({"attribution": attribution, "taxonomy": groups}, indent=1) + "\n"
