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
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from transiscope.core.files import atomic_open
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


def pair_view(store: ox.Store | EmbeddedStore) -> list[ox.Triple]:
    """The PAIR-shaped triples of everything in ``store`` (an embedded store, or a pyoxigraph store)."""
    if isinstance(store, EmbeddedStore):
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
