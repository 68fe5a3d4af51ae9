"""Benchmark of the gap analysis: all ~35,000 communes × 100,000 initiatives × every taxonomy concept.

Target (issue #8): under 15 s and 2 GB peak RSS for the computation on a 2-core machine. The initiatives are
synthetic but shaped like real data: placed where people live (a commune drawn with probability ∝ its
population, then a point scattered a few km around its population point, DROM included), one leaf concept each
(so every top concept is fed through the hierarchy), 5 % without a point (INSEE code only, some of them old
codes) and 2 % with a postcode only. Territories are the real shared data (``TRANSISCOPE_SHARED_DATA``).

Printed side by side in one run: each phase, the output writers, and two alternatives measured on the same
data: the 2SFCA with one catchment query per concept (instead of once for all initiatives) and a nearest search
data: the 2SFCA with one catchment query per concept instead of one for all initiatives, checked to give the same
scores.

    .venv/bin/python -m bench.gaps [--items 100000] [--out DIR]
    .venv/bin/python -m bench.gaps --census-ranking   # top ten départements for tiers-lieux, former and new
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from transiscope.downstream.gaps.concepts import load_taxonomy
from transiscope.downstream.gaps.files import write_csv, write_geojson
from transiscope.downstream.gaps.graphs import write_cube_ntriples, write_links_ntriples
from transiscope.downstream.gaps.indicators import _two_step_fca, compute
from transiscope.downstream.gaps.items import Items
from transiscope.downstream.gaps.placing import place
from transiscope.settings import PROJECT_ROOT, GapsSettings, Settings
from transiscope.territories.graph import Territories, load_territories, territory_files

BASE = "https://w3id.org/transiscope/"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_items(territories: Territories, leaves: list[str], n: int, seed: int = 8) -> Items:
    """Initiatives where people live; see the module docstring."""
    rng = np.random.default_rng(seed)
    communes = territories.communes
    weights = communes.population / communes.population.sum()
    chosen = rng.choice(len(weights), size=n, p=weights)
    radius_deg = rng.exponential(0.02, size=n)  # ~2 km typical scatter
    angle = rng.uniform(0, 2 * np.pi, size=n)
    lon = territories.lon[chosen] + radius_deg * np.cos(angle) / np.cos(np.radians(territories.lat[chosen]))
    lat = territories.lat[chosen] + radius_deg * np.sin(angle)
    kind = rng.random(n)
    no_point = kind < 0.07
    lon[no_point] = np.nan
    lat[no_point] = np.nan
    old_codes = {new: old for old, new in territories.recode.items()}
    insee: list[str | None] = [None] * n
    postcode: list[str | None] = [None] * n
    by_commune: dict[int, str] = {}
    for postcode_value, members in territories.postcodes.items():
        for member in members:
            by_commune.setdefault(member, postcode_value)
    for i in np.flatnonzero(no_point):
        code = communes.codes[chosen[i]]
        if kind[i] < 0.05:
            insee[i] = old_codes.get(code, code) if kind[i] < 0.01 else code
        else:
            postcode[i] = by_commune.get(int(chosen[i]))
    concepts = [(leaves[j],) for j in rng.integers(0, len(leaves), size=n)]
    return Items(
        iris=[f"{BASE}id/initiative/bench/{i}" for i in range(n)],
        kinds=["initiative"] * n,
        lon=lon,
        lat=lat,
        insee=insee,
        postcode=postcode,
        concepts=concepts,
        sources=["bench"] * n,
    )


def _per_concept_2sfca(territories: Territories, placement, member: np.ndarray, catchment_km: float) -> np.ndarray:
    """The naive 2SFCA: one catchment query per concept (what the real code avoids), for the ratio."""
    import shapely

    from transiscope.territories.graph import ZONES

    population = territories.communes.population
    access = np.zeros((len(population), member.shape[1]))
    for z in range(len(ZONES)):
        targets = np.flatnonzero(territories.zone == z)
        tree = shapely.STRtree(shapely.points(territories.x[targets], territories.y[targets]))
        for k in range(member.shape[1]):
            sources = np.flatnonzero(np.isfinite(placement.x) & (placement.zone == z) & member[:, k])
            if not len(sources):
                continue
            item, commune = tree.query(
                shapely.points(placement.x[sources], placement.y[sources]),
                predicate="dwithin",
                distance=catchment_km * 1000,
            )
            demand = np.bincount(item, weights=population[targets[commune]], minlength=len(sources))
            ratio = np.divide(1.0, demand, out=np.zeros_like(demand), where=demand > 0)
            access[targets, k] = np.bincount(commune, weights=ratio[item], minlength=len(targets))
    return access * 10_000


def census_ranking(settings: Settings, top: int = 10) -> int:
    """The top départements for tiers-lieux in the shared census: by population in zones blanches (the former
    ``priority_rank``, now ``population_rank``) beside the new "where is it missing" rank (share of the
    population in zones blanches, the population concerned beside it)."""
    import csv

    from transiscope.settings import shared_data_dir

    path = shared_data_dir() / "initiatives" / "tiers-lieux-cget-2019.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = [
        {
            "source": "cget",
            "source_id": r["ID"],
            "lat": float(r["LAT"]),
            "lon": float(r["LONG"]),
            "insee": r["INSEECOM"] if r["INSEECOM"] not in ("", "0") else None,
            "postcode": r["CP"] or None,
            "concepts": ["tiers-lieux"],
        }
        for r in rows
    ]
    files = territory_files(settings.territories_dir, settings.cache_dir, settings.territories_url)
    territories = load_territories(files, settings.cache_dir)
    taxonomy = load_taxonomy(PROJECT_ROOT / "ontology" / "taxonomy.ttl")
    items = Items.from_records(records, BASE)
    result = compute(territories, items, place(territories, items), taxonomy, GapsSettings())
    k = result.concepts.index("tiers-lieux")
    deps = territories.levels["departement"]
    values = result.values["departement"]
    km = f"{result.settings.white_zone_km:g}"
    print(f"tiers-lieux, {len(items):,} points; zone blanche: nothing within {km} km (straight line)")
    for title, key in (("former (population in zones blanches)", "population_rank"), ("new (share)", "priority_rank")):
        print(f"\n{title}:")
        order = np.argsort(np.where(np.isfinite(values[key][:, k]), values[key][:, k], np.inf))[:top]
        for u in order:
            print(
                f"  {int(values[key][u, k]):>3}  {deps.codes[u]:<4} {deps.names[u]:<28} "
                f"{values['white_share'][u, k] * 100:5.1f} % beyond {km} km, "
                f"{int(values['white_population'][u, k]):>9,} people; "
                f"new rank {int(values['priority_rank'][u, k])}, former {_rank(values['population_rank'][u, k])}"
            )
    return 0


def _rank(value: float) -> str:
    return str(int(value)) if np.isfinite(value) else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None, help="folder for the output files (default: a temp dir)")
    parser.add_argument("--skip-alternatives", action="store_true")
    parser.add_argument(
        "--census-ranking",
        action="store_true",
        help="print the top ten départements for tiers-lieux (CGET 2019 census) by the former ranking and the new",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.census_ranking:
        return census_ranking(settings)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-gaps-"))
    figures: list[tuple[str, float]] = []

    def timed(name: str, started: float) -> float:
        elapsed = time.perf_counter() - started
        figures.append((name, elapsed))
        return elapsed

    started = time.perf_counter()
    files = territory_files(settings.territories_dir, settings.cache_dir, settings.territories_url)
    territories = load_territories(files, settings.cache_dir)
    timed("load territories (disk cache; first run parses the GeoJSON, ~4 s)", started)
    taxonomy = load_taxonomy(PROJECT_ROOT / "ontology" / "taxonomy.ttl")
    leaves = [c for c in taxonomy.notations if c in taxonomy.broader]
    items = synthetic_items(territories, leaves, args.items)
    print(
        f"{len(territories.communes):,} communes, {len(territories.levels['epci']):,} EPCI, "
        f"{args.items:,} initiatives, {len(taxonomy.notations)} concepts ({len(leaves)} leaves)",
        flush=True,
    )
    gap_settings = GapsSettings()
    gc.disable()  # millions of small objects are not built here, but the arrays are: no cycles to collect
    total = time.perf_counter()
    started = time.perf_counter()
    placement = place(territories, items, gap_settings.snap_km)
    timed("place (point-in-polygon STRtree + INSEE/postcode fallback)", started)
    started = time.perf_counter()
    result = compute(territories, items, placement, taxonomy, gap_settings)
    timed("indicators (all levels × all concepts)", started)
    compute_total = time.perf_counter() - total
    for name, seconds in result.timings.items():
        figures.append((f"  of which {name}", seconds))
    peak_compute = peak_rss_mb()
    started = time.perf_counter()
    cube_triples = write_cube_ntriples(territories, result, BASE, out / "gaps.nt")
    timed(f"write Data Cube N-Triples ({cube_triples:,} triples, levels {','.join(gap_settings.cube_levels)})", started)
    started = time.perf_counter()
    link_triples = write_links_ntriples(territories, items, placement, BASE, out / "links.nt")
    timed(f"write inTerritory links ({link_triples:,} triples)", started)
    started = time.perf_counter()
    write_csv(territories, result, out)
    timed("write CSV (all levels, communes × concepts included)", started)
    started = time.perf_counter()
    write_geojson(territories, result, taxonomy, out)
    timed("write GeoJSON choropleths (all levels)", started)
    gc.enable()

    print(f"\nplacement: {placement.counts()}, disagreements: {len(placement.disagreements)}")
    width = max(len(name) for name, _ in figures)
    for name, seconds in figures:
        print(f"{name.ljust(width)}  {seconds:7.2f} s")
    print(f"{'COMPUTE TOTAL (place + indicators)'.ljust(width)}  {compute_total:7.2f} s   target < 15 s")
    print(
        f"peak RSS after computing: {peak_compute:,.0f} MB; after writing: {peak_rss_mb():,.0f} MB   target < 2048 MB"
    )
    sizes = {p.name: p.stat().st_size / 1e6 for p in sorted(out.glob("gaps-*"))}
    print("files: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in sizes.items()))

    if not args.skip_alternatives:
        from transiscope.downstream.gaps.indicators import membership

        member = membership(items, taxonomy)
        started = time.perf_counter()
        once = _two_step_fca(territories, placement, member, gap_settings.catchment_km)
        shared = time.perf_counter() - started
        started = time.perf_counter()
        naive = _per_concept_2sfca(territories, placement, member, gap_settings.catchment_km)
        per_concept = time.perf_counter() - started
        assert np.allclose(once, naive), "the two 2SFCA computations disagree"
        print(
            f"\n2SFCA, catchment pairs once for all concepts: {shared:.2f} s; one query per concept: "
            f"{per_concept:.2f} s (×{per_concept / shared:.1f}); same scores: yes"
        )
    print("\n(figures are indicative: 2 shared cores, other engineers' jobs running at the same time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
