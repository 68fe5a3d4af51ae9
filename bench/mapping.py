"""Map+load of GoGoCarto initiatives: the bus beside Morph-KGC and beside an f-string floor, on one payload.

    .venv/bin/python bench/mapping.py [--size 100000] [--check 2000] [--json]

One synthetic GoGoCarto ``elements.json`` (bench/synthetic.py) is mapped to RDF three ways, each in its own
process so that its peak RSS is its own:

- **bus**: the GoGoCarto connector (parse, normalise: HTML cleaning, crosswalk, placeholders) and
  ``rdf.write_ntriples``, then a bulk load of the N-Triples into a pyoxigraph store, in memory and on disk;
- **Morph-KGC** 2.10 with ``bench/rml/gogocarto-initiatives.rml.ttl`` (RML-core + FNML, Python UDFs in
  ``bench/rml/udfs.py`` for what RML cannot say), ``materialize_oxigraph`` into its in-memory pyoxigraph store.
  Morph-KGC needs pyoxigraph < 0.4, so it runs in its own virtualenv (``var/bench/morph-venv``, created on
  first use from the package index);
- **floor**: ``orjson.loads`` and one f-string per N-Triples line, no cleaning, no validation.

Validation (GX, SHACL) is not mapping and is left out of all three. Before timing, ``--check`` records are
mapped by the bus and by Morph-KGC and the two triple sets compared, so the ratio compares equal work.
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
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RML = ROOT / "bench" / "rml"
MORPH_VENV = ROOT / "var" / "bench" / "morph-venv"
MORPH_REQUIREMENT = "morph-kgc==2.10.*"
SOURCE_ID = "transiscope"  # the registry source whose mapping and crosswalk both sides use
BASE = "https://w3id.org/transiscope/"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the three sides, each run as `bench/mapping.py --side NAME PAYLOAD OUT` ---------------------------------
def side_bus(payload: Path, out: Path) -> dict[str, Any]:
    import pyoxigraph as ox

    from transiscope.ingest import rdf
    from transiscope.ingest.formats import RecordRejected, connector
    from transiscope.ingest.mappings import load_mapping, load_registry
    from transiscope.settings import PROJECT_ROOT

    source = load_registry(PROJECT_ROOT / "transforms" / "sources.toml").get(SOURCE_ID)
    started = time.perf_counter()
    fmt = connector(source.format)
    mapping = load_mapping(source)
    elements = fmt.parse(payload.read_bytes(), source)
    parsed = time.perf_counter()
    records, rejected = [], 0
    for index, element in enumerate(elements):
        try:
            records.append(fmt.normalise(element, index, source, mapping))
        except RecordRejected:
            rejected += 1
    normalised = time.perf_counter()
    triples = rdf.write_ntriples(records, BASE, out)
    mapped = time.perf_counter()
    memory = ox.Store()
    memory.bulk_load(path=str(out), format=ox.RdfFormat.N_TRIPLES)
    loaded_memory = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        disk = ox.Store(directory)
        disk.bulk_load(path=str(out), format=ox.RdfFormat.N_TRIPLES)
        disk.flush()
        loaded_disk = time.perf_counter()
        in_disk = len(disk)
        del disk
    return {
        "records": len(records),
        "rejected": rejected,
        "triples": triples,
        "in_store": len(memory),
        "in_disk_store": in_disk,
        "parse_s": parsed - started,
        "normalise_s": normalised - parsed,
        "to_rdf_s": mapped - normalised,
        "map_s": mapped - started,
        "load_memory_s": loaded_memory - mapped,
        "load_disk_s": loaded_disk - loaded_memory,
        "peak_rss_mb": _peak_mb(),
    }


def _esc(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def side_floor(payload: Path, out: Path) -> dict[str, Any]:
    """The least any mapper must do: parse, and write each triple as a line. No cleaning, no checks."""
    import orjson

    crosswalk = json.loads(os.environ["BENCH_CROSSWALK"])
    origin = os.environ["BENCH_MAP_ORIGIN"]
    s_, ts, geo = (
        "http://schema.org/",
        "https://w3id.org/transiscope/ontology#",
        "http://www.opengis.net/ont/geosparql#",
    )
    rdf_type, xsd = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", "http://www.w3.org/2001/XMLSchema#"
    started = time.perf_counter()
    data = orjson.loads(payload.read_bytes())["data"]
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for e in data:
            s = f"<{BASE}id/initiative/{SOURCE_ID}/{e['id']}>"
            g = f"<{BASE}id/initiative/{SOURCE_ID}/{e['id']}/geometry>"
            a = f"<{BASE}id/initiative/{SOURCE_ID}/{e['id']}/address>"
            lat, lon = e["geo"]["latitude"], e["geo"]["longitude"]
            ad = e["address"]
            lines = [
                f"{s} <{rdf_type}> <{s_}Organization> .",
                f"{s} <{rdf_type}> <{ts}Initiative> .",
                f'{s} <{s_}name> "{_esc(e["name"])}" .',
                f"{s} <{ts}source> <{BASE}id/source/{SOURCE_ID}> .",
                f'{s} <{ts}sourceId> "{_esc(e["id"])}" .',
                f'{s} <{s_}description> "{_esc(e["description"])}" .',
                *(f'{s} <{ts}sourceCategory> "{_esc(c)}" .' for c in e["categories"]),
                *(f"{s} <{ts}category> <{BASE}taxonomy/{n}> ." for c in e["categories"] for n in crosswalk.get(c, ())),
                f"{s} <{geo}hasGeometry> {g} .",
                f"{s} <{s_}geo> {g} .",
                f"{g} <{rdf_type}> <{geo}Geometry> .",
                f"{g} <{rdf_type}> <http://www.opengis.net/ont/sf#Point> .",
                f"{g} <{rdf_type}> <{s_}GeoCoordinates> .",
                f'{g} <{geo}asWKT> "POINT({lon} {lat})"^^<{geo}wktLiteral> .',
                f'{g} <{s_}latitude> "{lat}"^^<{xsd}decimal> .',
                f'{g} <{s_}longitude> "{lon}"^^<{xsd}decimal> .',
                f"{s} <{s_}address> {a} .",
                f"{a} <{rdf_type}> <{s_}PostalAddress> .",
                f'{a} <{s_}streetAddress> "{_esc(ad["streetAddress"])}" .',
                f'{a} <{s_}postalCode> "{_esc(ad["postalCode"])}" .',
                f'{a} <{s_}addressLocality> "{_esc(ad["addressLocality"])}" .',
                f'{a} <{s_}addressCountry> "{_esc(ad["addressCountry"])}" .',
                f'{s} <{s_}url> "{_esc(e["website"])}"^^<{xsd}anyURI> .',
                f'{s} <{s_}email> "{_esc(e["email"])}" .',
                f'{s} <{s_}telephone> "{_esc(e["telephone"])}" .',
                f'{s} <{s_}openingHours> "Mo {_esc(e["openHours"]["Mo"])}" .',
                f"{s} <http://www.w3.org/ns/prov#wasDerivedFrom> <{origin}/map#/fiche/{e['id']}/> .",
                f'{s} <{ts}upstreamSource> "{_esc(e["sourceKey"])}" .',
                f"{s} <http://purl.org/dc/terms/license> <https://spdx.org/licenses/ODbL-1.0> .",
                f'{s} <{s_}dateCreated> "{e["createdAt"]}"^^<{xsd}dateTime> .',
                f'{s} <{s_}dateModified> "{e["updatedAt"]}"^^<{xsd}dateTime> .',
            ]
            count += len(lines)
            handle.write("\n".join(lines))
            handle.write("\n")
    return {"records": len(data), "triples": count, "map_s": time.perf_counter() - started, "peak_rss_mb": _peak_mb()}


# -- orchestration -------------------------------------------------------------------------------------------
def morph_python() -> Path:
    python = MORPH_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating Morph-KGC's virtualenv ({MORPH_REQUIREMENT}; it needs pyoxigraph < 0.4) …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MORPH_VENV)], check=True)
        subprocess.run([str(MORPH_VENV / "bin" / "pip"), "install", "-q", MORPH_REQUIREMENT], check=True)
    return python


def run_morph(payload: Path, work: Path, dump: Path | None, env: dict[str, str]) -> dict[str, Any]:
    mapping = work / "mapping.rml.ttl"
    mapping.write_text(
        (RML / "gogocarto-initiatives.rml.ttl")
        .read_text(encoding="utf-8")
        .replace("{PAYLOAD}", str(payload))
        .replace("{SOURCE}", SOURCE_ID),
        encoding="utf-8",
    )
    config = work / "morph.ini"
    config.write_text(
        f"[CONFIGURATION]\nudfs = {RML / 'udfs.py'}\nlogging_level = WARNING\n[GoGoCarto]\nmappings = {mapping}\n",
        encoding="utf-8",
    )
    script = (
        "import json, resource, sys, time\n"
        "import morph_kgc\n"
        "t = time.perf_counter()\n"
        f"store = morph_kgc.materialize_oxigraph({str(config)!r})\n"
        "seconds = time.perf_counter() - t\n"
        "triples = len(store)\n"
        f"dump = {str(dump) if dump else None!r}\n"
        "if dump:\n"
        "    with open(dump, 'wb') as out:\n"
        "        store.dump(out, 'application/n-triples')\n"
        "print(json.dumps({'map_load_s': seconds, 'triples': triples,\n"
        "                  'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    done = subprocess.run([str(morph_python()), "-c", script], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"Morph-KGC failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_side(name: str, payload: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--side", name, str(payload), str(out)], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"the {name} side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(bus_nt: Path, morph_nt: Path) -> dict[str, Any]:
    """Both triple sets; decimals compared by value (Morph-KGC writes the payload's ``0`` as "0", the bus "0.0")."""
    from decimal import Decimal

    import pyoxigraph as ox

    decimal = ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")

    def key(triple: ox.Triple) -> str:
        o = triple.object
        if isinstance(o, ox.Literal) and o.datatype == decimal:
            return f"{triple.subject} {triple.predicate} {Decimal(o.value).normalize()}"
        return str(triple)

    def triples(path: Path) -> set[str]:
        return {key(t) for t in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)}

    ours, theirs = triples(bus_nt), triples(morph_nt)
    only_ours, only_theirs = sorted(ours - theirs), sorted(theirs - ours)
    return {
        "bus": len(ours),
        "morph": len(theirs),
        "same": len(ours & theirs),
        "only_bus": len(only_ours),
        "only_morph": len(only_theirs),
        "examples_only_bus": only_ours[:3],
        "examples_only_morph": only_theirs[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="initiatives in the payload (default 100,000)")
    parser.add_argument("--check", type=int, default=2_000, help="initiatives in the equivalence check (0: skip)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--side", nargs=3, metavar=("NAME", "PAYLOAD", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        name, payload, out = args.side
        print(json.dumps({"bus": side_bus, "floor": side_floor}[name](Path(payload), Path(out))))
        return

    from bench.synthetic import gogocarto_payload

    with (ROOT / "transforms" / "mappings" / f"{SOURCE_ID}.toml").open("rb") as handle:
        crosswalk = tomllib.load(handle)["categories"]
    env = {
        **os.environ,
        "GX_ANALYTICS_ENABLED": "False",
        "BENCH_CROSSWALK": json.dumps(crosswalk),
        "BENCH_MAP_ORIGIN": "https://transiscope.gogocarto.fr",
    }
    os.environ.update(env)
    work = Path(tempfile.mkdtemp(prefix="transiscope-bench-mapping-"))
    result: dict[str, Any] = {"size": args.size}

    if args.check:
        small = work / "check.json"
        small.write_text(json.dumps(gogocarto_payload(args.check, labels=list(crosswalk))), encoding="utf-8")
        run_side("bus", small, work / "check-bus.nt", env)
        run_morph(small, work, work / "check-morph.nt", env)
        result["check"] = {"size": args.check, **compare(work / "check-bus.nt", work / "check-morph.nt")}

    payload = work / "payload.json"
    payload.write_text(json.dumps(gogocarto_payload(args.size, labels=list(crosswalk))), encoding="utf-8")
    result["payload_mb"] = round(payload.stat().st_size / 1e6, 1)
    result["bus"] = run_side("bus", payload, work / "bus.nt", env)
    result["floor"] = run_side("floor", payload, work / "floor.nt", env)
    result["morph"] = run_morph(payload, work, None, env)
    bus, floor, morph = result["bus"], result["floor"], result["morph"]
    result["ratios"] = {
        "bus_map_load_memory_over_morph": (bus["map_s"] + bus["load_memory_s"]) / morph["map_load_s"],
        "bus_map_load_disk_over_morph": (bus["map_s"] + bus["load_disk_s"]) / morph["map_load_s"],
        "bus_map_over_floor": bus["map_s"] / floor["map_s"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if "check" in result:
        c = result["check"]
        print(
            f"equivalence on {c['size']:,} initiatives: bus {c['bus']:,} triples, Morph-KGC {c['morph']:,}, "
            f"identical {c['same']:,}; only bus {c['only_bus']}, only Morph-KGC {c['only_morph']}"
        )
        for line in c["examples_only_bus"] + c["examples_only_morph"]:
            print(f"   {line[:160]}")
    print(f"\n{args.size:,} initiatives, payload {result['payload_mb']} MB")
    print(f"{'':<34}{'seconds':>9}{'triples':>12}{'triples/s':>12}{'peak RSS MB':>13}")
    rows = [
        ("bus map (parse+normalise+to_rdf)", bus["map_s"], bus["triples"], bus["peak_rss_mb"]),
        ("  of which parse", bus["parse_s"], None, None),
        ("  of which normalise", bus["normalise_s"], None, None),
        ("  of which to_rdf", bus["to_rdf_s"], None, None),
        ("bus bulk load, in memory", bus["load_memory_s"], bus["in_store"], None),
        ("bus bulk load, on disk", bus["load_disk_s"], bus["in_disk_store"], None),
        ("bus map+load, in memory", bus["map_s"] + bus["load_memory_s"], bus["in_store"], None),
        ("Morph-KGC map+load, in memory", morph["map_load_s"], morph["triples"], morph["peak_rss_mb"]),
        ("floor (orjson + f-strings)", floor["map_s"], floor["triples"], floor["peak_rss_mb"]),
    ]
    for label, seconds, triples, rss in rows:
        count = f"{triples:>12,}" if triples else f"{'':>12}"
        rate = f"{triples / seconds:>12,.0f}" if triples else f"{'':>12}"
        peak = f"{rss:>13,.0f}" if rss else ""
        print(f"{label:<34}{seconds:>9.2f}{count}{rate}{peak}")
    r = result["ratios"]
    print(
        f"\nbus map+load / Morph-KGC map+load: {r['bus_map_load_memory_over_morph']:.2f} (in memory), "
        f"{r['bus_map_load_disk_over_morph']:.2f} (bus on disk)   target ≤ 0.6"
    )
    print(f"bus map / floor map: {r['bus_map_over_floor']:.2f}   target ≤ 2")


if __name__ == "__main__":
    main()
