"""A PAIR-shaped view of the data, for SemApps / Archipelago consumers (the bus aligns with PAIR, not built on it).

PAIR is the ontology of Assemblée Virtuelle (``http://virtual-assembly.org/ontologies/pair#``, AGPL): only
its IRIs are used, the ontology file is not copied (its terms were checked in ``2-Implementation/owl/pair.ttl``
of the assemblee-virtuelle/pair repository). The view is one SPARQL CONSTRUCT over the store:

- each initiative becomes a ``pair:Organization`` with the same IRI (``pair:label``, ``pair:description``,
  ``pair:homePage``, ``pair:e-mail``, ``pair:phone``, ``pair:aboutPage`` = its page at the source);
- its point and address become a ``pair:Place`` (also ``pair:PhysicalPlace``, ``<initiative>/place``) with
  ``pair:latitude``/``pair:longitude`` and a ``pair:PostalAddress`` (``<initiative>/address``);
- its taxonomy concepts become ``pair:hasTopic`` links to ``pair:Topic`` resources with their French label
  (PAIR declares ``pair:hasTopic`` on documents; SemApps and Archipelago use it on organisations, events and
  places, which is what their importers read);
- every ``schema:Event`` becomes a ``pair:Event`` with ``pair:startDate``/``pair:endDate`` and its location;
- licence and provenance travel with each record (``dct:license``, ``dct:source``, ``prov:wasDerivedFrom``):
  ODbL sources ask for share-alike and attribution.

The export step publishes the view per source (:func:`write_pair_exports`): ``pair/<source>.ttl`` (Turtle) and
``pair/<source>.jsonld`` (expanded JSON-LD, pyoxigraph's writer), each holding the source's records with their
places, addresses and topics, so that a SemApps or Archipelago instance can import one partner's data with its
own licence. Contacts travel only as the store holds them: the mapping already drops placeholders such as
``"private"`` or ``"hidden"`` (a contact a source keeps private is absent, never a value), so the view adds none.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyoxigraph as ox

from transiscope.core.files import atomic_open
from transiscope.store.base import TripleStore
from transiscope.store.embedded import EmbeddedStore

PAIR = "http://virtual-assembly.org/ontologies/pair#"

#: the CONSTRUCT query of the view (run it with the store's union of graphs as default graph)
PAIR_VIEW_QUERY = """PREFIX pair:   <http://virtual-assembly.org/ontologies/pair#>
PREFIX schema: <http://schema.org/>
PREFIX ts:     <https://w3id.org/transiscope/ontology#>
PREFIX geo:    <http://www.opengis.net/ont/geosparql#>
PREFIX skos:   <http://www.w3.org/2004/02/skos/core#>
PREFIX dct:    <http://purl.org/dc/terms/>
PREFIX prov:   <http://www.w3.org/ns/prov#>

CONSTRUCT {
    ?subject a ?pairClass ;
        pair:label ?name ;
        pair:description ?description ;
        pair:homePage ?homePage ;
        pair:e-mail ?email ;
        pair:phone ?phone ;
        pair:startDate ?start ;
        pair:endDate ?end ;
        pair:hasTopic ?concept ;
        pair:hasLocation ?place ;
        pair:aboutPage ?page ;
        dct:license ?license ;
        dct:source ?source ;
        prov:wasDerivedFrom ?page .
    ?concept a pair:Topic , skos:Concept ;
        pair:label ?conceptLabel .
    ?place a pair:Place , pair:PhysicalPlace ;
        pair:label ?placeName ;
        pair:latitude ?latitude ;
        pair:longitude ?longitude ;
        pair:openingHours ?hours ;
        pair:hasPostalAddress ?address .
    ?address a pair:PostalAddress ;
        pair:addressStreet ?street ;
        pair:addressZipCode ?postcode ;
        pair:addressLocality ?locality ;
        pair:addressCountry ?country .
}
WHERE {
    {
        ?subject a ts:Initiative .
        BIND (pair:Organization AS ?pairClass)
    } UNION {
        ?subject a schema:Event .
        BIND (pair:Event AS ?pairClass)
    }
    OPTIONAL { ?subject schema:name ?name }
    OPTIONAL { ?subject schema:description ?description }
    OPTIONAL { ?subject schema:url ?url BIND (STR(?url) AS ?homePage) }
    OPTIONAL { ?subject schema:email ?email }
    OPTIONAL { ?subject schema:telephone ?phone }
    OPTIONAL { ?subject schema:startDate ?start }
    OPTIONAL { ?subject schema:endDate ?end }
    OPTIONAL { ?subject dct:license ?license }
    OPTIONAL { ?subject ts:source ?source }
    OPTIONAL { ?subject prov:wasDerivedFrom ?page }
    OPTIONAL {
        ?subject ts:category ?concept .
        OPTIONAL { ?concept skos:prefLabel ?conceptLabel FILTER (LANGMATCHES(LANG(?conceptLabel), "fr")) }
    }
    OPTIONAL { ?subject schema:openingHours ?hours }
    # the place: the initiative's own point and address, or an event's location
    OPTIONAL {
        {
            ?subject a ts:Initiative .
            FILTER (EXISTS { ?subject geo:hasGeometry ?any } || EXISTS { ?subject schema:address ?any })
            BIND (IRI(CONCAT(STR(?subject), "/place")) AS ?place)
            BIND (?subject AS ?located)
        } UNION {
            ?subject schema:location ?place .
            BIND (?place AS ?located)
            OPTIONAL { ?place schema:name ?placeName }
        }
        OPTIONAL {
            ?located geo:hasGeometry ?geometry .
            ?geometry schema:latitude ?lat ; schema:longitude ?lon .
            BIND (STR(?lat) AS ?latitude)
            BIND (STR(?lon) AS ?longitude)
        }
        OPTIONAL {
            ?located schema:address ?address .
            OPTIONAL { ?address schema:streetAddress ?street }
            OPTIONAL { ?address schema:postalCode ?postcode }
            OPTIONAL { ?address schema:addressLocality ?locality }
            OPTIONAL { ?address schema:addressCountry ?country }
        }
    }
}
"""

PREFIXES = {
    "pair": PAIR,
    "schema": "http://schema.org/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "ts": "https://w3id.org/transiscope/ontology#",
}


def pair_view(store: ox.Store | TripleStore) -> list[ox.Triple]:
    """The PAIR-shaped triples of everything in ``store`` (a store of the bus, or a pyoxigraph store)."""
    if not isinstance(store, ox.Store):
        result = store.query(PAIR_VIEW_QUERY)
    else:
        result = store.query(PAIR_VIEW_QUERY, use_default_graph_as_union=True)
    assert isinstance(result, ox.QueryTriples)  # the view is a CONSTRUCT
    return list(result)


def write_pair_view(store: ox.Store | EmbeddedStore, destination: Path) -> int:
    """Write the view as Turtle (atomically); returns the number of triples."""
    triples = pair_view(store)
    with atomic_open(Path(destination), "wb") as out:
        ox.serialize(triples, out, ox.RdfFormat.TURTLE, prefixes=PREFIXES)
    return len(triples)


_SOURCE = "http://purl.org/dc/terms/source"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
#: the links from a record to the nodes that belong to its description (its place, the place's address, topics)
_LINKS = (PAIR + "hasLocation", PAIR + "hasPostalAddress", PAIR + "hasTopic")


def _key(triple: ox.Triple) -> tuple[str, str, str]:
    return (str(triple.subject), str(triple.predicate), str(triple.object))


def pair_by_source(store: ox.Store | TripleStore) -> dict[str, list[ox.Triple]]:
    """The view split by source (source IRI -> its triples, sorted): one CONSTRUCT over the whole store, then
    each record with the nodes it links to (place, address, topics; a topic goes with every source using it).

    Why one query rather than one per source: the CONSTRUCT scans the store once whatever it selects, so N
    sources would cost N scans; the split is a walk over triples already in memory. A record that names no
    source (``ts:source``) belongs to no export: nobody could be credited for it."""
    by_subject: dict[ox.NamedNode | ox.BlankNode | ox.Triple, set[ox.Triple]] = defaultdict(set)
    for triple in pair_view(store):
        by_subject[triple.subject].add(triple)
    grouped: dict[str, set[ox.Triple]] = defaultdict(set)
    for subject, triples in by_subject.items():
        sources = {
            t.object.value for t in triples if t.predicate.value == _SOURCE and isinstance(t.object, ox.NamedNode)
        }
        if not sources:
            continue
        reached: set[ox.Triple] = set()
        pending = [subject]
        seen = {subject}
        while pending:
            node = pending.pop()
            for triple in by_subject.get(node, ()):
                reached.add(triple)
                linked = triple.object
                if triple.predicate.value in _LINKS and not isinstance(linked, ox.Literal) and linked not in seen:
                    seen.add(linked)
                    pending.append(linked)
        for source in sources:
            grouped[source] |= reached
    return {source: sorted(triples, key=_key) for source, triples in sorted(grouped.items())}


def source_view_query(source_iri: str) -> str:
    """The view restricted to the records of one source (``ts:source``): what one source's files hold."""
    head, _, tail = PAIR_VIEW_QUERY.rpartition("WHERE {")
    return f"{head}WHERE {{\n    ?subject ts:source <{source_iri}> .{tail}"


def pair_of_source(store: ox.Store | TripleStore, source_iri: str) -> list[ox.Triple]:
    """One source's view, sorted (each record with its place, address and topics), by one CONSTRUCT: the
    exports write one source at a time, so memory follows the largest source, not the whole store."""
    query = source_view_query(source_iri)
    if not isinstance(store, ox.Store):
        result = store.query(query)
    else:
        result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QueryTriples)  # the view is a CONSTRUCT
    return sorted(set(result), key=_key)


def source_id_of(source_iri: str) -> str:
    """The source's id from its IRI (``…/id/source/<id>``, percent-encoded in the IRI)."""
    return unquote(source_iri.rstrip("/").rsplit("/", 1)[-1])


def pair_paths(source_id: str) -> dict[str, str]:
    """Where a source's PAIR files go, relative to the exports folder (the URLs under ``/exports/`` follow)."""
    name = quote(source_id, safe="-_").replace(".", "%2E")
    return {"turtle": f"pair/{name}.ttl", "jsonld": f"pair/{name}.jsonld"}


def serialise(triples: list[ox.Triple], form: ox.RdfFormat) -> bytes:
    """Turtle (with the PAIR prefixes) or JSON-LD of ``triples``, by pyoxigraph's writers: sorted input gives
    the same bytes for the same data."""
    data = ox.serialize(triples, format=form, prefixes=PREFIXES)
    assert data is not None  # no output given: the bytes are returned
    return data


def write_pair_files(writer: Any, source_iri: str, triples: list[ox.Triple]) -> dict[str, Any]:
    """Write one source's view as Turtle and JSON-LD with ``writer``; the paths and the counts of PAIR
    organisations and events."""
    paths = pair_paths(source_id_of(source_iri))
    writer.write(paths["turtle"], serialise(triples, ox.RdfFormat.TURTLE), "text/turtle")
    writer.write(paths["jsonld"], serialise(triples, ox.RdfFormat.JSON_LD), "application/ld+json")
    types = [t.object.value for t in triples if t.predicate.value == RDF_TYPE and isinstance(t.object, ox.NamedNode)]
    return {
        **paths,
        "triples": len(triples),
        "organizations": types.count(PAIR + "Organization"),
        "events": types.count(PAIR + "Event"),
    }


def write_pair_exports(writer: Any, views: dict[str, list[ox.Triple]]) -> dict[str, dict[str, Any]]:
    """Write each source's view as Turtle and JSON-LD with ``writer`` (an :class:`ExportWriter`); returns, per
    source id, the relative paths written and the counts of PAIR organisations and events."""
    written: dict[str, dict[str, Any]] = {}
    for source_iri, triples in views.items():
        source_id = source_id_of(source_iri)
        paths = pair_paths(source_id)
        writer.write(paths["turtle"], serialise(triples, ox.RdfFormat.TURTLE), "text/turtle")
        writer.write(paths["jsonld"], serialise(triples, ox.RdfFormat.JSON_LD), "application/ld+json")
        types = [
            t.object.value for t in triples if t.predicate.value == RDF_TYPE and isinstance(t.object, ox.NamedNode)
        ]
        written[source_id] = {
            **paths,
            "triples": len(triples),
            "organizations": types.count(PAIR + "Organization"),
            "events": types.count(PAIR + "Event"),
        }
    return written
