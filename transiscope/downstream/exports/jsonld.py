"""JSON-LD export of the initiatives, with a schema.org context: the triples of the store, readable as JSON.

Read as triples (each initiative, its address and its geometry node), written as compacted JSON-LD: the
``@context`` is inline (``@vocab`` schema.org with **http**, as the data uses it, plus the project's prefixes),
so a consumer needs no network to expand it. The address and geometry nodes are embedded in their initiative.
Parsing the file back into RDF gives the store's triples (text literals cleaned of any markup) plus one node
describing the export (licence, sources, date). pyoxigraph's own JSON-LD writer only writes expanded JSON-LD
(full IRIs, no context), which is why the compaction is done here, with the fixed context below.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

from transiscope.core.text import clean_text
from transiscope.core.vocab import DCAT, DCT, GEO, PROV, RDF, RDFS, SCHEMA, SF, SKOS, TS, TX, XSD
from transiscope.downstream.exports.files import json_text
from transiscope.downstream.exports.read import safe_url

CONTEXT_PREFIXES = {
    "schema": SCHEMA,
    "ts": TS,
    "tx": TX,
    "geo": GEO,
    "sf": SF,
    "xsd": XSD,
    "dct": DCT,
    "dcat": DCAT,
    "prov": PROV,
    "skos": SKOS,
    "rdfs": RDFS,
}
CONTEXT = {"@vocab": SCHEMA, **CONTEXT_PREFIXES}
_TYPE = RDF + "type"
_XSD_STRING = XSD + "string"
_XSD_ANYURI = XSD + "anyURI"
_MULTILINE = {SCHEMA + "description"}


def compact(iri: str) -> str:
    """An IRI as the context abbreviates it: a bare schema.org term, ``prefix:local``, or the full IRI."""
    if iri.startswith(SCHEMA):
        local = iri[len(SCHEMA) :]
        if local and "/" not in local and "#" not in local and ":" not in local and local not in CONTEXT_PREFIXES:
            return local  # schema:geo stays "schema:geo": "geo" is the GeoSPARQL prefix
    for prefix, namespace in CONTEXT_PREFIXES.items():
        if prefix != "schema" and iri.startswith(namespace):
            local = iri[len(namespace) :]
            if local and not local.startswith("/") and "#" not in local and "/" not in local:
                return f"{prefix}:{local}"
    return iri


def _value(predicate: str, term: Any) -> Any:
    if isinstance(term, ox.NamedNode):
        return {"@id": term.value}
    if isinstance(term, ox.BlankNode):
        return {"@id": f"_:{term.value}"}
    datatype = term.datatype.value
    if term.language or datatype == _XSD_STRING:
        text = clean_text(term.value, multiline=predicate in _MULTILINE) or ""
        return {"@value": text, "@language": term.language} if term.language else text
    if datatype == _XSD_ANYURI and safe_url(term.value) is None:
        return None  # a javascript: or data: link is not published
    return {"@value": term.value, "@type": compact(datatype)}


def _key(value: Any) -> str:
    return json_text(value)


def node(iri: str, properties: dict[str, list[Any]], embedded: dict[str, dict[str, Any]]) -> dict[str, Any]:
    node: dict[str, Any] = {"@id": iri}
    types = sorted(compact(t.value) for t in properties.get(_TYPE, []) if isinstance(t, ox.NamedNode))
    if types:
        node["@type"] = types
    for predicate in sorted(p for p in properties if p != _TYPE):
        values = []
        for term in properties[predicate]:
            if isinstance(term, ox.NamedNode) and term.value in embedded:
                values.append(embedded[term.value])
            else:
                value = _value(predicate, term)
                if value is not None:
                    values.append(value)
        if not values:
            continue
        if len(values) > 1:  # sorted and without repeats; most properties have one value and need no key
            keyed = sorted(((_key(v), v) for v in values), key=lambda pair: pair[0])
            values = [v for i, (key, v) in enumerate(keyed) if i == 0 or key != keyed[i - 1][0]]
        unique = values
        node[compact(predicate)] = unique[0] if len(unique) == 1 else unique
    return node


def document_head(attribution: dict[str, Any], export_iri: str) -> str:
    """The start of the JSON-LD document: the context and the node describing the export (licence, sources,
    date), the first of ``@graph``; the initiatives' nodes follow, one per line."""
    about: dict[str, Any] = {
        "@id": export_iri,
        "@type": "dcat:Distribution",
        "dct:title": attribution["title"],
        "dct:issued": {"@value": attribution["generated"], "@type": "xsd:dateTime"},
        "dct:rights": [attribution["notice"]["en"]]
        + ([attribution["share_alike"]["en"]] if attribution.get("share_alike") else []),
        "dct:source": [{"@id": s["iri"]} for s in attribution["sources"] if s.get("iri")],
    }
    if attribution["licence_url"]:
        about["dct:license"] = {"@id": attribution["licence_url"]}
    return json_text({"@context": CONTEXT})[:-1] + ',"@graph":[\n' + json_text(about)


def jsonld(nodes: dict[str, dict[str, dict[str, Any]]], attribution: dict[str, Any], export_iri: str) -> str:
    """The whole JSON-LD document (``nodes``: initiative -> its node and sub-nodes); one initiative per line."""
    lines = []
    for initiative in sorted(nodes):
        described = nodes[initiative]
        subs = {iri: props for iri, props in described.items() if iri != initiative}
        embedded = {iri: node(iri, props, {}) for iri, props in subs.items()}
        lines.append(json_text(node(initiative, described.get(initiative, {}), embedded)))
    return document_head(attribution, export_iri) + "".join(",\n" + line for line in lines) + "\n]}\n"
