"""Back to the commons: one Murmurations profile per source, and its PAIR view (:mod:`.pair`) beside it.

Murmurations is the federation index that networks of the regenerative economy publish to (the bus also reads
it, ``format = "murmurations"``). A profile is a JSON document that declares the schemas it follows in
``linked_schemas``; this one follows the network's ``organizations_schema-v1.0.0`` (``name`` required, then
``primary_url``, ``description``, ``tags``, ``urls``, ``country_iso_3166``, ``geolocation{lat, lon}``…), so that
the index can list what Transiscope holds for each partner and link back to the partner's own site.

What a profile says, all of it read from the store (the catalogue in the metadata graph and the live graphs):

- ``name``, ``primary_url`` (the source's landing page), ``description`` (the registry's, in French);
- ``tags``: the labels (French) of the taxonomy concepts the source's records carry, the most used first;
- ``country_iso_3166``: when every record that declares a country declares the same one;
- ``geolocation``: only for a local source (every located record within :data:`LOCAL_RADIUS_KM` of their
  median point): a national network has no single place, and a made-up centre would mislead a map;
- ``urls``: the source's PAIR exports (Turtle, JSON-LD), so a SemApps/Archipelago consumer finds them;
- ``transiscope``: what the schema has no field for (the record counts, the licence, the source's id). JSON
  Schema lets a profile carry more than its schema names; the index ignores what it does not know.

Profiles are written to ``murmurations/<source>.json`` in the exports and served at ``/murmurations/<source>.json``.
No date is written: unchanged data gives identical bytes (see :mod:`.files`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from transiscope.core.vocab import DCAT, DCT
from transiscope.downstream.exports import pair
from transiscope.downstream.exports.files import json_text
from transiscope.downstream.exports.read import ReadModel, licence_id, safe_url
from transiscope.store.base import TripleStore

#: the Murmurations schema the profiles follow
SCHEMA_NAME = "organizations_schema-v1.0.0"
#: a source whose located records all lie within this distance of their median point is local: it gets a point
LOCAL_RADIUS_KM = 50.0
#: the schema's limits (fields ``name``, ``tags``)
NAME_MAX, TAG_MAX, TAGS_MAX = 200, 100, 100
_ISO2 = re.compile(r"^[A-Z]{2}$")


@dataclass
class Commons:
    """What the commons exports need from the store, read while the export holds it open."""

    views: dict[str, list[ox.Triple]]  # source IRI -> its PAIR triples (empty: read per source at writing)
    descriptions: dict[str, str]  # source IRI -> description


def read_commons(store: TripleStore) -> Commons:
    """The sources' descriptions (French first) from the catalogue; the PAIR views are read per source when
    the files are written (:func:`write_commons`)."""
    rows = store.select(f"""
        SELECT ?s ?description WHERE {{
          ?s a <{DCAT}Dataset> ; <{DCT}description> ?description .
        }} ORDER BY ?s DESC(LANGMATCHES(LANG(?description), "fr")) ?description""")
    descriptions: dict[str, str] = {}
    for row in rows:
        descriptions.setdefault(row["s"].value, " ".join(row["description"].value.split()))
    return Commons(views={}, descriptions=descriptions)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), enough to tell a town's network from a national one."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def local_point(points: list[tuple[float, float]]) -> dict[str, float] | None:
    """The median point of a local source's records, or None (no point, or records spread wider than
    :data:`LOCAL_RADIUS_KM`)."""
    if not points:
        return None
    lat = statistics.median(p[0] for p in points)
    lon = statistics.median(p[1] for p in points)
    if any(_distance_km(lat, lon, p[0], p[1]) > LOCAL_RADIUS_KM for p in points):
        return None
    return {"lat": round(lat, 5), "lon": round(lon, 5)}


class SourceFacts:
    """What a source's profile says of its records, counted as they stream by (tags, countries, points)."""

    def __init__(self) -> None:
        self.initiatives = 0
        self.events = 0
        self.tags: Counter[str] = Counter()
        self.countries: set[str] = set()
        self.points: list[tuple[float, float]] = []  # for the median point: two floats per located record

    def add(self, record: dict[str, Any], kind: str = "initiatives") -> None:
        if kind == "events":
            self.events += 1
        else:
            self.initiatives += 1
            if record.get("country"):
                self.countries.add(str(record["country"]).upper())
            if record["lat"] is not None and record["lon"] is not None:
                self.points.append((record["lat"], record["lon"]))
        for label in dict.fromkeys(record.get("category_labels") or []):
            text = " ".join(str(label).split())[:TAG_MAX]
            if text:
                self.tags[text] += 1

    def top_tags(self) -> list[str]:
        return [label for label, _ in sorted(self.tags.items(), key=lambda item: (-item[1], item[0]))][:TAGS_MAX]


def facts_of(model: ReadModel) -> dict[str, SourceFacts]:
    """Source id -> facts, from a whole read model (for callers that hold one)."""
    facts: dict[str, SourceFacts] = defaultdict(SourceFacts)
    for record in model.initiatives:
        facts[record["source"]].add(record)
    for record in model.events:
        if record.get("source"):
            facts[record["source"]].add(record, "events")
    return facts


def profile(
    source_iri: str,
    model: ReadModel,
    commons: Commons,
    base: str,
    pair_files: dict[str, Any] | None,
    facts: SourceFacts | None = None,
) -> dict[str, Any]:
    """The Murmurations profile of one source of the catalogue."""
    credit = model.sources[source_iri]
    if facts is None:
        facts = facts_of(model).get(credit.id, SourceFacts())
    document: dict[str, Any] = {"linked_schemas": [SCHEMA_NAME], "name": credit.name[:NAME_MAX]}
    landing = safe_url(credit.landing_page)
    if landing:
        document["primary_url"] = landing
    if commons.descriptions.get(source_iri):
        document["description"] = commons.descriptions[source_iri]
    tags = facts.top_tags()
    if tags:
        document["tags"] = tags
    if len(facts.countries) == 1 and _ISO2.match(next(iter(facts.countries))):
        document["country_iso_3166"] = next(iter(facts.countries))
    point = local_point(facts.points)
    if point:
        document["geolocation"] = point
    if pair_files:
        document["urls"] = [
            {"name": "PAIR (Turtle)", "url": f"{base}exports/{pair_files['turtle']}"},
            {"name": "PAIR (JSON-LD)", "url": f"{base}exports/{pair_files['jsonld']}"},
        ]
    document["transiscope"] = {
        "source": credit.id,
        "initiatives": facts.initiatives,
        "initiatives_with_point": len(facts.points),
        "events": facts.events,
        "licence": licence_id(credit.licence) if credit.licence else None,
        "publisher": credit.publisher or None,
    }
    return document


def profile_path(source_id: str) -> str:
    return f"murmurations/{pair.pair_paths(source_id)['turtle'].removeprefix('pair/').removesuffix('.ttl')}.json"


def write_commons(
    writer: Any,
    model: ReadModel,
    commons: Commons,
    base: str,
    *,
    store: TripleStore | None = None,
    facts: dict[str, SourceFacts] | None = None,
    keep: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Write the PAIR files and the Murmurations profile of every source of the catalogue with ``writer``;
    returns, per source id, what was written (for the summary and the tests).

    The PAIR view is read one source at a time from ``store`` (or taken from ``commons.views``); a source in
    ``keep`` (its data unchanged since the last export) keeps its files as they are, with their manifest entries
    carried over."""
    facts = facts if facts is not None else facts_of(model)
    written: dict[str, Any] = {}
    for source_iri, credit in sorted(model.sources.items(), key=lambda item: item[1].id):
        path = profile_path(credit.id)
        if keep and credit.id in keep:
            for entry in keep[credit.id]:
                writer.keep(entry)
            written[credit.id] = {"profile": path, "kept": True}
            continue
        if commons.views:
            triples = commons.views.get(source_iri, [])
        else:
            triples = pair.pair_of_source(store, source_iri) if store is not None else []
        pair_files = pair.write_pair_files(writer, source_iri, triples) if triples else None
        document = profile(source_iri, model, commons, base, pair_files, facts.get(credit.id, SourceFacts()))
        writer.write(path, json_text(document, indent=1) + "\n", "application/json")
        written[credit.id] = {"profile": path, **(pair_files or {})}
    return written
