"""The vocabulary for people: an HTML page generated from the Turtle, and the "Sources" concept scheme.

:func:`write_vocabulary_page` renders ``ontology/*.ttl`` (our terms, the SKOS taxonomy, its alignments, the
SHACL shapes) into one bilingual page, published with the exports next to copies of the Turtle files, so that
a partner who follows a ``https://w3id.org/transiscope/ontology#...`` IRI finds its labels, comment and links,
and a source maintainer reads the rules the bus checks in plain French and English. Every term has an anchor
(``#Initiative``, ``#tx-repair-cafes``, ``#shape-InitiativeName``) and carries its IRI in ``data-iri``.

:func:`sources_scheme` builds the map's "Sources" group: one ``skos:Concept`` per registry source in the
``tx:sources`` scheme, linked to the source's DCAT dataset by ``foaf:focus``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pyoxigraph as ox
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, Namespace, URIRef

from transiscope.core.files import atomic_write
from transiscope.core.vocab import FOAF, TS, TX
from transiscope.registry.sources import Registry
from transiscope.settings import DEFAULT_BASE_IRI, PROJECT_ROOT
from transiscope.store.vocabularies import sources_scheme, write_sources_scheme

SH = Namespace("http://www.w3.org/ns/shacl#")
QB = Namespace("http://purl.org/linked-data/cube#")
ONTOLOGY_DIR = PROJECT_ROOT / "ontology"
ONTOLOGY_IRI = "https://w3id.org/transiscope/ontology"

_PREFIXES = {
    "ts": TS,
    "tx": TX,
    "tsh": "https://w3id.org/transiscope/shapes#",
    "schema": "http://schema.org/",
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": str(SKOS),
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "geo": "http://www.opengis.net/ont/geosparql#",
    "sf": "http://www.opengis.net/ont/sf#",
    "void": "http://rdfs.org/ns/void#",
    "foaf": FOAF,
    "qb": str(QB),
    "igeo": "http://rdf.insee.fr/def/geo#",
    "sdmx-dimension": "http://purl.org/linked-data/sdmx/2009/dimension#",
    "pair": "http://virtual-assembly.org/ontologies/pair#",
    "ess": "http://purl.org/essglobal/standard/activities-modified/",
    "tm": "https://base.transformap.co/entity/",
    "sh": str(SH),
}


# -- the page ----------------------------------------------------------------------------------------------------
@dataclass
class Term:
    iri: str
    anchor: str
    short: str
    labels: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    facts: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (what, [(short, href)])
    kind: str = ""
    depth: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _short(iri: str) -> str:
    for prefix, ns in _PREFIXES.items():
        if (
            iri.startswith(ns)
            and iri != ns
            and "/" not in iri[len(ns) :].strip("/")
            or (iri.startswith(ns) and prefix in ("tm", "ess") and iri != ns)
        ):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


def _anchor(iri: str) -> str:
    if iri.startswith(TS):
        return iri[len(TS) :]
    if iri.startswith(TX):
        return "tx-" + iri[len(TX) :].replace("/", "-")
    if iri.startswith(_PREFIXES["tsh"]):
        return "shape-" + iri[len(_PREFIXES["tsh"]) :]
    return "ext-" + "".join(c if c.isalnum() else "-" for c in _short(iri))


def _texts(graph: rdflib.Graph, node: rdflib.term.Node, *predicates: URIRef) -> dict[str, str]:
    out: dict[str, str] = {}
    for predicate in predicates:
        for value in graph.objects(node, predicate):
            if isinstance(value, rdflib.Literal):
                out.setdefault(value.language or "", str(value))
    return out


class _Links:
    """Turns IRIs into (label, href): in-page anchors for the terms described here, the IRI otherwise."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def __call__(self, nodes: Iterable[rdflib.term.Node]) -> list[tuple[str, str]]:
        out = []
        for node in sorted(nodes, key=str):
            if isinstance(node, URIRef):
                iri = str(node)
                out.append((_short(iri), f"#{_anchor(iri)}" if iri in self.known else iri))
            elif isinstance(node, rdflib.Literal):
                out.append((str(node), ""))
        return out


def _load(ontology_dir: Path) -> dict[str, rdflib.Graph]:
    graphs = {}
    for path in sorted(Path(ontology_dir).glob("*.ttl")):
        graph = rdflib.Graph()
        graph.parse(path, format="turtle")
        graphs[path.name] = graph
    return graphs


def vocabulary_model(
    ontology_dir: Path = ONTOLOGY_DIR, registry: Registry | None = None, base: str = DEFAULT_BASE_IRI
) -> dict[str, object]:
    """What the page shows, read from the Turtle files (and the registry for the "Sources" scheme)."""
    graphs = _load(ontology_dir)
    merged = rdflib.Graph()
    for graph in graphs.values():
        merged += graph
    if registry is not None:
        merged.parse(data=ox.serialize(sources_scheme(registry, base), format=ox.RdfFormat.N_TRIPLES), format="nt")
    links = _Links()
    own = [s for s in set(merged.subjects()) if isinstance(s, URIRef) and str(s).startswith(TS)]
    classes = sorted((s for s in own if (s, RDF.type, OWL.Class) in merged), key=str)
    properties = sorted(
        (
            s
            for s in own
            if {(s, RDF.type, OWL.ObjectProperty) in merged, (s, RDF.type, OWL.DatatypeProperty) in merged} & {True}
        ),
        key=str,
    )
    structures = sorted((s for s in own if (s, RDF.type, QB.DataStructureDefinition) in merged), key=str)
    schemes = sorted(set(merged.subjects(RDF.type, SKOS.ConceptScheme)), key=str)
    concepts = set(merged.subjects(RDF.type, SKOS.Concept))
    reused = sorted(
        (
            s
            for s in merged.subjects(RDFS.isDefinedBy, None)
            if isinstance(s, URIRef) and not str(s).startswith((TS, TX))
        ),
        key=str,
    )
    node_shapes = sorted(set(merged.subjects(RDF.type, SH.NodeShape)), key=str)
    links.known.update(map(str, [*classes, *properties, *structures, *schemes, *concepts, *reused, *node_shapes]))

    def term(node: rdflib.term.Node, kind: str = "") -> Term:
        iri = str(node)
        return Term(
            iri,
            _anchor(iri),
            _short(iri),
            _texts(merged, node, RDFS.label, SKOS.prefLabel),
            _texts(merged, node, RDFS.comment, SKOS.definition),
            kind=kind,
        )

    class_terms = []
    for node in classes:
        t = term(node, "owl:Class")
        t.facts = [("subClassOf", links(merged.objects(node, RDFS.subClassOf)))]
        class_terms.append(t)
    property_terms = []
    for node in properties:
        kind = "owl:ObjectProperty" if (node, RDF.type, OWL.ObjectProperty) in merged else "owl:DatatypeProperty"
        if (node, RDF.type, QB.DimensionProperty) in merged:
            kind += ", qb:DimensionProperty"
        if (node, RDF.type, QB.MeasureProperty) in merged:
            kind += ", qb:MeasureProperty"
        t = term(node, kind)
        t.facts = [
            (name, links(merged.objects(node, predicate)))
            for name, predicate in (
                ("subPropertyOf", RDFS.subPropertyOf),
                ("domain", RDFS.domain),
                ("range", RDFS.range),
            )
        ]
        property_terms.append(t)
    structure_terms = []
    for node in structures:
        t = term(node, "qb:DataStructureDefinition")
        components = list(merged.objects(node, QB.component))
        t.facts = [
            (name, links(o for c in components for o in merged.objects(c, predicate)))
            for name, predicate in (("dimension", QB.dimension), ("measure", QB.measure), ("attribute", QB.attribute))
        ]
        structure_terms.append(t)

    mapping = (
        ("closeMatch", SKOS.closeMatch),
        ("broadMatch", SKOS.broadMatch),
        ("narrowMatch", SKOS.narrowMatch),
        ("exactMatch", SKOS.exactMatch),
    )

    def concept_term(node: rdflib.term.Node, depth: int) -> Term:
        t = term(node, "skos:Concept")
        t.depth = depth
        notation = merged.value(node, SKOS.notation)
        t.extra = {
            "notation": str(notation) if notation is not None else "",
            "alt": sorted(
                f"{v} ({v.language})" if isinstance(v, rdflib.Literal) and v.language else str(v)
                for v in merged.objects(node, SKOS.altLabel)
            ),
        }
        t.facts = [(name, links(merged.objects(node, predicate))) for name, predicate in mapping]
        t.facts.append(("foaf:focus", links(merged.objects(node, URIRef(FOAF + "focus")))))
        return t

    def hierarchy(members: list[rdflib.term.Node], tops: list[rdflib.term.Node]) -> list[Term]:
        """The concepts of a scheme, each followed by its narrower concepts (depth-first)."""
        ordered: list[Term] = []
        seen: set[rdflib.term.Node] = set()
        stack = [(top, 0) for top in sorted(tops, key=str, reverse=True)]
        rest = sorted(members, key=str, reverse=True)
        while stack or rest:
            node, depth = stack.pop() if stack else (rest.pop(), 0)
            if node in seen:
                continue
            seen.add(node)
            ordered.append(concept_term(node, depth))
            children = [c for c in members if (c, SKOS.broader, node) in merged or (node, SKOS.narrower, c) in merged]
            stack.extend((child, depth + 1) for child in sorted(children, key=str, reverse=True))
        return ordered

    scheme_terms = []
    for scheme in schemes:
        s = term(scheme, "skos:ConceptScheme")
        members = [c for c in concepts if (c, SKOS.inScheme, scheme) in merged]
        tops = [
            c
            for c in members
            if (c, SKOS.topConceptOf, scheme) in merged or not set(merged.objects(c, SKOS.broader)) & set(members)
        ]
        s.extra = {"concepts": hierarchy(members, tops)}
        scheme_terms.append(s)

    shape_terms = []
    for shape in node_shapes:
        t = term(shape, "sh:NodeShape")
        t.facts = [("targetClass", links(merged.objects(shape, SH.targetClass)))]
        rules = []
        for rule in sorted([*merged.objects(shape, SH.property), *merged.objects(shape, SH.sparql)], key=str):
            path = merged.value(rule, SH.path)
            severity = merged.value(rule, SH.severity) or merged.value(shape, SH.severity) or SH.Violation
            rules.append(
                {
                    "anchor": _anchor(str(rule)),
                    "iri": str(rule),
                    "short": _short(str(rule)),
                    "path": _short(str(path)) if isinstance(path, URIRef) else ("SPARQL" if path is None else "…"),
                    "severity": str(severity).rsplit("#", 1)[-1],
                    "messages": _texts(merged, rule, SH.message),
                }
            )
        t.extra = {"rules": rules}
        shape_terms.append(t)

    reused_terms = []
    for node in reused:
        t = term(node, "")
        t.facts = [("isDefinedBy", links(merged.objects(node, RDFS.isDefinedBy)))]
        reused_terms.append(t)

    ontologies = sorted(merged.subjects(RDF.type, OWL.Ontology), key=str)
    ontology: rdflib.term.Node | None = (
        URIRef(ONTOLOGY_IRI) if URIRef(ONTOLOGY_IRI) in ontologies else next(iter(ontologies), None)
    )
    header = term(ontology, "owl:Ontology") if ontology is not None else None
    version = str(merged.value(ontology, OWL.versionInfo) or "") if ontology is not None else ""
    return {
        "header": header,
        "version": version,
        "classes": class_terms,
        "properties": property_terms,
        "structures": structure_terms,
        "schemes": scheme_terms,
        "shapes": shape_terms,
        "reused": reused_terms,
        "prefixes": _PREFIXES,
        "files": sorted(graphs) + (["sources.ttl"] if registry is not None else []),
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vocabulaire Transiscope — Transiscope vocabulary</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 75rem; padding: 1rem 1.5rem; color: #222; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 2px solid #2a7; padding-bottom: .2rem; margin-top: 2.5rem; }
.term { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .9rem; margin: .8rem 0; }
.term:target { outline: 3px solid #fc3; }
.iri, code { font-family: ui-monospace, monospace; font-size: .85em; color: #555; word-break: break-all; }
.kind { color: #2a7; font-size: .85em; margin-left: .5rem; }
.en { color: #444; } .fr { }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
td, th { border-top: 1px solid #eee; padding: .3rem .4rem; text-align: left; vertical-align: top; }
.Violation { color: #b22; font-weight: 600; } .Warning { color: #b70; } .Info { color: #555; }
nav a { margin-right: 1rem; }
</style>
</head>
<body>
<header>
<h1>{{ header.labels.get("fr", "Vocabulaire Transiscope") if header else "Vocabulaire Transiscope" }}
 <span class="en" lang="en">— {{ header.labels.get("en", "") if header else "" }}</span></h1>
{% if header %}<p>{{ header.comments.get("fr", "") }}</p><p class="en" lang="en">{{ header.comments.get("en", "") }}</p>
<p class="iri">{{ header.iri }}{% if version %} · version {{ version }}{% endif %}</p>{% endif %}
<p>Fichiers Turtle <span lang="en">/ Turtle files</span> :
{% for name in files %}<a href="{{ name }}">{{ name }}</a>{% if not loop.last %}, {% endif %}{% endfor %}</p>
<nav><a href="#classes">Classes</a><a href="#properties">Propriétés <span lang="en">/ Properties</span></a>
<a href="#structures">Indicateurs <span lang="en">/ Indicators</span></a><a href="#schemes">Taxonomie
<span lang="en">/ Taxonomy</span></a><a href="#shapes">Règles <span lang="en">/ Rules</span></a>
<a href="#reused">Termes réutilisés <span lang="en">/ Reused terms</span></a><a href="#prefixes">Préfixes</a></nav>
</header>

{% macro facts(t) %}{% for name, values in t.facts if values %}
<div><code>{{ name }}</code> :
{% for label, href in values %}
{% if href %}<a href="{{ href }}">{{ label }}</a>{% else %}{{ label }}{% endif %}{% if not loop.last %}, {% endif %}
{% endfor %}</div>
{% endfor %}{% endmacro %}

{% macro card(t) %}
<section class="term" id="{{ t.anchor }}" data-iri="{{ t.iri }}">
<h3>{{ t.labels.get("fr", t.short) }} <span class="en" lang="en">/ {{ t.labels.get("en", t.short) }}</span>
<span class="kind">{{ t.kind }}</span></h3>
<div class="iri">{{ t.iri }}</div>
{% if t.comments.get("fr") %}<p>{{ t.comments["fr"] }}</p>{% endif %}
{% if t.comments.get("en") %}<p class="en" lang="en">{{ t.comments["en"] }}</p>{% endif %}
{{ facts(t) }}
</section>
{% endmacro %}

<h2 id="classes">Classes</h2>
{% for t in classes %}{{ card(t) }}{% endfor %}

<h2 id="properties">Propriétés <span class="en" lang="en">/ Properties</span></h2>
{% for t in properties %}{{ card(t) }}{% endfor %}

<h2 id="structures">Indicateurs (RDF Data Cube) <span class="en" lang="en">/ Indicators</span></h2>
{% for t in structures %}{{ card(t) }}{% endfor %}

<h2 id="schemes">Taxonomie <span class="en" lang="en">/ Taxonomy</span></h2>
{% for s in schemes %}
<section class="term" id="{{ s.anchor }}" data-iri="{{ s.iri }}">
<h3>{{ s.labels.get("fr", s.short) }} <span class="en" lang="en">/ {{ s.labels.get("en", s.short) }}</span>
<span class="kind">{{ s.kind }}</span></h3>
<div class="iri">{{ s.iri }}</div>
{% if s.comments.get("fr") %}<p>{{ s.comments["fr"] }}</p>{% endif %}
{% if s.comments.get("en") %}<p class="en" lang="en">{{ s.comments["en"] }}</p>{% endif %}
<table>
<tr><th>Concept</th><th>Notation</th><th>Définition <span lang="en">/ Definition</span></th>
<th>Correspondances <span lang="en">/ Mappings</span></th></tr>
{% for c in s.extra.concepts %}
<tr id="{{ c.anchor }}" data-iri="{{ c.iri }}">
<td style="padding-left: {{ 0.4 + 1.5 * c.depth }}rem"><strong>{{ c.labels.get("fr", c.short) }}</strong><br>
<span class="en" lang="en">{{ c.labels.get("en", "") }}</span>
{% if c.extra.alt %}<br><small>{{ c.extra.alt | join(", ") }}</small>{% endif %}</td>
<td><code>{{ c.extra.notation }}</code></td>
<td>{{ c.comments.get("fr", "") }}<br><span class="en" lang="en">{{ c.comments.get("en", "") }}</span></td>
<td>{{ facts(c) }}</td></tr>
{% endfor %}
</table>
</section>
{% endfor %}

<h2 id="shapes">Règles vérifiées avant chargement <span class="en" lang="en">/ Rules checked before loading</span></h2>
<p>Une règle <span class="Violation">Violation</span> met la fiche en quarantaine ; une règle
<span class="Warning">Warning</span> la charge et la signale dans le rapport de qualité.<br>
<span class="en" lang="en">A Violation rule quarantines the record; a Warning rule loads it and reports it in the
quality report.</span></p>
{% for t in shapes %}
<section class="term" id="{{ t.anchor }}" data-iri="{{ t.iri }}">
<h3>{{ t.labels.get("fr", t.short) }} <span class="en" lang="en">/ {{ t.labels.get("en", t.short) }}</span>
<span class="kind">{{ t.kind }}</span></h3>
<div class="iri">{{ t.iri }}</div>
{{ facts(t) }}
<table>
<tr><th>Règle <span lang="en">/ Rule</span></th><th>Chemin <span lang="en">/ Path</span></th>
<th>Gravité <span lang="en">/ Severity</span></th><th>Message</th></tr>
{% for r in t.extra.rules %}
<tr id="{{ r.anchor }}" data-iri="{{ r.iri }}"><td><code>{{ r.short }}</code></td><td><code>{{ r.path }}</code></td>
<td class="{{ r.severity }}">{{ r.severity }}</td>
<td>{{ r.messages.get("fr", "") }}<br><span class="en" lang="en">{{ r.messages.get("en", "") }}</span></td></tr>
{% endfor %}
</table>
</section>
{% endfor %}

<h2 id="reused">Termes réutilisés <span class="en" lang="en">/ Reused terms</span></h2>
<table>
<tr><th>Terme <span lang="en">/ Term</span></th><th>Libellé <span lang="en">/ Label</span></th>
<th>Vocabulaire <span lang="en">/ Vocabulary</span></th></tr>
{% for t in reused %}
<tr id="{{ t.anchor }}" data-iri="{{ t.iri }}"><td><a href="{{ t.iri }}"><code>{{ t.short }}</code></a></td>
<td>{{ t.labels.get("fr", "") }} <span class="en" lang="en">/ {{ t.labels.get("en", "") }}</span></td>
<td>{% for label, href in t.facts[0][1] %}<a href="{{ href }}">{{ label }}</a>{% endfor %}</td></tr>
{% endfor %}
</table>

<h2 id="prefixes">Préfixes <span class="en" lang="en">/ Prefixes</span></h2>
<table>{% for prefix, ns in prefixes.items() %}
<tr><td><code>{{ prefix }}:</code></td><td class="iri">{{ ns }}</td></tr>{% endfor %}</table>
</body>
</html>
"""


def render_vocabulary_page(
    ontology_dir: Path = ONTOLOGY_DIR, registry: Registry | None = None, base: str = DEFAULT_BASE_IRI
) -> str:
    environment = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return environment.from_string(_TEMPLATE).render(**vocabulary_model(ontology_dir, registry, base))


def write_vocabulary_page(
    out_dir: Path, ontology_dir: Path = ONTOLOGY_DIR, registry: Registry | None = None, base: str = DEFAULT_BASE_IRI
) -> Path:
    """Write ``out_dir/vocabulary.html`` and copies of the Turtle files it describes; returns the page's path.

    With a registry, the page also lists the "Sources" concept scheme (and ``sources.ttl`` is written).
    The files are written to a temporary name and renamed, so a reader never sees half a page.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(ontology_dir).glob("*.ttl")):
        atomic_write(out_dir / path.name, path.read_bytes())
    if registry is not None:
        write_sources_scheme(registry, out_dir / "sources.ttl", base)
    page = out_dir / "vocabulary.html"
    atomic_write(page, render_vocabulary_page(ontology_dir, registry, base))
    return page
