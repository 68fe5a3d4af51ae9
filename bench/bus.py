"""The whole bus offline at Transiscope scale: every stage of every source, then link, gaps and export.

    .venv/bin/python -m bench.bus [--size 100000] [--json] [--work DIR] [--no-profile]

What is measured. ``--size`` initiatives (5 % of them published twice, by two sources) and a tenth as many
events are generated in the real wire formats (bench/formats.py): a GoGoCarto ``elements.json``, Karte von
morgen entries behind ``/v0/search`` (tiled by bbox) and ``/v0/entries/{ids}``, a CSV directory
(Windows-1252, ``;``) and an OpenAgenda agenda (paginated with ``after``), with 2 % faulty records in each.
They are served from 127.0.0.1 by a small HTTP server that sends ``ETag`` / ``Last-Modified`` and answers
conditional requests with 304 (and OpenAgenda's ``updatedAt[gte]`` / ``removed`` queries). The registry reuses
the mapping files of ``transiscope`` (gogocarto), ``kvm-france``, ``amap-idf`` (csv) and
``agenda-transition`` (openagenda), with ``min_interval = 0`` (the real per-host politeness delays would
dominate a loopback benchmark).

The bus runs in a child process, in a fresh ``TRANSISCOPE_HOME`` with the embedded on-disk store and
``TRANSISCOPE_GEOCODER=none``: for each source extract, normalise, geocode, validate (GX), to_rdf, shapes
(SHACL), load; then the link, gaps and export steps. Per stage: wall seconds, records/s, triples/s and the
peak RSS of the stage (``VmHWM`` of the child, reset before each stage through ``/proc/self/clear_refs``).
Then a second child runs every source again with nothing changed at the sources (the incremental run).
The gaps step needs the shared territories data (``TRANSISCOPE_TERRITORIES_DIR``, by default
``../shared/data/territories`` next to the checkout).

Targets of the issue "Benchmarks at Transiscope scale", each printed as met / missed: 100,000 initiatives
ingested (extract → normalise → GX → SHACL → RDF → load into the on-disk store, all sources) in ≤ 30 s wall
and ≤ 1.5 GB peak RSS; 500,000 end to end in ≤ 6 GB; an incremental run ≤ 10 % of a full run. When one is
missed, the stages that took longest are listed and the slowest one is run again under cProfile, its top 15
written to ``var/bench/bus-profile-<source>-<stage>.txt``.

Figures are indicative: the machine's cores may be shared with other work.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import email.utils
import hashlib
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.formats import CSV, GOGOCARTO, KVM, OPENAGENDA, Corpus, build_corpus, kvm_hit, load_communes  # noqa: E402
from transiscope.ingest.stages import NAMES as SOURCE_STAGES  # noqa: E402 - the stage table, cheap to import

DOWNSTREAM = ("link", "gaps", "export")
#: the path (and query) of each source's real URL, served under /<source id>/
PATHS = {
    GOGOCARTO: "/api/elements.json?ontology=gogofull",
    KVM: "/v0/search",
    CSV: "/export/amap.csv",
    OPENAGENDA: "/v2/agendas/transition-citoyenne/events",
}
TARGET_SIZE, TARGET_INGEST_S, TARGET_INGEST_MB = 100_000, 30.0, 1536.0
TARGET_E2E_SIZE, TARGET_E2E_MB, TARGET_INCREMENTAL = 500_000, 6144.0, 0.10
PROFILE_DIR = ROOT / "var" / "bench"


# -- the payload server ------------------------------------------------------------------------------------
class PayloadServer:
    """The four sources on 127.0.0.1, answering like their real APIs (see the module docstring)."""

    def __init__(self, corpus: Corpus, modified: datetime) -> None:
        import numpy as np

        self.static: dict[str, tuple[bytes, str]] = {
            f"/{GOGOCARTO}/api/elements.json": (corpus.gogocarto_bytes(), "application/json; charset=utf-8"),
            f"/{CSV}/export/amap.csv": (corpus.csv_bytes(), "text/csv; charset=windows-1252"),
        }
        self.etags = {path: '"' + hashlib.sha1(body).hexdigest()[:20] + '"' for path, (body, _) in self.static.items()}
        self.last_modified = email.utils.format_datetime(modified, usegmt=True)
        self.entries = {entry["id"]: entry for entry in corpus.kvm_entries}
        self.hits = [kvm_hit(entry) for entry in corpus.kvm_entries]
        self.lat = np.array([p[0] for p in corpus.kvm_points])
        self.lon = np.array([p[1] for p in corpus.kvm_points])
        self.events = corpus.events
        self.requests = 0
        self.not_modified = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: without TCP_NODELAY each keep-alive request waits ~40 ms
            # for the client's delayed ACK, which would be measured as the bus's extract time
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                server.requests += 1
                status, body, headers = server.answer(self.path, self.headers)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, target: str, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if path in self.static:
            body, kind = self.static[path]
            validators = {"ETag": self.etags[path], "Last-Modified": self.last_modified}
            if headers.get("If-None-Match") == self.etags[path] or (
                not headers.get("If-None-Match") and headers.get("If-Modified-Since") == self.last_modified
            ):
                self.not_modified += 1
                return 304, b"", validators
            return 200, body, {"Content-Type": kind, **validators}
        if path == f"/{KVM}/v0/search":
            return 200, self._search(query), {"Content-Type": "application/json"}
        if path.startswith(f"/{KVM}/v0/entries/"):
            ids = unquote(path.rsplit("/", 1)[1]).split(",")
            found = [self.entries[i] for i in ids if i in self.entries]
            return 200, json.dumps(found, ensure_ascii=False).encode(), {"Content-Type": "application/json"}
        if path == f"/{OPENAGENDA}{PATHS[OPENAGENDA]}":
            return 200, self._agenda(query), {"Content-Type": "application/json"}
        return 404, b'{"error": "not found"}', {"Content-Type": "application/json"}

    def _search(self, query: dict[str, list[str]]) -> bytes:
        south, west, north, east = (float(v) for v in query["bbox"][0].split(","))
        limit = int(query.get("limit", ["100"])[0])
        inside = ((self.lat >= south) & (self.lat <= north) & (self.lon >= west) & (self.lon <= east)).nonzero()[0]
        visible = [self.hits[i] for i in inside[:limit]]
        return json.dumps({"visible": visible, "invisible": []}, ensure_ascii=False).encode()

    def _agenda(self, query: dict[str, list[str]]) -> bytes:
        if query.get("removed"):
            return json.dumps({"total": 0, "events": [], "after": None}).encode()
        events = self.events
        if "updatedAt[gte]" in query:
            since = datetime.fromisoformat(query["updatedAt[gte]"][0])
            events = [e for e in events if datetime.fromisoformat(e["updatedAt"]) >= since]
        size = int(query.get("size", ["20"])[0])
        start = int(query["after[]"][0]) if "after[]" in query else 0
        page = events[start : start + size]
        after = [start + size] if start + size < len(events) else None
        return json.dumps({"total": len(events), "events": page, "after": after}, ensure_ascii=False).encode()

    def __enter__(self) -> PayloadServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_registry(directory: Path, base_url: str) -> Path:
    """The project's registry entries of the four sources, fetching from the payload server."""
    with (ROOT / "transforms" / "sources.toml").open("rb") as handle:
        entries = {entry["id"]: entry for entry in tomllib.load(handle)["source"]}
    lines = []
    for source_id, path in PATHS.items():
        # no politeness delay on loopback; at 500,000 Karte von morgen needs over 3,000 batches of 50 ids
        entry = {
            **entries[source_id],
            "url": f"{base_url}/{source_id}{path}",
            "min_interval": 0,
            "max_requests": 100_000,
        }
        entry["mapping"] = str((ROOT / "transforms" / entry["mapping"]).resolve())
        entry.pop("sample", None)
        lines.append("[[source]]")
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items()]
        lines.append("")
    registry = directory / "sources.toml"
    registry.write_text("\n".join(lines), encoding="utf-8")
    return registry


# -- the child: the bus itself -----------------------------------------------------------------------------
def _vm_hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_hwm() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0), so the next reading is one stage's peak."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


class Meter:
    """Wall time and peak RSS of each stage the child runs."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.resettable = _reset_hwm()

    @contextlib.contextmanager
    def stage(self, source: str, name: str) -> Iterator[dict[str, Any]]:
        row: dict[str, Any] = {"source": source, "stage": name}
        self.resettable = _reset_hwm()
        started = time.perf_counter()
        try:
            yield row
        finally:
            row["seconds"] = time.perf_counter() - started
            row["peak_rss_mb"] = _vm_hwm_mb()
            self.rows.append(row)


def run_sources(settings: Any, meter: Meter, profile: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """Every source's stages, as ``pipeline.run_source`` runs them, each measured; or, with ``profile``
    (source, stage, stored run dir), a replay of one source's payload with that stage under cProfile."""
    from transiscope import runs
    from transiscope.core.errors import TransiscopeError
    from transiscope.ingest import replay
    from transiscope.ingest.mappings import load_registry
    from transiscope.ingest.run_context import NOT_MODIFIED, start_run
    from transiscope.ingest.stages import stage_named
    from transiscope.store.embedded import compaction_deferred

    outcomes: dict[str, Any] = {}
    sources = [s.id for s in load_registry(settings.registry_path).sources]
    with contextlib.ExitStack() as deferred:
        if profile is None:  # as in `transiscope run`: one store compaction after the last load
            deferred.enter_context(compaction_deferred(settings))
        for source_id in sources if profile is None else [profile[0]]:
            run_dir = start_run(source_id, settings=settings, runner="bench")
            stages = list(SOURCE_STAGES)
            if profile is not None and profile[1] != "extract":
                for name in replay.REPLAY_INPUTS:  # replay the stored payload: a fetch would be answered 304
                    if (Path(profile[2]) / name).exists():
                        shutil.copy2(Path(profile[2]) / name, run_dir / name)
                stages.remove("extract")
            try:
                for name in stages:
                    profiler = cProfile.Profile() if profile is not None and name == profile[1] else None
                    with meter.stage(source_id, name) as row:
                        if profiler:
                            profiler.enable()
                        stats = stage_named(name)(run_dir, settings)
                        if profiler:
                            profiler.disable()
                            out = io.StringIO()
                            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
                            outcomes["profile"] = out.getvalue()
                    row.update(_figures(name, stats, runs.read_run(run_dir)))
                    if profile is not None and name == profile[1]:
                        break
                    if name == "extract" and runs.read_run(run_dir)["outcome"] == NOT_MODIFIED:
                        row["not_modified"] = True
                        break
            except TransiscopeError as exc:
                outcomes.setdefault("errors", []).append(f"{source_id}: {exc}")
            run = runs.read_run(run_dir)
            outcomes[source_id] = {"outcome": run["outcome"], "counts": run.get("counts", {}), "run_dir": str(run_dir)}
        if profile is None:
            with meter.stage("(all)", "compact"):
                deferred.close()
    return outcomes


def _figures(name: str, stats: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """(records, triples) a stage worked on, from its own statistics and the run's."""
    stages = run["stages"]
    if name == "extract":
        return {"records": None, "bytes": stats.get("bytes"), "requests": stats.get("requests")}
    if name == "normalise":
        return {"records": stats["fetched"]}
    if name in ("geocode", "validate"):
        return {"records": stages["normalise"]["normalised"]}
    if name == "to_rdf":
        return {"records": stages["validate"]["valid"], "triples": stats["triples"]}
    if name == "shapes":
        return {"records": stages["validate"]["valid"], "triples": stats["checked_triples"]}
    return {"records": stats["loaded"], "triples": stats["triples"]}


def run_downstream(settings: Any, meter: Meter, only: str | None = None) -> dict[str, Any]:
    from transiscope.downstream import steps as downstream

    figures: dict[str, Any] = {}
    skipped = set(filter(None, os.environ.get("BENCH_BUS_SKIP", "").split(",")))
    for step in [s for s in DOWNSTREAM if s not in skipped] if only is None else [only]:
        with meter.stage("(all)", step) as row:
            result = downstream.run_step(step, settings)
        figures[step] = result.as_dict()
        f = result.figures
        row["records"] = {
            "link": f.get("records"),
            "gaps": f.get("items"),
            "export": (f.get("initiatives") or 0) + (f.get("events") or 0),
        }[step]
        row["triples"] = f.get("triples")
    return figures


def twin_recall(settings: Any, twins: list[list[list[str]]]) -> dict[str, Any]:
    """How many of the generated twins the link step joined (sameAs) or proposed (candidate)."""
    from transiscope.core import vocab
    from transiscope.downstream.link import linker as link
    from transiscope.store.embedded import EmbeddedStore

    truth = {frozenset((tuple(a), tuple(b))) for a, b in twins}
    with EmbeddedStore(settings.store_path, read_only=True) as store:
        found = store.select(f"""SELECT ?a ?b ?same WHERE {{ GRAPH <{link.links_graph(settings.base_iri)}> {{
            ?l a <{vocab.TS}DuplicateCandidate> ; <{vocab.TS}candidate> ?a, ?b . FILTER(STR(?a) < STR(?b))
            OPTIONAL {{ ?a <{link.OWL}sameAs> ?b BIND(true AS ?same) }} }} }}""")
    prefix = f"{settings.base_iri}id/initiative/"

    def key(iri: str) -> tuple[str, str]:
        return link.parse_record_ref(iri, settings.base_iri) if iri.startswith(prefix) else ("", iri)

    same = {frozenset((key(r["a"].value), key(r["b"].value))) for r in found if "same" in r}
    any_link = {frozenset((key(r["a"].value), key(r["b"].value))) for r in found}
    return {
        "twins": len(truth),
        "same_as_found": len(same & truth),
        "linked_found": len(any_link & truth),
        "same_as_not_twins": len(same - truth),
    }


def child(mode: str, config_path: Path) -> None:
    from transiscope.settings import Settings

    config = json.loads(config_path.read_text(encoding="utf-8"))
    settings = Settings.from_env()
    meter = Meter()
    started = time.perf_counter()
    result: dict[str, Any] = {"mode": mode, "peak_reset": meter.resettable, "baseline_rss_mb": _vm_hwm_mb()}
    if mode == "profile":
        source, stage_name, run_dir = config["profile"]
        if source == "(all)":
            profiler = cProfile.Profile()
            profiler.enable()
            run_downstream(settings, meter, only=stage_name)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
            result["profile"] = out.getvalue()
        else:
            result["profile"] = run_sources(settings, meter, (source, stage_name, run_dir)).get("profile", "")
    else:
        result["sources"] = run_sources(settings, meter)
        result["ingest_s"] = time.perf_counter() - started
        if mode == "full":
            result["downstream"] = run_downstream(settings, meter)
            result["link_truth"] = twin_recall(settings, config["twins"])
    result["wall_s"] = time.perf_counter() - started
    result["stages"] = meter.rows
    print(json.dumps(result, default=str))


# -- the parent: generate, serve, run, report --------------------------------------------------------------
def run_child(mode: str, config: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [sys.executable, "-m", "bench.bus", "--child", mode, str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"the {mode} run failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["rusage_children_max_mb"] = max(before, after) / 1024
    return result


def stage_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stage over all sources: seconds, records, triples, rates, peak RSS."""
    table = []
    for name in (*SOURCE_STAGES, "compact", *DOWNSTREAM):
        members = [r for r in rows if r["stage"] == name]
        if not members:
            continue
        seconds = sum(r["seconds"] for r in members)
        records = sum(r.get("records") or 0 for r in members) or None
        triples = sum(r.get("triples") or 0 for r in members) or None
        table.append(
            {
                "stage": name,
                "seconds": seconds,
                "records": records,
                "triples": triples,
                "records_per_s": records / seconds if records and seconds else None,
                "triples_per_s": triples / seconds if triples and seconds else None,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in members),
                "by_source": {r["source"]: round(r["seconds"], 2) for r in members},
            }
        )
    return table


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def print_table(title: str, table: list[dict[str, Any]], sources: list[str]) -> None:
    print(f"\n{title}")
    short = {GOGOCARTO: "gogocarto", KVM: "kvm", CSV: "csv", OPENAGENDA: "openagenda"}
    head = "".join(f"{short.get(s, s):>11}" for s in sources)
    print(
        f"{'stage':<10}{'seconds':>9}{'records':>10}{'rec/s':>10}{'triples':>11}{'triples/s':>11}"
        f"{'peak MB':>9}   seconds by source:{head}"
    )
    for row in table:
        by = "".join(f"{_fmt(row['by_source'].get(s), '.2f'):>11}" for s in sources)
        if row["stage"] in DOWNSTREAM:
            by = ""
        print(
            f"{row['stage']:<10}{row['seconds']:>9.2f}{_fmt(row['records'], ','):>10}"
            f"{_fmt(row['records_per_s'], ',.0f'):>10}{_fmt(row['triples'], ','):>11}"
            f"{_fmt(row['triples_per_s'], ',.0f'):>11}{row['peak_rss_mb']:>9,.0f}{'':>21}{by}"
        )


def verdicts(size: int, full: dict[str, Any], incremental: dict[str, Any]) -> list[dict[str, Any]]:
    rows = full["stages"]
    ingest_rows = [r for r in rows if r["stage"] in SOURCE_STAGES]
    ingest_s = sum(r["seconds"] for r in ingest_rows)
    ingest_mb = max(r["peak_rss_mb"] for r in ingest_rows)
    e2e_mb = max(r["peak_rss_mb"] for r in rows)
    ratio = incremental["ingest_s"] / full["ingest_s"]
    scale = TARGET_SIZE / size
    ran = {r["stage"] for r in rows}
    skipped = "".join(f" (no {step})" for step in DOWNSTREAM if step not in ran)

    def judged(at: int, ok: bool) -> str:
        return ("met" if ok else "missed") if size == at else f"not judged (target is at {at:,})"

    return [
        {
            "target": f"ingest {TARGET_SIZE:,} initiatives <= {TARGET_INGEST_S:.0f} s wall",
            "value": ingest_s,
            "unit": "s",
            "extrapolated_100k": ingest_s * scale,
            "verdict": judged(TARGET_SIZE, ingest_s <= TARGET_INGEST_S),
        },
        {
            "target": f"ingest {TARGET_SIZE:,} initiatives <= {TARGET_INGEST_MB / 1024:.1f} GB peak RSS",
            "value": ingest_mb,
            "unit": "MB",
            "verdict": judged(TARGET_SIZE, ingest_mb <= TARGET_INGEST_MB),
        },
        {
            "target": f"end to end {TARGET_E2E_SIZE:,} initiatives{skipped} <= {TARGET_E2E_MB / 1024:.0f} GB peak RSS",
            "value": e2e_mb,
            "unit": "MB",
            "verdict": judged(TARGET_E2E_SIZE, e2e_mb <= TARGET_E2E_MB),
        },
        {
            "target": f"incremental run <= {TARGET_INCREMENTAL:.0%} of a full run (sources' stages)",
            "value": ratio,
            "unit": "ratio",
            "verdict": "met" if ratio <= TARGET_INCREMENTAL else "missed",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="initiatives, twins included (default 100,000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of tables")
    parser.add_argument("--work", type=Path, help="working folder (default: a new temporary folder, kept)")
    parser.add_argument("--no-profile", action="store_true", help="no cProfile run when a target is missed")
    parser.add_argument("--skip", default="", help="downstream steps not to run, e.g. export or link,gaps")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return

    from transiscope.settings import shared_data_dir

    territories = Path(os.environ.get("TRANSISCOPE_TERRITORIES_DIR") or shared_data_dir() / "territories")
    if not (territories / "communes-cog2026-contours-simplifies.geojson").exists():
        raise SystemExit(
            f"bench/bus.py: the shared territories data is not in {territories}: the gaps step and the "
            "synthetic communes need it. Set TRANSISCOPE_TERRITORIES_DIR to the territories folder, or "
            "TRANSISCOPE_SHARED_DATA to the folder holding territories/ (default: ../shared/data next "
            "to the checkout)."
        )
    work = args.work or Path(tempfile.mkdtemp(prefix="transiscope-bench-bus-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    communes = load_communes(territories, cache)
    corpus = build_corpus(communes, args.size)
    generated = time.perf_counter() - started
    counts = corpus.counts()
    say(
        f"generated {sum(counts.values()):,} records in {generated:.1f} s: "
        + ", ".join(f"{s} {n:,}" for s, n in counts.items())
        + f"; {len(corpus.twins):,} twins; bad "
        + ", ".join(f"{s} {n}" for s, n in corpus.bad.items())
        + f"; work folder {work}"
    )

    modified = datetime.now().astimezone().replace(microsecond=0)
    with PayloadServer(corpus, modified) as server:
        registry = write_registry(work, server.base_url)
        config = work / "config.json"
        config.write_text(json.dumps({"twins": corpus.twins}), encoding="utf-8")
        home = work / "home"
        if home.exists():
            shutil.rmtree(home)
        env = {
            **os.environ,
            "TRANSISCOPE_HOME": str(home),
            "TRANSISCOPE_REGISTRY": str(registry),
            "TRANSISCOPE_STORE": "embedded",
            "TRANSISCOPE_GEOCODER": "none",
            "TRANSISCOPE_CACHE_DIR": str(cache),
            "TRANSISCOPE_TERRITORIES_DIR": str(territories),
            "GX_ANALYTICS_ENABLED": "False",
            "TRANSISCOPE_LINK_DECISIONS": str(work / "link-decisions.csv"),
            "TRANSISCOPE_HTTP_MAX_BYTES": str(4 * 1024**3),
            "TRANSISCOPE_HTTP_READ_TIMEOUT": "600",
        }
        env.pop("TRANSISCOPE_EXPORTS_DIR", None)
        env["BENCH_BUS_SKIP"] = args.skip
        steps = ", ".join(s for s in DOWNSTREAM if s not in args.skip.split(","))
        say(f"full run (every source, then {steps or 'nothing downstream'}) …")
        full = run_child("full", config, env)
        say(f"full run: {full['wall_s']:.1f} s; incremental run …")
        requests_before, not_modified_before = server.requests, server.not_modified
        incremental = run_child("incremental", config, env)
        incremental["http_requests"] = server.requests - requests_before
        incremental["answered_304"] = server.not_modified - not_modified_before
        result: dict[str, Any] = {
            "size": args.size,
            "records": counts,
            "twins": len(corpus.twins),
            "bad": corpus.bad,
            "generate_s": generated,
            "work": str(work),
            "payload_mb": {
                GOGOCARTO: len(server.static[f"/{GOGOCARTO}/api/elements.json"][0]) / 1e6,
                CSV: len(server.static[f"/{CSV}/export/amap.csv"][0]) / 1e6,
            },
            "full": full,
            "incremental": incremental,
            "full_table": stage_table(full["stages"]),
            "incremental_table": stage_table(incremental["stages"]),
            "targets": verdicts(args.size, full, incremental),
        }
        missed = [t for t in result["targets"] if t["verdict"] == "missed"]
        slowest = sorted(full["stages"], key=lambda r: r["seconds"], reverse=True)
        if missed:
            result["top_stages"] = [
                {k: r[k] for k in ("source", "stage", "seconds", "peak_rss_mb")} for r in slowest[:8]
            ]
        if missed and not args.no_profile:
            top = next(r for r in slowest if r["stage"] != "compact")  # a compaction replays nothing
            run_dir = full["sources"].get(top["source"], {}).get("run_dir", "")
            profile_config = work / "profile.json"
            profile_config.write_text(json.dumps({"profile": [top["source"], top["stage"], run_dir]}), encoding="utf-8")
            say(f"profiling {top['source']} {top['stage']} …")
            profiled = run_child("profile", profile_config, env)
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            name = f"bus-profile-{top['source'].strip('()')}-{top['stage']}.txt"
            (PROFILE_DIR / name).write_text(profiled.get("profile", ""), encoding="utf-8")
            result["profile"] = {
                "source": top["source"],
                "stage": top["stage"],
                "file": str((PROFILE_DIR / name).relative_to(ROOT)),
                "text": profiled.get("profile", ""),
            }
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return
    report(result)


def report(result: dict[str, Any]) -> None:
    full, incremental = result["full"], result["incremental"]
    sources = [s for s in (GOGOCARTO, KVM, CSV, OPENAGENDA) if s in full["sources"]]
    counts = result["records"]
    print(
        f"{result['size']:,} initiatives ({counts[GOGOCARTO]:,} GoGoCarto, {counts[KVM]:,} Karte von morgen, "
        f"{counts[CSV]:,} CSV; {result['twins']:,} of them twins of another source's) + {counts[OPENAGENDA]:,} "
        f"OpenAgenda events; generated in {result['generate_s']:.1f} s; GoGoCarto payload "
        f"{result['payload_mb'][GOGOCARTO]:.1f} MB, CSV {result['payload_mb'][CSV]:.1f} MB"
    )
    print_table(
        f"full run: sources {full['ingest_s']:.1f} s, end to end {full['wall_s']:.1f} s "
        f"(child process {full['process_s']:.1f} s with imports)",
        result["full_table"],
        sources,
    )
    print(
        f"{'':<10}peak RSS: per stage (VmHWM reset before each stage: {full['peak_reset']}); baseline after "
        f"imports {full['baseline_rss_mb']:.0f} MB; getrusage(RUSAGE_CHILDREN) "
        f"{full['rusage_children_max_mb']:.0f} MB"
    )
    print("\nper source (full run):")
    print(
        f"{'source':<20}{'outcome':<10}{'fetched':>9}{'loaded':>9}{'quarantined':>12}{'bad written':>12}{'triples':>11}"
    )
    for source in sources:
        s = full["sources"][source]
        c = s["counts"]
        print(
            f"{source:<20}{s['outcome']:<10}{c.get('fetched', 0):>9,}{c.get('loaded', 0):>9,}"
            f"{c.get('quarantined', 0):>12,}{result['bad'].get(source, 0):>12,}{c.get('triples', 0):>11,}"
        )
    for error in full["sources"].get("errors", []):
        print(f"  error: {error}")
    down = full.get("downstream", {})
    for step in DOWNSTREAM:
        if step in down:
            print(f"{step}: {down[step]['outcome']}, {down[step]['line']}")
    truth = full.get("link_truth", {})
    if truth:
        print(
            f"twins: {truth['twins']:,} generated; joined by sameAs {truth['same_as_found']:,} "
            f"({truth['same_as_found'] / max(truth['twins'], 1):.0%}), sameAs or candidate {truth['linked_found']:,} "
            f"({truth['linked_found'] / max(truth['twins'], 1):.0%}); sameAs between non-twins "
            f"{truth['same_as_not_twins']:,}"
        )
    print_table(
        f"incremental run (nothing changed at the sources): sources {incremental['ingest_s']:.2f} s, "
        f"{incremental['http_requests']:,} requests, {incremental['answered_304']} answered 304",
        result["incremental_table"],
        sources,
    )
    outcomes = ", ".join(f"{s} {incremental['sources'][s]['outcome']}" for s in sources if s in incremental["sources"])
    print(f"{'':<10}outcomes: {outcomes}")
    print("\ntargets")
    for t in result["targets"]:
        value = f"{t['value']:.1%}" if t["unit"] == "ratio" else f"{t['value']:,.1f} {t['unit']}"
        extra = (
            f" (linear extrapolation to 100,000: {t['extrapolated_100k']:,.0f} s)"
            if "extrapolated_100k" in t and result["size"] != TARGET_SIZE
            else ""
        )
        print(f"  {t['target']:<62} {value:>12}  {t['verdict']}{extra}")
    if "top_stages" in result:
        print("\nprofile: the stages that took longest (full run)")
        total = full["wall_s"]
        for r in result["top_stages"]:
            print(
                f"  {r['source']:<20}{r['stage']:<10}{r['seconds']:>8.2f} s  {r['seconds'] / total:>5.0%} of the "
                f"run  peak {r['peak_rss_mb']:,.0f} MB"
            )
    if "profile" in result:
        p = result["profile"]
        print(f"\ncProfile of {p['source']} {p['stage']} (replayed; top 15 by cumulative time, in {p['file']}):")
        lines = [line for line in p["text"].splitlines() if line.strip()]
        print("\n".join(lines[:40]))


if __name__ == "__main__":
    main()
