"""``transiscope serve`` under load: many small queries at once, with slow clients holding connections.

    .venv/bin/python bench/serve_load.py [--clients 200] [--queries 20] [--slow 20] [--size 10000]
                                          [--against OTHER_CHECKOUT]

A store of ``--size`` synthetic initiatives (bench/synthetic.py) is loaded once; then the endpoint runs as its
own process (``python -m transiscope serve`` on 127.0.0.1, 2 query workers) while ``--slow`` clients open
connections and trickle a request's headers one byte a second, and ``--clients`` threads each send
``--queries`` small queries (an ASK, a SELECT … LIMIT 5, a COUNT over one class), one connection per query.
Printed per server: the share of queries answered 200, the other outcomes (HTTP status or connection error),
p50/p95/max latency, the server process's peak RSS (VmHWM, workers not included), and how many slow clients
the server had closed at the end. ``--against`` runs the same load on the code of another checkout (e.g. a
worktree of an earlier commit) in the same run, and prints both rows side by side.

Bounded: every request has a 60 s client time-out; the slow clients stop after the load; nothing but
127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["GX_ANALYTICS_ENABLED"] = "False"

from bench.synthetic import records
from transiscope.core import vocab
from transiscope.ingest import rdf
from transiscope.settings import DEFAULT_BASE_IRI
from transiscope.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]
QUERIES = (
    "ASK { ?s a <https://w3id.org/transiscope/ontology#Initiative> }",
    "SELECT ?s ?n WHERE { ?s <http://schema.org/name> ?n } LIMIT 5",
    "SELECT (COUNT(?s) AS ?c) WHERE { ?s a <https://w3id.org/transiscope/ontology#Initiative> }",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_store(home: Path, size: int) -> None:
    data = home / "bench.nt"
    rdf.write_ntriples(records(size, bad_share=0), DEFAULT_BASE_IRI, data)
    with EmbeddedStore(home / "store") as store:
        store.replace_graph(
            vocab.source_graph(DEFAULT_BASE_IRI, "bench"), vocab.staging_graph(DEFAULT_BASE_IRI, "bench"), data
        )
    data.unlink()


def start_server(checkout: Path, home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TRANSISCOPE_HOME": str(home), "PYTHONPATH": str(checkout)}
    process = subprocess.Popen(
        [sys.executable, "-m", "transiscope", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=checkout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):  # up to 30 s to answer
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/sparql?query=" + urllib.parse.quote("ASK {}"))
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server of {checkout.name} did not answer within 30 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slow_client(port: int, stop: threading.Event, closed: list[bool]) -> None:
    """Headers one byte a second, never finished: does the server let go of the connection?"""
    head = b"POST /sparql HTTP/1.1\r\nHost: bench\r\nContent-Type: application/sparql-query\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            for byte in head * 10:
                if stop.is_set():
                    return
                sock.sendall(bytes([byte]))
                stop.wait(1.0)
    except OSError:
        closed.append(True)


def load(port: int, clients: int, per_client: int) -> tuple[Counter[str], list[float]]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(index: int) -> None:
        start.wait()
        for i in range(per_client):
            query = QUERIES[(index + i) % len(QUERIES)]
            body = urllib.parse.urlencode({"query": query})
            began = time.perf_counter()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request(
                    "POST",
                    "/sparql",
                    body,
                    {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"},
                )
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
                connection.close()
            except OSError as exc:
                outcome = type(exc).__name__
            took = time.perf_counter() - began
            with lock:
                outcomes[outcome] += 1
                if outcome == "200":
                    latencies.append(took)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, latencies


def measure(name: str, checkout: Path, home: Path, args: argparse.Namespace) -> str:
    port = free_port()
    server = start_server(checkout, home, port)
    stop = threading.Event()
    closed: list[bool] = []
    slow = [threading.Thread(target=slow_client, args=(port, stop, closed)) for _ in range(args.slow)]
    try:
        for thread in slow:
            thread.start()
        time.sleep(1)
        began = time.perf_counter()
        outcomes, latencies = load(port, args.clients, args.queries)
        wall = time.perf_counter() - began
        rss = peak_rss_mb(server.pid)
    finally:
        stop.set()
        for thread in slow:
            thread.join()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    total = sum(outcomes.values())
    others = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()) if k != "200") or "none"
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    return (
        f"{name:<10} {outcomes['200'] / total:>8.1%} {statistics.median(latencies) * 1000:>8.0f} "
        f"{p95 * 1000:>8.0f} {latencies[-1] * 1000 if latencies else float('nan'):>8.0f} {wall:>7.1f} "
        f"{rss:>7.0f} {len(closed):>4}/{args.slow:<4} {others}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--slow", type=int, default=20)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--against", type=Path, help="another checkout to run the same load on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as work:
        home = Path(work)
        build_store(home, args.size)
        print(f"{args.clients} clients x {args.queries} queries, {args.slow} slow clients, {args.size:,} initiatives")
        print(
            f"{'server':<10} {'answered':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'wall s':>7} "
            f"{'RSS MB':>7} slow closed  other outcomes"
        )
        print(measure("this", ROOT, home, args), flush=True)
        if args.against:
            print(measure(args.against.name, args.against.resolve(), home, args), flush=True)


if __name__ == "__main__":
    main()
