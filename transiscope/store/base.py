"""What the bus needs of a triplestore, whatever its kind: the protocol both stores implement, the shape of a
result row, and the one way updates write triples (so that escaping is pyoxigraph's job, never ours).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from transiscope.core.errors import StoreError

Row = dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]


@dataclass(frozen=True)
class QueryDataset:
    """The RDF dataset a query runs over when its caller chooses it (the SPARQL 1.1 Protocol's
    ``default-graph-uri`` and ``named-graph-uri``), and the base IRI its relative IRIs resolve against.

    Given graphs replace the query's own ``FROM`` / ``FROM NAMED``, as the Protocol says. With named graphs
    and no default graph, the default graph is empty (it is not the union of the store's graphs).

    >>> QueryDataset().chosen
    False
    >>> QueryDataset(named_graphs=("https://example.org/g",)).chosen
    True
    """

    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    base_iri: str | None = None

    @property
    def chosen(self) -> bool:
        """Whether the caller set the graphs (otherwise: the query's FROM clauses, or the union of all graphs)."""
        return bool(self.default_graphs or self.named_graphs)


class TripleStore(Protocol):
    """What the bus needs of a triplestore; one implementation per kind (embedded, remote)."""

    def __enter__(self) -> TripleStore: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def close(self) -> None: ...

    def query(
        self, sparql: str, dataset: QueryDataset | None = None
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Any SPARQL query; the default graph is the union of all named graphs unless ``dataset`` (or the
        query's FROM clauses) chooses graphs."""

    def select(self, sparql: str) -> list[Row]:
        """A SELECT as a list of ``{variable: term}`` rows (unbound variables left out)."""

    def count(self, graph: str) -> int:
        """Number of triples in a named graph."""

    def update(self, sparql: str, base_iri: str | None = None) -> None:
        """A SPARQL Update, applied as one transaction where the store allows it; relative IRIs resolve
        against ``base_iri`` when given."""

    def replace_graph(self, graph: str, staging: str, data: Path, then: str = "") -> int:
        """Make ``graph`` hold exactly the triples of the RDF file ``data`` (staging, then MOVE), running
        the update ``then`` in the same request as the MOVE; returns the new triple count of ``graph``."""


def solutions(store: TripleStore, sparql: str) -> ox.QuerySolutions:
    """The rows of a SELECT, streamed (``select`` makes a list of them)."""
    result = store.query(sparql)
    if not isinstance(result, ox.QuerySolutions):
        raise StoreError("expected a SELECT query")
    return result


def insert_data(graph: str, triples: Iterable[ox.Triple]) -> str:
    """An ``INSERT DATA`` operation; terms are written by pyoxigraph, so escaping is its job."""
    body = " .\n".join(str(triple) for triple in triples)
    return f"INSERT DATA {{ GRAPH <{graph}> {{\n{body} .\n}} }}" if body else ""
