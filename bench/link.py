"""The link step at 100,000 initiatives, through the real code paths, beside what all-pairs would cost.

    .venv/bin/python bench/link.py [--size 100000] [--sources 4] [--duplicates 0.05]

Synthetic canonical records (bench/synthetic.py) spread over ``--sources`` sources, 40 % of them gathered
around 30 cities (real maps are dense in towns, which is what makes blocking hard), plus ``--duplicates``
of them published a second time by a "twin" source with a typo, a moved pin or a missing field. They are
mapped and bulk-loaded into a fresh embedded store (set-up, timed apart); then ``link.run_link`` runs end to
end: read every source graph, block, score, cluster, write the links graph and the review files. Printed:
seconds per stage, pairs compared against the n(n-1)/2 of an all-pairs comparison (and the time that would
take at the measured scoring rate), and recall / precision on the known twins.

Figures are indicative: the machine's 2 cores are shared with other work.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from bench.synthetic import records as synthetic_records
from bench.synthetic import with_duplicates
from transiscope.core import vocab
from transiscope.downstream.link import linker as link
from transiscope.downstream.link import matching
from transiscope.ingest import rdf
from transiscope.settings import Settings
from transiscope.store.embedded import EmbeddedStore

CITIES = [
    (45.764, 4.836),
    (48.857, 2.352),
    (43.297, 5.370),
    (43.605, 1.444),
    (47.218, -1.554),
    (48.573, 7.752),
    (43.611, 3.877),
    (44.838, -0.579),
    (50.629, 3.057),
    (48.117, -1.678),
    (45.188, 5.724),
    (47.322, 5.041),
    (49.258, 4.032),
    (45.440, 4.387),
    (47.394, 0.685),
    (45.777, 3.087),
    (49.443, 1.100),
    (47.478, -0.563),
    (48.390, -4.486),
    (46.580, 0.340),
    (43.296, -0.371),
    (44.933, 4.892),
    (47.238, 6.024),
    (49.183, -0.371),
    (48.692, 6.184),
    (47.751, 7.336),
    (45.834, 1.261),
    (43.700, 7.266),
    (46.323, -0.459),
    (48.936, 2.357),
]


def build(size: int, sources: int, duplicates: float, seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    base = synthetic_records(round(size / (1 + duplicates)), seed=seed, bad_share=0.0)
    for i, record in enumerate(base):
        record["source"] = f"source{i % sources}"
        record["phone"] = f"0{rng.randint(1, 5)} {rng.randint(10, 99)} {rng.randint(10, 99)} {i % 1_000_000:06d}"
        if rng.random() < 0.4:  # towns are dense
            lat, lon = rng.choice(CITIES)
            record["lat"], record["lon"] = round(rng.gauss(lat, 0.05), 6), round(rng.gauss(lon, 0.07), 6)
    return with_duplicates(base, duplicates, seed=seed + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--duplicates", type=float, default=0.05)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="transiscope-bench-link-"))
    os.environ.update(TRANSISCOPE_HOME=str(work / "home"), TRANSISCOPE_LINK_DECISIONS=str(work / "decisions.csv"))
    settings = Settings.from_env()
    started = time.perf_counter()
    rows = build(args.size, args.sources, args.duplicates)
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    with EmbeddedStore(settings.store_path) as store:
        for source, members in sorted(by_source.items()):
            path = work / f"{source}.nt"
            rdf.write_ntriples(members, settings.base_iri, path)
            graph = vocab.source_graph(settings.base_iri, source)
            store.replace_graph(graph, vocab.staging_graph(settings.base_iri, source), path)
    setup = time.perf_counter() - started
    print(
        f"set-up: {len(rows):,} records in {len(by_source)} sources ({sum(1 for r in rows if 'duplicate_of' in r):,} "
        f"twins) generated, mapped and bulk-loaded in {setup:.1f} s"
    )

    started = time.perf_counter()
    summary = link.run_link(settings)
    total = time.perf_counter() - started
    stages = "  ".join(f"{k} {v:.2f}" for k, v in summary.seconds.items())
    print(f"link end to end: {total:.2f} s for {summary.records:,} records  ({stages})")
    print(
        f"  sameAs {summary.same_as:,}  candidates {summary.candidates:,}  clusters {summary.clusters:,}  "
        f"triples {summary.triples:,}"
    )
    all_pairs = summary.records * (summary.records - 1) // 2
    rate = summary.compared_pairs / summary.seconds["score"] if summary.seconds.get("score") else float("nan")
    print(
        f"  pairs compared {summary.compared_pairs:,} = {summary.compared_pairs / summary.records:.1f} per record; "
        f"all pairs would be {all_pairs:,} ({all_pairs / summary.compared_pairs:,.0f}x more, "
        f"~{all_pairs / rate / 3600:.1f} h at the measured {rate:,.0f} pairs/s)"
    )

    # truth: each twin and its original
    truth = {frozenset({(r["source"], r["source_id"]), r["duplicate_of"]}) for r in rows if "duplicate_of" in r}
    with EmbeddedStore(settings.store_path, read_only=True) as store:
        found = store.select(f"""SELECT ?a ?b ?score ?same WHERE {{ GRAPH <{link.links_graph(settings.base_iri)}> {{
            ?l a <{vocab.TS}DuplicateCandidate> ; <{vocab.TS}candidate> ?a, ?b ; <{vocab.TS}matchScore> ?score .
            FILTER(STR(?a) < STR(?b)) OPTIONAL {{ ?a <{link.OWL}sameAs> ?b BIND(true AS ?same) }} }} }}""")
    prefix = f"{settings.base_iri}id/initiative/"

    def key(iri: str) -> tuple[str, str]:
        return link.parse_record_ref(iri, settings.base_iri) if iri.startswith(prefix) else ("", iri)

    same = {frozenset({key(r["a"].value), key(r["b"].value)}) for r in found if "same" in r}
    any_link = {frozenset({key(r["a"].value), key(r["b"].value)}) for r in found}
    print(
        f"  twins: recall sameAs {len(same & truth) / len(truth):.3f}, sameAs+candidates "
        f"{len(any_link & truth) / len(truth):.3f}; sameAs that are not twins: {len(same - truth)} "
        f"(synthetic names repeat words, so unrelated neighbours can look alike)"
    )

    # scaling: the same code on a tenth of the records, in memory (no store)
    small = build(args.size // 10, args.sources, args.duplicates)
    for label, data in (("1/10", small), ("full", rows)):
        started = time.perf_counter()
        result = link.link_records(data, high=settings.link.high, low=settings.link.low, decisions=link.Decisions())
        took = time.perf_counter() - started
        print(
            f"  in memory, {label}: {len(data):,} records {took:.2f} s ({took / len(data) * 1e6:.0f} µs per record, "
            f"{result.compared_pairs / len(data):.1f} pairs per record)"
        )
    print(
        f"(matching.NEAR_CELL {matching.NEAR_CELL}°, thresholds {settings.link.high} / {settings.link.low}; "
        "2 shared cores: indicative figures)"
    )


if __name__ == "__main__":
    main()
