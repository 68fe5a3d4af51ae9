"""Declared countries to ISO 3166-1 alpha-2 (the outlines of France: tests/integration/test_countries.py)."""

from __future__ import annotations

import pytest

from transiscope.core.countries import country_name, iso_country
from transiscope.ingest.france import normalise_country


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Belgique", "BE"),
        ("belgium", "BE"),
        ("BELGIEN", "BE"),
        ("België", "BE"),
        ("be", "BE"),
        ("BEL", "BE"),
        ("Belgique / België", "BE"),
        ("Suisse", "CH"),
        ("Schweiz", "CH"),
        ("Switzerland", "CH"),
        ("Svizzera", "CH"),
        ("CH", "CH"),
        ("Deutschland", "DE"),
        ("Allemagne", "DE"),
        ("Deutschland (DE)", "DE"),
        ("Luxembourg", "LU"),
        ("Lëtzebuerg", "LU"),
        ("Italia", "IT"),
        ("España", "ES"),
        ("espana", "ES"),
        ("France", "FR"),
        ("FR", "FR"),
        ("FRA", "FR"),
        ("  france métropolitaine ", "FR"),
        # the five DROM are France for the bus (the territories data and the gaps analysis cover them)
        ("La Réunion", "FR"),
        ("RE", "FR"),
        ("REU", "FR"),
        ("Guadeloupe", "FR"),
        ("Martinique", "FR"),
        ("Guyane", "FR"),
        ("French Guiana", "FR"),
        ("Mayotte", "FR"),
        # the collectivités d'outre-mer are not in the territories data: their own codes
        ("Nouvelle-Calédonie", "NC"),
        ("Saint-Pierre-et-Miquelon", "PM"),
        ("Monaco", "MC"),
        ("UK", "GB"),
    ],
)
def test_declared_countries_become_iso_codes(text: str, code: str) -> None:
    assert iso_country(text) == code


@pytest.mark.parametrize("text", ["Pays Basque", "Bretagne", "", "   ", "Belgique / Suisse", None, 33, "??"])
def test_what_is_not_one_country_is_none(text: object) -> None:
    assert iso_country(text) is None


def test_country_names_for_the_sentences() -> None:
    names = (country_name("BE"), country_name("BE", "en"), country_name("CH", "de"))
    assert names == ("Belgique", "Belgium", "Schweiz")


def test_an_unknown_country_costs_the_value_not_the_record() -> None:
    record = {"country": "Pays Basque", "unparsed": [], "notes": []}
    normalise_country(record)
    assert record == {
        "country": None,
        "unparsed": ["country='Pays Basque'"],
        "notes": ["country 'Pays Basque' is not a known country: dropped"],
    }
    record = {"country": "Deutschland"}
    normalise_country(record)
    assert record == {"country": "DE"}
