"""The vocabularies in the store: the ontology, the taxonomy, the shapes... each in its own named graph, and the
map's "Sources" concept scheme (one ``skos:Concept`` per registry source), written with every load.

Why in the store layer: every load rewrites them (an unchanged file costs little, a graph is replaced by
difference), and the exports publish the same files; both read them from here.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from transiscope.core import vocab
from transiscope.core.files import atomic_open
from transiscope.core.vocab import FOAF, TX, quote_id, source_iri
from transiscope.core.vocab import SKOS as SKOS_NS
from transiscope.registry.sources import Registry
from transiscope.settings import DEFAULT_BASE_IRI, Settings
from transiscope.store.base import TripleStore

#: graph name of ontology/transiscope.ttl; every other ontology/<name>.ttl goes to graph/<name>
ONTOLOGY_FILE = "transiscope.ttl"
SOURCES_SCHEME = TX + "sources"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


# -- the "Sources" concept scheme ------------------------------------------------------------------------------
def source_concept_iri(source_id: str) -> str:
    return f"{TX}source/{quote_id(source_id)}"


def sources_scheme(registry: Registry, base: str = DEFAULT_BASE_IRI) -> list[ox.Triple]:
    """One ``skos:Concept`` per registry source, in the ``tx:sources`` scheme (the map's "Sources" group)."""
    scheme = ox.NamedNode(SOURCES_SCHEME)
    a = ox.NamedNode(_RDF_TYPE)

    def skos(name: str) -> ox.NamedNode:
        return ox.NamedNode(SKOS_NS + name)

    triples = [ox.Triple(scheme, a, skos("ConceptScheme"))]
    for source in registry.sources:
        concept = ox.NamedNode(source_concept_iri(source.id))
        triples += [
            ox.Triple(concept, a, skos("Concept")),
            ox.Triple(concept, skos("inScheme"), scheme),
            ox.Triple(concept, skos("topConceptOf"), scheme),
            ox.Triple(scheme, skos("hasTopConcept"), concept),
            ox.Triple(concept, skos("notation"), ox.Literal(source.id)),
            # a source's name is a proper name: the same in both languages
            ox.Triple(concept, skos("prefLabel"), ox.Literal(source.name, language="fr")),
            ox.Triple(concept, skos("prefLabel"), ox.Literal(source.name, language="en")),
            # foaf:focus: the thing this concept is about, here the source's DCAT dataset
            ox.Triple(concept, ox.NamedNode(FOAF + "focus"), ox.NamedNode(source_iri(base, source.id))),
        ]
        if source.description:
            triples.append(ox.Triple(concept, skos("definition"), ox.Literal(source.description, language="fr")))
    return triples


def write_sources_scheme(registry: Registry, destination: Path, base: str = DEFAULT_BASE_IRI) -> Path:
    """The "Sources" scheme as a Turtle file (for a graph of its own, or to publish), written atomically."""
    with atomic_open(destination, "wb") as out:
        ox.serialize(
            sources_scheme(registry, base), out, ox.RdfFormat.TURTLE, prefixes={"skos": SKOS_NS, "tx": TX, "foaf": FOAF}
        )
    return destination


def vocabulary_files(settings: Settings) -> dict[str, Path]:
    """Named-graph name -> Turtle file, for every vocabulary file in ``ontology/``."""
    return {
        ("ontology" if path.name == ONTOLOGY_FILE else path.stem): path
        for path in sorted(settings.ontology_dir.glob("*.ttl"))
    }


def load_vocabularies(store: TripleStore, settings: Settings, registry: Registry | None = None) -> None:
    """(Re)load the ontology, taxonomy, shapes... into their own named graphs, atomically each.

    With the registry, the map's "Sources" concept scheme (one concept per configured source) goes to the
    ``sources`` graph too, so that analysts and the map query sources like any other category.
    An unchanged file costs little: a graph is replaced by difference.
    """
    files = vocabulary_files(settings)
    if registry is not None:
        files["sources"] = write_sources_scheme(
            registry, settings.home / "vocabulary" / "sources.ttl", settings.base_iri
        )
    for name, path in files.items():
        graph = vocab.ontology_graph(settings.base_iri, name)
        store.replace_graph(graph, graph + "/staging", path)
