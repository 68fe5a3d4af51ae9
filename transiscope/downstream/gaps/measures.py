"""What the gap analysis measures, as its outputs name it: measure keys, labels, units and the caveat.

Why one table: the CSV columns, the GeoJSON indicators, ``index.json``'s legends and the Data Cube's measure
properties all list the same measures; absence in the data is not absence on the ground, so every output
carries the same "non recensé" caveat.
"""

from __future__ import annotations

import math

from transiscope.settings import GapsSettings

CAVEAT_FR = (
    "Non recensé ne veut pas dire absent : une initiative absente des sources n'est pas forcément absente "
    "du territoire. Distances à vol d'oiseau."
)
CAVEAT_EN = (
    "Not listed does not mean absent: an initiative missing from the sources may still exist on the "
    "ground. Straight-line distances."
)

#: measure key -> (RDF property local name, label fr, label en, unit)
MEASURES: dict[str, tuple[str, str, str, str]] = {
    "count": ("initiativeCount", "nombre d'initiatives recensées", "number of listed initiatives", ""),
    "presence": ("presence", "présence (au moins une initiative recensée)", "presence (at least one listed)", ""),
    "per_10k": ("initiativesPer10000Inhabitants", "initiatives pour 10 000 habitants", "per 10,000 inhabitants", ""),
    "per_100km2": ("initiativesPer100Km2", "initiatives pour 100 km²", "per 100 km²", ""),
    "mean_km": ("meanDistanceKm", "distance moyenne à vol d'oiseau", "mean straight-line distance", "km"),
    "median_km": ("medianDistanceKm", "distance médiane à vol d'oiseau", "median straight-line distance", "km"),
    "share_beyond": (
        "populationShareBeyond",
        "part de la population au-delà de {t} km à vol d'oiseau",
        "population share beyond {t} km (straight line)",
        "",
    ),
    "white_communes": (
        "whiteZoneCommunes",
        "communes en zone blanche (rien à moins de {w} km)",
        "communes in white zones (nothing within {w} km)",
        "",
    ),
    "white_population": (
        "whiteZonePopulation",
        "population en zone blanche (rien à moins de {w} km)",
        "population in white zones (nothing within {w} km)",
        "",
    ),
    "white_share": (
        "whiteZonePopulationShare",
        "part de la population en zone blanche (rien à moins de {w} km)",
        "population share in white zones (nothing within {w} km)",
        "",
    ),
    "access_2sfca": (
        "accessibilityScore",
        "accessibilité 2SFCA (pour 10 000 hab., rayon {c} km)",
        "2SFCA accessibility (per 10,000 inhabitants, {c} km catchment)",
        "",
    ),
    "oe_ratio": (
        "observedExpectedRatio",
        "rapport observé / attendu (taux national)",
        "observed / expected (national rate)",
        "",
    ),
    "z_score": (
        "poissonZScore",
        "écart au nombre attendu (score z ; négatif : moins que ce que la population laisserait attendre)",
        "gap to the expected number (z-score; negative: fewer than the population would lead one to expect)",
        "",
    ),
    "priority_rank": (
        "priorityRank",
        "rang « où manque-t-il ? » (1 = la plus grande part de la population en zone blanche)",
        'rank "where is it missing?" (1 = largest share of the population in white zones)',
        "",
    ),
    "population_rank": (
        "whiteZonePopulationRank",
        "rang par population en zone blanche (1 = le plus d'habitants concernés)",
        "rank by population in white zones (1 = most people concerned)",
        "",
    ),
}


#: the measures written as integers
INTEGER_MEASURES = frozenset({"count", "white_communes", "white_population", "priority_rank", "population_rank"})


def measure_keys(settings: GapsSettings) -> list[str]:
    """The measure keys in output order, ``share_beyond`` expanded to one key per threshold."""
    keys: list[str] = []
    for key in MEASURES:
        if key == "share_beyond":
            keys.extend(f"share_beyond_{t:g}km" for t in settings.thresholds_km)
        else:
            keys.append(key)
    return keys


def output_value(key: str, value: float) -> float | int | bool | None:
    """A measure's value as JSON and the summaries write it: None when not finite, counts as integers."""
    if value is None or not math.isfinite(value):
        return None
    if key in INTEGER_MEASURES:
        return int(round(value))
    if key == "presence":
        return bool(value)
    return round(float(value), 4)
