"""GeoJSON (RFC 7946) and CSV exports of the initiatives: the same flat, documented properties in both.

GeoJSON: one ``Feature`` per initiative that has a point, ``[lon, lat]`` in WGS84, the initiative's IRI as the
feature ``id``, the attribution as a foreign member of the collection. Properties are flat: strings, numbers,
or lists of strings, never nested objects. CSV: one row per initiative (with or without a point), UTF-8,
comma-separated, lists joined with ``|``, described by a CSVW metadata file (W3C "CSV on the Web") that also
carries the licence and credits. A CSV cell that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, and not a plain number) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

from transiscope.downstream.exports.files import json_text

#: the published properties, in order, with their meaning (README, CSVW metadata and GeoJSON share them)
PROPERTIES: dict[str, str] = {
    "id": "IRI of the initiative in the Transiscope graph (stable across runs)",
    "name": "name, plain text",
    "description": "description, plain text (HTML removed)",
    "categories": "taxonomy concepts (notations of ontology/taxonomy.ttl)",
    "category_labels": "French labels of those concepts",
    "domains": "top domains of those concepts (the map's colours)",
    "domain": "first of the domains (for one colour per point)",
    "source_categories": "the source's own category labels, verbatim",
    "lat": "latitude, WGS84",
    "lon": "longitude, WGS84",
    "position_precision": "what the point stands for: source, address, street, postcode, commune",
    "street": "street address",
    "postcode": "postcode",
    "city": "commune",
    "country": "country code",
    "departement": "code of the département (INSEE code; from the postcode when the store has no territory link)",
    "website": "web site (http/https only)",
    "email": "e-mail, only when the source publishes it",
    "phone": "telephone, only when the source publishes it",
    "opening_hours": "opening hours (OSM opening_hours syntax)",
    "keywords": "tags",
    "upstream_source": "for aggregators: the network that published the record first",
    "source": "id of the source the record comes from",
    "source_name": "name of that source (credit it)",
    "source_record_id": "id of the record at its source",
    "source_url": "the record's page at its source",
    "licence": "licence of the record (SPDX id)",
    "created": "creation date at the source",
    "modified": "last update at the source",
}
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _properties(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in PROPERTIES}


def feature(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
        "properties": _properties(record),
    }


def geojson(records: list[dict[str, Any]], attribution: dict[str, Any], name: str) -> str:
    """A FeatureCollection of the records that have a point; one feature per line, for readable diffs."""
    features = [json_text(feature(r)) for r in records if r["lat"] is not None]
    head = json_text({"type": "FeatureCollection", "name": name, "attribution": attribution})[:-1]
    return head + ',"features":[\n' + ",\n".join(features) + "\n]}\n"


def neutralise(value: str) -> str:
    """A cell that a spreadsheet would evaluate becomes text (leading apostrophe, OWASP's advice)."""
    if _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "|".join(value)
    elif isinstance(value, float):
        value = repr(value)
    return neutralise(str(value))


def _union(values: Iterable[list[str]]) -> list[str]:
    return sorted({v for group in values for v in group})


def marker(record: dict[str, Any]) -> dict[str, Any]:
    """The map marker of a record in no cluster: itself, with the consolidated file's list properties."""
    props = _properties(record)
    props.update(
        members=[record["id"]],
        sources=[record["source"]],
        source_names=[record["source_name"]],
        source_urls=[record["source_url"] or ""],
        names=[record["name"]],
    )
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
        "properties": props,
    }


def cluster_marker(cluster: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """One marker for a cluster of linked records (the link step's consolidated initiative), at its members'
    mean point, named as its representative, with the union of their categories and every source credited;
    None when no member has a point."""
    members = [by_id[m] for m in cluster["members"]]
    representative = by_id.get(cluster["representative"], members[0])
    points = [(m["lat"], m["lon"]) for m in members if m["lat"] is not None]
    if not points:
        return None
    lat = round(sum(p[0] for p in points) / len(points), 6)
    lon = round(sum(p[1] for p in points) / len(points), 6)
    props = _properties(representative)
    domains = _union(m["domains"] for m in members)
    props.update(
        id=cluster["iri"],
        lat=lat,
        lon=lon,
        categories=_union(m["categories"] for m in members),
        category_labels=_union(m["category_labels"] for m in members),
        domains=domains,
        domain=representative["domain"] or (domains[0] if domains else None),
        source_categories=_union(m["source_categories"] for m in members),
        keywords=_union(m["keywords"] for m in members),
        members=[m["id"] for m in members],
        sources=[m["source"] for m in members],
        source_names=[m["source_name"] for m in members],
        source_urls=[m["source_url"] or "" for m in members],
        names=sorted({m["name"] for m in members}),
    )
    return {
        "type": "Feature",
        "id": cluster["iri"],
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }


def consolidated_geojson(
    records: list[dict[str, Any]], clusters: list[dict[str, Any]], attribution: dict[str, Any]
) -> str:
    """One feature per map marker: a record in no cluster as itself (:func:`marker`), a cluster of linked
    records as one (:func:`cluster_marker`). The source records stay as they are in ``initiatives.geojson``:
    nothing of a source is overwritten. (The exports stream the same markers; this is the whole-list form.)"""
    by_id = {r["id"]: r for r in records}
    clustered = {m for c in clusters for m in c["members"]}
    markers = [(r["id"], marker(r)) for r in records if r["id"] not in clustered and r["lat"] is not None]
    markers += [(c["iri"], f) for c in clusters if (f := cluster_marker(c, by_id)) is not None]
    features = [json_text(f) for _, f in sorted(markers, key=lambda m: m[0])]
    head = json_text({"type": "FeatureCollection", "name": "consolidated", "attribution": attribution})[:-1]
    return head + ',"features":[\n' + ",\n".join(features) + "\n]}\n"


def csv_row(record: dict[str, Any]) -> list[str]:
    """One CSV row of a record, in the order of :data:`PROPERTIES`."""
    return [_cell(record[key]) for key in PROPERTIES]


def csv_text(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180 line ends
    writer.writerow(PROPERTIES)
    for record in records:
        writer.writerow(csv_row(record))
    return buffer.getvalue()


def csvw_metadata(csv_name: str, attribution: dict[str, Any]) -> str:
    """The CSVW metadata of the CSV file: columns, licence, credits (``<name>-metadata.json``)."""
    return (
        json_text(
            {
                "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
                "url": csv_name,
                "dc:title": attribution["title"],
                "dc:license": {"@id": attribution["licence_url"]} if attribution["licence_url"] else None,
                "dc:issued": attribution["generated"],
                "dc:source": [
                    {"@id": s["landing_page"], "dc:title": s["name"]} if s["landing_page"] else {"dc:title": s["name"]}
                    for s in attribution["sources"]
                ],
                "rdfs:comment": [attribution["notice"]["en"]]
                + ([attribution["share_alike"]["en"]] if attribution.get("share_alike") else []),
                "tableSchema": {
                    "columns": [
                        {
                            "name": key,
                            "titles": key,
                            "dc:description": text,
                            **(
                                {"separator": "|"}
                                if key in ("categories", "category_labels", "domains", "source_categories", "keywords")
                                else {}
                            ),
                        }
                        for key, text in PROPERTIES.items()
                    ],
                    "primaryKey": "id",
                },
            },
            indent=1,
        )
        + "\n"
    )
