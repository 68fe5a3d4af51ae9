"""Matching: name folding, contact keys, the scored comparison, blocking, and the labelled evaluation set
(precision and recall at the configured thresholds, asserted against the issue's targets)."""

from __future__ import annotations

import pytest

from bench.link_pairs import evaluate, generate
from transiscope.core.errors import ConfigError
from transiscope.downstream.link import linker as link
from transiscope.downstream.link import matching
from transiscope.settings import LinkSettings


def _c(index: int = 0, **fields) -> matching.Comparable:
    return matching.comparable(index, {"source": "s", **fields})


def test_names_fold_accents_articles_legal_forms_and_kinds() -> None:
    amap = _c(name="Association AMAP des Pentes", city="Lyon")
    assert amap.core == {"pentes"} and amap.kinds == {"amap"}
    assert _c(name="AMAP Pentes").core == amap.core
    assert _c(name="L'Épi Vert – épicerie vrac").core == {"epi", "vert"}
    # a kind word inside the proper name stays part of it; a misspelt kind word is still a kind
    assert _c(name="Atelier vélo Terre Ferme").core == {"terre", "ferme"}
    assert _c(name="Associatirn Le Bercail").core == {"bercail"}
    # the commune's own name does not identify, unless nothing else is left
    assert _c(name="Repair Café Nantes Est", city="Nantes").core == {"est"}
    assert _c(name="Repair Café Nantes", city="Nantes").core == {"nantes"}


def test_contact_keys() -> None:
    assert matching.website_key("http://www.Amap-Pentes.example.org/accueil") == "amap-pentes.example.org"
    assert matching.website_key("https://fr-fr.facebook.com/amapdespentes/about") == "fr-fr.facebook.com/amapdespentes"
    assert matching.website_key("not a url") == ""
    assert matching.phone_key("+33 4 65 71 12 34") == matching.phone_key("04.65.71.12.34") == "465711234"
    assert matching.phone_key("12 34") == ""
    assert matching.email_key(" Contact@Example.ORG ") == "contact@example.org"
    assert matching.email_key("private") == ""


def test_scores_tell_variants_from_neighbours() -> None:
    base = dict(
        name="Énergies Citoyennes du Grésivaudan",
        lat=45.2843,
        lon=5.8836,
        postcode="38920",
        street="12 rue de la Paix",
        website="https://energies-gresivaudan.example.org",
    )
    variant = dict(
        base,
        name="ENERGIES CITOYENNES GRESIVAUDN",
        lat=45.2851,
        lon=5.8840,
        street="12 r. de la Paix",
        website="http://www.energies-gresivaudan.example.org/",
    )
    same = matching.score_pair(_c(0, **base), _c(1, **variant))
    assert same.score >= LinkSettings.high
    assert "same website" in same.evidence and "same street address" in same.evidence
    # two kinds at one address: never linked automatically (at most a pair for a person to review)
    other_kind = dict(base, name="Repair Café du Grésivaudan", website="https://repair.example.org")
    hosted = matching.score_pair(_c(0, **dict(base, name="AMAP du Grésivaudan")), _c(1, **other_kind))
    assert hosted.score < LinkSettings.high and any(e.startswith("different kinds") for e in hosted.evidence)
    # a chain: same website, other district, 6 km away
    shop = dict(name="Biocoop Croix-Rousse", lat=45.774, lon=4.832, website="https://www.biocoop.fr", city="Lyon")
    other_shop = dict(shop, name="Biocoop Part-Dieu", lat=45.760, lon=4.859 + 0.05)
    assert matching.score_pair(_c(0, **shop), _c(1, **other_shop)).score < LinkSettings.low


def test_blocking_is_not_all_pairs() -> None:
    items = [
        _c(i, name=f"Atelier {word} {i}", lat=43 + (i % 50) * 0.1, lon=1 + (i // 50) * 0.1)
        for i, word in enumerate(["Lilas", "Volcans", "Pilat"] * 400)
    ]
    items.append(_c(len(items), name="Atelier Lilas 0", lat=43.0005, lon=1.0005))
    pairs = matching.candidate_pairs(items)
    assert (0, len(items) - 1) in pairs
    assert len(pairs) < 5 * len(items)  # all pairs would be 720,600


def test_labelled_evaluation_set_meets_the_targets() -> None:
    data = generate(seed=2024)
    assert len(data.pairs) >= 300
    assert sum(1 for *_, same, _ in data.pairs if same) >= 150
    assert {case for *_, same, case in data.pairs if not same} >= {
        "chain",
        "same pattern, neighbouring communes",
        "generic name, same commune",
        "two kinds, one address",
    }
    result = evaluate(data, LinkSettings.high, LinkSettings.low)
    assert result.same_as > 0
    assert result.precision >= 0.98, result.errors[:5]
    assert result.recall >= 0.90, result.errors[:5]


def test_the_evaluation_set_is_seeded() -> None:
    assert generate(seed=7).records == generate(seed=7).records
    assert generate(seed=7).records != generate(seed=8).records


def test_decisions_override_scores_and_cut_clusters(tmp_path) -> None:
    records = [
        {
            "source": "a",
            "source_id": "1",
            "name": "AMAP des Pentes",
            "lat": 45.7712,
            "lon": 4.8305,
            "website": "https://amap-des-pentes.example.org",
        },
        {
            "source": "b",
            "source_id": "x",
            "name": "AMAP Pentes",
            "lat": 45.7713,
            "lon": 4.8306,
            "website": "https://amap-des-pentes.example.org",
        },
        {
            "source": "c",
            "source_id": "z",
            "name": "Amap des pentes",
            "lat": 45.7714,
            "lon": 4.8304,
            "website": "http://amap-des-pentes.example.org",
        },
        {"source": "c", "source_id": "far", "name": "Ferme du Grand Pré", "lat": 47.184, "lon": 5.813},
    ]
    plain = link.link_records(records, high=0.9, low=0.5, decisions=link.Decisions())
    assert plain.clusters == [[0, 1, 2]]
    decisions = link.Decisions(path=tmp_path / "decisions.csv")
    decisions.decide(("a", "1"), ("c", "z"), "rejected")
    decisions.decide(("c", "far"), ("a", "1"), "confirmed", note="moved, same farm")
    decisions.save()
    reloaded = link.Decisions.load(tmp_path / "decisions.csv")
    assert reloaded.get(("c", "z"), ("a", "1")) == "rejected"
    result = link.link_records(records, high=0.9, low=0.5, decisions=reloaded)
    for cluster in result.clusters:  # the rejected pair never ends up in one cluster
        assert not {0, 2} <= set(cluster)
    assert [0, 3] in [sorted(set(c) & {0, 3}) for c in result.clusters]
    assert result.decided[(0, 2)] == "rejected" and (0, 2) in {(m.a, m.b) for m in result.rejected}


def test_bad_decision_files_and_references(tmp_path) -> None:
    bad = tmp_path / "decisions.csv"
    bad.write_text("decision,source_a,id_a,source_b,id_b,decided_at,note\nmaybe,a,1,b,2,,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2"):
        link.Decisions.load(bad)
    base = "https://w3id.org/transiscope/"
    assert link.parse_record_ref("transiscope/3aF", base) == ("transiscope", "3aF")
    assert link.parse_record_ref("s/a/b", base) == ("s", "a/b")
    assert link.parse_record_ref(f"{base}id/initiative/presdecheznous/%C3%A9co%20lieu%3E12", base) == (
        "presdecheznous",
        "éco lieu>12",
    )
    with pytest.raises(ConfigError):
        link.parse_record_ref("3aF", base)


def test_a_position_needs_both_coordinates() -> None:
    assert (_c(lat=45.76).lat, _c(lat=45.76).lon) == (None, None)
    assert (_c(lon=4.83).lat, _c(lon=4.83).lon) == (None, None)
    assert (_c(lat=45.76, lon="x").lat, _c(lat=True, lon=4.83).lat) == (None, None)
    assert (_c(lat="45.76", lon=4.83).lat, _c(lat="45.76", lon=4.83).lon) == (45.76, 4.83)
    # a record without a position is compared on the rest, never by distance
    assert matching.distance_m(_c(lat=45.76), _c(lat=45.76, lon=4.83)) is None
