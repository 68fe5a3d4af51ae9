"""SHACL checks of what the pipeline is about to load, fast enough never to dominate a run.

``ontology/shapes.ttl`` is the single source of truth: a standard SHACL file that any engine (pyshacl
included) can run. pyshacl is too slow for the bus (``bench/shacl.py``: ~20× slower than this module on the
Core constraints, and ~90 ms per initiative once the SHACL-SPARQL constraints are included, since rdflib runs
one SPARQL query per focus node). So the bus *compiles* the shapes to SPARQL and runs them over an in-memory
Oxigraph store loaded with the N-Triples file. The planner groups the work: every value check on one
(target, path) is one pass over the values (tested first, joined with the targets only when they fail, since
the join is what costs most in Oxigraph); the "at least one" and "at most one" checks of the simple paths of
a target are one query each; classes with no instance in the file are skipped. ``tests/unit/test_shapes.py``
checks that pyshacl and this engine report the same results on the same graph.

The compiler covers the SHACL Core constraints the shapes use (targets; sh:path with inverse, sequence,
alternative and repetition paths; class, datatype, nodeKind, min/maxCount, min/max inclusive/exclusive,
min/maxLength, pattern, in, hasValue, equals, disjoint, lessThan, lessThanOrEquals, and, or, not) and
SHACL-SPARQL constraints (``sh:sparql`` with ``sh:select``). A shape that uses anything else makes
:func:`compile_shapes` raise :class:`UnsupportedShape`, so a new constraint can never be silently skipped.

Known, deliberate differences with pyshacl:
- ``sh:datatype`` also checks that the literal is well formed by XSD's rules (``"1e-05"^^xsd:decimal`` is
  not a decimal); rdflib, under pyshacl, accepts some such forms. The shapes add a ``sh:pattern`` where it
  matters, so both engines agree on them.
- ``sh:lessThan``/``sh:lessThanOrEquals`` ignore pairs that cannot be compared, as pyshacl does; the shapes
  check comparability with their own constraints (same datatype, time zone present).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import pyoxigraph as ox

from transiscope.ingest.shapes_compiler import (
    DEFAULT_SHAPES,
    GEO,
    RDF,
    SCHEMA,
    SH,
    TS,
    Check,
    Query,
    Term,
    load_shapes,
)

#: links from an entity the bus publishes to the dependent nodes it mints under its IRI
_DEPENDENT_LINKS = (f"<{GEO}hasGeometry>", f"<{SCHEMA}geo>", f"<{SCHEMA}address>", f"<{SCHEMA}location>")
_OWNER_CLASSES = (f"<{TS}Initiative>", f"<{SCHEMA}Event>")
_DEPENDENT_SUFFIXES = ("/geometry", "/address")


@dataclass(frozen=True)
class ShapeResult:
    """One validation result, with the node it is about and the initiative (or event) that owns it."""

    focus: str
    owner: str
    shape: str
    component: str
    severity: str
    path: str | None
    value: str | None
    message: str  #: English, ready to show to a source maintainer
    message_fr: str
    bindings: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


# -- running them ---------------------------------------------------------------------------------------------------
def vocabulary_files(shapes: Path) -> list[Path]:
    """The vocabularies next to the shapes file (ontology, taxonomy...), needed by class and concept checks."""
    return sorted(p for p in Path(shapes).parent.glob("*.ttl") if p.resolve() != Path(shapes).resolve())


def data_store(data: Path, vocabularies: Iterable[Path] = ()) -> ox.Store:
    """An in-memory store holding the N-Triples file and the vocabularies, all in the default graph."""
    store = ox.Store()
    store.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES)
    for path in vocabularies:
        store.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return store


@overload
def _display(term: ox.NamedNode | ox.Literal | ox.BlankNode) -> str: ...


@overload
def _display(term: None) -> None: ...


@overload
def _display(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> str | None: ...


def _display(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> str | None:
    if term is None:
        return None
    return term.value if not isinstance(term, ox.BlankNode) else f"_:{term.value}"


def _fill(template: str, bindings: dict[str, str]) -> str:
    return re.sub(r"\{[?$](\w+)\}", lambda m: bindings.get(m.group(1), m.group(0)), template)


def _with_value(message: str, value: str | None) -> str:
    if value is None:
        return message
    shown = value if len(value) <= 80 else value[:77] + "…"
    return f"{message} (found: {shown!r})" if "\n" in shown else f"{message} (found: {shown})"


def _failures(
    store: ox.Store, query: Query, default_graph: list[ox.NamedNode] | None
) -> list[tuple[Check, str, str | None, dict[str, str]]]:
    """(check, focus, value, bindings) for each failure the query returns."""
    options: dict[str, Any] = {"default_graph": default_graph} if default_graph is not None else {}
    solutions = store.query(query.text, **options)
    assert isinstance(solutions, ox.QuerySolutions)  # the planner writes SELECT queries
    names = [v.value for v in solutions.variables]
    by_predicate: dict[str, list[Check]] = {}
    for check in query.checks:
        by_predicate.setdefault(check.predicate or "", []).append(check)
    out: list[tuple[Check, str, str | None, dict[str, str]]] = []
    for row in solutions:
        focus = _display(row["this"])
        if focus is None:
            continue
        if query.mode == "value":
            value = _display(row["value"])
            for i, check in enumerate(query.checks):
                flag = row[f"f{i}"]
                if flag is None or flag.value != "true":
                    out.append((check, focus, value, {}))
        elif query.mode == "min1":
            for check in by_predicate.get(row["_p"].value, []):
                out.append((check, focus, None, {}))
        elif query.mode == "max1":  # which predicates have several values: read the focus node's triples
            values: dict[str, set[Term | ox.Triple]] = {}
            graphs: Sequence[ox.NamedNode | ox.DefaultGraph] = default_graph or [ox.DefaultGraph()]
            for graph in graphs:
                for quad in store.quads_for_pattern(row["this"], None, None, graph):
                    if quad.predicate.value in by_predicate:
                        values.setdefault(quad.predicate.value, set()).add(quad.object)
            for predicate, found in values.items():
                if len(found) > 1:
                    out.extend((check, focus, None, {}) for check in by_predicate[predicate])
        elif query.mode == "sparql":
            bindings = {name: _display(row[name]) for name in names if row[name] is not None}
            bindings["this"] = focus
            out.append((query.checks[0], focus, bindings.get("value"), bindings))
        else:
            out.append((query.checks[0], focus, _display(row["value"]) if query.mode == "pair" else None, {}))
    return out


def run_queries(
    store: ox.Store, queries: Iterable[Query], *, default_graph: list[ox.NamedNode] | None = None, threads: int = 2
) -> list[ShapeResult]:
    """Run planned queries over ``store``; one result per failing (focus node, check, value).

    ``default_graph``: the graphs to query (say a staging graph and the vocabulary graphs of a real store);
    by default the store's default graph. Queries run on ``threads`` threads (Oxigraph evaluates in parallel).
    """
    options: dict[str, Any] = {"default_graph": default_graph} if default_graph is not None else {}
    targets = {check.target for query in queries for check in query.checks}
    # checks of a class with no instance here (events in a file of initiatives...) cannot fail: skip them
    present = {target for target in targets if bool(store.query(f"ASK {{ {target} }}", **options))}
    queries = [query for query in queries if query.checks[0].target in present]
    with ThreadPoolExecutor(max(1, threads)) as pool:
        raw = [
            failure for found in pool.map(lambda q: _failures(store, q, default_graph), queries) for failure in found
        ]
    owners = _owners(store, {focus for _, focus, _, _ in raw}, default_graph)
    results = set()
    for check, focus, value, bindings in raw:
        if check.kind == "sparql":
            english, french = _fill(check.message("en"), bindings), _fill(check.message("fr"), bindings)
        else:
            english, french = _with_value(check.message("en"), value), _with_value(check.message("fr"), value)
        results.add(
            ShapeResult(
                focus,
                owners.get(focus, focus),
                check.shape,
                check.component.removeprefix(SH),
                check.severity,
                check.path,
                value,
                english,
                french,
                dict(sorted(bindings.items())),
            )
        )
    return sorted(results, key=_result_order)


def _result_order(result: ShapeResult) -> tuple[str, str, str, str, str]:
    return (result.owner, result.focus, result.shape, result.component, result.value or "")


def _owners(store: ox.Store, focus_nodes: set[str], default_graph: list[ox.NamedNode] | None = None) -> dict[str, str]:
    """Dependent nodes (geometry, address, location) -> the initiative or event that links to them."""
    dependents = [f for f in focus_nodes if not f.startswith("_:")]
    if not dependents:
        return {}
    owners: dict[str, str] = {}
    links = "|".join(_DEPENDENT_LINKS)
    classes = ", ".join(_OWNER_CLASSES)
    for start in range(0, len(dependents), 500):
        chunk = " ".join(f"<{iri}>" for iri in dependents[start : start + 500])
        query = (
            f"SELECT ?node ?owner WHERE {{ VALUES ?node {{ {chunk} }} ?owner ({links})+ ?node . "
            f"?owner <{RDF}type> ?class FILTER (?class IN ({classes})) }}"
        )
        options: dict[str, Any] = {"default_graph": default_graph} if default_graph is not None else {}
        solutions = store.query(query, **options)
        assert isinstance(solutions, ox.QuerySolutions)
        for row in solutions:
            owners.setdefault(row["node"].value, row["owner"].value)
    for focus in dependents:  # a dangling dependent node: its IRI still says whose it is
        if focus not in owners:
            for suffix in _DEPENDENT_SUFFIXES:
                if focus.endswith(suffix):
                    owners[focus] = focus[: -len(suffix)]
    return owners


#: triples per in-memory store when the shapes run in batches: ≈300 MB of Oxigraph memory store each (7 M
#: triples took 4.2 GB in one store), few enough batches that the vocabularies' reload costs little
BATCH_TRIPLES = 500_000


def _owner_key(line: bytes) -> bytes | None:
    """The subject of an N-Triples line, less the suffix of a dependent node (``…/geometry``): the triples
    with one key are one record's. None for a blank-node subject (kept with the record before it)."""
    if not line.startswith(b"<"):
        return None
    subject = line[1 : line.index(b">")]
    for suffix in _DEPENDENT_SUFFIXES:
        if subject.endswith(suffix.encode()):
            return subject[: -len(suffix)]
    return subject


def record_batches(data: Path, batch_triples: int = BATCH_TRIPLES) -> Iterator[bytes]:
    """The N-Triples file cut into chunks of about ``batch_triples`` lines, each holding whole records.

    Raises :class:`NotCuttable`, while iterating, when the file cannot be cut: it holds events (an event links
    to its parent event and to places other events share, so its checks may read another record's triples),
    or a record's triples are not contiguous. The shapes then run on the whole file at once.
    """
    closed: set[int] = set()  # hashes of the records already cut off (a record seen again: not cuttable)
    chunk: list[bytes] = []
    current: bytes | None = None
    with Path(data).open("rb") as lines:
        for line in lines:
            if b"<http://schema.org/Event>" in line or b"<http://schema.org/Place>" in line:
                raise NotCuttable("events link to other records")
            key = _owner_key(line)
            if key is not None and key != current:
                if hash(key) in closed:
                    raise NotCuttable(f"the triples of {key.decode(errors='replace')} are not contiguous")
                if current is not None:
                    closed.add(hash(current))
                if len(chunk) >= batch_triples:
                    yield b"".join(chunk)
                    chunk = []
                current = key
            chunk.append(line)
    if chunk:
        yield b"".join(chunk)


class NotCuttable(Exception):
    """The file cannot be checked in batches of whole records."""


def validate(
    data: Path,
    shapes: Path | None = None,
    *,
    vocabularies: Iterable[Path] | None = None,
    batch_triples: int | None = BATCH_TRIPLES,
) -> list[ShapeResult]:
    """Every result (violations, warnings, infos) of the shapes on the N-Triples file ``data``.

    With ``batch_triples``, a file of initiatives is checked ``batch_triples`` triples at a time, whole
    records per batch, each batch in a fresh in-memory store with the vocabularies: memory stays bounded at
    any size, and the results are those of the whole file (every shape of an initiative reads only its own
    record's nodes and the vocabularies; ``tests/unit/test_shapes.py`` compares both). Events, and a file
    whose records are not contiguous, are checked whole.
    """
    shapes = Path(shapes) if shapes is not None else DEFAULT_SHAPES
    queries = load_shapes(shapes)
    vocabularies = list(vocabulary_files(shapes) if vocabularies is None else vocabularies)
    if batch_triples:
        try:
            results: set[ShapeResult] = set()
            for chunk in record_batches(Path(data), batch_triples):
                store = ox.Store()
                store.bulk_load(chunk, format=ox.RdfFormat.N_TRIPLES)
                for path in vocabularies:
                    store.load(path=str(path), format=ox.RdfFormat.TURTLE)
                results.update(run_queries(store, queries))
                del store  # before the next batch is loaded
            return sorted(results, key=_result_order)
        except NotCuttable:
            pass  # fall back to the whole file
    store = data_store(Path(data), vocabularies)
    return run_queries(store, queries)


def check_shapes(data: Path, shapes: Path | None = None) -> dict[str, list[str]]:
    """Validate the N-Triples file ``data`` (what the pipeline is about to load: the triples of one source's
    valid initiatives, as written by :func:`transiscope.ingest.rdf.write_ntriples`) against ``ontology/shapes.ttl``.

    Returns ``{initiative IRI: [readable violation messages]}``; violations on a dependent node
    (``<initiative IRI>/geometry``, ``<initiative IRI>/address``) are reported under the owning initiative.
    An empty dict means everything conforms. Warnings (``sh:Warning``) are not returned: see :func:`validate`.
    The vocabularies next to the shapes file (ontology, taxonomy) are loaded too, for class and concept checks.
    """
    found: dict[str, list[str]] = {}
    for result in validate(data, shapes):
        if result.severity == "Violation":
            messages = found.setdefault(result.owner, [])
            if result.message not in messages:
                messages.append(result.message)
    return found
