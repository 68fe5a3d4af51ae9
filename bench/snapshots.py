"""What publishing the readers' snapshot costs the embedded store's writers, and what opening it costs readers.

    .venv/bin/python bench/snapshots.py [--sizes 10000 100000] [--runs 5]

For each size, synthetic initiatives (bench/synthetic.py) are mapped to N-Triples and loaded into a fresh
store through ``replace_graph`` (the pipeline's first load). Then, median of ``--runs``: ``publish`` (one
``Store.backup`` into a new folder, the pointer swap and the clean-up of the previous snapshot, what every
writer's close now adds), a small update then ``publish`` (the usual case: a run writing its provenance),
``publish after compaction`` (the files of the store all rewritten), and a reader's ``open`` (pin + read-only
open of the snapshot, what every query of ``transiscope serve`` pays) against opening the store directory
read-only as readers did before. Last, the disk a snapshot takes beyond the store (files that are not
hard links shared with it): nothing while the store has not compacted since, about the store's size for a
snapshot a reader still holds across a full compaction.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyoxigraph as ox

from bench.synthetic import records
from transiscope.core import vocab
from transiscope.ingest import rdf
from transiscope.settings import DEFAULT_BASE_IRI
from transiscope.store import snapshots
from transiscope.store.embedded import EmbeddedStore


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def own_bytes(folder: Path) -> int:
    """Bytes of the files of ``folder`` that no other folder shares (one link only)."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.stat().st_nlink == 1)


HEADER = "size        triples   store MB  publish  update+publish  publish after compaction  open  open (before)"


def measure(size: int, work: Path, runs: int) -> None:
    """One size: load a fresh store, time publishing and opening, print one row and the disk figures."""
    data = work / f"{size}.nt"
    triples = rdf.write_ntriples(records(size, bad_share=0), DEFAULT_BASE_IRI, data)
    path = work / f"store-{size}"
    graph = vocab.source_graph(DEFAULT_BASE_IRI, "bench")
    with EmbeddedStore(path) as store:
        store.replace_graph(graph, vocab.staging_graph(DEFAULT_BASE_IRI, "bench"), data)
        writer = {"store": store._store}  # cleared after the block: its last reference holds the lock
        writer["store"].optimize()
        store_mb = sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 1e6
        publish = median_seconds(lambda: snapshots.publish(writer["store"], path), runs)

        def update_then_publish() -> None:
            writer["store"].update(f'INSERT DATA {{ GRAPH <{graph}> {{ <urn:x> <urn:p> "{time.time_ns()}" }} }}')
            snapshots.publish(writer["store"], path)

        updated = median_seconds(update_then_publish, runs)

        def compact_then_publish() -> float:
            writer["store"].optimize()  # not timed: only what the publish costs after it
            started = time.perf_counter()
            snapshots.publish(writer["store"], path)
            return time.perf_counter() - started

        after = statistics.median(compact_then_publish() for _ in range(runs))
        writer.clear()
    root = snapshots.snapshots_dir(path)
    current = snapshots.current_name(root)
    assert current is not None
    shared = own_bytes(root / current)

    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"

    def open_snapshot() -> None:
        with EmbeddedStore(path, read_only=True) as reader:
            reader.select(count)

    def open_directory() -> None:  # the same count, on the store's own directory (nobody writes it here)
        result = ox.Store.read_only(str(path)).query(count, use_default_graph_as_union=True)
        assert isinstance(result, ox.QuerySolutions)
        list(result)

    opened = median_seconds(open_snapshot, runs)
    before = median_seconds(open_directory, runs)
    print(
        f"{size:<8,} {triples:>10,} {store_mb:>10.0f} {publish * 1000:>6.0f} ms {updated * 1000:>11.0f} ms "
        f"{after * 1000:>22.0f} ms {opened * 1000:>4.0f} ms {before * 1000:>10.0f} ms"
    )
    held = EmbeddedStore(path, read_only=True)
    with EmbeddedStore(path) as store:
        store.update(f'INSERT DATA {{ GRAPH <{graph}> {{ <urn:x> <urn:p> "last" }} }}')
        store._store.optimize()
    pinned = held._pin.path if held._pin else root
    print(
        f"  disk beyond the store: current snapshot {shared / 1e6:.1f} MB; a snapshot held by a reader "
        f"across a full compaction {own_bytes(pinned) / 1e6:.0f} MB (freed when it closes)",
        flush=True,
    )
    held.close()
    shutil.rmtree(path)
    shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-snapshots-"))
    print(HEADER)
    try:
        for size in args.sizes:
            measure(size, work, args.runs)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
