"""check-source's draft crosswalk: only a reviewed decision or a (near-)exact label becomes an active line."""

from __future__ import annotations

from collections import Counter

import pytest

from transiscope.reports.check_source.crosswalk import match_labels, taxonomy_concepts
from transiscope.settings import PROJECT_ROOT

CONCEPTS = taxonomy_concepts(PROJECT_ROOT / "ontology" / "taxonomy.ttl")


@pytest.mark.parametrize(
    ("label", "closest"),
    [("tür", "agriculture-alimentation"), ("öl", "solidarite"), ("mode", "modes-de-deplacement")],
)
def test_a_guess_is_only_a_suggestion(label: str, closest: str) -> None:
    (match,) = match_labels(Counter([label]), CONCEPTS)
    assert not match.confident and match.exact is None
    assert match.proposed == [closest]  # what the commented suggestion line offers


@pytest.mark.parametrize(
    ("label", "notation"),
    [
        ("Jardin Partagé", "jardins-partages"),
        ("jardins partages", "jardins-partages"),
        ("AMAP", "amap-circuits-courts"),
        ("Repair Café", "repair-cafes"),
        ("Ressourceries", "ressourceries"),
    ],
)
def test_a_near_exact_label_is_an_active_line(label: str, notation: str) -> None:
    (match,) = match_labels(Counter([label]), CONCEPTS)
    assert match.confident and match.proposed == [notation]


def test_another_sources_reviewed_decision_is_an_active_line() -> None:
    known = {"bio": (["agriculture-alimentation"], "kvm-france.toml")}
    (match,) = match_labels(Counter(["Bio"]), CONCEPTS, known)
    assert match.confident and match.proposed == ["agriculture-alimentation"]
