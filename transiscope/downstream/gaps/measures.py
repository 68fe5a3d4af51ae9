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


#: how a measure reads: does a higher value mean better served, or worse? (the map's ramp follows it)
HIGHER_IS_BETTER = "higher_is_better"
HIGHER_IS_WORSE = "higher_is_worse"

#: measure (``share_beyond`` for every threshold) -> (direction, the lower bounds of its fixed classes, kind);
#: kind says how a class is worded: "int" counts, "share" proportions, "km" distances, "num" other numbers.
#: Why fixed classes: a class means the same on every view (quantiles recomputed per view drew a département
#: with a third of its people beyond 10 km as "well served").
SCALES: dict[str, tuple[str, tuple[float, ...], str]] = {
    "count": (HIGHER_IS_BETTER, (0, 1, 5, 20, 50), "int"),
    "presence": (HIGHER_IS_BETTER, (0, 1), "bool"),
    "per_10k": (HIGHER_IS_BETTER, (0, 0.1, 0.5, 1, 2), "num"),
    "per_100km2": (HIGHER_IS_BETTER, (0, 0.1, 0.5, 1, 5), "num"),
    "mean_km": (HIGHER_IS_WORSE, (0, 5, 10, 20, 30), "km"),
    "median_km": (HIGHER_IS_WORSE, (0, 5, 10, 20, 30), "km"),
    "share_beyond": (HIGHER_IS_WORSE, (0, 0.1, 0.25, 0.5, 0.75), "share"),
    "white_communes": (HIGHER_IS_WORSE, (0, 1, 5, 20, 50), "int"),
    "white_population": (HIGHER_IS_WORSE, (0, 1, 10_000, 100_000, 500_000), "int"),
    "white_share": (HIGHER_IS_WORSE, (0, 0.1, 0.25, 0.5, 0.75), "share"),
    "access_2sfca": (HIGHER_IS_BETTER, (0, 0.1, 0.5, 1, 2), "num"),
    "oe_ratio": (HIGHER_IS_BETTER, (0, 0.5, 0.8, 1.25, 2), "num"),
    "z_score": (HIGHER_IS_BETTER, (-math.inf, -3, -1, 1, 3), "num"),
    # rank 1 is where it is most missing: a higher rank is better served
    "priority_rank": (HIGHER_IS_BETTER, (1, 11, 21, 51, 101), "int"),
    "population_rank": (HIGHER_IS_BETTER, (1, 11, 21, 51, 101), "int"),
}

#: the words of a measure without a value, when that absence itself says something
NO_VALUE = {
    "population_rank": ("non classé (personne en zone blanche)", "not ranked (nobody in a white zone)"),
}
_SHADES = 5  # the map's ramp: 0 the lightest (best served) … 4 the darkest (most lacking)


def _number(value: float, kind: str, language: str) -> str:
    if kind == "share":
        text = f"{value * 100:g}"
        return (text.replace(".", ",") + " %") if language == "fr" else text + "%"
    text = f"{value:g}" if kind != "int" else f"{int(value):,}".replace(",", "\u202f" if language == "fr" else ",")
    text = text.replace(".", ",") if language == "fr" else text
    return text + " km" if kind == "km" else text


def measure_classes(key: str) -> dict[str, object]:
    """A measure's direction and fixed classes, each with its ``from`` (inclusive, None: no lower bound), ``to``
    (exclusive, None: no upper bound), non-overlapping labels and ``shade`` (0 best served … 4 most lacking).

    >>> [c["fr"] for c in measure_classes("mean_km")["classes"]]
    ['moins de 5 km', '5 km à moins de 10 km', '10 km à moins de 20 km', '20 km à moins de 30 km', '30 km et plus']
    >>> [c["shade"] for c in measure_classes("count")["classes"]]
    [4, 3, 2, 1, 0]
    """
    base_key = "share_beyond" if key.startswith("share_beyond_") else key
    direction, bounds, kind = SCALES[base_key]
    n = len(bounds)
    classes = []
    for k, low in enumerate(bounds):
        high = bounds[k + 1] if k + 1 < n else None
        lo = None if k == 0 else low  # below the first bound still falls in the first class: no value unclassed
        if kind == "bool":
            labels = (
                ("aucune initiative recensée", "no listed initiative") if k == 0 else ("au moins une", "at least one")
            )
        elif kind == "int" and high is not None and high - low == 1:
            labels = (_number(low, kind, "fr"), _number(low, kind, "en"))
        elif kind == "int" and high is not None:
            labels = (
                f"{_number(low, kind, 'fr')} à {_number(high - 1, kind, 'fr')}",
                f"{_number(low, kind, 'en')} to {_number(high - 1, kind, 'en')}",
            )
        elif high is None:
            labels = (f"{_number(low, kind, 'fr')} et plus", f"{_number(low, kind, 'en')} or more")
        elif lo is None:
            labels = (f"moins de {_number(high, kind, 'fr')}", f"under {_number(high, kind, 'en')}")
        else:
            labels = (
                f"{_number(low, kind, 'fr')} à moins de {_number(high, kind, 'fr')}",
                f"{_number(low, kind, 'en')} to under {_number(high, kind, 'en')}",
            )
        step = round(k * (_SHADES - 1) / (n - 1))
        shade = step if direction == HIGHER_IS_WORSE else _SHADES - 1 - step
        classes.append({"from": lo, "to": high, "fr": labels[0], "en": labels[1], "shade": shade})
    no_value = NO_VALUE.get(base_key, ("pas de valeur", "no value"))
    return {"direction": direction, "classes": classes, "no_value": {"fr": no_value[0], "en": no_value[1]}}
