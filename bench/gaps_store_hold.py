"""How long the gaps step holds the store's single writer: the whole step (what the Airflow gaps task held
before it was cut in two) against its store phase alone (what the ``gaps`` task holds now), and the files
phase that now runs outside the store-writes pool.

It runs on a data home that holds loaded sources (default: a fresh one loaded from the bundled samples, as
``make run --sample`` does), with the real territories (``TRANSISCOPE_SHARED_DATA``). Each figure is the median
of ``--runs`` runs, printed side by side with the ratio.

    .venv/bin/python -m bench.gaps_store_hold [--home DIR] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _median_seconds(runs: int, call) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a data home with loaded sources (default: samples, fresh)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-gaps-hold-"))
    os.environ["TRANSISCOPE_HOME"] = str(home)

    from transiscope import jobs
    from transiscope.downstream.gaps.step import run_gaps, write_gaps_files
    from transiscope.ingest.mappings import load_registry
    from transiscope.ingest.samples import SampleServer
    from transiscope.settings import Settings

    settings = Settings.from_env()
    if args.home is None:
        registry = load_registry(settings.registry_path)
        with SampleServer(registry) as samples:
            for source in registry.sources:
                if source.sample_path:
                    jobs.run_source(source.id, settings=settings, url=samples.url_for(source), mode="sample")
    run_gaps(settings)  # the territories graph written once, the caches warm: what every later run finds
    whole = _median_seconds(args.runs, lambda: run_gaps(settings))
    store_phase = _median_seconds(args.runs, lambda: run_gaps(settings, write_files=False))
    files_phase = _median_seconds(args.runs, lambda: write_gaps_files(settings))
    ratio = whole / store_phase
    print(f"gaps, store held (median of {args.runs} runs, {home}):")
    print(f"  before: the whole step in the store-writes pool   {whole:7.2f} s")
    print(f"  after:  the store phase in the store-writes pool  {store_phase:7.2f} s   ({ratio:.1f}x shorter)")
    print(f"  after:  the files phase, in the default pool      {files_phase:7.2f} s   (store not held)")


if __name__ == "__main__":
    main()
