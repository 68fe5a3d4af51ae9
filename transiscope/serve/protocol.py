"""What the SPARQL 1.1 Protocol asks of the endpoint beyond running queries: which result format a client gets
(the ``format`` parameter, else the ``Accept`` header with its q-values, else the form's default), the dataset
parameters, and the service description a bare ``GET /sparql`` answers.

Why negotiation waits for the query's form: a client that sends one Accept header for every query (SPARQLWrapper,
rdflib, a browser) must get SPARQL JSON for a SELECT and an RDF syntax for a CONSTRUCT; so the choice is made
where the form is known, in the query worker, with :func:`choose_format`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: result formats per query form: short name -> (media type, name of the pyoxigraph format attribute)
SOLUTIONS_FORMATS = {
    "json": ("application/sparql-results+json", "JSON"),
    "xml": ("application/sparql-results+xml", "XML"),
    "csv": ("text/csv", "CSV"),
    "tsv": ("text/tab-separated-values", "TSV"),
}
BOOLEAN_FORMATS = {name: SOLUTIONS_FORMATS[name] for name in ("json", "xml")}
GRAPH_FORMATS = {
    "turtle": ("text/turtle", "TURTLE"),
    "ntriples": ("application/n-triples", "N_TRIPLES"),
    "rdfxml": ("application/rdf+xml", "RDF_XML"),
    "jsonld": ("application/ld+json", "JSON_LD"),
}
FORMATS = {"solutions": SOLUTIONS_FORMATS, "boolean": BOOLEAN_FORMATS, "graph": GRAPH_FORMATS}

#: other media types clients send, per form (the generic JSON and XML types mean the form's own JSON or XML)
_ALIASES = {
    "solutions": {
        "application/json": "json",
        "application/xml": "xml",
        "text/xml": "xml",
        "application/csv": "csv",
    },
    "graph": {
        "application/x-turtle": "turtle",
        "text/plain": "ntriples",
        "application/xml": "rdfxml",
        "text/xml": "rdfxml",
        "application/json": "jsonld",
    },
}
_ALIASES["boolean"] = {k: v for k, v in _ALIASES["solutions"].items() if v in BOOLEAN_FORMATS}

#: short names a ``format`` parameter may give, per form, besides the canonical ones
_SHORT = {
    "solutions": {"srj": "json", "srx": "xml"},
    "boolean": {"srj": "json", "srx": "xml"},
    "graph": {"ttl": "turtle", "nt": "ntriples", "xml": "rdfxml", "rdf": "rdfxml", "json": "jsonld"},
}

FORM_NAMES = {"solutions": "SELECT", "boolean": "ASK", "graph": "CONSTRUCT or DESCRIBE"}


class NotAcceptable(ValueError):
    """No format the client accepts exists for the query's form; ``status`` is 406 for the Accept header,
    400 for a ``format`` parameter the endpoint does not know for that form."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_accept(header: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q-values (malformed q-values count as 1, as most
    servers read them; ranges with q=0 are kept: they refuse a type).

    >>> parse_accept("text/turtle;q=0.5, application/rdf+xml")
    [('text/turtle', 0.5), ('application/rdf+xml', 1.0)]
    """
    ranges = []
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 1.0
        ranges.append((media.lower(), quality))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    """The q-value the most specific matching range gives ``media`` (RFC 9110 §12.5.1); 0 when none matches."""
    kind = media.split("/")[0]
    best: tuple[int, float] | None = None
    for pattern, quality in ranges:
        specificity = 2 if pattern == media else 1 if pattern == f"{kind}/*" else 0 if pattern == "*/*" else -1
        if specificity >= 0 and (best is None or specificity > best[0]):
            best = (specificity, quality)
    return best[1] if best else 0.0


def choose_format(form: str, accept: str, explicit: str | None) -> str:
    """The short name of the format to answer a query of ``form`` (solutions, boolean or graph) with.

    >>> choose_format("graph", "application/sparql-results+json, text/turtle;q=0.9", None)
    'turtle'
    >>> choose_format("solutions", "text/csv;q=0.4, application/sparql-results+xml", None)
    'xml'
    >>> choose_format("solutions", "", "text/tab-separated-values")
    'tsv'
    >>> choose_format("graph", "image/png", None)
    Traceback (most recent call last):
    ...
    transiscope.serve.protocol.NotAcceptable: no format of this endpoint for a CONSTRUCT or DESCRIBE matches the \
Accept header 'image/png': text/turtle, application/n-triples, application/rdf+xml, application/ld+json
    """
    formats = FORMATS[form]
    if explicit:
        wanted = explicit.strip().lower()
        name = (
            wanted.replace("-", "").replace("_", "")
            if "/" not in wanted
            else next((n for n, (media, _) in formats.items() if media == wanted), _ALIASES[form].get(wanted, wanted))
        )
        name = _SHORT[form].get(name, name)
        if name not in formats:
            known = ", ".join(formats)
            raise NotAcceptable(
                f"format={explicit!r} is not available for a {FORM_NAMES[form]}: use one of {known}", 400
            )
        return name
    ranges = parse_accept(accept)
    if not ranges:
        return next(iter(formats))
    candidates = [(media, name) for name, (media, _) in formats.items()] + list(_ALIASES[form].items())
    best_name, best_quality = "", 0.0
    for media, name in candidates:
        quality = _quality(media, ranges)
        if quality > best_quality:
            best_name, best_quality = name, quality
    if not best_name:
        offered = ", ".join(media for media, _ in formats.values())
        raise NotAcceptable(
            f"no format of this endpoint for a {FORM_NAMES[form]} matches the Accept header {accept!r}: {offered}", 406
        )
    return best_name


def prefers_html(accept: str) -> bool:
    """Whether a client asks for a web page first (a browser opening ``/sparql``)."""
    ranges = parse_accept(accept)
    html = _quality("text/html", ranges)
    return html > 0 and html >= _quality("text/turtle", ranges) and ("text/html", html) in ranges


# -- the dataset of a request ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetParameters:
    """The graphs a request names with the Protocol's parameters (queries: ``default-graph-uri``,
    ``named-graph-uri``; updates: ``using-graph-uri``, ``using-named-graph-uri``)."""

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: dict[str, list[str]], kind: str) -> DatasetParameters:
        default, named = (
            ("default-graph-uri", "named-graph-uri")
            if kind == "query"
            else ("using-graph-uri", "using-named-graph-uri")
        )
        return cls(tuple(params.get(default, ())), tuple(params.get(named, ())))

    @property
    def given(self) -> bool:
        return bool(self.default_graphs or self.named_graphs)

    def invalid(self) -> str | None:
        """Why a graph IRI cannot be used (not absolute, or characters an IRI cannot hold), else None."""
        for iri in (*self.default_graphs, *self.named_graphs):
            if ":" not in iri or any(c in iri for c in '<>"{}|^`\\ \n\t') or not iri.split(":", 1)[0].isascii():
                return f"{iri!r} is not an absolute IRI"
        return None


# -- the service description (SPARQL 1.1 Service Description) -------------------------------------------------------
_FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "rdfxml": "RDF_XML",
    "jsonld": "JSON-LD",
}


def service_description(endpoint_url: str, *, updates: bool, federated: bool) -> str:
    """The endpoint described in Turtle: what it speaks, the formats it answers, the union default graph."""
    languages = "sd:SPARQL11Query" + (", sd:SPARQL11Update" if updates else "")
    features = "sd:UnionDefaultGraph" + (", sd:BasicFederatedQuery" if federated else "")
    formats = ", ".join(f"<http://www.w3.org/ns/formats/{iri}>" for iri in _FORMAT_IRIS.values())
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix dct: <http://purl.org/dc/terms/> .

[] a sd:Service ;
    dct:title "Transiscope SPARQL endpoint"@en, "Point d'accès SPARQL de Transiscope"@fr ;
    sd:endpoint <{endpoint_url}> ;
    sd:supportedLanguage {languages} ;
    sd:resultFormat {formats} ;
    sd:feature {features} ;
    sd:defaultEntailmentRegime <http://www.w3.org/ns/entailment/Simple> ;
    sd:defaultDataset [ a sd:Dataset ; sd:defaultGraph [ a sd:Graph ] ] .
"""
