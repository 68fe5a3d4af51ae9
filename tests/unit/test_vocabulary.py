"""The vocabulary page (generated from the Turtle) and the "Sources" concept scheme (built from the registry)."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import OWL, RDF, SKOS

from transiscope.core import vocab
from transiscope.downstream.exports import vocabulary
from transiscope.ingest.mappings import load_registry
from transiscope.settings import PROJECT_ROOT
from transiscope.store import vocabularies

ONTOLOGY = PROJECT_ROOT / "ontology"
BASE = "https://w3id.org/transiscope/"
QB = rdflib.Namespace("http://purl.org/linked-data/cube#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
VOID_ELEMENTS = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


class _Page(HTMLParser):
    """Collects data-iri attributes and element ids, and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.iris: set[str] = set()
        self.ids: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("data-iri"):
            self.iris.add(values["data-iri"])
        if values.get("id"):
            self.ids.append(values["id"])
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert not page.errors and page.stack == [], (page.errors, page.stack)
    return page


@pytest.fixture(scope="module")
def registry():
    return load_registry(PROJECT_ROOT / "transforms" / "sources.toml")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, registry) -> Path:
    out = tmp_path_factory.mktemp("site") / "vocabulary"
    return vocabulary.write_vocabulary_page(out, registry=registry)


def test_the_page_lists_every_class_property_concept_and_rule(published: Path) -> None:
    page = _parse(published.read_text(encoding="utf-8"))
    graph = rdflib.Graph()
    for path in ONTOLOGY.glob("*.ttl"):
        graph.parse(path, format="turtle")
    expected = set()
    for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, QB.DataStructureDefinition):
        expected |= {str(s) for s in graph.subjects(RDF.type, kind) if str(s).startswith(vocab.TS)}
    expected |= {str(s) for s in graph.subjects(RDF.type, SKOS.Concept)}
    expected |= {str(s) for s in graph.subjects(RDF.type, SKOS.ConceptScheme)}
    expected |= {str(s) for s in graph.subjects(RDF.type, SH.NodeShape)}
    expected |= {str(o) for o in graph.objects(None, SH.property)}
    assert len(expected) > 150
    assert expected <= page.iris, sorted(expected - page.iris)[:10]
    assert len(page.ids) == len(set(page.ids))  # anchors are unique
    text = " ".join(page.text)
    assert "Vocabulaire Transiscope" in text.split("Classes")[0]  # the page is headed by our ontology
    # labels and comments in both languages, as written in the Turtle
    assert "Exécution d'ingestion" in text and "Ingest run" in text
    assert "Open workshops where volunteers and residents repair objects" in text
    assert "L'événement finit avant d'avoir commencé." in text and "The event ends before it starts." in text


def test_the_page_includes_the_sources_scheme(published: Path, registry) -> None:
    page = _parse(published.read_text(encoding="utf-8"))
    for source in registry.sources:
        assert vocabularies.source_concept_iri(source.id) in page.iris
    assert "Près de chez nous" in " ".join(page.text)


def test_the_turtle_files_are_published_next_to_the_page(published: Path) -> None:
    for path in ONTOLOGY.glob("*.ttl"):
        assert (published.parent / path.name).read_bytes() == path.read_bytes()
    assert len(rdflib.Graph().parse(published.parent / "sources.ttl", format="turtle")) > 0
    assert not list(published.parent.glob(".*.tmp"))


def test_the_page_escapes_what_it_shows(tmp_path: Path) -> None:
    for name in ("transiscope.ttl", "taxonomy.ttl"):
        shutil.copyfile(ONTOLOGY / name, tmp_path / name)
    (tmp_path / "evil.ttl").write_text(
        "@prefix ts: <https://w3id.org/transiscope/ontology#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "ts:Evil a owl:Class ; rdfs:subClassOf owl:Thing ;\n"
        '    rdfs:label "<script>alert(1)</script>"@fr , "Tom & \\"Jerry\\""@en ;\n'
        '    rdfs:comment "<img src=x onerror=alert(2)>"@fr , "a < b"@en .\n',
        encoding="utf-8",
    )
    html = vocabulary.render_vocabulary_page(tmp_path)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    page = _parse(html)
    assert "https://w3id.org/transiscope/ontology#Evil" in page.iris
    assert 'Tom & "Jerry"' in " ".join(page.text)


# -- the "Sources" concept scheme ---------------------------------------------------------------------------------
def test_sources_scheme_has_one_concept_per_source(registry) -> None:
    triples = vocabularies.sources_scheme(registry, BASE)
    graph = rdflib.Graph()
    graph.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    scheme = rdflib.URIRef(vocab.TX + "sources")
    concepts = set(graph.subjects(SKOS.inScheme, scheme))
    assert len(concepts) == len(registry.sources) == len(set(graph.objects(scheme, SKOS.hasTopConcept)))
    taxonomy = rdflib.Graph().parse(ONTOLOGY / "taxonomy.ttl", format="turtle")
    assert (scheme, RDF.type, SKOS.ConceptScheme) in taxonomy  # the scheme the taxonomy already declares
    assert not concepts & set(taxonomy.subjects(RDF.type, SKOS.Concept))  # no clash with the domain concepts
    for source in registry.sources:
        concept = rdflib.URIRef(vocabularies.source_concept_iri(source.id))
        assert (concept, RDF.type, SKOS.Concept) in graph
        assert str(graph.value(concept, SKOS.notation)) == source.id
        assert {(str(o), o.language) for o in graph.objects(concept, SKOS.prefLabel)} == {
            (source.name, "fr"),
            (source.name, "en"),
        }
        assert graph.value(concept, rdflib.URIRef(vocab.FOAF + "focus")) == rdflib.URIRef(
            vocab.source_iri(BASE, source.id)
        )
        if source.description:
            assert str(graph.value(concept, SKOS.definition)) == source.description
