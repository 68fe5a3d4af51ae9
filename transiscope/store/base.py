"""What the bus needs of a triplestore, whatever its kind: the protocol both stores implement, the shape of a
result row, and the one way updates write triples (so that escaping is pyoxigraph's job, never ours).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from transiscope.core.errors import StoreError

Row = dict[str, ox.NamedNode | ox.Literal | ox.BlankNode]


class TripleStore(Protocol):
    """What the bus needs of a triplestore; one implementation per kind (embedded, remote)."""

    def __enter__(self) -> TripleStore: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def close(self) -> None: ...

    def query(self, sparql: str) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        """Any SPARQL query; the default graph is the union of all named graphs."""

    def select(self, sparql: str) -> list[Row]:
        """A SELECT as a list of ``{variable: term}`` rows (unbound variables left out)."""

    def count(self, graph: str) -> int:
        """Number of triples in a named graph."""

    def update(self, sparql: str) -> None:
        """A SPARQL Update, applied as one transaction where the store allows it."""

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
