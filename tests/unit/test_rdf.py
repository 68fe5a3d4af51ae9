"""RDF output: parse it back with rdflib and check the triples analysts and the map rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib import RDF, Literal, Namespace, URIRef

from transiscope.core import vocab
from transiscope.ingest import rdf
from transiscope.ingest.records import empty_record

SCHEMA = Namespace("http://schema.org/")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
TS = Namespace(vocab.TS)
BASE = "https://w3id.org/transiscope/"


def _record(**values: object) -> dict:
    record = empty_record()
    record.update(
        source="presdecheznous",
        source_id="éco lieu>12",
        name='Le "Zinc" <b>',
        lat=45.754,
        lon=4.843,
        street="1 rue de la Paix",
        postcode="69001",
        city="Lyon",
        country="FR",
        categories=["Alimentation & Agriculture"],
        concepts=["agriculture-alimentation"],
        website="https://zinc.example.org/?a=1&b=<2>",
        email="contact@zinc.example.org",
        licence="ODbL-1.0",
        source_url="https://pdcn.example.org/map#/fiche/x/%C3%A9co/",
        updated_at="2018-06-14",
        created_at="2021-06-14T09:12:33+02:00",
        description='Ligne 1\n"citée" } . <http://evil> .',
    )
    record.update(values)
    return record


def _graph(tmp_path: Path, *records: dict) -> tuple[rdflib.Graph, int]:
    path = tmp_path / "t.nt"
    count = rdf.write_ntriples(records, BASE, path)
    graph = rdflib.Graph()
    graph.parse(path, format="nt")
    return graph, count


def test_key_triples(tmp_path: Path) -> None:
    graph, count = _graph(tmp_path, _record())
    assert count == len(graph)
    s = URIRef(BASE + "id/initiative/presdecheznous/%C3%A9co%20lieu%3E12")
    assert (s, RDF.type, SCHEMA.Organization) in graph and (s, RDF.type, TS.Initiative) in graph
    assert graph.value(s, SCHEMA.name) == Literal('Le "Zinc" <b>')
    assert graph.value(s, TS.sourceId) == Literal("éco lieu>12")
    assert graph.value(s, TS.category) == URIRef(vocab.TX + "agriculture-alimentation")
    assert graph.value(s, TS.sourceCategory) == Literal("Alimentation & Agriculture")
    assert graph.value(s, TS.source) == URIRef(BASE + "id/source/presdecheznous")
    assert graph.value(s, URIRef("http://purl.org/dc/terms/license")) == URIRef("https://spdx.org/licenses/ODbL-1.0")
    assert graph.value(s, SCHEMA.dateModified) == Literal("2018-06-14", datatype=rdflib.XSD.date)
    assert graph.value(s, SCHEMA.dateCreated).datatype == rdflib.XSD.dateTime
    assert str(graph.value(s, SCHEMA.description)).startswith("Ligne 1\n")


def test_geometry_is_wkt_lon_lat(tmp_path: Path) -> None:
    graph, _ = _graph(tmp_path, _record())
    geometry = next(graph.objects(predicate=GEO.hasGeometry))
    wkt = graph.value(geometry, GEO.asWKT)
    assert str(wkt) == "POINT(4.843 45.754)"  # CRS84: longitude first
    assert wkt.datatype == GEO.wktLiteral
    assert float(graph.value(geometry, SCHEMA.latitude)) == 45.754


def test_schema_org_is_http_and_no_blank_nodes(tmp_path: Path) -> None:
    graph, _ = _graph(tmp_path, _record())
    for triple in graph:
        assert not any(isinstance(term, rdflib.BNode) for term in triple)
        assert not str(triple[1]).startswith("https://schema.org/")


def test_missing_values_give_no_triples(tmp_path: Path) -> None:
    graph, _ = _graph(
        tmp_path,
        _record(
            lat=None,
            lon=None,
            street=None,
            postcode=None,
            city=None,
            country=None,
            website=None,
            email=None,
            description=None,
        ),
    )
    assert not list(graph.objects(predicate=GEO.hasGeometry))
    assert not list(graph.objects(predicate=SCHEMA.address))
    assert not list(graph.objects(predicate=SCHEMA.email))


def test_iris_are_stable_and_distinct(tmp_path: Path) -> None:
    a = vocab.initiative_iri(BASE, "s", "a/b")
    assert a == vocab.initiative_iri(BASE, "s", "a/b")
    assert a != vocab.initiative_iri(BASE, "s", "a%2Fb")  # an already-encoded id stays distinct
    assert vocab.initiative_iri(BASE, "s", "a b") != vocab.initiative_iri(BASE, "s", "a+b")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.9e-05, "0.000029"),
        (45.0, "45.0"),
        (-61.5, "-61.5"),
        (1e-07, "0.0000001"),
        (48.856614, "48.856614"),
        (2, "2.0"),
    ],
)
def test_coordinates_are_xsd_decimals_without_exponent(value: float, text: str) -> None:
    assert rdf.decimal_text(value) == text
    assert float(text) == value
