"""Loading and querying the three stores side by side: embedded pyoxigraph, Oxigraph server, Virtuoso.

    .venv/bin/python bench/stores.py [--sizes 10000 100000] [--runs 5] [--stores embedded oxigraph virtuoso]

For each size, synthetic initiatives (bench/synthetic.py, no bad records) are mapped to N-Triples once,
then loaded into a fresh graph of each store through ``replace_graph``, the path the pipeline takes:
``first load`` into an empty graph, then ``replace``, the same file again over the full graph (staging +
swap). Rows give records, triples, seconds, triples/s and the ratio of seconds to the embedded store's.
Then, on the largest graph, the median of ``--runs`` runs (after one warm-up) of a few queries per store.

The servers are started on 127.0.0.1 by tests/integration/servers.py (the oxigraph binary of the dev
extra; Virtuoso from the Debian package virtuoso-opensource) and stopped at the end.
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

from bench.synthetic import records
from tests.integration.servers import Server, start_oxigraph, start_virtuoso
from transiscope.core import vocab
from transiscope.ingest import rdf
from transiscope.settings import DEFAULT_BASE_IRI
from transiscope.store.base import TripleStore
from transiscope.store.embedded import EmbeddedStore
from transiscope.store.remote import RemoteStore

STORES = ("embedded", "oxigraph", "virtuoso")

QUERIES = {
    "count by category": """SELECT ?category (COUNT(?i) AS ?n) WHERE {{ GRAPH <{graph}> {{
        ?i <https://w3id.org/transiscope/ontology#category> ?category }} }} GROUP BY ?category ORDER BY DESC(?n)""",
    "bbox filter (1x1 deg)": """SELECT ?i ?lat ?lon WHERE {{ GRAPH <{graph}> {{
        ?i <http://www.opengis.net/ont/geosparql#hasGeometry> ?g .
        ?g <http://schema.org/latitude> ?lat ; <http://schema.org/longitude> ?lon }}
        FILTER(?lat >= 45.0 && ?lat <= 46.0 && ?lon >= 4.0 && ?lon <= 5.0) }}""",
    "count initiatives": """SELECT (COUNT(?i) AS ?n) WHERE {{ GRAPH <{graph}> {{
        ?i a <https://w3id.org/transiscope/ontology#Initiative> }} }}""",
}


def opener(kind: str, work: Path, servers: dict[str, Server]) -> Callable[[], TripleStore]:
    if kind == "embedded":
        return lambda: EmbeddedStore(work / "embedded-store")
    server = servers[kind]
    return lambda: RemoteStore(server.settings())


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(
            str(c).rjust(w) if c[:1].isdigit() or c == "-" else str(c).ljust(w)
            for c, w in zip(row, widths, strict=True)
        )
        for row in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5, help="query runs per store (median reported)")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-stores-"))
    servers: dict[str, Server] = {}
    try:
        if "oxigraph" in args.stores:
            servers["oxigraph"] = start_oxigraph(work)
        if "virtuoso" in args.stores:
            servers["virtuoso"] = start_virtuoso(work)
        load_rows: list[list[str]] = []
        graphs: dict[str, str] = {}
        for size in args.sizes:
            data = work / f"{size}.nt"
            started = time.perf_counter()
            triples = rdf.write_ntriples(records(size, bad_share=0), DEFAULT_BASE_IRI, data)
            print(
                f"{size:,} records -> {triples:,} triples, {data.stat().st_size / 1e6:.0f} MB of N-Triples "
                f"in {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
            )
            graph = vocab.source_graph(DEFAULT_BASE_IRI, f"bench{size}")
            staging = vocab.staging_graph(DEFAULT_BASE_IRI, f"bench{size}")
            base: dict[str, float] = {}
            for kind in args.stores:
                for step in ("first load", "replace"):
                    with opener(kind, work, servers)() as store:
                        started = time.perf_counter()
                        loaded = store.replace_graph(graph, staging, data)
                        seconds = time.perf_counter() - started
                    if loaded != triples:
                        raise SystemExit(f"{kind}: {loaded} triples in the graph, {triples} written")
                    if kind == "embedded":
                        base[step] = seconds
                    ratio = f"{seconds / base[step]:.2f}" if step in base else "-"
                    load_rows.append(
                        [kind, step, f"{size:,}", f"{triples:,}", f"{seconds:.1f}", f"{triples / seconds:,.0f}", ratio]
                    )
                    print(f"  {kind:9} {step:10} {seconds:7.1f} s", file=sys.stderr, flush=True)
            graphs = {kind: graph for kind in args.stores}
        print(
            "Loads through replace_graph (x embedded: seconds / embedded seconds; chunks of 50,000 triples "
            "to the servers through the Graph Store Protocol)\n"
        )
        print(table(["store", "step", "records", "triples", "seconds", "triples/s", "x embedded"], load_rows))
        largest = max(args.sizes)
        query_rows = []
        for name, template in QUERIES.items():
            row = [name]
            medians: dict[str, float] = {}
            for kind in args.stores:
                with opener(kind, work, servers)() as store:
                    sparql = template.format(graph=graphs[kind])
                    rows = len(store.select(sparql))  # warm-up
                    times = []
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        store.select(sparql)
                        times.append(time.perf_counter() - started)
                medians[kind] = statistics.median(times)
                row.append(f"{medians[kind] * 1000:.0f} ms ({rows} rows)")
            for kind in args.stores[1:]:
                row.append(f"{medians[kind] / medians[args.stores[0]]:.1f}")
            query_rows.append(row)
        print(
            f"\nQueries on the {largest:,}-initiative graph: median of {args.runs} runs after a warm-up, "
            "through each store's select() (remote: SPARQL JSON over HTTP, parsed by pyoxigraph)\n"
        )
        print(table(["query", *args.stores, *[f"{k}/{args.stores[0]}" for k in args.stores[1:]]], query_rows))
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
