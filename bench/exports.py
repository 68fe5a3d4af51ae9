"""Export times at 10k and 100k initiatives (plus an agenda of a tenth as many events), from a real store.

    .venv/bin/python bench/exports.py [--sizes 10000,100000] [--json]

Synthetic canonical records (bench/synthetic.py) are mapped by the bus's own RDF mapping and bulk-loaded into
a fresh embedded store with the ontology graphs and a DCAT dataset (the ingest path itself is measured by
bench/queries.py), then ``export_all`` runs twice: a first export (new data) and a second one over the same
data, which must give the same bytes. Per-format seconds, file sizes and the ratio between sizes are printed
side by side, with the peak resident memory of each export run (each runs in a fresh child process, so its
``ru_maxrss`` is the export's own peak, not the store build's).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyoxigraph as ox

from bench.synthetic import records
from transiscope.core import vocab
from transiscope.downstream.exports import export_all
from transiscope.ingest import rdf
from transiscope.registry.sources import Source
from transiscope.settings import PROJECT_ROOT, Settings
from transiscope.store.embedded import EmbeddedStore
from transiscope.store.provenance import dataset_triples


def events_ntriples(n: int, base: str, path: Path, seed: int = 3) -> None:
    """``n`` events in the model of the event connectors, around metropolitan France, over the next year."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)
    s, x = vocab.SCHEMA, vocab.XSD
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            e = f"<{base}id/event/bench-agenda/ev{i}>"
            place, geo = f"<{base}id/event/bench-agenda/ev{i}/place>", f"<{base}id/event/bench-agenda/ev{i}/geo>"
            when = start + timedelta(hours=rng.randrange(24 * 365))
            cat = rng.choice(["repair-cafes", "jardins-partages", "culture", "climat-energie"])
            out.write(
                f'{e} <{vocab.RDF}type> <{s}Event> .\n{e} <{s}name> "Atelier {i}, partage; rencontre" .\n'
                f'{e} <{s}startDate> "{when.isoformat()}"^^<{x}dateTime> .\n'
                f'{e} <{s}endDate> "{(when + timedelta(hours=2)).isoformat()}"^^<{x}dateTime> .\n'
                f"{e} <{s}eventStatus> <{s}EventScheduled> .\n{e} <{vocab.TS}category> <{vocab.TX}{cat}> .\n"
                f"{e} <{vocab.TS}source> <{base}id/source/bench-agenda> .\n{e} <{s}location> {place} .\n"
                f"{place} <{vocab.RDF}type> <{s}Place> .\n{place} <{s}geo> {geo} .\n"
                f'{geo} <{s}latitude> "{rng.uniform(42.5, 50.8):.5f}"^^<{x}decimal> .\n'
                f'{geo} <{s}longitude> "{rng.uniform(-4.5, 7.8):.5f}"^^<{x}decimal> .\n'
            )


def build_store(size: int, work: Path) -> Settings:
    settings = Settings.from_env().with_home(work / "home")
    base = settings.base_iri
    initiatives = work / "initiatives.nt"
    rdf.write_ntriples([r for r in records(size, bad_share=0.0)], base, initiatives)
    events = work / "events.nt"
    events_ntriples(size // 10, base, events)
    source = Source(
        id="bench",
        name="Bench",
        format="gogocarto",
        url="http://127.0.0.1/api/elements.json",
        licence="ODbL-1.0",
        mapping_path=Path("-"),
        publisher="Bench publisher",
    )
    agenda = Source(
        id="bench-agenda",
        name="Bench agenda",
        format="ical",
        url="http://127.0.0.1/agenda.ics",
        licence="CC0-1.0",
        mapping_path=Path("-"),
    )
    with EmbeddedStore(settings.store_path) as store:
        raw = store._store  # bulk load: the fast path the pipeline's first load takes too
        raw.bulk_load(
            path=str(initiatives),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(vocab.source_graph(base, "bench")),
        )
        raw.bulk_load(
            path=str(events),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(vocab.source_graph(base, "bench-agenda")),
        )
        for path in sorted((PROJECT_ROOT / "ontology").glob("*.ttl")):
            raw.load(
                path=str(path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(vocab.ontology_graph(base, path.stem))
            )
        meta = ox.NamedNode(vocab.metadata_graph(base))
        raw.extend(
            ox.Quad(t.subject, t.predicate, t.object, meta)
            for t in dataset_triples(source, base) + dataset_triples(agenda, base)
        )
    return settings


def _export_run(settings: Settings) -> tuple[float, Any, float]:
    """One ``export_all`` in this (child) process: seconds, summary, peak RSS in MB."""
    started = time.perf_counter()
    summary = export_all(settings)
    seconds = time.perf_counter() - started
    return seconds, summary, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"transiscope-bench-exports-{size}-"))
        started = time.perf_counter()
        settings = build_store(size, work)
        load = time.perf_counter() - started
        runs = []
        spawn = multiprocessing.get_context("spawn")
        for _ in range(2):
            with spawn.Pool(1) as pool:
                runs.append(pool.apply(_export_run, (settings,)))
        sizes = {
            f["path"]: f["bytes"]
            for f in json.loads((Path(runs[0][1].out_dir) / "index.json").read_text(encoding="utf-8"))["files"]
            if "/" not in f["path"] or f["path"].startswith("gogocarto/")
        }
        results.append(
            {
                "size": size,
                "events": runs[0][1].events,
                "load_s": round(load, 2),
                "first_s": round(runs[0][0], 2),
                "second_s": round(runs[1][0], 2),
                "second_unchanged": runs[1][1].unchanged,
                "first_peak_mb": round(runs[0][2]),
                "second_peak_mb": round(runs[1][2]),
                "stages_first": runs[0][1].seconds,
                "stages_second": runs[1][1].seconds,
                "files": runs[0][1].files,
                "bytes": sizes,
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("export_all on an embedded store (2 shared cores: indicative figures)")
    header = f"{'stage':<12}" + "".join(f"{r['size']:>12,}" for r in results)
    print(header + ("   ratio" if len(results) == 2 else ""))
    for stage in results[0]["stages_first"]:
        values = [r["stages_first"][stage] for r in results]
        ratio = f"   {values[1] / values[0]:5.1f}×" if len(values) == 2 and values[0] else ""
        print(f"{stage:<12}" + "".join(f"{v:>12.2f}" for v in values) + ratio)
    for key, label in (
        ("first_s", "whole (new)"),
        ("second_s", "whole (same)"),
        ("first_peak_mb", "peak MB new"),
        ("second_peak_mb", "peak MB same"),
    ):
        values = [r[key] for r in results]
        ratio = f"   {values[1] / values[0]:5.1f}×" if len(values) == 2 and values[0] else ""
        print(f"{label:<12}" + "".join(f"{v:>12.2f}" for v in values) + ratio)
    print(f"{'events':<12}" + "".join(f"{r['events']:>12,}" for r in results))
    print(f"{'same bytes':<12}" + "".join(f"{str(r['second_unchanged']):>12}" for r in results))
    print("\nfile sizes (MB)")
    for path in results[0]["bytes"]:
        print(f"{path:<28}" + "".join(f"{r['bytes'].get(path, 0) / 1e6:>12.2f}" for r in results))


if __name__ == "__main__":
    main()
