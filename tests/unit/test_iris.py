"""IRI minting with hostile source ids: nothing breaks, not the IRIs, not the N-Triples, not a generated query."""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyoxigraph as ox
import pytest
import rdflib

from transiscope.core import vocab
from transiscope.ingest import rdf
from transiscope.ingest.records import empty_record

BASE = "https://w3id.org/transiscope/"

HOSTILE_IDS = [
    "a b",  # space
    "x>y",  # closes an IRI in N-Triples and SPARQL
    'quote"d',  # closes a literal
    "{brace}",  # opens a group in SPARQL
    "new\nline",  # ends a line of N-Triples
    "tab\tand\rreturn",
    "éco lieu",  # unicode (precomposed)
    "e\u0301co",  # unicode (combining accent): a different id, hence a different IRI
    "中文🌱",  # non-Latin script and a character outside the BMP
    "a/b",  # path separator
    "x/geometry",  # would collide with the geometry of initiative "x" if / were kept
    "geometry",
    ".",  # dot-segments: removed by IRI resolution and HTTP clients unless encoded
    "..",
    "...",
    "%2F",  # already percent-encoded: must stay distinct from "/"
    "a#b",  # fragment
    "a?b=c&d",  # query
    "back\\slash",
    "<b>tag</b>",
    '} . <http://evil.example/> <http://evil.example/p> "x" . {',  # an injection attempt
    "x" * 2000,  # very long
]


def _is_dot_segment_free(iri: str) -> bool:
    path = urlsplit(iri).path
    return all(segment not in (".", "..") for segment in path.split("/")) and posixpath.normpath(path) == path


@pytest.mark.parametrize("record_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_initiative_iri_is_a_valid_stable_iri(record_id: str) -> None:
    iri = vocab.initiative_iri(BASE, "some source", record_id)
    assert iri == vocab.initiative_iri(BASE, "some source", record_id)  # deterministic
    assert iri.startswith(BASE + "id/initiative/some%20source/")
    ox.NamedNode(iri)  # pyoxigraph checks IRI syntax (raises ValueError otherwise)
    assert rdflib.URIRef(iri).n3() == f"<{iri}>"
    segment = iri.rsplit("/", 1)[1]
    assert all(c.isascii() and (c.isalnum() or c in "-._~%") for c in segment)
    assert unquote(segment) == record_id  # nothing lost: the id can be read back from the IRI
    assert _is_dot_segment_free(iri) and _is_dot_segment_free(iri + "/geometry")


def test_hostile_ids_give_distinct_iris_that_never_collide_with_dependent_nodes() -> None:
    iris = [vocab.initiative_iri(BASE, "s", i) for i in HOSTILE_IDS]
    assert len(set(iris)) == len(HOSTILE_IDS)
    dependents = {iri + suffix for iri in iris for suffix in ("/geometry", "/address")}
    assert not dependents & set(iris)


def test_dot_segment_ids_are_encoded() -> None:
    assert vocab.initiative_iri(BASE, "s", ".") == BASE + "id/initiative/s/%2E"
    assert vocab.initiative_iri(BASE, "s", "..") == BASE + "id/initiative/s/%2E%2E"
    assert vocab.initiative_iri(BASE, "s", "...") == BASE + "id/initiative/s/..."  # not a dot-segment
    assert vocab.initiative_iri(BASE, "s", "a.b") == BASE + "id/initiative/s/a.b"  # ordinary ids unchanged


@pytest.mark.parametrize("make", [vocab.source_iri, vocab.source_graph, vocab.staging_graph])
def test_source_level_iris_accept_hostile_ids(make) -> None:
    made = [make(BASE, hostile) for hostile in HOSTILE_IDS]
    # pyoxigraph refuses an invalid IRI; each one is kept as written, and no two hostile ids share one
    assert [ox.NamedNode(iri).value for iri in made] == made
    assert len(set(made)) == len(HOSTILE_IDS)
    run = vocab.run_iri(BASE, "s>x", "2026-01-01T00:00:00Z {x}")
    assert ox.NamedNode(run).value == run and not set(run[len(BASE) :]) & set('<>"{}| ')


def _record(record_id: str, index: int) -> dict:
    record = empty_record()
    record.update(
        source="hostile src",
        source_id=record_id,
        record_index=index,
        name=f'Name "{index}" <b> }} .',
        lat=45.0 + index / 1000,
        lon=4.5,
        street='1 rue "des" <Lilas>',
        city="Lyon",
        country="FR",
        categories=["cat > dog", 'say "hi"'],
        concepts=["culture"],
        licence="ODbL-1.0",
        description="Line 1\nLine 2 } . <http://evil.example/> .",
        source_url=f"https://x.example/{index}",
    )
    return record


def test_hostile_ids_through_ntriples_store_and_queries(tmp_path: Path) -> None:
    path = tmp_path / "hostile.nt"
    count = rdf.write_ntriples([_record(i, n) for n, i in enumerate(HOSTILE_IDS)], BASE, path)

    graph = rdflib.Graph()
    graph.parse(path, format="nt")  # a second, independent parser reads the same file
    assert len(graph) == count
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    assert len(store) == count

    for n, record_id in enumerate(HOSTILE_IDS):
        iri = vocab.initiative_iri(BASE, "hostile src", record_id)
        # a query built by string formatting with the minted IRI and the id as a literal (as the CLI and the
        # pipeline build theirs): it parses, and finds exactly this record
        query = (
            f"{vocab.SPARQL_PREFIXES}SELECT ?name ?g WHERE {{ <{iri}> schema:name ?name ; "
            f"ts:sourceId {ox.Literal(record_id)} ; geo:hasGeometry ?g }}"
        )
        rows = list(store.query(query))
        assert [(r["name"].value, r["g"].value) for r in rows] == [(f'Name "{n}" <b> }} .', iri + "/geometry")]
        assert str(graph.value(rdflib.URIRef(iri), rdflib.URIRef(vocab.TS + "sourceId"))) == record_id
    # the injection attempt stayed a literal: no triple about the "evil" IRI exists
    assert not list(store.quads_for_pattern(ox.NamedNode("http://evil.example/"), None, None))
    assert all(str(s).startswith(BASE) for s in graph.subjects())
    assert "http://evil.example/p" not in {str(p) for p in graph.predicates()}
