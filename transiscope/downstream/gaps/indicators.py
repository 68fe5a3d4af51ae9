"""The indicators of the gap analysis, per territory level and taxonomy concept, computed with numpy/shapely.

Why vectorised: a Python loop over 35,000 communes × 100,000 initiatives would never finish in time. Distances
are straight lines, "à vol d'oiseau", in each zone's projected CRS (see :mod:`transiscope.territories.graph`):
count, presence, per 10,000 inhabitants, per 100 km²; from each commune's population point the distance to the
nearest initiative of the concept searched in the whole zone (metropole, Corsica, each DROM; never across the
sea), aggregated as the population share beyond thresholds, the population-weighted mean and median, and the
"zones blanches" (communes with nothing within ``white_zone_km``); 2SFCA accessibility (Luo & Wang 2003);
observed/expected at the national rate with a Poisson z-score above a minimum population; and a ranking of
priority territories.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from transiscope.core.geo import LEVELS
from transiscope.downstream.gaps.concepts import GapConcepts
from transiscope.downstream.gaps.items import Items
from transiscope.downstream.gaps.placing import Placement
from transiscope.settings import GapsSettings
from transiscope.territories.graph import ZONES, Territories

#: receives one line per stage, for the CLI's progress output
Progress = Callable[[str], None]


@dataclass
class GapResult:
    """Indicators per level: ``values[level][measure]`` is an array (units × concepts)."""

    concepts: tuple[str, ...]
    values: dict[str, dict[str, np.ndarray]]
    #: distance (km) from each commune's population point to the nearest initiative, communes × concepts
    distance_km: np.ndarray
    #: 2SFCA score of each commune, communes × concepts (initiatives per 10,000 inhabitants within reach)
    access: np.ndarray
    national_rate: np.ndarray  # initiatives per inhabitant, per concept
    settings: GapsSettings
    timings: dict[str, float] = field(default_factory=dict)
    #: concept -> its one narrower concept, when every initiative it counts comes from that one (the broader
    #: concept's figures then only repeat it: the outputs say so)
    measured_through: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> np.ndarray:
        """The concepts with at least one initiative nationally: the outputs cover only these (a concept without
        any data would only repeat "none, infinitely far" for every territory; ``index.json`` lists them)."""
        return np.flatnonzero(self.values["france"]["count"][0] > 0)


def membership(items: Items, taxonomy: GapConcepts) -> np.ndarray:
    """items × concepts booleans; an item counts in its concepts and all their broader ones."""
    column = {c: k for k, c in enumerate(taxonomy.notations)}
    matrix = np.zeros((len(items), len(column)), dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    cache: dict[tuple[str, ...], list[int]] = {}
    for i, concepts in enumerate(items.concepts):
        found = cache.get(concepts)
        if found is None:
            found = cache[concepts] = sorted({column[c] for n in concepts for c in taxonomy.closure(n) if c in column})
        rows.extend([i] * len(found))
        cols.extend(found)
    matrix[np.array(rows, dtype=int), np.array(cols, dtype=int)] = True
    return matrix


def counted_once(items: Items, placement: Placement, member: np.ndarray) -> np.ndarray:
    """items × concepts: the items that count, one per ``owl:sameAs`` cluster and concept.

    Why: a cluster is one initiative on the ground; counting each record would count it once per source that
    lists it. The cluster counts at the point of its first member (in IRI order) of the concept placed in
    France: the members of a cluster describe one place, so which one is chosen moves nothing but a rounding.
    Distances still use every member's point (the nearest of several equal points is the same).
    """
    counted = member.copy()
    if not len(items) or len(np.unique(items.cluster)) == len(items):
        return counted
    in_france = placement.unit["france"] >= 0
    for k in range(member.shape[1]):
        candidates = np.flatnonzero(member[:, k] & in_france)
        _, first = np.unique(items.cluster[candidates], return_index=True)
        counted[candidates, k] = False
        counted[candidates[first], k] = True
    return counted


def _nearest_km(territories: Territories, placement: Placement, member: np.ndarray) -> np.ndarray:
    """communes × concepts: distance to the nearest item of the concept in the commune's zone (inf: none)."""
    import shapely

    n_communes, n_concepts = len(territories.communes), member.shape[1]
    distance = np.full((n_communes, n_concepts), np.inf)
    positioned = np.isfinite(placement.x)
    for z in range(len(ZONES)):
        targets = np.flatnonzero(territories.zone == z)
        if not len(targets):
            continue
        origin = shapely.points(territories.x[targets], territories.y[targets])
        in_zone = positioned & (placement.zone == z)
        zone_points = shapely.points(placement.x[in_zone], placement.y[in_zone])
        zone_member = member[in_zone]
        for k in range(n_concepts):
            mine = zone_member[:, k]
            if not mine.any():
                continue
            tree = shapely.STRtree(zone_points[mine])
            (source, _), metres = tree.query_nearest(origin, return_distance=True, all_matches=False)
            distance[targets[source], k] = metres / 1000.0
    return distance


def _two_step_fca(
    territories: Territories, placement: Placement, member: np.ndarray, catchment_km: float
) -> np.ndarray:
    """2SFCA (Luo & Wang 2003), communes × concepts, per 10,000 inhabitants.

    R_j = 1 / Σ_{i: d_ij ≤ d0} P_i for each initiative j (the demand does not depend on the concept, so the
    pairs and R_j are computed once); A_i = Σ_{j: d_ij ≤ d0} R_j over the initiatives of the concept.
    Catchments cross territory borders but never leave their zone.
    """
    import shapely

    population = territories.communes.population
    n_communes, n_concepts = len(population), member.shape[1]
    access = np.zeros((n_communes, n_concepts))
    positioned = np.isfinite(placement.x)
    for z in range(len(ZONES)):
        targets = np.flatnonzero(territories.zone == z)
        sources = np.flatnonzero(positioned & (placement.zone == z))
        if not len(targets) or not len(sources):
            continue
        tree = shapely.STRtree(shapely.points(territories.x[targets], territories.y[targets]))
        pair_item, pair_commune = tree.query(
            shapely.points(placement.x[sources], placement.y[sources]),
            predicate="dwithin",
            distance=catchment_km * 1000.0,
        )
        demand = np.bincount(pair_item, weights=population[targets[pair_commune]], minlength=len(sources))
        ratio = np.divide(1.0, demand, out=np.zeros_like(demand), where=demand > 0)
        if len(pair_item) > 1 and np.any(pair_item[1:] < pair_item[:-1]):
            order = np.argsort(pair_item, kind="stable")
            pair_item, pair_commune = pair_item[order], pair_commune[order]
        weight = ratio[pair_item]
        # pairs grouped by initiative: each concept gathers only the pairs of its own initiatives
        degree = np.bincount(pair_item, minlength=len(sources))
        start = np.concatenate([[0], np.cumsum(degree)[:-1]])
        zone_member = member[sources]
        for k in range(n_concepts):
            mine = np.flatnonzero(zone_member[:, k])
            lengths = degree[mine]
            total = int(lengths.sum())
            if not total:
                continue
            shift = start[mine] - np.concatenate([[0], np.cumsum(lengths)[:-1]])
            picked = np.repeat(shift, lengths) + np.arange(total)
            access[targets, k] = np.bincount(pair_commune[picked], weights=weight[picked], minlength=len(targets))
    return access * 10_000


def _weighted_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """Population-weighted median of ``values`` per group (NaN for a group without population)."""
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    cumulative = np.cumsum(w)
    totals = np.bincount(g, weights=w, minlength=n_groups)
    before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    reached = (cumulative - before[g]) >= totals[g] / 2
    reached &= totals[g] > 0
    result = np.full(n_groups, np.nan)
    groups, first = np.unique(g[reached], return_index=True)
    result[groups] = v[reached][first]
    return result


def compute(
    territories: Territories,
    items: Items,
    placement: Placement,
    taxonomy: GapConcepts,
    settings: GapsSettings | None = None,
    progress: Progress | None = None,
) -> GapResult:
    """Every indicator at every level for every concept of the taxonomy."""
    settings = settings or GapsSettings()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    member = membership(items, taxonomy)
    n_concepts = member.shape[1]
    timings["membership"] = time.perf_counter() - started
    if progress:
        progress(f"distances to the nearest initiative: {len(territories.communes):,} communes × {n_concepts} concepts")
    started = time.perf_counter()
    distance = _nearest_km(territories, placement, member)
    timings["nearest"] = time.perf_counter() - started
    if progress:
        progress(f"2SFCA accessibility (catchment {settings.catchment_km:g} km)")
    started = time.perf_counter()
    counted = counted_once(items, placement, member)
    access = _two_step_fca(territories, placement, counted, settings.catchment_km)
    timings["2sfca"] = time.perf_counter() - started

    started = time.perf_counter()
    population = territories.communes.population
    total_population = population.sum()
    national_count = np.array([counted[placement.unit["france"] >= 0, k].sum() for k in range(n_concepts)], dtype=float)
    rate = national_count / total_population if total_population else np.zeros(n_concepts)
    white = distance > settings.white_zone_km
    values: dict[str, dict[str, np.ndarray]] = {}
    for level in LEVELS:
        units = territories.levels[level]
        values[level] = _aggregate(
            territories.parent[level],
            placement.unit[level],
            units.population,
            units.area_km2,
            population,
            distance,
            access,
            white,
            counted,
            rate,
            settings,
        )
    # France hors DROM: the metropole and Corsica, one unit
    metropole = territories.parent["region"] >= 0
    metropole[metropole] = metropole_region(territories)[territories.parent["region"][metropole]]
    region_of_item = placement.unit["region"]
    in_metropole = region_of_item >= 0
    in_metropole[in_metropole] = metropole_region(territories)[region_of_item[in_metropole]]
    values[METROPOLE] = _aggregate(
        np.where(metropole, 0, -1),
        np.where(in_metropole, 0, -1),
        np.array([population[metropole].sum()], dtype=float),
        np.array([np.nansum(territories.communes.area_km2[metropole])]),
        population,
        distance,
        access,
        white,
        counted,
        rate,
        settings,
    )
    timings["aggregate"] = time.perf_counter() - started
    return GapResult(
        taxonomy.notations, values, distance, access, rate, settings, timings, _measured_through(member, taxonomy)
    )


#: the key of the "France hors DROM" aggregate in :attr:`GapResult.values` (one unit: the metropole and Corsica)
METROPOLE = "metropole"
#: the région codes of the DROM (Guadeloupe, Martinique, Guyane, La Réunion, Mayotte)
DROM = ("01", "02", "03", "04", "06")


def metropole_region(territories: Territories) -> np.ndarray:
    """régions -> True for the metropole's (Corsica included)."""
    return np.array([code not in DROM for code in territories.levels["region"].codes], dtype=bool)


def _measured_through(member: np.ndarray, taxonomy: GapConcepts) -> dict[str, str]:
    """The concepts whose initiatives all come from one narrower concept (and that have some)."""
    column = {c: k for k, c in enumerate(taxonomy.notations)}
    found = {}
    for notation in taxonomy.notations:
        k = column[notation]
        if not member[:, k].any():
            continue
        narrower = [c for c, b in taxonomy.broader.items() if b == notation and c in column]
        fed = [c for c in narrower if member[:, column[c]].any()]
        if len(fed) == 1 and np.array_equal(member[:, k], member[:, column[fed[0]]]):
            found[notation] = fed[0]
    return found


def _aggregate(
    group: np.ndarray,
    unit_of_item: np.ndarray,
    unit_population: np.ndarray,
    unit_area: np.ndarray,
    population: np.ndarray,
    distance: np.ndarray,
    access: np.ndarray,
    white: np.ndarray,
    counted: np.ndarray,
    rate: np.ndarray,
    settings: GapsSettings,
) -> dict[str, np.ndarray]:
    """Every measure of one level: ``group`` is each commune's unit (-1: none), ``unit_of_item`` each item's."""
    n_units, n_concepts = len(unit_population), counted.shape[1]
    in_unit = group >= 0
    g, w = group[in_unit], population[in_unit]
    out: dict[str, np.ndarray] = {}
    placed = unit_of_item >= 0
    counts = np.zeros((n_units, n_concepts))
    for k in range(n_concepts):
        counts[:, k] = np.bincount(unit_of_item[placed & counted[:, k]], minlength=n_units)
    pop = unit_population[:, None]
    area = unit_area[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["count"] = counts
        out["presence"] = (counts > 0).astype(float)
        out["per_10k"] = np.where(pop > 0, counts / pop * 10_000, np.nan)
        out["per_100km2"] = np.where(area > 0, counts / area * 100, np.nan)
        weight_total = np.bincount(g, weights=w, minlength=n_units)[:, None]
        mean = np.full((n_units, n_concepts), np.nan)
        median = np.full((n_units, n_concepts), np.nan)
        for k in range(n_concepts):
            d = distance[in_unit, k]
            finite = np.isfinite(d)
            reach = np.bincount(g[finite], weights=w[finite], minlength=n_units)
            summed = np.bincount(g[finite], weights=w[finite] * d[finite], minlength=n_units)
            # an uninhabited territory (a commune with population 0) has a distance all the same: its
            # communes' plain mean, so that the map does not show it as "no data"
            known = np.bincount(g[finite], minlength=n_units)
            plain = np.bincount(g[finite], weights=d[finite], minlength=n_units)
            unweighted = np.where(known > 0, plain / np.where(known > 0, known, 1), np.nan)
            mean[:, k] = np.where(
                reach > 0, summed / np.where(reach > 0, reach, 1), np.where(weight_total[:, 0] > 0, np.nan, unweighted)
            )
            median[:, k] = _weighted_median(g, d, w, n_units)
        median[~np.isfinite(median)] = np.nan  # more than half the population has none in its zone
        out["mean_km"] = mean
        out["median_km"] = median
        for threshold in settings.thresholds_km:
            beyond = np.zeros((n_units, n_concepts))
            for k in range(n_concepts):
                far = distance[in_unit, k] > threshold
                beyond[:, k] = np.bincount(g[far], weights=w[far], minlength=n_units)
            out[f"share_beyond_{threshold:g}km"] = np.where(weight_total > 0, beyond / weight_total, np.nan)
        white_population = np.zeros((n_units, n_concepts))
        white_communes = np.zeros((n_units, n_concepts))
        access_mean = np.zeros((n_units, n_concepts))
        for k in range(n_concepts):
            flagged = white[in_unit, k]
            white_population[:, k] = np.bincount(g[flagged], weights=w[flagged], minlength=n_units)
            white_communes[:, k] = np.bincount(g[flagged], minlength=n_units)
            access_mean[:, k] = np.bincount(g, weights=w * access[in_unit, k], minlength=n_units)
        out["white_communes"] = white_communes
        out["white_population"] = white_population
        out["white_share"] = np.where(weight_total > 0, white_population / weight_total, np.nan)
        out["access_2sfca"] = np.where(weight_total > 0, access_mean / weight_total, np.nan)
        expected = pop * rate[None, :]
        big = (pop >= settings.min_population) & (expected > 0)
        out["expected"] = expected
        out["oe_ratio"] = np.where(big, counts / np.where(expected > 0, expected, 1), np.nan)
        out["z_score"] = np.where(big, (counts - expected) / np.sqrt(np.where(expected > 0, expected, 1)), np.nan)
    out["priority_rank"] = _share_rank(out["white_share"], white_population, unit_population, settings.min_population)
    out["population_rank"] = _priority_rank(white_population, out["z_score"], unit_population, settings.min_population)
    return out


def _share_rank(
    share: np.ndarray, white_population: np.ndarray, population: np.ndarray, min_population: int
) -> np.ndarray:
    """ "Where is it missing": 1 = the largest share of the population in zones blanches (ties: the more people
    concerned first); every territory above the minimum population is ranked, the best served last."""
    ranks = np.full(share.shape, np.nan)
    eligible = np.flatnonzero(population >= min_population)
    for k in range(share.shape[1]):
        values = np.nan_to_num(share[eligible, k], nan=0.0)
        order = eligible[np.lexsort((-white_population[eligible, k], -values))]
        ranks[order, k] = np.arange(1, len(order) + 1)
    return ranks


def _priority_rank(
    white_population: np.ndarray, z_score: np.ndarray, population: np.ndarray, min_population: int
) -> np.ndarray:
    """1 = most population in zones blanches (ties: the sparsest for its size first); NaN: not ranked."""
    ranks = np.full(white_population.shape, np.nan)
    eligible_unit = population >= min_population
    for k in range(white_population.shape[1]):
        eligible = np.flatnonzero(eligible_unit & (white_population[:, k] > 0))
        if not len(eligible):
            continue
        z = np.nan_to_num(z_score[eligible, k], nan=0.0)
        order = eligible[np.lexsort((z, -white_population[eligible, k]))]
        ranks[order, k] = np.arange(1, len(order) + 1)
    return ranks
