"""The official French territories at every level (commune, EPCI, département, région, France), for the gaps.

Why a module of its own next to :mod:`transiscope.territories.communes`: that one reads the commune table, the
commune polygons and the postcode table (and caches them on disk) and answers "is this point near the commune its
record declares?" for the quality report; this one builds on those tables the whole hierarchy with populations, areas
and population points, projected for distances, and writes it as the territories named graph (INSEE ``igeo:``).

Inputs (the layout of the shared territories folder, ``SOURCES.md`` there): the COG 2026 commune table with
populations and EPCI membership (the hierarchy comes from it, never from geometry), commune/EPCI/département/
région outlines (IGN Admin Express COG 2018, commune codes carried to COG 2026), the INSEE history of communes (to
re-code old INSEE codes found in source data) and the La Poste postcode table. For real use the files come from
``TRANSISCOPE_TERRITORIES_DIR``, or are downloaded once from ``TRANSISCOPE_TERRITORIES_URL`` (a mirror of that
layout) into the cache folder.

Projections: distances are planar in a local projected CRS per zone: Lambert-93 for the metropole (continent and
Corsica, kept apart so that nothing is ever "nearest" across the sea), and the local UTM-based CRS of each DROM.
The seven COG 2026 communes without a polygon of their own (re-established inside a commune nouvelle) take their
host's polygon for placing points and their host's population point for distances.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transiscope.core import vocab
from transiscope.core.errors import ConfigError, SourceUnreachable
from transiscope.core.files import atomic_open
from transiscope.territories.communes import read_communes

log = logging.getLogger(__name__)

VINTAGE = "cog2026"

#: the files read, by role, as paths relative to the territories folder (and to the download URL)
FILES: dict[str, str] = {
    "communes_csv": "communes-cog2026-population.csv",
    "communes_geojson": "communes-cog2026-contours-simplifies.geojson",
    "epci_geojson": "epci-2025-contours-simplifies.geojson",
    "departements_geojson": "departements-avec-outre-mer.geojson",
    "regions_geojson": "regions-avec-outre-mer.geojson",
    "departements_csv": "insee-cog-2026/departements.csv",
    "regions_csv": "insee-cog-2026/regions.csv",
    "mouvements_csv": "insee-cog-2026/mouvements-communes.csv",
    "postcodes_csv": "postcodes/laposte-hexasmal-2025.csv",
}

#: zone -> EPSG code of the projected CRS distances are measured in
ZONE_CRS: dict[str, int] = {
    "metropole": 2154,  # RGF93 v1 / Lambert-93
    "corse": 2154,  # same CRS, separate zone: no "nearest" across the Mediterranean
    "971": 5490,  # RGAF09 / UTM 20N (Guadeloupe)
    "972": 5490,  # RGAF09 / UTM 20N (Martinique)
    "973": 2972,  # RGFG95 / UTM 22N (Guyane)
    "974": 2975,  # RGR92 / UTM 40S (La Réunion)
    "976": 4471,  # RGM04 / UTM 38S (Mayotte)
}
ZONES = tuple(ZONE_CRS)

#: the COG event types that carry an old commune code to a new one (fusions, communes nouvelles, code changes)
RECODING_EVENTS = frozenset({"31", "32", "33", "34", "41", "50"})
_CODE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
_SIREN = re.compile(r"^[0-9]{9}$")
_DEP = re.compile(r"^(?:[0-9]{2}|2A|2B|97[1-6])$")
_REG = re.compile(r"^[0-9]{2}$")


def zone_of(departement: str) -> str:
    """The distance zone of a département code."""
    if departement in ("2A", "2B"):
        return "corse"
    return departement if departement.startswith("97") else "metropole"


@dataclass
class Level:
    """The units of one level: codes, names, populations, areas, outlines (None when not published)."""

    name: str
    codes: list[str]
    names: list[str]
    population: np.ndarray  # float64, INSEE population municipale (sum of the communes above commune level)
    area_km2: np.ndarray  # float64, NaN when the unit has no polygon of its own
    geometry: np.ndarray  # object array of shapely geometries (WGS84) or None
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {code: i for i, code in enumerate(self.codes)}

    def __len__(self) -> int:
        return len(self.codes)


@dataclass
class Territories:
    """Every level, the commune -> unit index of each level, commune population points, and code look-ups."""

    vintage: str
    levels: dict[str, Level]
    #: level -> int array (one per commune): the index of the commune's unit at that level, -1 when none
    parent: dict[str, np.ndarray]
    #: commune index -> index of the commune whose polygon holds it (itself, or the host for the 7 without one)
    owner: np.ndarray
    #: commune population points (``point_on_surface`` of the polygon), WGS84 and projected in the zone's CRS
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    zone: np.ndarray  # int index into ZONES
    #: old INSEE code -> current COG code (fusions and code changes); municipal arrondissement -> its commune
    recode: dict[str, str]
    arrondissements: dict[str, tuple[str, str, float]]  # ARM code -> (name, parent commune, population)
    postcodes: dict[str, tuple[int, ...]]  # postcode -> commune indexes
    departement_region: dict[str, str]

    @property
    def communes(self) -> Level:
        return self.levels["commune"]

    def commune_index(self, code: str | None) -> int:
        """The commune index of an INSEE code of any vintage since 1943 (re-coded), -1 when unknown."""
        if not code:
            return -1
        code = code.strip().upper()
        seen = 0
        while code not in self.communes.index and code in self.recode and seen < 20:  # bounded: chains are short
            code = self.recode[code]
            seen += 1
        return self.communes.index.get(code, -1)


@functools.lru_cache(maxsize=8)
def _transformer(epsg: int) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(4326, epsg, always_xy=True)


def project(lon: np.ndarray, lat: np.ndarray, zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat -> planar metres in each point's zone CRS (one pyproj call per zone, vectorised)."""
    x = np.full(len(lon), np.nan)
    y = np.full(len(lon), np.nan)
    for z, name in enumerate(ZONES):
        mask = zone == z
        if mask.any():
            x[mask], y[mask] = _transformer(ZONE_CRS[name]).transform(lon[mask], lat[mask])
    return x, y


# -- finding the files ---------------------------------------------------------------------------------------
def territory_files(
    directory: Path | None,
    cache_dir: Path,
    url: str = "",
    http: Any = None,
    progress: Callable[[str], None] | None = None,
    roles: tuple[str, ...] | None = None,
) -> dict[str, Path]:
    """The path of every input file (or of the ``roles`` given, keys of :data:`FILES`): in ``directory`` when
    there, else downloaded once from ``url`` into the cache.

    ``url`` is ``settings.territories_url`` (``TRANSISCOPE_TERRITORIES_URL``); without it, a missing file is a
    :class:`ConfigError` naming the files and both settings.
    """
    found: dict[str, Path] = {}
    missing: list[str] = []
    for role, relative in FILES.items():
        if roles is not None and role not in roles:
            continue
        local = directory / relative if directory is not None else None
        cached = cache_dir / "territories-download" / relative
        if local is not None and local.is_file():
            found[role] = local
        elif cached.is_file():
            found[role] = cached
        elif url:
            found[role] = _download(url.rstrip("/") + "/" + relative, cached, http, progress)
        else:
            missing.append(relative)
    if missing:
        where = str(directory) if directory is not None else "(no folder configured)"
        raise ConfigError(
            f"territories data incomplete in {where}: missing {', '.join(missing)}; set "
            "TRANSISCOPE_TERRITORIES_DIR to a folder holding them, or TRANSISCOPE_TERRITORIES_URL to a mirror to "
            "download them from once"
        )
    return found


def _download(url: str, destination: Path, http: Any, progress: Callable[[str], None] | None) -> Path:
    """Fetch one file with the bus's HTTP settings (retries, timeouts, size cap); written atomically."""
    import requests

    from transiscope.core.http import make_session
    from transiscope.settings import HttpSettings

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"TRANSISCOPE_TERRITORIES_URL must be an http(s) URL, not {url!r}")
    http = http or HttpSettings()
    if progress:
        progress(f"downloading {url}")
    size = 0
    try:
        with (
            make_session(http) as session,
            session.get(url, stream=True, timeout=(http.connect_timeout, http.read_timeout)) as response,
        ):
            if response.status_code != 200:
                raise SourceUnreachable(f"territories file {url} answered HTTP {response.status_code}")
            with atomic_open(destination, "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    size += len(chunk)
                    if size > http.max_bytes:
                        raise SourceUnreachable(f"territories file {url} is larger than {http.max_bytes:,} bytes")
                    out.write(chunk)
    except requests.exceptions.RequestException as exc:
        raise SourceUnreachable(f"cannot download the territories file {url}: {exc}") from None
    return destination


# -- reading ---------------------------------------------------------------------------------------------------
def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _read_outlines(path: Path, key: str) -> dict[str, Any]:
    import shapely

    with path.open(encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
    return {str(f["properties"][key]): s for f, s in zip(features, shapes, strict=True)}


def _recoding(rows: list[dict[str, str]], current: set[str]) -> dict[str, str]:
    """Old commune code -> the code it became (latest event first); current codes are never re-coded."""
    recode: dict[str, tuple[str, str]] = {}
    for row in rows:
        old, new = row["COM_AV"], row["COM_AP"]
        relevant = (
            row["MOD"] in RECODING_EVENTS
            and row["TYPECOM_AV"] == "COM"
            and row["TYPECOM_AP"] == "COM"
            and old != new
            and old not in current
        )
        if relevant and (old not in recode or row["DATE_EFF"] > recode[old][0]):
            recode[old] = (row["DATE_EFF"], new)
    return {old: new for old, (_, new) in recode.items()}


def _areas_km2(geometries: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Areas in km² in each unit's zone CRS (shapely.transform: one pyproj call per zone for all vertices)."""
    import shapely

    areas = np.full(len(geometries), np.nan)
    has = np.array([g is not None for g in geometries], dtype=bool)
    for z, name in enumerate(ZONES):
        mask = has & (zones == z)
        if not mask.any():
            continue
        transformer = _transformer(ZONE_CRS[name])

        def forward(coords: np.ndarray, transformer: Any = transformer) -> np.ndarray:
            xs, ys = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([xs, ys])

        areas[mask] = shapely.area(shapely.transform(geometries[mask], forward)) / 1e6
    return areas


def build_territories(files: dict[str, Path], cache_dir: Path | None = None) -> Territories:
    """Build :class:`Territories` from the files (about 5 s, 2.5 s when the commune tables come from the disk cache
    of :func:`transiscope.territories.communes.read_communes` in ``cache_dir``)."""
    import shapely

    tables = read_communes(files["communes_csv"], files["communes_geojson"], files["postcodes_csv"], cache_dir)
    rows = tables.table
    communes = [r for r in rows if r["type"] == "COM" and _CODE.match(r["code_insee"])]
    if not communes:
        raise ConfigError(f"{files['communes_csv']} lists no commune (expected COG rows of type COM)")
    codes = [r["code_insee"] for r in communes]
    index = {c: i for i, c in enumerate(codes)}
    population = np.array([float(r["population_municipale"] or 0) for r in communes])
    arrondissements = {
        r["code_insee"]: (r["nom"], r["code_commune_parent"], float(r["population_municipale"] or 0))
        for r in rows
        if r["type"] == "ARM" and r["code_commune_parent"] in index
    }

    geometry = np.full(len(codes), None, dtype=object)
    owner = np.arange(len(codes))
    for code, shape in tables.outlines.items():
        i = index.get(code)
        if i is None:
            log.warning("commune polygon %s is not a COG %s commune; ignored", code, VINTAGE)
            continue
        geometry[i] = shape
    for inner, host in tables.hosts:
        if inner in index and host in index:
            owner[index[inner]] = index[host]
    orphans = [codes[i] for i in range(len(codes)) if geometry[owner[i]] is None]
    if orphans:
        log.warning("%d communes have no polygon and no host: %s", len(orphans), ", ".join(orphans[:10]))

    deps = [r["code_departement"] for r in communes]
    zone = np.array([ZONES.index(zone_of(d)) for d in deps])
    has_polygon = np.array([g is not None for g in geometry[owner]], dtype=bool)
    points = np.full(len(codes), None, dtype=object)
    points[has_polygon] = shapely.point_on_surface(geometry[owner][has_polygon])
    lon = np.full(len(codes), np.nan)
    lat = np.full(len(codes), np.nan)
    coords = shapely.get_coordinates(points[has_polygon])
    lon[has_polygon], lat[has_polygon] = coords[:, 0], coords[:, 1]
    x, y = project(lon, lat, zone)
    commune_level = Level(
        "commune", codes, [r["nom"] for r in communes], population, _areas_km2(geometry, zone), geometry
    )

    # upper levels: membership from the COG table, outlines from their own files, populations and areas summed
    dep_rows = {r["DEP"]: r for r in _read_csv(files["departements_csv"]) if _DEP.match(r["DEP"])}
    reg_rows = {r["REG"]: r for r in _read_csv(files["regions_csv"]) if _REG.match(r["REG"])}
    epci_names: dict[str, str] = {}
    for r in communes:
        if _SIREN.match(r["epci_siren"] or ""):
            epci_names.setdefault(r["epci_siren"], r["epci_nom"])
    outlines = {
        "epci": _read_outlines(files["epci_geojson"], "siren"),
        "departement": _read_outlines(files["departements_geojson"], "code"),
        "region": _read_outlines(files["regions_geojson"], "code"),
    }
    upper = {
        "epci": (sorted(epci_names), epci_names, [r["epci_siren"] for r in communes]),
        "departement": (sorted(dep_rows), {k: v["LIBELLE"] for k, v in dep_rows.items()}, deps),
        "region": (
            sorted(reg_rows),
            {k: v["LIBELLE"] for k, v in reg_rows.items()},
            [r["code_region"] for r in communes],
        ),
    }
    levels = {"commune": commune_level}
    parent = {"commune": np.arange(len(codes))}
    area = commune_level.area_km2.copy()
    area[~np.isfinite(area)] = 0.0  # a hosted commune's area is inside its host's
    for name, (unit_codes, names, member_of) in upper.items():
        unit_index = {c: i for i, c in enumerate(unit_codes)}
        parent[name] = np.array([unit_index.get(c, -1) for c in member_of])
        valid = parent[name] >= 0
        levels[name] = Level(
            name,
            unit_codes,
            [names[c] for c in unit_codes],
            np.bincount(parent[name][valid], weights=population[valid], minlength=len(unit_codes)),
            np.bincount(parent[name][valid], weights=area[valid], minlength=len(unit_codes)),
            np.array([outlines[name].get(c) for c in unit_codes], dtype=object),
        )
    levels["france"] = Level(
        "france",
        ["FR"],
        ["France"],
        np.array([population.sum()]),
        np.array([area.sum()]),
        np.array([None], dtype=object),
    )
    parent["france"] = np.zeros(len(codes), dtype=int)

    current = set(codes)
    recode = _recoding(_read_csv(files["mouvements_csv"]), current)
    recode.update({arm: parent_code for arm, (_, parent_code, _) in arrondissements.items()})
    # the postcode table's arrondissements are already sent to their commune; only COG communes are kept
    postcodes: dict[str, set[int]] = {}
    for postcode, members in tables.postcodes.items():
        for code in members:
            if code in index:
                postcodes.setdefault(postcode, set()).add(index[code])
    return Territories(
        vintage=VINTAGE,
        levels=levels,
        parent=parent,
        owner=owner,
        lon=lon,
        lat=lat,
        x=x,
        y=y,
        zone=zone,
        recode=recode,
        arrondissements=arrondissements,
        postcodes={k: tuple(sorted(v)) for k, v in postcodes.items()},
        departement_region={k: v["REG"] for k, v in dep_rows.items()},
    )


# -- caching ---------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _load_cached(files_key: tuple[tuple[str, Path], ...], cache_dir: Path | None) -> Territories:
    return build_territories(dict(files_key), cache_dir)


def load_territories(files: dict[str, Path], cache_dir: Path | None = None) -> Territories:
    """Cached per process; the commune tables (the GeoJSON is most of the parsing time) come through the disk cache
    of :func:`transiscope.territories.communes.read_communes`, keyed on the files' path, size and date."""
    return _load_cached(tuple(sorted(files.items())), cache_dir)


# -- the territories named graph -------------------------------------------------------------------------------
IGEO = "http://rdf.insee.fr/def/geo#"
LEVEL_CLASS = {
    "commune": "Commune",
    "epci": "Intercommunalite",
    "departement": "Departement",
    "region": "Region",
    "france": "Pays",
}
#: the COG code of France as a country
FRANCE_CODE = "99100"


#: bumped when :func:`write_territories_ntriples` writes other triples from the same files
GRAPH_FORMAT = 1


def territories_key(files: dict[str, Path]) -> str:
    """What the territories graph is made from: the input files (path, size, date) and the graph's format.

    The gaps step writes the graph (a few hundred thousand triples) only when the store holds another key, so
    that a new load does not rewrite territories that have not changed.
    """
    text = "|".join(
        f"{role}:{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}" for role, path in sorted(files.items())
    )
    return f"{VINTAGE}-{GRAPH_FORMAT}-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def territories_graph(base: str) -> str:
    return f"{base}graph/territories/{VINTAGE}"


def territory_iri(base: str, level: str, code: str) -> str:
    """``<base>id/territory/cog2026/<level>/<code>``: codes are checked ([0-9A-Z] only) when the data is read."""
    if level == "france":
        return f"{base}id/territory/{VINTAGE}/france"
    return f"{base}id/territory/{VINTAGE}/{level}/{code}"


def write_territories_ntriples(territories: Territories, base: str, destination: Path) -> int:
    """The territories graph as N-Triples: class, code, name, population, area, outline (WKT), hierarchy.

    Hierarchy: ``igeo:subdivisionDirecteDe`` commune -> département -> région -> France (INSEE's own links),
    ``dct:isPartOf`` commune -> EPCI (membership is not a subdivision); municipal arrondissements of Paris, Lyon
    and Marseille are listed as ``igeo:ArrondissementMunicipal`` under their commune (no outline here).
    """
    import pyoxigraph as ox
    import shapely

    rdf_type = f"<{vocab.RDF}type>"
    lines: list[str] = []
    dec = f"<{vocab.XSD}decimal>"
    integer = f"<{vocab.XSD}integer>"
    sub = f"<{IGEO}subdivisionDirecteDe>"
    part = f"<{vocab.DCT}isPartOf>"
    wkt = ox.NamedNode(vocab.GEO + "wktLiteral")

    def lit(text: str) -> str:
        return str(ox.Literal(text))

    for name, level in territories.levels.items():
        iris = [territory_iri(base, name, c) for c in level.codes]
        wkts = np.full(len(level), None, dtype=object)
        has = np.array([g is not None for g in level.geometry], dtype=bool)
        if has.any():
            wkts[has] = shapely.to_wkt(level.geometry[has], rounding_precision=5, trim=True)
        code_values = [FRANCE_CODE] if name == "france" else level.codes
        for i, iri in enumerate(iris):
            s = f"<{iri}>"
            lines.append(f"{s} {rdf_type} <{IGEO}{LEVEL_CLASS[name]}> .")
            lines.append(f"{s} {rdf_type} <{vocab.DCT}Location> .")
            lines.append(f"{s} <{IGEO}codeINSEE> {lit(code_values[i])} .")
            lines.append(f"{s} <{IGEO}nom> {lit(level.names[i])} .")
            lines.append(f'{s} <{vocab.TS}municipalPopulation> "{int(level.population[i])}"^^{integer} .')
            if np.isfinite(level.area_km2[i]) and level.area_km2[i] > 0:
                lines.append(f'{s} <{vocab.TS}areaKm2> "{level.area_km2[i]:.3f}"^^{dec} .')
            if wkts[i] is not None:
                g = f"<{iri}/geometry>"
                lines.append(f"{s} <{vocab.GEO}hasGeometry> {g} .")
                lines.append(f"{g} {rdf_type} <{vocab.GEO}Geometry> .")
                lines.append(f"{g} <{vocab.GEO}asWKT> {ox.Literal(wkts[i], datatype=wkt)} .")
    communes = territories.communes
    levels = territories.levels
    for i, code in enumerate(communes.codes):
        s = f"<{territory_iri(base, 'commune', code)}>"
        d, e = territories.parent["departement"][i], territories.parent["epci"][i]
        if d >= 0:
            lines.append(f"{s} {sub} <{territory_iri(base, 'departement', levels['departement'].codes[d])}> .")
        if e >= 0:
            lines.append(f"{s} {part} <{territory_iri(base, 'epci', levels['epci'].codes[e])}> .")
    france = f"<{territory_iri(base, 'france', '')}>"
    for code in levels["departement"].codes:
        region = territories.departement_region.get(code)
        if region in levels["region"].index:
            lines.append(
                f"<{territory_iri(base, 'departement', code)}> {sub} <{territory_iri(base, 'region', region)}> ."
            )
    for code in levels["region"].codes:
        lines.append(f"<{territory_iri(base, 'region', code)}> {sub} {france} .")
    for code, (arm_name, parent_code, population) in sorted(territories.arrondissements.items()):
        s = f"<{territory_iri(base, 'arrondissement-municipal', code)}>"
        lines.append(f"{s} {rdf_type} <{IGEO}ArrondissementMunicipal> .")
        lines.append(f"{s} {rdf_type} <{vocab.DCT}Location> .")
        lines.append(f"{s} <{IGEO}codeINSEE> {lit(code)} .")
        lines.append(f"{s} <{IGEO}nom> {lit(arm_name)} .")
        lines.append(f'{s} <{vocab.TS}municipalPopulation> "{int(population)}"^^{integer} .')
        lines.append(f"{s} {sub} <{territory_iri(base, 'commune', parent_code)}> .")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
