"""The link step on real runs: two sample sources served over loopback HTTP, loaded into a real embedded
store, linked; sameAs, candidates, clusters, the review CSV, the quality pages and decisions across re-runs."""

from __future__ import annotations

import csv
import json

import pytest

from tests.conftest import Bus, Reply, sample_path, write_registry
from transiscope import jobs
from transiscope.cli import main
from transiscope.core import vocab
from transiscope.downstream.link import linker as link
from transiscope.settings import PROJECT_ROOT

OWL_SAME = "http://www.w3.org/2002/07/owl#sameAs"


def _twin(template: dict, **fields) -> dict:
    element = json.loads(json.dumps(template))
    element.update({k: v for k, v in fields.items() if k != "address"})
    element["address"] = dict(element["address"], **fields.get("address", {}))
    element.pop("email", None)
    element.pop("telephone", None)
    return element


@pytest.fixture
def linked_bus(bus: Bus, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Bus:
    """transiscope's sample, and Près de chez nous' sample plus two records of initiatives transiscope lists."""
    monkeypatch.setenv("TRANSISCOPE_LINK_DECISIONS", str(tmp_path / "link-decisions.csv"))
    payload = json.loads(sample_path("presdecheznous").read_text(encoding="utf-8"))
    template = payload["data"][0]
    payload["data"].append(
        _twin(  # the AMAP of transiscope's 3aF: other spelling, pin 15 m away, same website
            template,
            id="P-amap",
            name="Amap des pentes",
            geo={"latitude": 45.7713, "longitude": 4.8306},
            address={
                "streetAddress": "12 montée de la Grande Côte",
                "postalCode": "69001",
                "addressLocality": "Lyon",
                "customFormatedAddress": "12 montée de la Grande Côte, 69001 Lyon",
            },
            website="http://www.amap-des-pentes.example.org/",
        )
    )
    payload["data"].append(
        _twin(  # maybe transiscope's 3bK: same name, 1.5 km away, nothing else to go on
            template,
            id="P-rc",
            name="=Repair Café Nantes Est",
            geo={"latitude": 47.2395, "longitude": -1.5145},
            address={
                "streetAddress": "3 rue du Port",
                "postalCode": "44300",
                "addressLocality": "Nantes",
                "customFormatedAddress": "3 rue du Port, 44300 Nantes",
            },
            website=None,
        )
    )
    url = bus.server.set(f"/{tmp_path.name}/pdcn-linked.json", Reply(200, json.dumps(payload).encode()))
    write_registry(bus.registry.parent, {"transiscope": bus.urls["transiscope"], "presdecheznous": url})
    for source in ("transiscope", "presdecheznous"):
        assert jobs.run_source(source, force=True).outcome == "success"
    return bus


def _iri(source: str, record: str) -> str:
    return vocab.initiative_iri("https://w3id.org/transiscope/", source, record)


def _same_as(bus: Bus) -> set[tuple[str, str]]:
    with bus.store() as store:
        rows = store.select(
            f"SELECT ?a ?b WHERE {{ GRAPH <{link.links_graph(bus.settings().base_iri)}> {{ ?a <{OWL_SAME}> ?b }} }}"
        )
    return {(r["a"].value, r["b"].value) for r in rows}


def test_links_candidates_clusters_and_reports(linked_bus: Bus) -> None:
    bus = linked_bus
    settings = bus.settings()
    sources_before = {s: bus.graph_triples(s) for s in ("transiscope", "presdecheznous")}
    messages: list[str] = []
    summary = jobs.run_link(settings, progress=messages.append)
    assert messages and summary.records == 13 + 12 + 2 - 3  # 3 of the samples are quarantined
    amap, amap_twin = _iri("transiscope", "3aF"), _iri("presdecheznous", "P-amap")
    assert _same_as(bus) == {(amap, amap_twin), (amap_twin, amap)}
    assert {s: bus.graph_triples(s) for s in sources_before} == sources_before  # sources untouched

    base = settings.base_iri
    with bus.store() as store:
        rows = store.select(f"""SELECT ?l ?score ?evidence WHERE {{ GRAPH <{link.links_graph(base)}> {{
            ?l a <{vocab.TS}DuplicateCandidate> ; <{vocab.TS}candidate> <{amap}>, <{amap_twin}> ;
               <{vocab.TS}matchScore> ?score ; <{vocab.TS}matchEvidence> ?evidence }} }}""")
        assert float(rows[0]["score"].value) >= settings.link.high
        assert "same website" in {r["evidence"].value for r in rows}
        assert bool(store.query(f"ASK {{ <{amap_twin}> <{vocab.SCHEMA}sameAs> <{amap}> }}"))
        assert not bool(store.query(f"ASK {{ <{amap}> <{vocab.SCHEMA}sameAs> <{_iri('transiscope', '3bK')}> }}"))
        categories = {
            r["c"].value
            for r in store.select(
                f"SELECT ?c WHERE {{ VALUES ?i {{ <{amap}> <{amap_twin}> }} ?i <{vocab.TS}category> ?c }}"
            )
        }
        consolidated = link.consolidated_initiatives(store, base)
        rq = (PROJECT_ROOT / "queries" / "consolidated-initiatives.rq").read_text(encoding="utf-8")
        query_rows = store.select(rq)
    assert len(consolidated) == 1
    entry = consolidated[0]
    assert entry["members"] == sorted([amap, amap_twin]) and entry["representative"] == min(amap, amap_twin)
    assert entry["sources"] == sorted([vocab.source_iri(base, "transiscope"), vocab.source_iri(base, "presdecheznous")])
    assert entry["categories"] == sorted(categories) and categories  # the union of both records' categories
    assert len(entry["source_categories"]) >= 2  # both sources' own labels, joined
    assert abs(entry["lat"] - 45.77125) < 1e-6
    assert len(query_rows) == 1 and int(query_rows[0]["records"].value) == 2
    assert len(query_rows[0]["sources"].value.split()) == 2

    # the candidate for review, in the CSV (a name starting with "=" is no formula) and on both report pages
    with (summary.out_dir / "candidates.csv").open(encoding="utf-8-sig", newline="") as handle:
        candidates = list(csv.DictReader(handle))
    nantes = [c for c in candidates if {c["id_a"], c["id_b"]} == {"3bK", "P-rc"}]
    assert nantes and settings.link.low <= float(nantes[0]["score"]) < settings.link.high
    assert "'=Repair Café Nantes Est" in {nantes[0]["name_a"], nantes[0]["name_b"]}
    reports = settings.home / "reports"
    for source in ("transiscope", "presdecheznous"):
        report = json.loads((reports / f"{source}.json").read_text(encoding="utf-8"))
        assert report["links"]["linked"] == 1 and report["links"]["candidates"] >= 1
        assert report["links"]["shared_with"][0]["initiatives"] == 1
        assert "Paires à vérifier" in (reports / f"{source}.fr.html").read_text(encoding="utf-8")
        assert "Pairs to review" in (reports / f"{source}.en.html").read_text(encoding="utf-8")
    index = json.loads((reports / "index.json").read_text(encoding="utf-8"))
    assert index["overlap"]["matrix"]["presdecheznous"]["transiscope"] == 1
    assert "Overlap between sources" in (reports / "index.en.html").read_text(encoding="utf-8")

    # the exports: one marker for the two records, both sources credited; the source records as they were
    from transiscope.downstream.exports import export_all

    exported = export_all(settings, gzip_copies=False)
    out = settings.exports_dir
    markers = json.loads((out / "consolidated.geojson").read_text(encoding="utf-8"))["features"]
    records = json.loads((out / "initiatives.geojson").read_text(encoding="utf-8"))["features"]
    assert len(records) == exported.with_point and len(markers) == len(records) - 1
    (merged,) = [f for f in markers if len(f["properties"]["members"]) > 1]
    props = merged["properties"]
    assert merged["id"] == entry["iri"] and props["members"] == sorted([amap, amap_twin])
    assert sorted(props["sources"]) == ["presdecheznous", "transiscope"]
    assert len(props["source_names"]) == 2 and len(props["source_urls"]) == 2
    assert set(props["categories"]) == {c.rsplit("/", 1)[-1] for c in categories}
    assert merged["geometry"]["coordinates"] == [entry["lon"], entry["lat"]]
    assert {f["id"] for f in records} >= {amap, amap_twin}  # each source keeps its own record

    # running again changes nothing
    jobs.run_link(settings)
    assert _same_as(bus) == {(amap, amap_twin), (amap_twin, amap)}


def test_decisions_persist_across_runs(linked_bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    bus = linked_bus
    settings = bus.settings()
    amap, amap_twin = _iri("transiscope", "3aF"), _iri("presdecheznous", "P-amap")
    assert main(["link", "--reject", "transiscope/3aF", amap_twin]) == 0
    assert (
        main(
            [
                "link",
                "--confirm",
                "transiscope/3bK",
                "presdecheznous/P-rc",
                "--candidates-csv",
                str(bus.home / "review.csv"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(settings.link.decisions_path.open(encoding="utf-8")))
    assert [(r["decision"], r["id_a"], r["id_b"]) for r in rows] == [
        ("rejected", "P-amap", "3aF"),
        ("confirmed", "P-rc", "3bK"),
    ]
    nantes = (_iri("transiscope", "3bK"), _iri("presdecheznous", "P-rc"))
    assert _same_as(bus) == {nantes, nantes[::-1]}
    assert (bus.home / "review.csv").exists()
    # a new run of a source, then of the link step: the decisions still hold
    assert jobs.run_source("transiscope", force=True).outcome == "success"
    assert main(["link"]) == 0
    assert _same_as(bus) == {nantes, nantes[::-1]}
    with bus.store() as store:
        decided = store.select(f"""SELECT ?d WHERE {{ ?l <{vocab.TS}candidate> <{amap}>, <{amap_twin}> ;
                                   <{vocab.TS}reviewDecision> ?d }}""")
    assert [r["d"].value for r in decided] == ["rejected"]
    capsys.readouterr()
    assert main(["link", "--confirm", "transiscope/nope", "presdecheznous/P-rc"]) == 2
    assert "no initiative transiscope/nope in the store" in capsys.readouterr().err
    assert main(["link", "--confirm", "3aF", "presdecheznous/P-rc"]) == 2
    assert len(list(csv.DictReader(settings.link.decisions_path.open(encoding="utf-8")))) == 2
