"""``transiscope gaps`` end to end: real sources served on 127.0.0.1, the real embedded store, the real territories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Bus
from transiscope.cli import main
from transiscope.core import vocab
from transiscope.downstream.gaps.graphs import gaps_graph, links_graph
from transiscope.settings import DEFAULT_BASE_IRI
from transiscope.territories.graph import territories_graph

QB = "http://purl.org/linked-data/cube#"
IGEO = "http://rdf.insee.fr/def/geo#"


def test_gaps_writes_links_cube_and_files_without_touching_source_graphs(
    bus: Bus, territories_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(territories_dir))
    assert main(["run", "--no-downstream"]) == 0
    before = {source: bus.graph_triples(source) for source in ("transiscope", "presdecheznous", "francetierslieux")}
    capsys.readouterr()
    out_dir = tmp_path / "exports"
    assert (
        main(
            [
                "gaps",
                "--out",
                str(out_dir),
                "--thresholds",
                "5,20",
                "--cube-levels",
                "france,region",
                "--file-levels",
                "region,departement",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "à vol d'oiseau" in captured.out and "non recensé" in captured.out
    assert "placing" in captured.err  # progress
    base = DEFAULT_BASE_IRI
    with bus.store() as store:
        initiatives = store.select(f"SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE {{ ?i a <{vocab.TS}Initiative> }}")
        n = int(initiatives[0]["n"].value)
        linked = store.select(f"""SELECT ?level (COUNT(DISTINCT ?i) AS ?n) WHERE {{
            GRAPH <{links_graph(base)}> {{ ?i <{vocab.TS}inTerritory> ?t }}
            GRAPH <{territories_graph(base)}> {{ ?t a ?level }} FILTER(STRSTARTS(STR(?level), "{IGEO}")) }}
            GROUP BY ?level""")
        per_level = {r["level"].value.rsplit("#", 1)[1]: int(r["n"].value) for r in linked}
        assert per_level["Pays"] == per_level["Region"] <= n and per_level["Commune"] >= n - 3
        regions = store.select(f"""SELECT ?name (SUM(?v) AS ?n) WHERE {{ GRAPH <{gaps_graph(base)}> {{
            ?o a <{QB}Observation> ; <{vocab.TS}refTerritory> ?t ; <{vocab.TS}refConcept> <{vocab.TX}tiers-lieux> ;
               <{vocab.TS}initiativeCount> ?v }}
            GRAPH <{territories_graph(base)}> {{ ?t a <{IGEO}Region> ; <{IGEO}nom> ?name }}
            }} GROUP BY ?name""")
        assert sum(int(r["n"].value) for r in regions) >= 9  # the 9 France Tiers-Lieux records, at least
        thresholds = store.select(
            f"SELECT DISTINCT ?t WHERE {{ GRAPH <{gaps_graph(base)}> {{ ?o <{vocab.TS}thresholdKm> ?t }} }}"
        )
        assert sorted(float(r["t"].value) for r in thresholds) == [5.0, 20.0]
        # the gaps graph as stored is a valid Data Cube (IC-1 … IC-21)
        import pyoxigraph as ox

        from tests.integration.datacube import cube_store, violations

        cube = store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{gaps_graph(base)}> {{ ?s ?p ?o }} }}")
        assert isinstance(cube, ox.QueryTriples)
        data = ox.serialize(cube, format=ox.RdfFormat.N_TRIPLES)
        assert data and violations(cube_store(ntriples=data)) == []
    after = {source: bus.graph_triples(source) for source in before}
    assert after == before  # source graphs are never modified
    assert not (out_dir / "gaps-commune.csv").exists()  # only the levels asked for
    for level in ("departement", "region"):
        assert (out_dir / f"gaps-{level}.geojson").exists() and (out_dir / f"gaps-{level}.csv").exists()
    index = json.loads((out_dir / "index.json").read_text(encoding="utf-8"))
    assert index["settings"]["thresholds_km"] == [5.0, 20.0]
    assert (out_dir / "gaps-priorities.csv").read_text(encoding="utf-8").startswith("# Non recensé")

    # a second run gives the same graphs (idempotent), and a user mistake is one clear line
    with bus.store() as store:
        counts = {g: store.count(g) for g in (links_graph(base), territories_graph(base))}
    assert (
        main(
            [
                "gaps",
                "--out",
                str(out_dir),
                "--thresholds",
                "5,20",
                "--cube-levels",
                "france,region",
                "--file-levels",
                "region,departement",
            ]
        )
        == 0
    )
    with bus.store() as store:
        assert {g: store.count(g) for g in counts} == counts
    capsys.readouterr()
    assert main(["gaps", "--thresholds", "cinq"]) == 2
    assert capsys.readouterr().err.strip().startswith("transiscope: error: distance thresholds 'cinq'")


def test_gaps_files_phase_writes_what_one_run_writes(
    bus: Bus, territories_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Airflow gaps DAG runs the store phase in the store-writes pool and the files after it, outside:
    the two phases write the same files as one run, and the files phase alone says what to run first."""
    from dataclasses import replace

    from transiscope.core.errors import ConfigError
    from transiscope.downstream.gaps.step import run_gaps, write_gaps_files

    monkeypatch.setenv("TRANSISCOPE_TERRITORIES_DIR", str(territories_dir))
    assert main(["run", "--no-downstream"]) == 0
    settings = bus.settings()
    settings = replace(settings, gaps=replace(settings.gaps, file_levels=("region", "departement")))
    with pytest.raises(ConfigError, match="run the gaps step first"):
        write_gaps_files(settings, out_dir=tmp_path / "none")
    one = run_gaps(settings, out_dir=tmp_path / "one")
    store_phase = run_gaps(settings, write_files=False)
    assert store_phase.files == [] and store_phase.triples == one.triples
    files_phase = write_gaps_files(settings, out_dir=tmp_path / "two")
    assert files_phase.items == one.items and files_phase.national == one.national
    names = sorted(Path(p).name for p in one.files)
    assert names == sorted(Path(p).name for p in files_phase.files) and "gaps-region.geojson" in names
    for name in names:
        if name == "index.json":  # it carries the time it was written
            continue
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
