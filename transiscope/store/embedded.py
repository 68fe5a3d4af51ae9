"""The triplestore behind the bus: the embedded pyoxigraph store on disk (the default).

Why staging + MOVE: a Graph Store ``PUT`` (or clear-then-load) leaves an empty or half-filled live
graph if the load dies half-way. Here the new triples are bulk-loaded into a staging graph, which
nobody reads, and one SPARQL Update moves it over the live graph and writes the run's provenance;
pyoxigraph runs an update as one transaction, so readers see the old graph or the new one.

pyoxigraph takes a single-writer lock on the directory; a second process gets :class:`StoreLocked`.
Readers never open that directory: each writer publishes a snapshot when it closes the store, and a store
opened ``read_only`` is the latest snapshot (see :mod:`transiscope.store.snapshots` for why).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from transiscope.core.errors import ConfigError, StoreError, StoreLocked
from transiscope.core.sparql_lexer import declares_dataset
from transiscope.store import graph_diff, snapshots
from transiscope.store.base import QueryDataset, Row, TripleStore

if TYPE_CHECKING:
    from transiscope.settings import Settings

STORE_KINDS = ("embedded", "remote")


def open_store(settings: Settings, *, read_only: bool = False) -> TripleStore:
    """The store the configuration names (``TRANSISCOPE_STORE``: embedded, the default, or remote)."""
    if settings.store.kind == "embedded":
        return EmbeddedStore(settings.store_path, read_only=read_only)
    if settings.store.kind == "remote":
        from transiscope.store.remote import RemoteStore

        return RemoteStore(settings.store, read_only=read_only)
    raise ConfigError(f"TRANSISCOPE_STORE={settings.store.kind!r} is not one of {', '.join(STORE_KINDS)}")


_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".nq": ox.RdfFormat.N_QUADS}
#: above this size an N-Triples file goes to an empty graph through the bulk loader (below, one INSERT DATA)
_BULK_BYTES = 1_000_000
#: lines (triples) per bulk-loader call: bounds its memory (see EmbeddedStore._bulk_first_load)
_BULK_LINES = 50_000
#: compact the store on close after this many triples written in bulk (see EmbeddedStore.close)
_COMPACT_AFTER = 100_000
#: rough size of one triple in an update, to count the triples of a large INSERT/DELETE DATA
_BYTES_PER_TRIPLE = 150


#: while ``depth`` > 0, embedded stores closed in this process leave their compaction to the end of the batch
_DEFERRED: dict[str, Any] = {"depth": 0, "pending": False}


@contextlib.contextmanager
def compaction_deferred(settings: Settings) -> Iterator[None]:
    """Within the block, the embedded store is not compacted each time it closes, but once at the end if it
    was written in bulk.

    Why: a compaction rewrites the files a bulk load overlaps, and in an index that does not start with the
    graph every load overlaps the whole store; measured at 20,000 initiatives, compacting after the fourth
    source's load took 1.2 s for a load of 0.6 s. ``transiscope run`` loads source after source, and nobody
    reads in between: one compaction after the last load costs about as much as one of them.
    """
    _DEFERRED["depth"] += 1
    try:
        yield
    finally:
        _DEFERRED["depth"] -= 1
        if _DEFERRED["depth"] == 0 and _DEFERRED["pending"]:
            _DEFERRED["pending"] = False
            if settings.store.kind == "embedded":
                compact(settings.store_path)


def compact(path: Path) -> None:
    """Compact an embedded store now (see :meth:`EmbeddedStore.close`); a busy store is left for later."""
    try:
        with EmbeddedStore(path) as store:
            store._store.optimize()
    except (StoreError, OSError):
        pass  # another writer has it: its own close compacts what it wrote


class EmbeddedStore:
    """A pyoxigraph store in a directory. Use as a context manager so the lock is released."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        #: triples written by the bulk loader or by large updates since the store was opened (see close)
        self._bulk_written = 0
        #: read-only: the published snapshot this store is, pinned until close
        self._pin: snapshots.Pin | None = None
        try:
            if read_only:
                self._store = self._open_snapshot()
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as exc:
            if self._pin is not None:
                self._pin.release()
            if "lock" in str(exc).lower():
                raise StoreLocked(
                    f"the embedded store {self.path} is being written by another process (one writer at a "
                    "time); wait for that run to finish, or point TRANSISCOPE_HOME elsewhere"
                ) from None
            raise StoreError(f"cannot open the embedded store {self.path}: {exc}") from None

    def _open_snapshot(self) -> ox.Store:
        """The latest published snapshot, pinned, opened read-only (nobody writes a snapshot).

        A store written before snapshots existed has none yet: the reader publishes the first one itself
        if nobody writes the store (taking the writer's lock for the few milliseconds of the backup), and
        otherwise gets :class:`StoreLocked` — never a read of a directory being written."""
        if not (self.path / "CURRENT").exists():
            raise StoreError(f"no store at {self.path} yet: run `transiscope run` first to load the sources")
        self._pin = snapshots.pin_current(self.path)
        if self._pin is None:
            EmbeddedStore(self.path).close()  # a writer's close publishes
            self._pin = snapshots.pin_current(self.path)
        if self._pin is None:
            raise StoreError(f"no snapshot of the embedded store {self.path} could be published")
        return ox.Store.read_only(str(self._pin.path))

    def __enter__(self) -> EmbeddedStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            self.close()
            return
        with contextlib.suppress(StoreError):  # the error of the block is the one to report
            self.close()

    def close(self) -> None:
        """Compact what this session wrote in bulk, flush, publish the snapshot readers open, and release
        the directory lock (a read-only store releases its snapshot).

        Why publish on close rather than after each transaction: a run's session is a handful of updates
        (the load, its provenance), every one of which leaves the store consistent, and readers only need
        a committed state, not every one of them; a backup per update would multiply files for nothing.
        A writer that dies without closing publishes nothing: readers keep the previous snapshot, and the
        next writer's close publishes everything since.

        Why compact here: the bulk loader and large updates leave many small overlapping files, which RocksDB
        merges in the background — but the bus's processes are short-lived, so that rarely happened and every
        reader paid for it. Measured on 100,000 initiatives (3.5 M triples, 160 files): scanning one predicate
        took 3.6 s, 0.75 s after compaction (45 files); exports read twenty of them. Compacting costs about
        the size of what was just written (1.5 s per 1.4 M triples), and nothing on an already compact store.
        """
        store = self.__dict__.pop("_store", None)
        failure: OSError | None = None
        if store is not None and not self.read_only:
            with contextlib.suppress(OSError):
                if self._bulk_written >= _COMPACT_AFTER:
                    if _DEFERRED["depth"]:
                        _DEFERRED["pending"] = True  # compacted once, at the end of the batch
                    else:
                        store.optimize()
                store.flush()
            try:
                snapshots.publish(store, self.path)
            except OSError as exc:
                failure = exc
        del store  # dropping the last reference releases the directory lock (or the snapshot's files)
        if self._pin is not None:
            self._pin.release()
            self._pin = None
            with contextlib.suppress(OSError):
                snapshots.collect(snapshots.snapshots_dir(self.path))  # what writers could not remove
        if failure is not None:
            raise StoreError(
                f"the embedded store {self.path} was written but its snapshot for readers could not be "
                f"published ({failure}); readers see the previous state until the next write"
            )

    # -- reading -------------------------------------------------------------------------------
    def query(
        self, sparql: str, dataset: QueryDataset | None = None
    ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
        try:
            base_iri = dataset.base_iri if dataset else None
            if dataset is None or not dataset.chosen:
                # the default graph is the union of the graphs, unless the query names its own with FROM
                union = not declares_dataset(sparql)
                return self._store.query(sparql, use_default_graph_as_union=union, base_iri=base_iri)
            return self._store.query(
                sparql,
                default_graph=[ox.NamedNode(g) for g in dataset.default_graphs],
                named_graphs=[ox.NamedNode(g) for g in dataset.named_graphs],
                base_iri=dataset.base_iri,
            )
        except SyntaxError as exc:
            raise StoreError(f"the SPARQL query is not valid: {exc}") from None

    def select(self, sparql: str) -> list[Row]:
        """A SELECT as a list of ``{variable: term}`` rows (unbound variables left out)."""
        result = self.query(sparql)
        if not isinstance(result, ox.QuerySolutions):
            raise StoreError("expected a SELECT query")
        names = [v.value for v in result.variables]
        return [{name: row[name] for name in names if row[name] is not None} for row in result]

    def count(self, graph: str) -> int:
        rows = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")
        return int(rows[0]["n"].value)

    def named_graphs(self) -> Iterator[str]:
        for graph in self._store.named_graphs():
            yield graph.value

    # -- writing -------------------------------------------------------------------------------
    def update(self, sparql: str, base_iri: str | None = None) -> None:
        self._bulk_written += len(sparql) // _BYTES_PER_TRIPLE
        try:
            self._store.update(sparql, base_iri=base_iri)
        except SyntaxError as exc:
            raise StoreError(f"the SPARQL update is not valid: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise StoreError(f"the store refused the update: {exc}") from None

    def replace_graph(self, graph: str, staging: str, data: Path, then: str = "") -> int:
        """Make ``graph`` hold exactly the triples of ``data``; returns its new triple count.

        ``then`` is more SPARQL Update run in the same transaction as the swap (provenance). On disk,
        graph-wide writes are slow (see :mod:`transiscope.store.graph_diff`), so the swap is done by
        difference: one update that deletes the triples that went away and inserts the new ones. A first
        load bulk-loads straight into the empty graph (there is nothing to protect; on failure the graph
        is removed again). Graphs with blank nodes take the staging + MOVE path.
        """
        if data.suffix not in _FORMATS:
            raise StoreError(f"cannot load {data.name}: unknown RDF file extension")
        if data.suffix == ".nt" and data.stat().st_size > _BULK_BYTES and self.count(graph) == 0:
            return self._bulk_first_load(graph, data, then)
        try:
            new = graph_diff.file_lines(data)
        except (OSError, SyntaxError, ValueError) as exc:
            raise StoreError(f"reading {data.name} failed: {exc}") from None
        if new is None:
            return self._replace_by_move(graph, staging, data, then)
        if self.count(graph) == 0:
            return self._first_load(graph, data, new, then)
        old = graph_diff.graph_lines(self._store, graph)
        if old is None:
            return self._replace_by_move(graph, staging, data, then)
        update, removed, added = graph_diff.diff_update(graph, old, new, then)
        if update:
            self.update(update)
        return self.count(graph)

    def _first_load(self, graph: str, data: Path, lines: set[str], then: str) -> int:
        """A small file into an empty graph: one INSERT DATA with the provenance (one transaction)."""
        update, _, _ = graph_diff.diff_update(graph, set(), lines, then)
        if update:
            self.update(update)
        return self.count(graph)

    def _bulk_first_load(self, graph: str, data: Path, then: str) -> int:
        """A large N-Triples file into an empty graph through the bulk loader (no transaction log), in
        chunks of lines, then the provenance. There is no previous graph to protect; if either step fails,
        the graph is removed again so that no half-loaded graph stays live.

        Why chunks: the bulk loader sorts a whole call's quads in memory — measured on 1.4 M triples, one
        call peaked at 1.1 GB and took 6.8 s, calls of 50,000 lines peaked at 0.1 GB and took 5.2 s.
        An N-Triples line is one whole triple, so cutting between lines never cuts a triple."""
        node = ox.NamedNode(graph)
        try:
            with data.open("rb") as handle:
                while chunk := b"".join(itertools.islice(handle, _BULK_LINES)):
                    self._store.bulk_load(chunk, format=ox.RdfFormat.N_TRIPLES, to_graph=node)
                    self._bulk_written += _BULK_LINES
            if then:
                self.update(then)
        except (OSError, SyntaxError, ValueError, StoreError) as exc:
            with contextlib.suppress(OSError):
                self._store.remove_graph(node)
            raise StoreError(f"loading {data.name} into {graph} failed: {exc}") from None
        return self.count(graph)

    def _replace_by_move(self, graph: str, staging: str, data: Path, then: str) -> int:
        fmt = _FORMATS[data.suffix]
        staging_node = ox.NamedNode(staging)
        if self._store.contains_named_graph(staging_node):
            self._store.remove_graph(staging_node)
        try:
            self._store.load(path=str(data), format=fmt, to_graph=staging_node)
        except (OSError, SyntaxError, ValueError) as exc:
            with contextlib.suppress(OSError):
                self._store.remove_graph(staging_node)
            raise StoreError(f"loading {data.name} into the staging graph failed: {exc}") from None
        # Not MOVE SILENT: with a missing staging graph it empties the live graph; plain MOVE fails
        # instead and the whole transaction (provenance included) is rolled back.
        swap = f"MOVE GRAPH <{staging}> TO GRAPH <{graph}>"
        self.update(swap + (" ;\n" + then if then else ""))
        return self.count(graph)
