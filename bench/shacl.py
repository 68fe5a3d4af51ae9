"""SHACL speed: the compiled engine of transiscope.ingest.shapes beside pyshacl, on the same synthetic initiatives.

    .venv/bin/python bench/shacl.py [--sizes 1000 10000 100000] [--timeout 1200] [--full-timeout 1200] [--json]

takes ~30 minutes on 2 cores, mostly pyshacl: with every shape it needs ~15 minutes for 10,000 initiatives.

Synthetic canonical records (bench/synthetic.py, no GX-level faults) are mapped by rdf.write_ntriples, as the
pipeline does; 1 % of them carry a fault only the shapes see (a category outside the taxonomy, markup left in
a description, a latitude of 95, a website without http). Each measurement runs in a fresh process (memory is
not shared, a slow one can be stopped) on the same N-Triples file:

- compiled, all shapes: transiscope.ingest.shapes.check_shapes (in-memory Oxigraph load + the planned SPARQL queries);
- compiled, Core only: the same without the SHACL-SPARQL constraints (sh:sparql), to compare like with like;
- pyshacl, Core only: rdflib parse of the same file (+ ontology and taxonomy) and pyshacl.validate;
- pyshacl, all shapes: pyshacl evaluates each SHACL-SPARQL constraint once per focus node with rdflib's SPARQL
  engine (about 90 ms per initiative here); it runs up to --full-pyshacl-max records, within --full-timeout;
- pyshacl on a 1 % sample: what "validate a sample" would cost, and how many faulty records it would miss.

Ratios are seconds / seconds of "compiled, all shapes" at the same size, measured in the same run. Every
method that finishes is checked to find the same violating records as the compiled engine on the same shapes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import records as synthetic_records
from transiscope.core import vocab
from transiscope.ingest import (
    rdf,
    shapes,
    shapes_compiler,
)

BASE = "https://w3id.org/transiscope/"
FAULT_SHARE = 0.01
SH_SPARQL = "http://www.w3.org/ns/shacl#sparql"


def make_records(n: int, seed: int = 7) -> tuple[list[dict], set[str]]:
    """Synthetic initiatives, 1 % with a fault only the shapes see; returns them and the IRIs of the faulty ones
    that must be quarantined (the website fault is a warning)."""
    rng = random.Random(seed)
    rows = synthetic_records(n, seed=seed, bad_share=0.0)
    faulty = set()
    for record in rows:
        # keep longitudes away from repr()'s exponent notation (|x| < 1e-4): that mapper issue is tested apart
        if abs(record["lon"]) < 1e-3:
            record["lon"] = 1e-3
        if rng.random() < FAULT_SHARE:
            fault = rng.randrange(4)
            iri = vocab.initiative_iri(BASE, record["source"], record["source_id"])
            if fault == 0:
                record["concepts"] = ["culture-inconnue"]
                faulty.add(iri)
            elif fault == 1:
                record["description"] = "Ateliers <b>gratuits</b> le samedi"
                faulty.add(iri)
            elif fault == 2:
                record["lat"] = 95.0
                faulty.add(iri)
            else:
                record["website"] = "www.sans-http.example.org"
    return rows, faulty


def core_shapes(destination: Path) -> Path:
    """The shapes file without its SHACL-SPARQL constraints (sh:sparql triples removed)."""
    import pyoxigraph as ox

    triples = [
        t
        for t in ox.parse(path=str(shapes_compiler.DEFAULT_SHAPES), format=ox.RdfFormat.TURTLE)
        if t.predicate.value != SH_SPARQL
    ]
    with destination.open("wb") as out:
        ox.serialize(triples, out, ox.RdfFormat.TURTLE)
    return destination


# -- one measurement, in its own process --------------------------------------------------------------------
def _owner(iri: str) -> str:
    for suffix in ("/geometry", "/address"):
        if iri.endswith(suffix):
            return iri[: -len(suffix)]
    return iri


def measure(method: str, data: Path, shapes_path: Path) -> dict:
    started = time.perf_counter()
    if method == "compiled":
        store = shapes.data_store(data, shapes.vocabulary_files(shapes_compiler.DEFAULT_SHAPES))
        loaded = time.perf_counter()
        results = shapes.run_queries(store, shapes_compiler.load_shapes(shapes_path))
        done = time.perf_counter()
        violating = {r.owner for r in results if r.severity == "Violation"}
        detail = f"load {loaded - started:.2f} s + queries {done - loaded:.2f} s"
    else:
        import logging

        import pyshacl
        import rdflib

        logging.getLogger("rdflib").setLevel(logging.CRITICAL)
        graph = rdflib.Graph()
        graph.parse(data, format="nt")
        for vocabulary in shapes.vocabulary_files(shapes_compiler.DEFAULT_SHAPES):
            graph.parse(vocabulary, format="turtle")
        shapes_graph = rdflib.Graph().parse(shapes_path, format="turtle")
        loaded = time.perf_counter()
        _, report, _ = pyshacl.validate(graph, shacl_graph=shapes_graph)
        done = time.perf_counter()
        sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
        violating = {
            _owner(str(report.value(r, sh.focusNode)))
            for r in report.subjects(rdflib.RDF.type, sh.ValidationResult)
            if report.value(r, sh.resultSeverity) == sh.Violation
        }
        detail = f"rdflib parse {loaded - started:.2f} s + validate {done - loaded:.2f} s"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(done - started, 3),
        "violating": sorted(violating),
        "detail": detail,
        "peak_mb": round(peak_mb),
    }


def run_measure(method: str, data: Path, shapes_path: Path, timeout: float) -> dict | None:
    """Measure in a fresh process; None when it did not finish in ``timeout`` seconds."""
    command = [sys.executable, __file__, "--measure", method, str(data), str(shapes_path)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"{method} on {data} failed:\n{exc.stderr}") from None
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the benchmark --------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--timeout", type=float, default=1200, help="seconds before a measurement is given up")
    parser.add_argument(
        "--full-timeout",
        type=float,
        default=1200,
        help="seconds before pyshacl with all shapes (quadratic) is given up",
    )
    parser.add_argument(
        "--full-pyshacl-max", type=int, default=10000, help="largest size on which pyshacl runs the full shapes"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--measure", nargs=3, metavar=("METHOD", "DATA", "SHAPES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        method, data, shapes_path = args.measure
        print(json.dumps(measure(method, Path(data), Path(shapes_path))))
        return

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-shacl-") as tmp:
        tmp_dir = Path(tmp)
        full, core = shapes_compiler.DEFAULT_SHAPES, core_shapes(tmp_dir / "core.ttl")
        for size in args.sizes:
            records, faulty = make_records(size)
            data = tmp_dir / f"initiatives-{size}.nt"
            started = time.perf_counter()
            triples = rdf.write_ntriples(records, BASE, data)
            rows.append(
                {
                    "records": size,
                    "triples": triples,
                    "method": "(reference) rdf.write_ntriples",
                    "seconds": round(time.perf_counter() - started, 3),
                    "note": "the to_rdf stage itself",
                }
            )
            sample_size = max(1, size // 100)
            sample = tmp_dir / f"sample-{size}.nt"
            sample_records = random.Random(size).sample(records, sample_size)
            sample_triples = rdf.write_ntriples(sample_records, BASE, sample)
            sample_faulty = {
                iri
                for iri in faulty
                if any(vocab.initiative_iri(BASE, r["source"], r["source_id"]) == iri for r in sample_records)
            }

            plan = [
                ("compiled, all shapes", "compiled", full, data),
                ("compiled, Core only", "compiled", core, data),
                ("pyshacl, Core only", "pyshacl", core, data),
            ]
            if size <= args.full_pyshacl_max:
                plan.append(("pyshacl, all shapes", "pyshacl", full, data))
            plan.append(("pyshacl, all shapes, 1 % sample", "pyshacl", full, sample))
            reference: dict[str, set[str]] = {}
            compiled_seconds = rows[-1]["seconds"]  # replaced by the compiled engine's time below
            for label, method, shapes_path, path in plan:
                whole = path == data
                timeout = args.full_timeout if (method == "pyshacl" and shapes_path == full and whole) else args.timeout
                found = run_measure(method, path, shapes_path, timeout)
                row = {
                    "records": size if whole else sample_size,
                    "triples": triples if whole else sample_triples,
                    "method": label,
                }
                if found is None:
                    row.update(seconds=None, note=f"did not finish in {timeout:.0f} s")
                    rows.append(row)
                    continue
                violating = set(found["violating"])
                row.update(seconds=found["seconds"], peak_mb=found["peak_mb"], note=found["detail"])
                if label == "compiled, all shapes":
                    compiled_seconds = found["seconds"]
                    rows[-1]["ratio"] = round(rows[-1]["seconds"] / compiled_seconds, 2)
                    assert violating == faulty, "the compiled engine must find exactly the injected faults"
                if method == "compiled":
                    reference[str(shapes_path)] = violating
                elif whole:
                    row["agrees"] = violating == reference[str(shapes_path)]
                else:
                    row["note"] += (
                        f"; caught {len(violating)} of the {len(faulty)} faulty records "
                        f"({len(sample_faulty)} were in the sample)"
                    )
                row["ratio"] = round(found["seconds"] / compiled_seconds, 2)
                rows.append(row)
    for row in rows:
        if row.get("seconds"):
            row["records_per_s"] = round(row["records"] / row["seconds"])
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{'records':>8} {'triples':>9}  {'method':<33} {'seconds':>8} {'records/s':>10} {'ratio':>7} "
        f"{'peak MB':>8}  note"
    )
    for row in rows:
        seconds = f"{row['seconds']:.3f}" if row.get("seconds") else "—"
        ratio = f"{row['ratio']:.2f}×" if row.get("ratio") else ""
        agrees = {True: "same violating records as compiled; ", False: "DIFFERENT verdicts; "}.get(
            row.get("agrees"), ""
        )
        print(
            f"{row['records']:>8} {row['triples']:>9}  {row['method']:<33} {seconds:>8} "
            f"{row.get('records_per_s', ''):>10} {ratio:>7} {row.get('peak_mb', ''):>8}  {agrees}{row['note']}"
        )


if __name__ == "__main__":
    main()
