"""The cost of "in France" at 100k records: the départements' outlines beside the bounding boxes.

    .venv/bin/python bench/france.py [--n 100000] [--json]

Prints, measured side by side in one process on the same points (uniform over the metropole's box, so that a
third lie in the neighbours: the worst case for the outline test): building the outline from the GeoJSON
(buffering each zone in its CRS), reading it back from the disk cache, one ``contains`` over every point with the
outlines and with the boxes, the ratio, and the whole ``points_in_france`` over canonical records (what the
validate stage runs, the records read into arrays included). Needs the shared territories data
(``TRANSISCOPE_SHARED_DATA``). The machine is shared: figures are indicative.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transiscope.core.geo import BOXES
from transiscope.ingest.france import points_in_france
from transiscope.settings import shared_data_dir
from transiscope.territories.france import france_outline


def _best(func, repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs (seconds): the least disturbed by the other processes of the machine."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = shared_data_dir() / "territories" / "departements-avec-outre-mer.geojson"
    if not path.exists():
        sys.exit(f"{path} not found: set TRANSISCOPE_SHARED_DATA")
    rng = np.random.default_rng(2026)
    lat = rng.uniform(41.3, 51.2, args.n)
    lon = rng.uniform(-5.3, 9.7, args.n)
    records = [{"lat": float(a), "lon": float(b)} for a, b in zip(lat, lon, strict=True)]
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        outline = france_outline(path, Path(cache))
        build = time.perf_counter() - started
        france_outline.cache_clear()
        started = time.perf_counter()
        france_outline(path, Path(cache))
        cached = time.perf_counter() - started
    outlines = _best(lambda: outline.contains(lat, lon))
    boxes = _best(lambda: BOXES.contains(lat, lon))
    per_record = _best(lambda: points_in_france(records, outline))
    inside = outline.contains(lat, lon)
    figures = {
        "points": args.n,
        "in_france_outlines": int(inside.sum()),
        "in_france_boxes": int(BOXES.contains(lat, lon).sum()),
        "build_seconds": round(build, 3),
        "cached_read_seconds": round(cached, 4),
        "contains_outlines_seconds": round(outlines, 4),
        "contains_boxes_seconds": round(boxes, 4),
        "ratio_outlines_boxes": round(outlines / boxes, 1) if boxes else None,
        "points_in_france_records_seconds": round(per_record, 4),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
