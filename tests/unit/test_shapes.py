"""SHACL shapes: the sample data conforms, hand-made violators get the expected messages, and the compiled
engine (transiscope.ingest.shapes) reports exactly what pyshacl reports on the same graph."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pyoxigraph as ox
import pyshacl
import pytest
import rdflib

from transiscope.core import vocab
from transiscope.ingest import rdf, shapes, shapes_compiler
from transiscope.ingest.formats import RecordRejected, connector
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.ingest.validate import suite_config, validate_records
from transiscope.settings import PROJECT_ROOT

BASE = "https://w3id.org/transiscope/"
SHAPES = PROJECT_ROOT / "ontology" / "shapes.ttl"
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
I = BASE + "id/initiative/s/"  # noqa: E741 - short prefix of the hand-made IRIs


@functools.cache
def sample_records(source_id: str) -> tuple[dict, ...]:
    """The records of a bundled sample that pass the source's GX suite: what the pipeline maps to RDF."""
    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    source = registry.get(source_id)
    fmt, mapping = connector(source.format), load_mapping(source)
    records, seen = [], set()
    for index, element in enumerate(fmt.parse(source.sample_path.read_bytes(), source)):
        if hasattr(fmt, "is_inactive") and fmt.is_inactive(element):
            continue
        try:
            record = fmt.normalise(element, index, source, mapping)
        except RecordRejected:
            continue
        if record["source_id"] not in seen:
            seen.add(record["source_id"])
            records.append(record)
    outcome = validate_records(records, suite_config(PROJECT_ROOT / "expectations", source_id))
    return tuple(records[i] for i in outcome.valid)


SAMPLE_SOURCES = ("transiscope", "presdecheznous", "francetierslieux")

# -- hand-made violators (Turtle), each with the message the source maintainer must read ---------------------
PREFIXES = """
@prefix ts: <https://w3id.org/transiscope/ontology#> . @prefix tx: <https://w3id.org/transiscope/taxonomy/> .
@prefix schema: <http://schema.org/> . @prefix geo: <http://www.opengis.net/ont/geosparql#> .
@prefix sf: <http://www.opengis.net/ont/sf#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix prov: <http://www.w3.org/ns/prov#> .
@prefix i: <https://w3id.org/transiscope/id/initiative/s/> . @prefix e: <https://w3id.org/transiscope/id/event/s/> .
@prefix src: <https://w3id.org/transiscope/id/source/> . @prefix run: <https://w3id.org/transiscope/id/run/s/> .
"""
GOOD = """
i:ok a ts:Initiative , schema:Organization ; schema:name "Bon" ; ts:source src:s ;
    ts:sourceId "ok" ; ts:category tx:culture ; geo:hasGeometry i:ok\\/geometry ; schema:geo i:ok\\/geometry ;
    schema:address i:ok\\/address .
i:ok\\/geometry a sf:Point , geo:Geometry ; geo:asWKT "POINT(4.84 45.75)"^^geo:wktLiteral ;
    schema:latitude "45.75"^^xsd:decimal ; schema:longitude "4.84"^^xsd:decimal .
i:ok\\/address a schema:PostalAddress ; schema:postalCode "69001" ; schema:addressCountry "FR" .
i:pole a ts:Initiative , schema:Organization ; schema:name "Pôle" ; ts:source src:s ; ts:sourceId "pole" ;
    geo:hasGeometry i:pole\\/geometry ; schema:geo i:pole\\/geometry .
i:pole\\/geometry a sf:Point , geo:Geometry ; geo:asWKT "POINT(-180 90)"^^geo:wktLiteral ;
    schema:latitude "90"^^xsd:decimal ; schema:longitude "-180.0"^^xsd:decimal .
e:instant a schema:Event ; schema:name "Minute de silence" ; ts:source src:s ;
    schema:startDate "2025-05-06T18:00:00+02:00"^^xsd:dateTime ;
    schema:endDate "2025-05-06T18:00:00+02:00"^^xsd:dateTime .
e:ok a schema:Event ; schema:name "Fête" ; ts:source src:s ;
    schema:startDate "2025-05-06T18:00:00+02:00"^^xsd:dateTime ;
    schema:endDate "2025-05-06T20:00:00+02:00"^^xsd:dateTime .
"""
VIOLATORS = """
i:a a ts:Initiative ;
    ts:source src:s , src:t ;
    ts:sourceId "a" ; schema:description "<p>hello</p>" ; ts:category tx:nope , tx:culture ;
    geo:hasGeometry i:a\\/geometry ; schema:geo i:b\\/geometry ; schema:url "ftp://x"^^xsd:anyURI ;
    schema:email "nobody" ; schema:dateCreated "2021" .
i:a\\/geometry a sf:Point , geo:Geometry ; geo:asWKT "POINT(45.75 4.84)"^^geo:wktLiteral ;
    schema:latitude "45.75"^^xsd:decimal ; schema:longitude "4.84"^^xsd:decimal .
i:b a ts:Initiative , schema:Organization ; schema:name "B" , "Bee" ; ts:source src:s ;
    ts:sourceId "b" ; geo:hasGeometry i:b\\/geometry ; schema:geo i:b\\/geometry ; schema:address i:b\\/address .
i:b\\/geometry a sf:Point ; geo:asWKT "POINT(200 95)"^^geo:wktLiteral ; schema:latitude "95"^^xsd:decimal ;
    schema:longitude "200"^^xsd:decimal .
i:b\\/address a schema:PostalAddress ; schema:addressCountry "France" .
i:c a ts:Initiative , schema:Organization ; schema:name "C"@fr ; ts:source "s" ; ts:sourceId 3 ;
    geo:hasGeometry i:c\\/geometry ; schema:address i:c\\/address .
i:c\\/geometry a geo:Geometry ; geo:asWKT "POLYGON((0 0,1 1,1 0,0 0))"^^geo:wktLiteral .
i:c\\/address a schema:PostalAddress .
e:late a schema:Event ; schema:name "Fête" ; ts:source src:s ;
    schema:startDate "2025-05-06T21:00:00+02:00"^^xsd:dateTime ;
    schema:endDate "2025-05-06T20:00:00+02:00"^^xsd:dateTime ;
    schema:eventStatus schema:EventMaybe ; schema:location e:late\\/location .
e:late\\/location a schema:Place .
e:mixed a schema:Event ; schema:name "Atelier" ; ts:source src:s ;
    schema:startDate "2025-05-06"^^xsd:date ; schema:endDate "2025-05-06T20:00:00"^^xsd:dateTime ;
    schema:superEvent e:late .
src:s a ts:Source ; dct:identifier "S s" ; dct:license "ODbL" ; ts:format "gogocarto" .
run:1 a ts:IngestRun , prov:Activity ; ts:ofSource src:s ;
    prov:used src:s ; dct:identifier "1" ;
    prov:startedAtTime "2025-01-01T10:00:00Z"^^xsd:dateTime ; prov:endedAtTime "2025-01-01T09:00:00Z"^^xsd:dateTime ;
    ts:outcome "success" ; ts:mode "live" ; ts:runner "cron" ; ts:fetchedFrom "http://x"^^xsd:anyURI ;
    ts:fetched 10 ; ts:loaded 8 ; ts:quarantined 1 ; ts:warnings -1 .
run:2 a ts:IngestRun , prov:Activity ; ts:ofSource src:s ;
    prov:used src:s ; dct:identifier "2" ;
    prov:startedAtTime "2025-01-01T10:00:00Z"^^xsd:dateTime ; ts:outcome "failed" ; ts:mode "live" ; ts:runner "cli" ;
    ts:fetchedFrom "http://x"^^xsd:anyURI .
"""


def _ntriples(tmp_path: Path, turtle: str, name: str = "data.nt") -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        ox.serialize(ox.parse(PREFIXES + turtle, format=ox.RdfFormat.TURTLE), out, ox.RdfFormat.N_TRIPLES)
    return path


def _pyshacl_results(data: Path, shapes_graph: rdflib.Graph) -> set[tuple[str, str, str]]:
    graph = rdflib.Graph()
    graph.parse(data, format="nt")
    for vocabulary in shapes.vocabulary_files(SHAPES):  # ontology and taxonomy, as check_shapes loads them
        graph.parse(vocabulary, format="turtle")
    logging.getLogger("rdflib").setLevel(logging.CRITICAL)
    _, report, _ = pyshacl.validate(graph, shacl_graph=shapes_graph)
    return {
        (
            str(report.value(r, SH.focusNode)),
            str(report.value(r, SH.sourceShape)),
            str(report.value(r, SH.sourceConstraintComponent)).rsplit("#", 1)[1],
        )
        for r in report.subjects(rdflib.RDF.type, SH.ValidationResult)
    }


@pytest.fixture(scope="module")
def shapes_graph() -> rdflib.Graph:
    return rdflib.Graph().parse(SHAPES, format="turtle")


# -- the shapes file itself ------------------------------------------------------------------------------------
def test_every_shape_compiles_and_speaks_both_languages(shapes_graph: rdflib.Graph) -> None:
    checks = shapes_compiler.compile_shapes(ox.parse(path=str(SHAPES), format=ox.RdfFormat.TURTLE))
    assert len(checks) > 80
    targets = " ".join(c.target for c in checks)
    for target in (
        "ontology#Initiative",
        "sf#Point",
        "schema.org/PostalAddress",
        "schema.org/Place",
        "schema.org/Event",
        "ontology#Source",
        "ontology#IngestRun",
    ):
        assert target + ">" in targets
    for check in checks:
        assert {"en", "fr"} <= set(check.messages), f"{check.shape} has no French and English sh:message"
    queries = shapes_compiler.load_shapes(SHAPES)
    assert len(queries) < len(checks)  # the planner groups checks into fewer queries
    for query in queries:
        ox.Store().query(query.text)  # every query parses


def test_an_unsupported_constraint_is_refused_not_skipped() -> None:
    turtle = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
            sh:property [ sh:path ex:p ; sh:qualifiedValueShape [ sh:class ex:D ] ; sh:qualifiedMinCount 1 ] ."""
    with pytest.raises(shapes_compiler.UnsupportedShape, match="qualified"):
        shapes_compiler.compile_shapes(ox.parse(turtle, format=ox.RdfFormat.TURTLE))
    nested = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
            sh:property [ sh:path ex:p ; sh:or ( [ sh:path ex:q ; sh:minCount 1 ] ) ] ."""
    with pytest.raises(shapes_compiler.UnsupportedShape):
        shapes_compiler.compile_shapes(ox.parse(nested, format=ox.RdfFormat.TURTLE))


# -- conforming data conforms ----------------------------------------------------------------------------------
@pytest.mark.parametrize("source_id", SAMPLE_SOURCES)
def test_mapped_sample_data_conforms(tmp_path: Path, source_id: str) -> None:
    records = sample_records(source_id)
    assert records
    data = tmp_path / "triples.nt"
    rdf.write_ntriples(records, BASE, data)
    assert shapes.check_shapes(data) == {}
    for result in shapes.validate(data):  # warnings may remain: they are loaded and reported, never quarantined
        assert result.severity == "Warning"


def test_hand_made_good_data_conforms(tmp_path: Path) -> None:
    assert shapes.validate(_ntriples(tmp_path, GOOD)) == []
    assert shapes.check_shapes(tmp_path / "data.nt") == {}


def test_an_empty_file_conforms(tmp_path: Path) -> None:
    (tmp_path / "empty.nt").write_bytes(b"")
    assert shapes.check_shapes(tmp_path / "empty.nt") == {}


# -- violators get the expected messages, under the record that owns the faulty node -------------------------
EXPECTED = {
    I + "a": [
        "An initiative has exactly one name.",
        "An initiative must also have the standard type schema:Organization, so that consumers without a reasoner "
        "find it.",
        "An initiative names exactly one source, by the source's IRI (…/id/source/<source id>).",
        "The category https://w3id.org/transiscope/taxonomy/nope is not a concept of the Transiscope taxonomy "
        "(tx:domaines): fix the source's crosswalk in transforms/mappings/.",
        "The description still contains HTML markup after cleaning. (found: <p>hello</p>)",
        "An initiative has at most one creation date, an xsd:date or xsd:dateTime. (found: 2021)",
        "The WKT point POINT(45.75 4.84) and schema:latitude/schema:longitude disagree (WKT is longitude first): "
        "coordinates swapped by the mapping?",
    ],
    I + "b": [
        "An initiative has exactly one name.",
        "The point POINT(200 95) lies outside the WGS84 bounds (longitude -180…180, latitude -90…90): latitude and "
        "longitude swapped?",
        "The latitude is not between -90 and 90 (latitude and longitude swapped?). (found: 95)",
        "The longitude is not between -180 and 180. (found: 200)",
        "A point must also have the type geo:Geometry.",
    ],
    I + "c": [
        "The name must be non-blank plain text. (found: C)",
        "An initiative keeps exactly one identifier from its source, as text. (found: 3)",
        "The address has neither street, postcode, locality nor country.",
    ],
    BASE + "id/event/s/late": [
        "The event ends before it starts. (found: 2025-05-06T21:00:00+02:00)",
        "A place needs at least a name, an address or a point.",
    ],
    BASE + "id/event/s/mixed": [
        "The start and end of an event must both be dates (all-day event) or both be date-times.",
        "A start or end time must carry its time zone offset (e.g. 2025-05-06T18:30:00+02:00). "
        "(found: 2025-05-06T20:00:00)",
    ],
    BASE + "id/run/s/1": [
        "The counts do not add up: 10 records fetched, but loaded + quarantined (+ not loaded) differ.",
        "A successful run says which graph it generated (prov:generated) and how many records it loaded.",
        "The run ends before it starts. (found: 2025-01-01T10:00:00Z)",
        "A run has exactly one runner: cli or airflow. (found: cron)",
        "Run counts are non-negative integers. (found: -1)",
    ],
    BASE + "id/run/s/2": ["A failed or rejected run says why (ts:errorMessage)."],
    BASE + "id/source/s": [
        "A source has exactly one identifier, a lowercase slug (letters, digits, hyphens). (found: S s)",
        "A source has exactly one licence, given by its IRI: exports must credit it. (found: ODbL)",
        "A source must also have the standard type dcat:Dataset.",
    ],
}


def test_violators_get_readable_messages_under_their_record(tmp_path: Path) -> None:
    found = shapes.check_shapes(_ntriples(tmp_path, GOOD + VIOLATORS))
    assert set(found) == set(EXPECTED)  # the good records are not there; dependent nodes report to their owner
    for owner, messages in EXPECTED.items():
        for message in messages:
            assert message in found[owner], f"{owner}: missing {message!r}; got {found[owner]}"
    results = shapes.validate(tmp_path / "data.nt")
    warnings = {(r.owner, r.message) for r in results if r.severity == "Warning"}
    assert (I + "a", "The website is not an http(s) URL. (found: ftp://x)") in warnings
    assert (I + "b", "The country should be an ISO 3166-1 alpha-2 code such as FR. (found: France)") in warnings
    assert all(messages == found.get(owner) for owner, messages in found.items())  # English, as returned
    french = {r.message_fr for r in results if r.owner == BASE + "id/event/s/late"}
    assert "L'événement finit avant d'avoir commencé. (found: 2025-05-06T21:00:00+02:00)" in french


def test_a_decimal_written_with_an_exponent_is_refused(tmp_path: Path) -> None:
    """XSD decimals have no exponent: "2.9e-05"^^xsd:decimal is not one (it is what repr() gives for a longitude
    close to the Greenwich meridian, which crosses France). rdflib normalises such literals when it parses, so
    pyshacl never sees them; the compiled engine reads the file as written."""
    turtle = GOOD.replace('"4.84"^^xsd:decimal', '"2.9e-05"^^xsd:decimal').replace("POINT(4.84", "POINT(2.9e-05")
    data = _ntriples(tmp_path, turtle)
    assert shapes.check_shapes(data)[I + "ok"][0] == (
        "A point has at most one longitude, a decimal number written without exponent. (found: 2.9e-05)"
    )


# -- both engines agree --------------------------------------------------------------------------------------
def test_pyshacl_and_the_compiled_engine_report_the_same_results(tmp_path: Path, shapes_graph: rdflib.Graph) -> None:
    records = list(sample_records("presdecheznous"))
    sample = tmp_path / "sample.nt"
    rdf.write_ntriples(records, BASE, sample)
    hand_made = _ntriples(tmp_path, GOOD + VIOLATORS, "hand.nt")
    data = tmp_path / "all.nt"
    data.write_bytes(sample.read_bytes() + hand_made.read_bytes())

    ours = {(r.focus, r.shape, r.component) for r in shapes.validate(data)}
    theirs = _pyshacl_results(data, shapes_graph)
    assert len(ours) > 30
    assert {c for _, _, c in ours} >= {
        "MinCountConstraintComponent",
        "MaxCountConstraintComponent",
        "DatatypeConstraintComponent",
        "NodeKindConstraintComponent",
        "ClassConstraintComponent",
        "PatternConstraintComponent",
        "MinInclusiveConstraintComponent",
        "MaxInclusiveConstraintComponent",
        "InConstraintComponent",
        "HasValueConstraintComponent",
        "EqualsConstraintComponent",
        "LessThanOrEqualsConstraintComponent",
        "NotConstraintComponent",
        "OrConstraintComponent",
        "SPARQLConstraintComponent",
    }
    assert ours == theirs, f"only ours: {sorted(ours - theirs)}; only pyshacl: {sorted(theirs - ours)}"


def test_the_engines_agree_that_sample_data_conforms(tmp_path: Path, shapes_graph: rdflib.Graph) -> None:
    data = tmp_path / "sample.nt"
    rdf.write_ntriples(sample_records("transiscope"), BASE, data)
    ours = {(r.focus, r.shape, r.component) for r in shapes.validate(data)}
    assert ours == _pyshacl_results(data, shapes_graph)


def test_the_metadata_the_bus_writes_conforms(tmp_path: Path) -> None:
    """The catalogue and run provenance (transiscope.store.provenance) against the Source, IngestRun and CheckResult
    shapes: a successful run, then a failed one whose valid records were not loaded."""
    from transiscope.store import provenance

    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    source = registry.get("transiscope")
    success = {
        "source": source.id,
        "run_id": "20260101T000000.000Z-aaaaaa",
        "started": "2026-01-01T00:00:00+00:00",
        "ended": "2026-01-01T00:00:05+00:00",
        "outcome": "success",
        "mode": "sample",
        "runner": "cli",
        "url": source.url,
        "counts": {"fetched": 14, "loaded": 12, "quarantined": 2, "warnings": 2, "triples": 372},
        "classes": {vocab.TS + "Initiative": 12},
        "airflow": {},
        "checks": [
            {
                "type": "expect_column_values_to_not_be_null",
                "column": "name",
                "severity": "critical",
                "failed": 1,
                "description": "Every record has a name",
            }
        ],
    }
    failed = {
        **success,
        "run_id": "20260102T000000.000Z-bbbbbb",
        "started": "2026-01-02T00:00:00+00:00",
        "ended": "2026-01-02T00:00:01+00:00",
        "outcome": "failed",
        "error": "the store refused the update",
        "error_kind": "StoreError",
        "failed_stage": "load",
        "counts": {"fetched": 14, "loaded": 0, "quarantined": 2, "not_loaded": 12},
    }
    store = ox.Store()
    store.update(provenance.success_update(source, success, BASE))
    store.update(provenance.failure_update(source, failed, BASE))
    data = tmp_path / "metadata.nt"
    with data.open("wb") as out:
        ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in store), out, ox.RdfFormat.N_TRIPLES)
    assert shapes.check_shapes(data) == {}
    broken = {**failed, "run_id": "x", "counts": {"fetched": 14, "loaded": 0, "quarantined": 2, "not_loaded": 11}}
    store.update(provenance.failure_update(source, broken, BASE))
    with data.open("wb") as out:
        ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in store), out, ox.RdfFormat.N_TRIPLES)
    assert shapes.check_shapes(data) == {
        vocab.run_iri(BASE, source.id, "x"): [
            "The counts do not add up: 14 records fetched, but loaded + quarantined (+ not loaded) differ."
        ]
    }


# -- in batches of whole records: the same results as the whole file ----------------------------------------------
def _with_shape_faults(records: list[dict]) -> list[dict]:
    """Copies of the records, every third one with a fault only the shapes see (violations and warnings)."""
    faulty = []
    for i, record in enumerate(records):
        record = dict(record)
        fault = i % 12
        if fault == 0:
            record["concepts"] = ["culture-inconnue"]
        elif fault == 3:
            record["description"] = "Ateliers <b>gratuits</b> le samedi"
        elif fault == 6:
            record["lat"] = 95.0
        elif fault == 9:
            record["website"] = "www.sans-http.example.org"
        faulty.append(record)
    return faulty


def test_batches_of_whole_records_report_what_the_whole_file_reports(tmp_path: Path) -> None:
    records = _with_shape_faults([r for s in SAMPLE_SOURCES for r in sample_records(s)])
    data = tmp_path / "data.nt"
    rdf.write_ntriples(records, BASE, data)
    whole = shapes.validate(data, batch_triples=None)
    assert {r.severity for r in whole} == {"Violation", "Warning"}
    assert len({r.owner for r in whole if r.severity == "Violation"}) >= len(records) // 12 * 3
    triples = len(data.read_bytes().splitlines())
    for batch in (1, 7, 60, triples // 3, triples):
        cut = list(shapes.record_batches(data, batch))
        assert b"".join(cut) == data.read_bytes()  # nothing lost, nothing repeated
        if batch < triples:
            assert len(cut) > 1
        assert shapes.validate(data, batch_triples=batch) == whole, f"batches of {batch} triples"


def test_a_file_that_cannot_be_cut_into_records_is_checked_whole(tmp_path: Path) -> None:
    events = _ntriples(tmp_path, GOOD + VIOLATORS)  # events link to their places and parents: never cut
    with pytest.raises(shapes.NotCuttable, match="events"):
        list(shapes.record_batches(events, 5))
    assert shapes.validate(events, batch_triples=5) == shapes.validate(events, batch_triples=None)
    records = _with_shape_faults(list(sample_records("transiscope")))
    first, second = tmp_path / "first.nt", tmp_path / "second.nt"
    rdf.write_ntriples(records[:1], BASE, first)
    rdf.write_ntriples(records[1:], BASE, second)
    lines = first.read_bytes().splitlines(keepends=True)
    scattered = tmp_path / "scattered.nt"  # one record's triples before and after the others'
    scattered.write_bytes(lines[0] + second.read_bytes() + b"".join(lines[1:]))
    with pytest.raises(shapes.NotCuttable, match="not contiguous"):
        list(shapes.record_batches(scattered, 5))
    assert shapes.validate(scattered, batch_triples=5) == shapes.validate(scattered, batch_triples=None)
