"""The vocabulary: a closed vocabulary for what the bus writes, complete own terms, a sound taxonomy and
alignments, and the PAIR-shaped view of the data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, URIRef

from tests.unit.test_shapes import sample_records
from transiscope.core import vocab
from transiscope.downstream.exports import pair
from transiscope.ingest import rdf, shapes
from transiscope.ingest.records import INITIATIVE_COLUMNS, empty_record
from transiscope.registry.sources import Source
from transiscope.settings import PROJECT_ROOT
from transiscope.store import provenance

ONTOLOGY = PROJECT_ROOT / "ontology"
BASE = "https://w3id.org/transiscope/"
TS = rdflib.Namespace(vocab.TS)
TX = vocab.TX
QB = rdflib.Namespace("http://purl.org/linked-data/cube#")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
PAIR = rdflib.Namespace(pair.PAIR)


def _graph(*names: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    for name in names:
        graph.parse(ONTOLOGY / name, format="turtle")
    return graph


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    return _graph("transiscope.ttl")


# -- the closed vocabulary ---------------------------------------------------------------------------------------
def undeclared(terms: set[str], ontology: rdflib.Graph) -> set[str]:
    """The terms that are neither our own declared terms nor listed terms of a reused vocabulary."""
    header = URIRef("https://w3id.org/transiscope/ontology")
    reused_vocabularies = set(ontology.objects(header, RDFS.seeAlso))
    own_kinds = {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, QB.DataStructureDefinition}
    missing = set()
    for term in terms:
        node = URIRef(term)
        if term.startswith(vocab.TS):
            if not set(ontology.objects(node, RDF.type)) & own_kinds:
                missing.add(term)
        elif not set(ontology.objects(node, RDFS.isDefinedBy)) & reused_vocabularies:
            missing.add(term)
    return missing


def _full_record() -> dict:
    record = empty_record()
    record.update(
        source="s",
        source_id="1",
        record_index=0,
        name="Nom",
        description="Texte",
        categories=["Étiquette"],
        concepts=["culture"],
        lat=45.7,
        lon=4.8,
        street="1 rue",
        postcode="69001",
        city="Lyon",
        country="FR",
        insee="69381",
        website="https://x.example.org",
        email="a@x.example.org",
        phone="04 00 00 00 00",
        opening_hours="Mo 09:00-12:00",
        tags=["tag"],
        upstream_source="Réseau",
        licence="ODbL-1.0",
        source_url="https://x.example.org/fiche/1",
        created_at="2021-06-14",
        updated_at="2024-05-06T15:05:00+02:00",
        status="7",
    )
    assert set(record) == set(INITIATIVE_COLUMNS)
    return record


def _emitted_triples() -> list[ox.Triple]:
    """Every kind of triple the mapper and the provenance writer produce, with every optional field set."""
    triples = list(rdf.initiative_triples(_full_record(), BASE, rdf.Terms()))
    source = Source(
        id="s",
        name="Source",
        format="gogocarto",
        url="https://s.example.org/api",
        licence="ODbL-1.0",
        mapping_path=Path("m.toml"),
        schedule="@daily",
        description="Une source",
        licence_url="https://opendatacommons.org/licenses/odbl/1-0/",
        landing_page="https://s.example.org/",
        publisher="Réseau S",
        maintainer="Réseau S",
    )
    run = {
        "source": "s",
        "run_id": "r1",
        "started": "2026-01-01T00:00:00+00:00",
        "ended": "2026-01-01T00:01:00+00:00",
        "outcome": "success",
        "mode": "sample",
        "runner": "airflow",
        "url": "https://s.example.org/api",
        "counts": {name: 1 for name in provenance.COUNTS},
        "error": "x",
        "error_kind": "http",
        "failed_stage": "extract",
        "fallback_reason": "unreachable",
        "airflow": {"dag_id": "ingest_s", "run_id": "manual__1"},
        "classes": {vocab.TS + "Initiative": 1, vocab.SCHEMA + "Organization": 1},
        "checks": [
            {
                "type": "expect_column_values_to_not_be_null",
                "column": "name",
                "severity": "critical",
                "failed": 2,
                "description": "Every record has a name",
            },
            {"type": "expect_column_values_to_match_regex", "column": "email", "severity": "warning", "failed": 0},
        ],
    }
    store = ox.Store()
    store.update(provenance.success_update(source, run, BASE))  # catalogue + VoID statistics + run
    store.update(provenance.failure_update(source, {**run, "outcome": "failed"}, BASE))
    triples += [ox.Triple(q.subject, q.predicate, q.object) for q in store]
    return triples


def _terms(triples: list[ox.Triple]) -> set[str]:
    terms = set()
    for t in triples:
        terms.add(t.predicate.value)
        if t.predicate.value == vocab.RDF + "type":
            terms.add(t.object.value)
        if isinstance(t.object, ox.Literal):
            terms.add(t.object.datatype.value)
    return terms


def test_every_term_the_bus_writes_is_declared(ontology: rdflib.Graph) -> None:
    terms = _terms(_emitted_triples())
    assert len(terms) > 50
    assert undeclared(terms, ontology) == set()


def test_a_misspelt_term_fails_the_closed_vocabulary_check(ontology: rdflib.Graph) -> None:
    typos = {
        "http://schema.org/nmae",
        vocab.TS + "sourceID",
        "http://www.opengis.net/ont/geosparql#asWkt",
        "https://schema.org/name",
        "http://purl.org/dc/terms/licence",
    }
    assert undeclared(typos, ontology) == typos
    assert undeclared({"http://schema.org/name", vocab.TS + "sourceId"}, ontology) == set()


def test_the_shapes_only_speak_of_declared_terms(ontology: rdflib.Graph) -> None:
    shapes_graph = _graph("shapes.ttl")
    referenced = set()
    for predicate in (SH.targetClass, SH["class"], SH.path, SH.hasValue, SH.equals, SH.lessThanOrEquals):
        referenced |= {str(o) for o in shapes_graph.objects(None, predicate) if isinstance(o, URIRef)}
    for members in shapes_graph.objects(None, SH.alternativePath):
        referenced |= {str(o) for o in rdflib.collection.Collection(shapes_graph, members)}
    assert len(referenced) > 40
    assert undeclared(referenced, ontology) == set()


def test_own_terms_are_complete(ontology: rdflib.Graph) -> None:
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, QB.DataStructureDefinition)
    own = {s for kind in kinds for s in ontology.subjects(RDF.type, kind) if str(s).startswith(vocab.TS)}
    assert {
        TS.Initiative,
        TS.Source,
        TS.IngestRun,
        TS.inTerritory,
        TS.DuplicateCandidate,
        TS.matchScore,
        TS.refTerritory,
        TS.initiativeCount,
    } <= own
    for term in own:
        for predicate in (RDFS.label, RDFS.comment):
            languages = {o.language for o in ontology.objects(term, predicate)}
            assert {"fr", "en"} <= languages, f"{term} lacks a French or English {predicate}"
    for term in {s for s in own if (s, RDF.type, OWL.Class) in ontology}:  # each own class has a standard parent
        assert any(not str(parent).startswith(vocab.TS) for parent in ontology.objects(term, RDFS.subClassOf)), term
    # every ts: term mentioned anywhere in the vocabulary files exists
    everything = _graph("transiscope.ttl", "taxonomy.ttl", "alignments.ttl", "shapes.ttl")
    mentioned = {
        str(t) for triple in everything for t in triple if isinstance(t, URIRef) and str(t).startswith(vocab.TS)
    }
    assert {m for m in mentioned if URIRef(m) not in own} == set()


def test_gap_measures_and_dimensions_are_data_cube_properties(ontology: rdflib.Graph) -> None:
    """The gaps graph writes one dataset per measure with these dimensions: each is declared, with a range."""
    from transiscope.downstream.gaps.measures import MEASURES

    for local, *_ in MEASURES.values():
        assert (TS[local], RDF.type, QB.MeasureProperty) in ontology, local
    for dimension in (TS.refTerritory, TS.refConcept, TS.thresholdKm):
        assert (dimension, RDF.type, QB.DimensionProperty) in ontology
        assert list(ontology.objects(dimension, RDFS.range)), dimension


def test_every_vocabulary_file_parses_with_both_parsers() -> None:
    for path in sorted(ONTOLOGY.glob("*.ttl")):
        assert len(rdflib.Graph().parse(path, format="turtle")) == len(
            list(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE))
        )


# -- the taxonomy and its alignments -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def taxonomy() -> rdflib.Graph:
    return _graph("taxonomy.ttl")


def test_taxonomy_concepts_are_complete_and_used_by_the_crosswalks(taxonomy: rdflib.Graph) -> None:
    domaines = URIRef(TX + "domaines")
    concepts = set(taxonomy.subjects(SKOS.inScheme, domaines))
    tops = set(taxonomy.objects(domaines, SKOS.hasTopConcept))
    assert len(tops) == 8 and len(concepts - tops) >= 24
    for concept in concepts:
        assert (concept, RDF.type, SKOS.Concept) in taxonomy
        assert str(taxonomy.value(concept, SKOS.notation)) == str(concept)[len(TX) :]
        for predicate in (SKOS.prefLabel, SKOS.definition):
            assert {o.language for o in taxonomy.objects(concept, predicate)} == {"fr", "en"}, (concept, predicate)
        if concept not in tops:
            assert set(taxonomy.objects(concept, SKOS.broader)) <= tops
    notations = {str(taxonomy.value(c, SKOS.notation)) for c in concepts}
    for mapping in sorted((PROJECT_ROOT / "transforms" / "mappings").glob("*.toml")):
        with mapping.open("rb") as handle:
            crosswalk = tomllib.load(handle).get("categories", {})
        used = {n for value in crosswalk.values() for n in ([value] if isinstance(value, str) else value)}
        assert used <= notations, f"{mapping.name} maps to unknown concepts {used - notations}"


def test_alignments_are_sound(taxonomy: rdflib.Graph) -> None:
    alignments = _graph("alignments.ttl")
    relations = (SKOS.closeMatch, SKOS.broadMatch, SKOS.narrowMatch)
    partners = (
        "http://purl.org/essglobal/standard/activities-modified/AM",
        "https://base.transformap.co/entity/Q",
        pair.PAIR,
    )
    seen: dict[tuple, set] = {}
    for relation in relations:
        for subject, target in alignments.subject_objects(relation):
            assert str(target).startswith(partners), target
            if str(subject).startswith(TX):
                assert (subject, RDF.type, SKOS.Concept) in taxonomy, subject
            seen.setdefault((subject, target), set()).add(relation)
    assert not list(alignments.subject_objects(SKOS.exactMatch))
    assert all(len(found) == 1 for found in seen.values())  # never both closeMatch and broadMatch to one concept
    aligned = {s for s, _ in seen if str(s).startswith(TX)}
    assert aligned == set(taxonomy.subjects(SKOS.inScheme, URIRef(TX + "domaines")))
    assert len(list(alignments.subjects(RDF.type, rdflib.URIRef("http://rdfs.org/ns/void#Linkset")))) == 3


# -- the PAIR-shaped view ------------------------------------------------------------------------------------------
#: the PAIR terms the view uses, each checked in the PAIR ontology (2-Implementation/owl/pair.ttl)
PAIR_TERMS = {
    "Organization",
    "Event",
    "Place",
    "PhysicalPlace",
    "PostalAddress",
    "Topic",
    "label",
    "description",
    "homePage",
    "e-mail",
    "phone",
    "startDate",
    "endDate",
    "hasTopic",
    "hasLocation",
    "aboutPage",
    "latitude",
    "longitude",
    "openingHours",
    "hasPostalAddress",
    "addressStreet",
    "addressZipCode",
    "addressLocality",
    "addressCountry",
}


def _pair_store(tmp_path: Path, records: list[dict], extra_turtle: str = "") -> ox.Store:
    data = tmp_path / "data.nt"
    rdf.write_ntriples(records, BASE, data)
    store = shapes.data_store(data, [ONTOLOGY / "taxonomy.ttl"])
    if extra_turtle:
        store.load(extra_turtle.encode(), format=ox.RdfFormat.TURTLE)
    return store


def test_pair_view_of_sample_data(tmp_path: Path) -> None:
    records = list(sample_records("transiscope"))
    view = rdflib.Graph()
    for t in pair.pair_view(_pair_store(tmp_path, records)):
        view.add(tuple(rdflib.URIRef(x.value) if isinstance(x, ox.NamedNode) else rdflib.Literal(x.value) for x in t))
    used = {str(p) for p in view.predicates()} | {str(o) for o in view.objects(None, RDF.type)}
    assert {u[len(pair.PAIR) :] for u in used if u.startswith(pair.PAIR)} <= PAIR_TERMS
    for record in records:
        subject = URIRef(vocab.initiative_iri(BASE, record["source"], record["source_id"]))
        assert (subject, RDF.type, PAIR.Organization) in view
        assert str(view.value(subject, PAIR.label)) == record["name"]
        place = view.value(subject, PAIR.hasLocation)
        assert place == URIRef(str(subject) + "/place")
        assert float(view.value(place, PAIR.latitude)) == record["lat"]
        assert float(view.value(place, PAIR.longitude)) == record["lon"]
        topics = set(view.objects(subject, PAIR.hasTopic))
        assert topics == {URIRef(vocab.concept_iri(n)) for n in record["concepts"]}
        for topic in topics:
            assert (topic, RDF.type, PAIR.Topic) in view and view.value(topic, PAIR.label) is not None
        if record["city"]:
            address = view.value(place, PAIR.hasPostalAddress)
            assert str(view.value(address, PAIR.addressLocality)) == record["city"]
        assert (subject, URIRef("http://purl.org/dc/terms/license"), None) in view  # licence travels with it


def test_pair_view_of_an_event(tmp_path: Path) -> None:
    event = """@prefix schema: <http://schema.org/> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        @prefix geo: <http://www.opengis.net/ont/geosparql#> .
        <https://w3id.org/transiscope/id/event/s/e1> a schema:Event ; schema:name "Disco soupe" ;
            schema:startDate "2025-05-06T18:00:00+02:00"^^xsd:dateTime ;
            schema:endDate "2025-05-06T21:00:00+02:00"^^xsd:dateTime ;
            schema:location <https://w3id.org/transiscope/id/event/s/e1/location> .
        <https://w3id.org/transiscope/id/event/s/e1/location> a schema:Place ; schema:name "Halle" ;
            geo:hasGeometry <https://w3id.org/transiscope/id/event/s/e1/location/geometry> .
        <https://w3id.org/transiscope/id/event/s/e1/location/geometry> schema:latitude "45.1"^^xsd:decimal ;
            schema:longitude "4.1"^^xsd:decimal ."""
    triples = pair.pair_view(_pair_store(tmp_path, [], event))
    found = {
        (t.subject.value, t.predicate.value[len(pair.PAIR) :], t.object.value)
        for t in triples
        if t.predicate.value.startswith(pair.PAIR)
    }
    e, place = "https://w3id.org/transiscope/id/event/s/e1", "https://w3id.org/transiscope/id/event/s/e1/location"
    assert {
        (e, "label", "Disco soupe"),
        (e, "startDate", "2025-05-06T18:00:00+02:00"),
        (e, "endDate", "2025-05-06T21:00:00+02:00"),
        (e, "hasLocation", place),
        (place, "label", "Halle"),
        (place, "latitude", "45.1"),
        (place, "longitude", "4.1"),
    } <= found
    assert any(t.subject.value == e and t.object.value == pair.PAIR + "Event" for t in triples)


def test_write_pair_view(tmp_path: Path) -> None:
    store = _pair_store(tmp_path, list(sample_records("francetierslieux")))
    count = pair.write_pair_view(store, tmp_path / "out" / "pair.ttl")
    assert count == len(rdflib.Graph().parse(tmp_path / "out" / "pair.ttl", format="turtle")) > 0
