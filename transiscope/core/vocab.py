"""The vocabulary of the bus: namespaces, prefixes and the IRIs it mints.

Why one owner: every layer names the same graphs and entities (the ingest writes them, the store records
runs in them, the downstream steps and the endpoint read them); an IRI minted two ways is two entities.
IRIs are minted from (source, source id), deterministic and safe-encoded, so that an id with spaces, ``>``,
quotes or unicode can never break an IRI or a query.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pyoxigraph as ox

SCHEMA = "http://schema.org/"  # http, as partner data uses it (rdflib's SDO constant is https)
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
GEO = "http://www.opengis.net/ont/geosparql#"
SF = "http://www.opengis.net/ont/sf#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
VOID = "http://rdfs.org/ns/void#"
FOAF = "http://xmlns.com/foaf/0.1/"
TS = "https://w3id.org/transiscope/ontology#"
TX = "https://w3id.org/transiscope/taxonomy/"
SPDX_LICENCES = "https://spdx.org/licenses/"

PREFIXES = {
    "schema": SCHEMA,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "geo": GEO,
    "sf": SF,
    "dct": DCT,
    "dcat": DCAT,
    "prov": PROV,
    "skos": SKOS,
    "void": VOID,
    "ts": TS,
    "tx": TX,
}

#: SPARQL prologue analysts and the CLI prepend to their queries
SPARQL_PREFIXES = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())

A = ox.NamedNode(RDF + "type")


#: the characters ``urllib.parse.quote`` never encodes
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")


def quote_id(value: str) -> str:
    """Percent-encode an id for use as one IRI path segment: spaces, ``>``, quotes, unicode, ``/``.

    The ids ``.`` and ``..`` are encoded too (``%2E``): left as they are, they are dot-segments, which every
    HTTP client and IRI resolver removes (``…/initiative/s/./geometry`` is fetched as ``…/initiative/s/geometry``,
    the IRI of the record whose id is ``geometry``).
    """
    if _UNRESERVED.fullmatch(value) and value not in (".", ".."):
        return value  # what quote() leaves as it is: most ids, checked in C rather than in quote's loop
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def source_iri(base: str, source_id: str) -> str:
    return f"{base}id/source/{quote_id(source_id)}"


def initiative_iri(base: str, source_id: str, record_id: str) -> str:
    return f"{base}id/initiative/{quote_id(source_id)}/{quote_id(record_id)}"


def run_iri(base: str, source_id: str, run_id: str) -> str:
    return f"{base}id/run/{quote_id(source_id)}/{quote_id(run_id)}"


def source_graph(base: str, source_id: str) -> str:
    return f"{base}graph/source/{quote_id(source_id)}"


def staging_graph(base: str, source_id: str) -> str:
    return f"{base}graph/staging/{quote_id(source_id)}"


def metadata_graph(base: str) -> str:
    return f"{base}graph/metadata"


def ontology_graph(base: str, name: str) -> str:
    return f"{base}graph/{quote_id(name)}"


def concept_iri(notation: str) -> str:
    return TX + quote_id(notation)


def licence_iri(licence: str) -> str:
    """An SPDX id (``ODbL-1.0``) becomes its SPDX IRI; an IRI stays itself."""
    if licence.startswith(("http://", "https://")):
        return licence
    return SPDX_LICENCES + quote_id(licence)
