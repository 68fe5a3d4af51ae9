"""SHACL memory: the shapes on one in-memory store holding the whole file, beside batches of whole records.

    .venv/bin/python bench/shapes_batches.py [--sizes 100000 500000] [--batch 500000] [--json]

Synthetic initiatives (bench/shacl.py's, 1 % with a fault only the shapes see) are mapped by
rdf.write_ntriples as the pipeline does. Each measurement runs ``shapes.validate`` in a fresh process on the
same N-Triples file, whole (``batch_triples=None``) and in batches (``--batch`` triples of whole records per
in-memory store, the pipeline's default): seconds, peak resident memory of the process, and whether both find
the same violating records. Ratios are batched / whole at the same size, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shacl import BASE, make_records
from transiscope.ingest import rdf, shapes


def measure(data: Path, batch: int) -> dict:
    started = time.perf_counter()
    results = shapes.validate(data, batch_triples=batch or None)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "violating": sorted({r.owner for r in results if r.severity == "Violation"}),
    }


def run_measure(data: Path, batch: int) -> dict:
    command = [sys.executable, __file__, "--measure", str(data), str(batch)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=dict(os.environ))
    if done.returncode != 0:
        raise SystemExit(f"shapes on {data} (batch {batch}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--batch", type=int, default=shapes.BATCH_TRIPLES, help="triples per batch")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--measure", nargs=2, metavar=("DATA", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), int(args.measure[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="transiscope-bench-shapes-") as work:
        for size in args.sizes:
            records, faulty = make_records(size)
            data = Path(work) / f"initiatives-{size}.nt"
            triples = rdf.write_ntriples(records, BASE, data)
            del records
            whole = run_measure(data, 0)
            batched = run_measure(data, args.batch)
            same = whole["violating"] == batched["violating"] and set(whole["violating"]) == faulty
            rows.append(
                {
                    "size": size,
                    "triples": triples,
                    "whole_s": whole["seconds"],
                    "whole_peak_mb": whole["peak_mb"],
                    "batched_s": batched["seconds"],
                    "batched_peak_mb": batched["peak_mb"],
                    "time_ratio": round(batched["seconds"] / whole["seconds"], 2),
                    "memory_ratio": round(batched["peak_mb"] / whole["peak_mb"], 2),
                    "same_violations": same,
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"batches of {args.batch:,} triples")
    print(f"{'records':>8} {'triples':>10}  {'':<8} {'seconds':>8} {'peak MB':>8}")
    for row in rows:
        print(f"{row['size']:>8} {row['triples']:>10}  {'whole':<8} {row['whole_s']:>8.2f} {row['whole_peak_mb']:>8}")
        print(f"{'':>8} {'':>10}  {'batched':<8} {row['batched_s']:>8.2f} {row['batched_peak_mb']:>8}")
        print(
            f"{'':>8} {'':>10}  {'ratio':<8} {row['time_ratio']:>7}× {row['memory_ratio']:>7}×"
            f"   same violating records: {'yes' if row['same_violations'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
