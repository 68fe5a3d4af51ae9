"""The map's fixed classes and ramp direction, for every measure the gap analysis writes.

Why a hand-written table here: the direction must follow what the measure means (more initiatives is better,
a longer distance is worse, rank 1 is where it is most missing); the table below says it again independently of
``measures.SCALES``, with a clearly worse and a clearly better value for each measure.
"""

from __future__ import annotations

import pytest

from transiscope.downstream.gaps.measures import MEASURES, SCALES, measure_classes, measure_keys
from transiscope.settings import GapsSettings

#: measure -> (a worse-served value, a better-served value), from the measures' definitions
WORSE_BETTER: dict[str, tuple[float, float]] = {
    "count": (0, 60),
    "presence": (0, 1),
    "per_10k": (0.0, 3.0),
    "per_100km2": (0.0, 8.0),
    "mean_km": (42.0, 2.0),
    "median_km": (35.0, 1.5),
    "share_beyond": (0.9, 0.02),
    "white_communes": (80, 0),
    "white_population": (600_000, 0),
    "white_share": (0.95, 0.0),
    "access_2sfca": (0.0, 4.0),
    "oe_ratio": (0.2, 2.5),
    "z_score": (-6.0, 4.0),
    "priority_rank": (1, 150),
    "population_rank": (2, 120),
}
KEYS = measure_keys(GapsSettings())


def _shade(key: str, value: float) -> int:
    """The shade the map gives a value: the last class whose lower bound it reaches (as map.html does)."""
    classes = measure_classes(key)["classes"]
    found = 0
    for k, c in enumerate(classes):
        if c["from"] is None or value >= c["from"]:
            found = k
    return int(classes[found]["shade"])


def test_every_measure_has_a_scale_and_a_definition_here() -> None:
    assert set(SCALES) == set(MEASURES) == set(WORSE_BETTER)


@pytest.mark.parametrize("key", KEYS)
def test_ramp_direction_follows_the_definition(key: str) -> None:
    worse, better = WORSE_BETTER["share_beyond" if key.startswith("share_beyond_") else key]
    assert _shade(key, worse) == 4 and _shade(key, better) == 0, key  # darkest: most lacking


@pytest.mark.parametrize("key", KEYS)
def test_classes_cover_every_value_without_overlap(key: str) -> None:
    scale = measure_classes(key)
    classes = scale["classes"]
    assert classes[0]["from"] is None and classes[-1]["to"] is None  # no value left out of the classes
    for before, after in zip(classes, classes[1:], strict=False):
        assert before["to"] == after["from"] and before["to"] is not None  # contiguous, no shared bound
    for language in ("fr", "en"):
        labels = [c[language] for c in classes]
        assert len(set(labels)) == len(labels) and all(labels), (key, labels)
    shades = [c["shade"] for c in classes]
    assert sorted(shades) in ([0, 4], [0, 1, 2, 3, 4]) and len(set(shades)) == len(shades)
    assert scale["direction"] in ("higher_is_better", "higher_is_worse")


def test_labels_read_as_bands() -> None:
    assert [c["fr"] for c in measure_classes("share_beyond_10km")["classes"]] == [
        "moins de 10 %",
        "10 % à moins de 25 %",
        "25 % à moins de 50 %",
        "50 % à moins de 75 %",
        "75 % et plus",
    ]
    assert [c["en"] for c in measure_classes("count")["classes"]] == [
        "0",
        "1 to 4",
        "5 to 19",
        "20 to 49",
        "50 or more",
    ]
    assert measure_classes("population_rank")["no_value"]["fr"].startswith("non classé")
