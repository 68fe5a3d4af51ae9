"""Geocoding cost per 1,000 addresses against a BAN-speaking server on 127.0.0.1, and cache hit rates.

Runs the geocode stage's core (``transiscope.ingest.geocode.placing.place_records``) on synthetic canonical records that
have a street address and no point, side by side in one process:

1. cold cache, BAN batch requests (``/search/csv/``, 500 addresses per request);
2. the same records again: every address from the cache, no request;
3. a source where 20 % of the addresses changed: only those are asked;
4. cold cache, one ``/search/`` request per address (what a provider without a batch endpoint costs).

The local server answers every address (synthetic answers), so the figures measure the bus's own work
(cache, HTTP, parsing) and a loopback round trip, not BAN's servers; the rate limit is lifted here
(``--rate``) and its effect at the default rate is computed from the request counts. The machine is
shared: figures are indicative.

    .venv/bin/python bench/geocode.py [--n 5000] [--single 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.ban_server import BanServer
from transiscope.ingest.geocode.placing import place_records
from transiscope.ingest.records import empty_record
from transiscope.settings import GeocodeSettings, Settings

STREETS = [
    "rue de la République",
    "avenue Jean-Jaurès",
    "place de la Mairie",
    "chemin des Vignes",
    "rue Victor-Hugo",
    "boulevard Pasteur",
    "impasse des Lilas",
    "route de Lyon",
]
CITIES = [
    ("69001", "Lyon"),
    ("44000", "Nantes"),
    ("34000", "Montpellier"),
    ("35000", "Rennes"),
    ("21000", "Dijon"),
    ("67000", "Strasbourg"),
    ("59800", "Lille"),
    ("13003", "Marseille"),
]


def records(n: int, offset: int = 0) -> list[dict]:
    out = []
    for i in range(offset, offset + n):
        record = empty_record()
        postcode, city = CITIES[i % len(CITIES)]
        record.update(
            source="bench",
            source_id=f"b{i:07d}",
            record_index=i,
            name=f"Initiative {i}",
            street=f"{i + 1} {STREETS[(i // 8) % len(STREETS)]}",
            postcode=postcode,
            city=city,
        )
        out.append(record)
    return out


def run(settings: Settings, batch: list[dict]) -> tuple[float, dict]:
    started = time.perf_counter()
    stats = place_records(batch, settings)
    return time.perf_counter() - started, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="addresses per scenario (default 5000)")
    parser.add_argument("--single", type=int, default=1000, help="addresses for the one-request-each scenario")
    parser.add_argument("--rate", type=float, default=100_000.0, help="requests per second allowed here")
    args = parser.parse_args()

    server = BanServer(synthetic=True)
    work = Path(tempfile.mkdtemp(prefix="bench-geocode-"))
    base = replace(Settings.from_env(), territories_dir=None, cache_dir=work)
    geocode = GeocodeSettings(
        provider="ban",
        url=server.url,
        rate=args.rate,
        max_requests=1_000_000,
        batch_size=500,
        cache_path=work / "cold.sqlite3",
    )
    settings = replace(base, geocode=geocode)
    rows = []
    try:
        seconds, stats = run(settings, records(args.n))
        rows.append(("cold cache, batch of 500", args.n, seconds, stats))
        seconds, stats = run(settings, records(args.n))
        rows.append(("same addresses again", args.n, seconds, stats))
        changed = records(int(args.n * 0.8)) + records(args.n - int(args.n * 0.8), offset=10 * args.n)
        seconds, stats = run(settings, changed)
        rows.append(("20 % of addresses changed", args.n, seconds, stats))
        single = replace(settings, geocode=replace(geocode, batch_size=1, cache_path=work / "single.sqlite3"))
        seconds, stats = run(single, records(args.single, offset=20 * args.n))
        rows.append(("cold cache, one request each", args.single, seconds, stats))
    finally:
        server.close()

    print(
        "geocoding against a BAN-speaking server on 127.0.0.1 (synthetic answers); shared machine: indicative figures\n"
    )
    print(
        f"{'scenario':32} {'addresses':>9} {'requests':>8} {'hit rate':>8} {'placed':>7} {'s total':>8} "
        f"{'s / 1,000':>9}"
    )
    per_1000 = {}
    for name, n, seconds, stats in rows:
        per_1000[name] = seconds / n * 1000
        placed = stats["placed"].get("ban", 0)
        rate = "-" if stats["cache_hit_rate"] is None else f"{stats['cache_hit_rate']:.0%}"
        print(f"{name:32} {n:9,} {stats['requests']:8,} {rate:>8} {placed:7,} {seconds:8.2f} {per_1000[name]:9.3f}")
    cold, warm = per_1000["cold cache, batch of 500"], per_1000["same addresses again"]
    single = per_1000["cold cache, one request each"]
    print(f"\ncache vs cold batch: {cold / warm:.1f}x faster per 1,000 addresses, and no request")
    print(f"batch vs one request each (cold): {single / cold:.1f}x faster per 1,000 addresses")
    default = GeocodeSettings()
    print(
        f"at the default rate limit ({default.rate:g} requests/s), 1,000 cold addresses need at least "
        f"{1000 / default.batch_size / default.rate:.1f} s in batches of {default.batch_size} vs "
        f"{1000 / default.rate:.0f} s one by one; the default budget ({default.max_requests} requests) covers "
        f"{default.max_requests * default.batch_size:,} addresses in batches, {default.max_requests} one by one"
    )


if __name__ == "__main__":
    main()
