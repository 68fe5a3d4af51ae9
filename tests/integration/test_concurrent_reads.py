"""Reading the embedded store while it is written: loads in this process, readers in others.

Why: readers used to open the directory a load was writing (``Store.read_only``, undefined behaviour in
pyoxigraph) and failed with ``No such file or directory: …/000438.sst`` once RocksDB compacted. Now every
reader opens the latest published snapshot (:mod:`transiscope.store.snapshots`). This test loads two
sources over and over (their payloads change every time, a link step and a compaction in between, like
``transiscope run`` and the DAGs) while three other processes read in a loop: ``transiscope query``, the
export, and ``transiscope serve`` over HTTP. Every read must succeed and see a state the writer committed.

Bounded: the writer makes :data:`LOADS` loads; each reader makes at least its minimum of reads (so that
they overlap the loads), goes on while the writer writes, and stops at its maximum whatever happens.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import threading
import traceback
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import Bus, Reply, sample_path
from transiscope import jobs
from transiscope.core import vocab
from transiscope.downstream.exports.read import read_model
from transiscope.settings import Settings
from transiscope.store.embedded import EmbeddedStore, compact
from transiscope.store.snapshots import current_name, snapshots_dir

SOURCES = ("transiscope", "presdecheznous")
LOADS = 20
#: reads per reader: at least the first figure, at most the second (the cap, whatever the writer does)
QUERIES = (200, 2_000)
SERVED = (200, 2_000)
EXPORTS = (5, 60)
#: seconds a process may take before the test gives up on it (a hang, not a speed check)
HANG = 900


def _state_query(base: str) -> str:
    graphs = ", ".join(f"<{vocab.source_graph(base, source_id)}>" for source_id in SOURCES)
    return f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g IN ({graphs})) }} GROUP BY ?g"


def _state(bindings: list[dict[str, Any]], base: str) -> list[int]:
    """Triples in each source graph, in the order of SOURCES (0 for a graph not loaded)."""
    counts = {row["g"]["value"]: int(row["n"]["value"]) for row in bindings}
    return [counts.get(vocab.source_graph(base, source_id), 0) for source_id in SOURCES]


def _payload(source_id: str, drop: int) -> bytes:
    """The source's sample without its last ``drop`` records: each version has its own graph size."""
    document = json.loads(sample_path(source_id).read_text(encoding="utf-8"))
    document["data"] = document["data"][: len(document["data"]) - drop]
    return json.dumps(document).encode()


# -- the readers (spawned processes) ---------------------------------------------------------------
def _reader(kind: str, bounds: tuple[int, int], done: Any, out: str, environ: dict[str, str]) -> None:
    """Read ``bounds[0]`` times, then on until the writer is done, at most ``bounds[1]`` times; writes what
    each read saw (or the error) to ``out`` as JSON. ``environ``: the test's settings (importing this module
    imported the conftest, which cleared them)."""
    os.environ.update(environ)
    settings = Settings.from_env()
    seen: list[Any] = []
    errors: list[str] = []
    read = {"query": _read_by_cli, "serve": _read_by_http, "export": _read_by_export}[kind]
    context = _serving(settings) if kind == "serve" else contextlib.nullcontext(None)
    reads_during_writes = 0
    with context as url:
        for index in range(bounds[1]):
            writing = not done.is_set()
            if index >= bounds[0] and not writing:
                break
            try:
                seen.append(read(settings, url, index))
                reads_during_writes += writing
            except Exception:
                errors.append(traceback.format_exc(limit=3))
    Path(out).write_text(
        json.dumps({"seen": seen, "errors": errors, "during_writes": reads_during_writes}), encoding="utf-8"
    )


@contextlib.contextmanager
def _serving(settings: Settings) -> Any:
    from transiscope.serve.endpoint import Endpoint, ServeSettings

    endpoint = Endpoint(settings, ServeSettings(port=0, timeout=120, workers=2))
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    host, port = endpoint.server_address[:2]
    try:
        yield f"http://{host!s}:{port}/sparql"
    finally:
        endpoint.shutdown()
        endpoint.server_close()


def _read_by_cli(settings: Settings, url: Any, index: int) -> list[int]:
    from transiscope.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["query", "--format", "json", _state_query(settings.base_iri)])
    if status != 0:
        raise AssertionError(f"transiscope query exited {status}: {stderr.getvalue()}")
    return _state(json.loads(stdout.getvalue())["results"]["bindings"], settings.base_iri)


def _read_by_http(settings: Settings, url: str, index: int) -> list[int]:
    query = urllib.parse.urlencode({"query": _state_query(settings.base_iri)})
    request = urllib.request.Request(f"{url}?{query}", headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=HANG) as response:  # any status but 200 raises
        return _state(json.load(response)["results"]["bindings"], settings.base_iri)


def _read_by_export(settings: Settings, url: Any, index: int) -> int:
    from transiscope.downstream.exports import export_all

    out = settings.home / "export-loop"
    export_all(settings, out_dir=out, gzip_copies=False)
    return len(json.loads((out / "initiatives.geojson").read_text(encoding="utf-8"))["features"])


# -- the writer (this process) ---------------------------------------------------------------------
def _committed(settings: Settings) -> tuple[list[int], int]:
    """What the store holds now, read as the only writer: triples per source graph, initiatives exported."""
    with EmbeddedStore(settings.store_path) as store:
        rows = store.select(_state_query(settings.base_iri))
        counts = {row["g"].value: int(row["n"].value) for row in rows}
        states = [counts.get(vocab.source_graph(settings.base_iri, source_id), 0) for source_id in SOURCES]
        return states, len(read_model(store, settings.base_iri).initiatives)


def test_reads_while_loading_see_committed_states_and_never_fail(bus: Bus, tmp_path: Path) -> None:
    settings = bus.settings()
    routes = {source_id: urllib.parse.urlsplit(bus.urls[source_id]).path for source_id in SOURCES}
    for source_id in SOURCES:  # a first state, so that every reader has a store to open
        bus.server.set(routes[source_id], Reply(200, _payload(source_id, 0)))
        assert jobs.run_source(source_id).outcome == "success"
    states, initiatives = _committed(settings)
    committed, exported = [states], {initiatives}

    spawn = multiprocessing.get_context("spawn")
    done = spawn.Event()
    environ = {name: value for name, value in os.environ.items() if name.startswith("TRANSISCOPE_")}
    bounds = {"query": QUERIES, "serve": SERVED, "export": EXPORTS}
    outs = {kind: tmp_path / f"{kind}.json" for kind in bounds}
    readers = [spawn.Process(target=_reader, args=(k, bounds[k], done, str(outs[k]), environ)) for k in bounds]
    for reader in readers:
        reader.start()
    try:
        for load in range(LOADS):
            source_id = SOURCES[load % 2]
            # this source's loads drop 1, 2, 0, 1, 2, 0… records: never the same payload twice in a row
            drop = (load // 2 + 1) % 3
            bus.server.set(routes[source_id], Reply(200, _payload(source_id, drop)))
            summary = jobs.run_source(source_id)
            assert summary.outcome == "success", summary.error
            if load % 5 == 4:
                jobs.run_link(settings)  # the link step writes the store too
                compact(settings.store_path)  # and rewrites its files, as `transiscope run` does at the end
            states, initiatives = _committed(settings)
            committed.append(states)
            exported.add(initiatives)
    finally:
        done.set()
        for reader in readers:
            reader.join(HANG)
    assert [reader.exitcode for reader in readers] == [0, 0, 0]

    results = {kind: json.loads(out.read_text(encoding="utf-8")) for kind, out in outs.items()}
    for kind, result in results.items():
        assert result["errors"] == [], f"{kind}: {result['errors'][:3]}"
        assert len(result["seen"]) >= bounds[kind][0]
        assert result["during_writes"] > 0, f"{kind} never read while the writer wrote"
    for kind in ("query", "serve"):
        strays = [state for state in results[kind]["seen"] if state not in committed]
        assert strays == [], f"{kind} saw states nobody committed: {strays[:5]} (committed: {committed})"
    assert set(results["export"]["seen"]) <= exported
    assert len({tuple(state) for state in committed}) > 2  # the loads did change what there is to read

    # every snapshot but the current one was removed once its readers let go of it
    root = snapshots_dir(settings.store_path)
    compact(settings.store_path)  # one more write: its clean-up finds no reader left
    assert sorted(entry.name for entry in root.iterdir()) == sorted(
        [current_name(root) or "", f"{current_name(root)}.lock", "current"]
    )
    print(
        f"{LOADS} loads; reads: "
        + ", ".join(f"{kind} {len(r['seen'])} ({r['during_writes']} during writes)" for kind, r in results.items())
    )
