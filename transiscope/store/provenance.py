"""Provenance and catalogue triples for the metadata graph: who loaded what, when, from where.

Per source: a DCAT dataset (title, publisher, licence, landing page, schedule). Per run: a PROV
activity with its counts and outcome, also for failed runs, so ``transiscope status`` and analysts see
failures next to successes.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import pyoxigraph as ox

from transiscope.core.vocab import (
    DCAT,
    DCT,
    FOAF,
    PROV,
    TS,
    VOID,
    XSD,
    A,
    licence_iri,
    metadata_graph,
    quote_id,
    run_iri,
    source_graph,
    source_iri,
)
from transiscope.registry.sources import Source
from transiscope.store.base import TripleStore, insert_data

_INT = ox.NamedNode(XSD + "integer")
_DT = ox.NamedNode(XSD + "dateTime")
_URI = ox.NamedNode(XSD + "anyURI")

#: run count -> property of the run in our vocabulary
COUNTS = {
    "fetched": "fetched",
    "loaded": "loaded",
    "quarantined": "quarantined",
    "warnings": "warnings",
    "triples": "triples",
    "not_loaded": "notLoaded",
    "shape_violations": "shapeViolations",
}


def _p(ns: str, name: str) -> ox.NamedNode:
    return ox.NamedNode(ns + name)


def dataset_triples(source: Source, base: str) -> list[ox.Triple]:
    s = ox.NamedNode(source_iri(base, source.id))
    triples = [
        ox.Triple(s, A, _p(DCAT, "Dataset")),
        ox.Triple(s, A, _p(TS, "Source")),
        ox.Triple(s, _p(DCT, "identifier"), ox.Literal(source.id)),
        ox.Triple(s, _p(DCT, "title"), ox.Literal(source.name)),
        ox.Triple(s, _p(DCT, "license"), ox.NamedNode(licence_iri(source.licence))),
        ox.Triple(s, _p(TS, "format"), ox.Literal(source.format)),
        ox.Triple(s, _p(TS, "endpointURL"), ox.Literal(source.url, datatype=_URI)),
        ox.Triple(s, _p(TS, "liveGraph"), ox.NamedNode(source_graph(base, source.id))),
    ]
    if source.description:
        triples.append(ox.Triple(s, _p(DCT, "description"), ox.Literal(source.description, language="fr")))
    if source.landing_page:
        with contextlib.suppress(ValueError):
            triples.append(ox.Triple(s, _p(DCAT, "landingPage"), ox.NamedNode(source.landing_page)))
    if source.schedule:
        triples.append(ox.Triple(s, _p(DCT, "accrualPeriodicity"), ox.Literal(source.schedule)))
    if source.publisher:
        publisher = ox.NamedNode(source_iri(base, source.id) + "/publisher")
        triples += [
            ox.Triple(s, _p(DCT, "publisher"), publisher),
            ox.Triple(publisher, A, _p(FOAF, "Agent")),
            ox.Triple(publisher, _p(FOAF, "name"), ox.Literal(source.publisher)),
        ]
    return triples


def run_triples(run: dict[str, Any], base: str) -> list[ox.Triple]:
    r = ox.NamedNode(run_iri(base, run["source"], run["run_id"]))
    src = ox.NamedNode(source_iri(base, run["source"]))
    triples = [
        ox.Triple(r, A, _p(PROV, "Activity")),
        ox.Triple(r, A, _p(TS, "IngestRun")),
        ox.Triple(r, _p(PROV, "used"), src),
        ox.Triple(r, _p(TS, "ofSource"), src),
        ox.Triple(r, _p(DCT, "identifier"), ox.Literal(run["run_id"])),
        ox.Triple(r, _p(PROV, "startedAtTime"), ox.Literal(run["started"], datatype=_DT)),
        ox.Triple(r, _p(TS, "outcome"), ox.Literal(run["outcome"])),
        ox.Triple(r, _p(TS, "mode"), ox.Literal(run["mode"])),
        ox.Triple(r, _p(TS, "runner"), ox.Literal(run["runner"])),
        ox.Triple(r, _p(TS, "fetchedFrom"), ox.Literal(run["url"], datatype=_URI)),
    ]
    if run.get("ended"):
        triples.append(ox.Triple(r, _p(PROV, "endedAtTime"), ox.Literal(run["ended"], datatype=_DT)))
    for name, prop in COUNTS.items():
        value = run.get("counts", {}).get(name)
        if value is not None:
            triples.append(ox.Triple(r, _p(TS, prop), ox.Literal(str(int(value)), datatype=_INT)))
    for key, predicate in (
        ("error", "errorMessage"),
        ("error_kind", "errorKind"),
        ("failed_stage", "failedStage"),
        ("fallback_reason", "fallbackReason"),
    ):
        if run.get(key):
            triples.append(ox.Triple(r, _p(TS, predicate), ox.Literal(str(run[key]))))
    airflow = run.get("airflow") or {}
    if airflow.get("dag_id"):
        triples.append(ox.Triple(r, _p(TS, "airflowDagId"), ox.Literal(airflow["dag_id"])))
    if airflow.get("run_id"):
        triples.append(ox.Triple(r, _p(TS, "airflowRunId"), ox.Literal(airflow["run_id"])))
    if run["outcome"] == "success":
        triples.append(ox.Triple(r, _p(PROV, "generated"), ox.NamedNode(source_graph(base, run["source"]))))
    if run.get("triples_digest"):
        triples.append(ox.Triple(r, _p(TS, "triplesDigest"), ox.Literal(run["triples_digest"])))
    checks = run.get("checks") or []
    if checks:
        failed = [c for c in checks if c.get("failed")]
        triples += [
            ox.Triple(r, _p(TS, "checksEvaluated"), ox.Literal(str(len(checks)), datatype=_INT)),
            ox.Triple(r, _p(TS, "checksFailed"), ox.Literal(str(len(failed)), datatype=_INT)),
        ]
        for index, check in enumerate(failed):
            node = ox.NamedNode(f"{r.value}/check/{index}")
            triples += [
                ox.Triple(r, _p(TS, "checkResult"), node),
                ox.Triple(node, A, _p(TS, "CheckResult")),
                ox.Triple(node, _p(TS, "check"), ox.Literal(f"{check['type']}({check.get('column') or ''})")),
                ox.Triple(node, _p(TS, "severity"), ox.Literal(check["severity"])),
                ox.Triple(node, _p(TS, "failedRecords"), ox.Literal(str(check["failed"]), datatype=_INT)),
            ]
            if check.get("description"):
                triples.append(ox.Triple(node, _p(DCT, "description"), ox.Literal(check["description"], language="en")))
    return triples


def forget_run(run: dict[str, Any], base: str) -> list[str]:
    """SPARQL Update operations deleting what the metadata graph says about one run (its check results too).

    Why: a run is written more than once when a stage is retried (its failure, then its success) or when
    a pending record is written by the next writer; without this the run kept both outcomes and both end
    times, and ``status`` showed the failure of a run that loaded. Each run update starts with these, so a
    run has exactly one description, the latest.
    """
    graph = metadata_graph(base)
    r = run_iri(base, run["source"], run["run_id"])
    return [
        f"DELETE WHERE {{ GRAPH <{graph}> {{ <{r}> <{TS}checkResult> ?c . ?c ?cp ?co }} }}",
        f"DELETE WHERE {{ GRAPH <{graph}> {{ <{r}> ?p ?o }} }}",
    ]


def success_update(source: Source, run: dict[str, Any], base: str) -> str:
    """SPARQL Update run in the same transaction as the graph swap: catalogue + run."""
    graph = metadata_graph(base)
    s = source_iri(base, source.id)
    classes = run.get("classes") or {}
    partitions = []
    for class_iri, entities in classes.items():
        partition = ox.NamedNode(f"{s}/class/{quote_id(class_iri)}")
        partitions += [
            ox.Triple(ox.NamedNode(s), _p(VOID, "classPartition"), partition),
            ox.Triple(partition, _p(VOID, "class"), ox.NamedNode(class_iri)),
            ox.Triple(partition, _p(VOID, "entities"), ox.Literal(str(entities), datatype=_INT)),
        ]
    stats = partitions + [
        ox.Triple(ox.NamedNode(s), _p(VOID, "classes"), ox.Literal(str(len(classes)), datatype=_INT)),
        ox.Triple(ox.NamedNode(s), _p(TS, "lastSuccessfulRun"), ox.NamedNode(run_iri(base, source.id, run["run_id"]))),
        ox.Triple(ox.NamedNode(s), _p(VOID, "triples"), ox.Literal(str(run["counts"]["triples"]), datatype=_INT)),
        ox.Triple(ox.NamedNode(s), _p(VOID, "entities"), ox.Literal(str(run["counts"]["loaded"]), datatype=_INT)),
        ox.Triple(ox.NamedNode(s), _p(DCT, "modified"), ox.Literal(run["ended"], datatype=_DT)),
    ]
    return " ;\n".join(
        [
            f"DELETE WHERE {{ GRAPH <{graph}> {{ <{s}/publisher> ?pp ?po }} }}",
            f"DELETE WHERE {{ GRAPH <{graph}> {{ <{s}> <{VOID}classPartition> ?cp . ?cp ?cpp ?cpo }} }}",
            f"DELETE WHERE {{ GRAPH <{graph}> {{ <{s}> ?p ?o }} }}",
            *forget_run(run, base),
            insert_data(graph, dataset_triples(source, base) + stats + run_triples(run, base)),
        ]
    )


def failure_update(source: Source, run: dict[str, Any], base: str) -> str:
    """Record a run that loaded nothing (failed, rejected, not modified) in place of what the metadata graph
    held about it; the catalogue entry is created if missing but its statistics kept."""
    graph = metadata_graph(base)
    s = source_iri(base, source.id)
    return " ;\n".join(
        [
            *forget_run(run, base),
            f"INSERT {{ GRAPH <{graph}> {{ <{s}> <{TS}format> {ox.Literal(source.format)} }} }} "
            f"WHERE {{ FILTER NOT EXISTS {{ GRAPH <{graph}> {{ <{s}> ?p ?o }} }} }}",
            insert_data(graph, run_triples(run, base)),
        ]
    )


# -- the live graph's run, read back -------------------------------------------------------------------
class LiveLoad(NamedTuple):
    """The run whose data is the source's live graph, as the metadata graph records it."""

    run_id: str
    loaded: int
    #: ``sha256:…`` of the N-Triples file that run loaded (None for runs before digests were recorded)
    triples_digest: str | None = None


def previous_good_load(store: TripleStore, base: str, source_id: str) -> LiveLoad | None:
    """The source's last successful run (run id, loaded count, triples digest), from the metadata graph."""
    rows = store.select(
        f"SELECT ?id ?n ?digest WHERE {{ GRAPH <{metadata_graph(base)}> {{ "
        f"<{source_iri(base, source_id)}> <{TS}lastSuccessfulRun> ?r . "
        f"?r <{TS}loaded> ?n ; <{DCT}identifier> ?id . "
        f"OPTIONAL {{ ?r <{TS}triplesDigest> ?digest }} }} }}"
    )
    if not rows:
        return None
    digest = rows[0].get("digest")
    return LiveLoad(rows[0]["id"].value, int(rows[0]["n"].value), digest.value if digest else None)
