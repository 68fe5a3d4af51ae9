"""Pipeline stages and query latency at 100k initiatives, through the real code paths.

    .venv/bin/python bench/queries.py [--size 100000] [--runs 5] [--json]

A synthetic GoGoCarto payload (bench/synthetic.py) is served on 127.0.0.1 and loaded by
``pipeline.run_source`` into a fresh embedded store (per-stage seconds printed), then each example query
of ``queries/`` is timed: in-process on the read-only store, and through ``transiscope serve`` over HTTP
(the same query, JSON results). Median and p95 over ``--runs`` warm runs, side by side. The link step runs
first (it writes the source overlap's statistics). Where a query reads the statistics graphs, the scan it
replaces (``queries/scans/``, ``OVERLAP_SCAN``) is timed in the same run, in-process: the "scan" column.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["GX_ANALYTICS_ENABLED"] = "False"

from bench.synthetic import gogocarto_payload
from transiscope import runs
from transiscope.settings import PROJECT_ROOT


def serve_bytes(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/elements.json"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="transiscope-bench-"))
    with (PROJECT_ROOT / "transforms" / "mappings" / "transiscope.toml").open("rb") as handle:
        labels = list(tomllib.load(handle)["categories"])
    started = time.perf_counter()
    body = json.dumps(gogocarto_payload(args.size, labels=labels)).encode()
    generate = time.perf_counter() - started
    server, url = serve_bytes(body)
    registry = work / "sources.toml"
    registry.write_text(
        f'[[source]]\nid = "bench"\nname = "Bench"\nformat = "gogocarto"\nurl = "{url}"\nlicence = "ODbL-1.0"\n'
        f'mapping = "{PROJECT_ROOT / "transforms" / "mappings" / "transiscope.toml"}"\n',
        encoding="utf-8",
    )
    (work / "expectations").mkdir()
    for name in ("initiatives.json", "events.json"):
        (work / "expectations" / name).write_bytes((PROJECT_ROOT / "expectations" / name).read_bytes())
    (work / "expectations" / "bench.json").write_text('{"name": "bench", "expectations": []}')
    os.environ.update(
        TRANSISCOPE_HOME=str(work / "home"),
        TRANSISCOPE_REGISTRY=str(registry),
        TRANSISCOPE_EXPECTATIONS_DIR=str(work / "expectations"),
    )

    from transiscope.downstream.link.linker import run_link
    from transiscope.ingest import pipeline
    from transiscope.serve.app import example_queries
    from transiscope.serve.endpoint import Endpoint, ServeSettings
    from transiscope.serve.sparql import with_prefixes
    from transiscope.settings import Settings
    from transiscope.store.embedded import EmbeddedStore
    from transiscope.store.statistics import OVERLAP_SCAN

    started = time.perf_counter()
    summary = pipeline.run_source("bench")
    total = time.perf_counter() - started
    assert summary.outcome == "success", summary.error
    run = runs.read_run(Path(summary.run_dir))
    stages = {name: stage["seconds"] for name, stage in run["stages"].items()}
    server.shutdown()

    settings = Settings.from_env()
    started = time.perf_counter()
    link = run_link(settings)
    stages["link"] = time.perf_counter() - started
    stages.update({f"  {name}": seconds for name, seconds in link.seconds.items()})
    scans = {path.stem: path.read_text(encoding="utf-8") for path in (PROJECT_ROOT / "queries" / "scans").glob("*.rq")}
    scans["source-overlap"] = "PREFIX owl: <http://www.w3.org/2002/07/owl#>\n" + OVERLAP_SCAN
    endpoint = Endpoint(settings, ServeSettings(port=0, timeout=120, max_bytes=2**31, workers=1))
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{endpoint.server_address[1]}/sparql"
    latencies = []
    for example in example_queries():
        sparql = with_prefixes(example["query"])
        direct, http = [], []
        for i in range(args.runs + 1):
            t = time.perf_counter()
            with EmbeddedStore(settings.store_path, read_only=True) as store:
                rows = sum(1 for _ in store.query(sparql))
            if i:
                direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            request = urllib.request.Request(
                base,
                data=urllib.parse.urlencode({"query": example["query"]}).encode(),
                headers={"Accept": "application/sparql-results+json"},
            )
            with urllib.request.urlopen(request, timeout=300) as response:
                response.read()
            if i:
                http.append(time.perf_counter() - t)
        scan: list[float] = []
        if example["id"] in scans:
            for i in range(min(args.runs, 3) + 1):
                t = time.perf_counter()
                with EmbeddedStore(settings.store_path, read_only=True) as store:
                    sum(1 for _ in store.query(with_prefixes(scans[example["id"]])))
                if i:
                    scan.append(time.perf_counter() - t)
        latencies.append(
            {
                "query": example["id"],
                "rows": rows,
                "scan_median": statistics.median(scan) if scan else None,
                "direct_median": statistics.median(direct),
                "direct_p95": percentile(direct, 0.95),
                "http_median": statistics.median(http),
                "http_p95": percentile(http, 0.95),
            }
        )
    endpoint.shutdown()
    endpoint.server_close()

    result = {
        "size": args.size,
        "payload_mb": round(len(body) / 1e6, 1),
        "generate_s": round(generate, 2),
        "counts": summary.counts,
        "stages_s": stages,
        "run_total_s": round(total, 2),
        "queries": latencies,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c = summary.counts
    print(
        f"{args.size:,} initiatives, payload {result['payload_mb']} MB; fetched {c['fetched']:,}, loaded "
        f"{c['loaded']:,}, quarantined {c['quarantined']:,}, {c['triples']:,} triples"
    )
    print("stage      seconds  records/s")
    for name, seconds in stages.items():
        print(f"{name:<10} {seconds:>7.2f}  {c['fetched'] / seconds if seconds else 0:>9,.0f}")
    print(f"{'whole run':<10} {total:>7.2f}  (including reports)")
    print(
        f"\nquery latency over {args.runs} warm runs (s)          rows   direct med/p95     HTTP med/p95   "
        "HTTP/direct   scan med  scan/direct"
    )
    for q in latencies:
        scan_text = (
            f"{q['scan_median']:>9.3f}  {q['scan_median'] / q['direct_median']:>9.0f}×" if q["scan_median"] else ""
        )
        print(
            f"{q['query']:<40} {q['rows']:>7}  {q['direct_median']:>7.3f} {q['direct_p95']:>7.3f}  "
            f"{q['http_median']:>7.3f} {q['http_p95']:>7.3f}   {q['http_median'] / q['direct_median']:>5.2f}×"
            f"  {scan_text}"
        )


if __name__ == "__main__":
    main()
