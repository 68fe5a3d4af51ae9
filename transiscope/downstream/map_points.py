"""The map's points index: every initiative with a point, as compact numpy arrays, and its popup details.

Why an index and not the GeoJSON export: the map page used to download ``initiatives.geojson`` whole (101.6 MB
at 100,000 initiatives) and build one Leaflet marker each, which does not scale to 500,000. ``transiscope
serve`` answers the page's bounding-box requests from this index instead (grid clusters, or the points when
few, see :mod:`transiscope.serve.map_api`), so the browser only ever holds what is in view.

Files, written next to the exports in ``map/`` (atomically, each replaced as a whole):

- ``points.npz``: per point (rows sorted by folded name, so "the first rows in view" is an alphabetical list)
  ``lat``, ``lon`` (float64), ``domain`` (int16 index of its first top domain, -1 none), ``concepts``
  (bool matrix row x concept, a domain counted for its sub-concepts), ``sources`` (bool matrix row x source),
  ``dep`` (int16 index into the département codes, -1 unknown), ``search`` (the folded "name city postcode"
  as fixed-width bytes), ``names`` (UTF-8 blob of the display names) with ``name_at`` offsets, ``detail_at``
  (byte offset of the row's line in the details file) and ``meta`` (a JSON document: the concept tree, the
  sources with their credits, the département codes);
- ``details-<digest>.jsonl`` (named in ``meta``, so that a reader of the previous index never reads
  the new details at the old offsets): one JSON object per point: what the popup shows, every text
  already passed through :func:`transiscope.core.text.display_text` (the data exports keep the full text).

The store is read with one streamed SELECT for the single-valued fields, one for the categories and the link
step's clusters (a cluster of linked records is one point crediting every source), so the memory needed is the
arrays' and not a model of every field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transiscope.core.text import PLACEHOLDERS, display_text, fold
from transiscope.core.vocab import DCT, GEO, PROV, SCHEMA, TS
from transiscope.downstream.exports.read import (
    _POINT,
    Concept,
    departement_from_postcode,
    licence_id,
    read_concepts,
    read_sources,
    safe_url,
)
from transiscope.store.base import TripleStore, solutions

log = logging.getLogger(__name__)
IGEO = "http://rdf.insee.fr/def/geo#"
FOLDER = "map"
INDEX_FILE = "points.npz"
#: bytes of the folded search text kept per point ("name city postcode")
SEARCH_WIDTH = 96
FORMAT = 1

#: field -> path of predicates from the initiative (each predicate scanned once, see :func:`_fields`)
_PATHS: dict[str, tuple[str, ...]] = {
    "lat": (GEO + "hasGeometry", SCHEMA + "latitude"),
    "lon": (GEO + "hasGeometry", SCHEMA + "longitude"),
    "wkt": (GEO + "hasGeometry", GEO + "asWKT"),
    "postcode": (SCHEMA + "address", SCHEMA + "postalCode"),
    "city": (SCHEMA + "address", SCHEMA + "addressLocality"),
    "street": (SCHEMA + "address", SCHEMA + "streetAddress"),
    "territory": (TS + "inTerritory",),
    "modified": (SCHEMA + "dateModified",),
    "phone": (SCHEMA + "telephone",),
    "email": (SCHEMA + "email",),
    "url": (SCHEMA + "url",),
    "page": (PROV + "wasDerivedFrom",),
    "licence": (DCT + "license",),
}
_DEPARTEMENTS = f"SELECT ?t ?code WHERE {{ ?t a <{IGEO}Departement> ; <{IGEO}codeINSEE> ?code }}"
_CATEGORIES = f"SELECT ?s ?c WHERE {{ ?s a <{TS}Initiative> ; <{TS}category> ?c }}"


def _fields(store: TripleStore) -> tuple[list[str], dict[str, list[str | None]]]:
    """The initiatives (IRIs, each with a name and a source) and a column of values per field of :data:`_PATHS`.

    Why predicate scans and not one SELECT with OPTIONALs: on the on-disk store each OPTIONAL is an index
    lookup per initiative (9 s per field at 20,000 initiatives, measured), while a scan of one predicate reads
    one index in sequence; the joins are then list positions, so memory is a column per field, not a dict of
    dicts. When a field has several values the smallest is kept, so the result does not depend on the order.
    """
    typed = {r["s"].value for r in solutions(store, f"SELECT ?s WHERE {{ ?s a <{TS}Initiative> }}")}
    names: dict[str, str] = {}
    for row in solutions(store, f"SELECT ?s ?o WHERE {{ ?s <{SCHEMA}name> ?o }}"):
        subject = row["s"].value
        if subject in typed and (subject not in names or row["o"].value < names[subject]):
            names[subject] = row["o"].value
    del typed
    order = sorted(names)
    position = {iri: k for k, iri in enumerate(order)}
    columns: dict[str, list[str | None]] = {"name": [names[iri] for iri in order]}
    del names
    # the nodes reached by each path's prefix, mapped to the rows they belong to
    reached: dict[tuple[str, ...], dict[str, list[int]]] = {(): {iri: [k] for iri, k in position.items()}}

    def nodes(prefix: tuple[str, ...]) -> dict[str, list[int]]:
        if prefix not in reached:
            parent = nodes(prefix[:-1])
            found: dict[str, list[int]] = {}
            for row in solutions(store, f"SELECT ?s ?o WHERE {{ ?s <{prefix[-1]}> ?o }}"):
                for k in parent.get(row["s"].value, ()):
                    found.setdefault(row["o"].value, []).append(k)
            reached[prefix] = found
        return reached[prefix]

    for field, path in (("source", (TS + "source",)), *_PATHS.items()):
        column: list[str | None] = [None] * len(order)
        if field == "territory":
            codes = {r["t"].value: r["code"].value for r in solutions(store, _DEPARTEMENTS)}
            for row in solutions(store, f"SELECT ?s ?o WHERE {{ ?s <{path[0]}> ?o }}"):
                k = position.get(row["s"].value)
                code = codes.get(row["o"].value)
                if k is not None and code is not None:
                    column[k] = code if column[k] is None else min(code, column[k] or code)
        else:
            parent = nodes(path[:-1])
            for row in solutions(store, f"SELECT ?s ?o WHERE {{ ?s <{path[-1]}> ?o }}"):
                for k in parent.get(row["s"].value, ()):
                    value = row["o"].value
                    if column[k] is None or value < (column[k] or value):
                        column[k] = value
        columns[field] = column
    return order, columns


def _point(lat: str | None, lon: str | None, wkt: str | None) -> tuple[float, float] | None:
    try:
        if lat is not None and lon is not None:
            flat, flon = float(lat), float(lon)
        elif wkt and (match := _POINT.search(wkt)):
            flon, flat = float(match.group(1)), float(match.group(2))  # CRS84 WKT is lon lat
        else:
            return None
    except ValueError:
        return None
    if not (-90 <= flat <= 90 and -180 <= flon <= 180) or (flat == 0 and flon == 0):
        return None
    return flat, flon


def _contact(value: str | None) -> str:
    """A contact the source publishes openly; placeholders ("privé", "masqué") are no contact."""
    text = display_text(value, "contact")
    return "" if text.casefold() in PLACEHOLDERS else text


def _phone_link(phone: str) -> str:
    """``tel:`` target of a displayed number: digits and a leading +, nothing else (no letters, no scheme)."""
    digits = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return "tel:" + digits if sum(ch.isdigit() for ch in digits) >= 4 else ""


def _mail_link(email: str) -> str:
    address = email.removeprefix("mailto:").strip()
    if address.count("@") == 1 and all(part and " " not in part for part in address.split("@")) and len(address) < 200:
        return "mailto:" + address
    return ""


@dataclass
class _Row:
    iri: str
    lat: float
    lon: float
    dep: str
    search: str
    name: str
    sources: set[str]
    detail: dict[str, Any]


def concept_tree(concepts: dict[str, Concept], top_order: list[str]) -> list[dict[str, Any]]:
    """Domains (the taxonomy's top concepts) with their sub-concepts, labels and colours, in notation order."""
    tree = []
    for top in top_order:
        concept = concepts[top]
        children = sorted(
            (c for c in concepts.values() if c.top == top and c.notation != top), key=lambda c: c.notation
        )
        tree.append(
            {
                "id": top,
                "label": display_text(concept.labels.get("fr") or top, "label"),
                "colour": concept.colour,
                "children": [
                    {"id": c.notation, "label": display_text(c.labels.get("fr") or c.notation, "label")}
                    for c in children
                ],
            }
        )
    return tree


def _rows(
    store: TripleStore, concepts: dict[str, Concept], sources: dict[str, Any], base: str | None
) -> Iterator[_Row]:
    """One :class:`_Row` per point: records in a link cluster merged into one crediting every source."""
    cluster_of: dict[str, str] = {}
    if base is not None:
        from transiscope.downstream.link.linker import consolidated_initiatives

        for cluster in consolidated_initiatives(store, base):
            for member in cluster["members"]:
                cluster_of[member] = cluster["iri"]
    held: dict[str, list[_Row]] = {}
    order, columns = _fields(store)
    for k, iri in enumerate(order):
        field = {name: column[k] for name, column in columns.items()}
        source_iri = field["source"]
        if source_iri is None:
            continue
        point = _point(field["lat"], field["lon"], field["wkt"])
        if point is None:
            continue
        credit = sources.get(source_iri)
        source_id = credit.id if credit else source_iri.rstrip("/").rsplit("/", 1)[-1]
        full_name = field["name"] or ""
        name = display_text(full_name, "name")
        postcode = display_text(field["postcode"], "place")
        city = display_text(field["city"], "place")
        phone, email = _contact(field["phone"]), _contact(field["email"])
        licence = field["licence"] or (credit.licence if credit else "")
        detail = {
            "id": iri,
            "name": name,
            "street": display_text(field["street"], "place"),
            "postcode": postcode,
            "city": city,
            "phone": phone,
            "tel": _phone_link(phone) if phone else "",
            "email": email,
            "mailto": _mail_link(email) if email else "",
            "website": safe_url(field["url"]) or "",
            "modified": display_text(field["modified"], "label")[:10],
            "credits": [
                {
                    "source": source_id,
                    "name": display_text(credit.name if credit else source_id, "label"),
                    "licence": display_text(licence_id(licence), "label"),
                    # "signaler une erreur": the record's own page at its source
                    "page": safe_url(field["page"]) or "",
                }
            ],
        }
        item = _Row(
            iri=iri,
            lat=point[0],
            lon=point[1],
            dep=field["territory"] or departement_from_postcode(postcode) or "",
            search=fold(f"{full_name[:200]} {city} {postcode}"),
            name=name,
            sources={source_id},
            detail=detail,
        )
        if iri in cluster_of:
            held.setdefault(cluster_of[iri], []).append(item)
        else:
            yield item
    for key in sorted(held):
        members = sorted(held[key], key=lambda r: r.iri)
        first = members[0]  # the representative: the smallest member IRI, as the exports do
        for other in members[1:]:
            first.sources |= other.sources
            first.detail["credits"].extend(other.detail["credits"])
            first.search = (first.search + " " + other.search)[: SEARCH_WIDTH * 2]
        first.detail["members"] = [m.iri for m in members]
        yield first


#: outline simplification, in degrees (about 1 km): the base layer of a national map, not a survey
OUTLINE_TOLERANCE = 0.01
OUTLINES_FILE = "outlines.geojson"


def write_outlines(settings: Any, folder: Path) -> dict[str, str]:
    """``outlines.geojson`` (régions then départements, simplified with shapely, coordinates to 4 decimals) from
    the shared territories data, so that the map is readable without any tile server; the départements' names
    by code. Without the territories data no file is written (the page then says so) and no names are known.
    """
    import shapely

    from transiscope.core.errors import ConfigError
    from transiscope.territories.graph import territory_files

    target = folder / OUTLINES_FILE
    try:
        files = territory_files(
            settings.territories_dir,
            settings.cache_dir,
            roles=("regions_geojson", "departements_geojson", "departements_csv"),
        )
    except ConfigError as error:
        log.warning("map outlines not written: %s", error)
        target.unlink(missing_ok=True)
        (folder / (OUTLINES_FILE + ".key")).unlink(missing_ok=True)
        return {}
    import csv

    with files["departements_csv"].open(encoding="utf-8", newline="") as handle:
        names = {row["DEP"]: row["LIBELLE"] for row in csv.DictReader(handle)}
    # the outlines change only with the territories files: not simplified again at every export (~10 s)
    inputs = [files["regions_geojson"], files["departements_geojson"]]
    key = json.dumps([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in inputs] + [OUTLINE_TOLERANCE])
    key_file = folder / (OUTLINES_FILE + ".key")
    if target.is_file() and key_file.is_file() and key_file.read_text("utf-8") == key:
        return names
    features = []
    for level, role in (("region", "regions_geojson"), ("departement", "departements_geojson")):
        with files[role].open(encoding="utf-8") as handle:
            source = json.load(handle)["features"]
        shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in source])
        simple = shapely.set_precision(shapely.simplify(shapes, OUTLINE_TOLERANCE, preserve_topology=True), 1e-4)
        for feature, shape in zip(source, simple, strict=True):
            if shape is None or shape.is_empty:
                continue
            properties = {
                "level": level,
                "code": str(feature["properties"].get("code", "")),
                "nom": display_text(feature["properties"].get("nom", ""), "label"),
            }
            features.append(
                {"type": "Feature", "properties": properties, "geometry": json.loads(shapely.to_geojson(shape))}
            )
    tmp = folder / (OUTLINES_FILE + ".tmp")
    tmp.write_text(json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")), "utf-8")
    os.replace(tmp, target)
    key_file.write_text(key, "utf-8")
    return names


def write_points(store: TripleStore, out_dir: Path, settings: Any) -> int:
    """Write the map's files under ``out_dir/map/`` (the points index, its details, the outlines); the number
    of points. ``settings`` give the base IRI (the link step's clusters) and the territories data."""
    base = settings.base_iri
    concepts, top_order = read_concepts(store)
    sources = read_sources(store)
    by_iri = {c.iri: c.notation for c in concepts.values()}
    categories: dict[str, set[str]] = {}
    for row in solutions(store, _CATEGORIES):
        notation = by_iri.get(row["c"].value)
        if notation is not None:
            categories.setdefault(row["s"].value, set()).add(notation)
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    dep_names = write_outlines(settings, folder)
    details_tmp = folder / "details.jsonl.tmp"
    digest = hashlib.sha256()
    lat: list[float] = []
    lon: list[float] = []
    deps: list[str] = []
    search: list[str] = []
    names: list[str] = []
    point_sources: list[set[str]] = []
    point_concepts: list[set[str]] = []
    offsets: list[int] = []
    with details_tmp.open("wb") as details:
        for row in _rows(store, concepts, sources, base):
            members = row.detail.get("members", [row.iri])
            notations = set().union(*(categories.get(m, set()) for m in members))
            labels = sorted({concepts[n].labels.get("fr") or n for n in notations})
            row.detail["categories"] = [display_text(label, "label") for label in labels]
            offsets.append(details.tell())
            line = json.dumps(row.detail, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            details.write(line)
            digest.update(line)
            lat.append(row.lat)
            lon.append(row.lon)
            deps.append(row.dep)
            search.append(row.search)
            names.append(row.name)
            point_sources.append(row.sources)
            point_concepts.append(notations | {concepts[n].top for n in notations})
    order = sorted(range(len(names)), key=lambda k: (search[k], k))
    concept_ids = [c["id"] for c in concept_tree(concepts, top_order)]
    concept_ids += [child["id"] for top in concept_tree(concepts, top_order) for child in top["children"]]
    concept_index = {c: k for k, c in enumerate(concept_ids)}
    source_ids = sorted(set().union(*point_sources)) if point_sources else []
    source_index = {s: k for k, s in enumerate(source_ids)}
    dep_codes = sorted({d for d in deps if d})
    dep_index = {d: k for k, d in enumerate(dep_codes)}
    n = len(order)
    concept_matrix = np.zeros((n, len(concept_ids)), dtype=bool)
    source_matrix = np.zeros((n, len(source_ids)), dtype=bool)
    domain = np.full(n, -1, dtype=np.int16)
    tops = {top: k for k, top in enumerate(top_order)}
    for new, old in enumerate(order):
        for notation in point_concepts[old]:
            if notation in concept_index:
                concept_matrix[new, concept_index[notation]] = True
        ranked = sorted(tops[c] for c in point_concepts[old] if c in tops)
        if ranked:
            domain[new] = ranked[0]
        for source in point_sources[old]:
            source_matrix[new, source_index[source]] = True
    blob = bytearray()
    name_at = np.zeros(n + 1, dtype=np.int64)
    for new, old in enumerate(order):
        blob += names[old].encode()
        name_at[new + 1] = len(blob)
    credits = {
        c.id: {"name": display_text(c.name, "label"), "licence": display_text(licence_id(c.licence), "label")}
        for c in sources.values()
    }
    details_name = f"details-{digest.hexdigest()[:16]}.jsonl"
    meta = {
        "format": FORMAT,
        "details": details_name,
        "tree": concept_tree(concepts, top_order),
        "concepts": concept_ids,
        "sources": [{"id": s, **credits.get(s, {"name": s, "licence": ""})} for s in source_ids],
        "departements": dep_codes,
        "departement_names": {code: display_text(dep_names[code], "label") for code in dep_codes if code in dep_names},
    }
    index_tmp = folder / (INDEX_FILE + ".tmp.npz")
    np.savez(
        index_tmp,
        lat=np.array([lat[k] for k in order], dtype=np.float64),
        lon=np.array([lon[k] for k in order], dtype=np.float64),
        domain=domain,
        concepts=concept_matrix,
        sources=source_matrix,
        dep=np.array([dep_index.get(deps[k], -1) for k in order], dtype=np.int16),
        search=np.array([search[k].encode()[:SEARCH_WIDTH] for k in order], dtype=f"S{SEARCH_WIDTH}"),
        names=np.frombuffer(bytes(blob), dtype=np.uint8),
        name_at=name_at,
        detail_at=np.array([offsets[k] for k in order], dtype=np.int64),
        meta=np.array(json.dumps(meta, ensure_ascii=False)),
    )
    # the details first, under a name of their own: a reader of the previous index keeps its own details file
    os.replace(details_tmp, folder / details_name)
    os.replace(index_tmp, folder / INDEX_FILE)
    for stale in folder.glob("details-*.jsonl"):
        if stale.name != details_name:
            stale.unlink(missing_ok=True)
    return n
