"""The ``/gaps/`` page ("Où manque-t-il des alternatives ?") in headless Chromium, served by ``transiscope serve``
over the gaps files of the sample data; screenshots are kept under ``test-artefacts/``.

Why compare with the files: the page must show the ranks and the sentences the gaps step wrote, not numbers of
its own; and it must fit a laptop and a phone without a sideways scroll of the page.
"""

from __future__ import annotations

import csv
import json
import time

import pytest

from tests.integration.test_map_page import ARTEFACTS, _load, browser, site  # noqa: F401 (fixtures)

RAMP = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]  # the pages' ramp, lightest = best served


@pytest.fixture(scope="module")
def gaps_site(site):  # noqa: F811 (the fixture imported above)
    from transiscope.downstream.gaps.step import run_gaps
    from transiscope.settings import GapsSettings

    settings = site["settings"]
    run_gaps(settings, GapsSettings(file_levels=("region", "departement")), write_store=False)
    base = site["serve"]("").removesuffix("map/")
    return {"base": base, "gaps": settings.exports_dir / "gaps"}


def _priorities(gaps_dir) -> list[dict[str, str]]:
    lines = (gaps_dir / "gaps-priorities.csv").read_text(encoding="utf-8").splitlines()
    return list(csv.DictReader(lines[1:]))  # the first line is the caveat


def _choose(driver, concept: str, level: str) -> None:
    driver.execute_script(
        "const c = document.getElementById('concept'); c.value = arguments[0];"
        "document.getElementById('level').value = arguments[1]; c.dispatchEvent(new Event('change'));",
        concept,
        level,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and driver.execute_script("return document.body.dataset.shown") != (
        f"{concept}/{level}"
    ):
        time.sleep(0.1)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)], ids=["laptop", "phone"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_gaps_page_shows_the_files(browser, gaps_site, width: int, height: int, language: str) -> None:  # noqa: F811
    rows = _priorities(gaps_site["gaps"])
    ranked = json.loads((gaps_site["gaps"] / "gaps-priorities.json").read_text(encoding="utf-8"))["rows"]
    index = json.loads((gaps_site["gaps"] / "index.json").read_text(encoding="utf-8"))
    assert rows and len(rows) == len(ranked)
    browser.get_log("browser")  # forget what earlier tests left in the log
    browser.set_window_size(width, height)
    try:
        _load(browser, gaps_site["base"] + ("gaps/" if language == "fr" else "gaps/en/"))
        assert browser.execute_script("return document.documentElement.lang") == language
        title = browser.find_element("tag name", "h1").text
        assert title == ("Où manque-t-il des alternatives ?" if language == "fr" else "Where are alternatives missing?")
        # every concept with data is offered; for the repair cafés at département level the ranks and sentences
        # are those of the files, in the file's order
        offered = browser.execute_script("return [...document.querySelectorAll('#concept option')].map(o => o.value)")
        assert offered == [c["notation"] for c in index["concepts"]]
        _choose(browser, "repair-cafes", "departement")
        shown = browser.execute_script("""return [...document.querySelectorAll('#ranking tbody tr')].map(tr => ({
            code: tr.dataset.code, rank: tr.dataset.rank, population_rank: tr.dataset.populationRank,
            sentence: tr.querySelector('.sentence').textContent,
            people: tr.children[2].textContent }))""")
        expected = [r for r in rows if r["concept"] == "repair-cafes" and r["level"] == "departement"]
        assert expected and [s["code"] for s in shown] == [r["code"] for r in expected]
        assert [s["rank"] for s in shown] == [r["rank"] for r in expected]
        assert [s["population_rank"] for s in shown] == [r["population_rank"] for r in expected]
        english = {(r["level"], r["concept"], r["code"]): r["sentence_en"] for r in ranked}
        for s, r in zip(shown, expected, strict=True):
            want = r["sentence"] if language == "fr" else english[("departement", "repair-cafes", r["code"])]
            assert s["sentence"] == want and want
            assert s["people"].replace("\u202f", "").replace("\xa0", "").replace(",", "") == r[
                "white_zone_population"
            ].replace(",", "")
        # France entière and France hors DROM, the figures of index.json
        cards = browser.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#national [data-aggregate]')]"
            ".map(d => [d.dataset.aggregate, d.textContent]))"
        )
        assert set(cards) == set(index["aggregates"])
        for name, entry in index["aggregates"].items():
            share = entry["concepts"]["repair-cafes"]["white_share"]
            assert f"{100 * share:.0f}" in cards[name] and entry["label"][language] in cards[name]
        # the caveats, the downloads (each a served file), the map coloured for every département with a value
        text = browser.find_element("tag name", "body").text
        if language == "fr":
            for words in ("vol d'oiseau", "Non recensé ne veut pas dire absent", "Paris, Lyon et Marseille", "cog2026"):
                assert words in text, words
        else:
            for words in ("Straight-line", "Not listed does not mean absent", "Paris, Lyon and Marseille", "cog2026"):
                assert words in text, words
        links = [a.get_attribute("href") for a in browser.find_elements("css selector", "#downloads a")]
        assert any(h.endswith("/exports/gaps/gaps-priorities.csv") for h in links)
        assert any(h.endswith("/exports/gaps/gaps-departement.geojson") for h in links)
        fills = browser.execute_script("""const out = {};
            window.transiscopeGaps.layer.eachLayer(l => { out[l.feature.properties.code] = l.options.fillColor; });
            return out;""")
        departements = json.loads((gaps_site["gaps"] / "gaps-departement.geojson").read_text(encoding="utf-8"))
        assert len(fills) == len(departements["features"])
        for feature in departements["features"]:
            value = feature["properties"]["indicators"]["repair-cafes"]["white_share"]
            assert (fills[feature["properties"]["code"]] == "#bdbdbd") == (value is None)
            if value is not None:  # the fixed class of index.json, darker for a larger share lacking
                band = [
                    c for c in index["measures"]["white_share"]["classes"] if c["from"] is None or value >= c["from"]
                ]
                assert fills[feature["properties"]["code"]] == RAMP[band[-1]["shade"]]
        legend = browser.find_element("id", "legend").text
        for c in index["measures"]["white_share"]["classes"]:
            assert c[language] in legend
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = browser.execute_script(
            "const w = document.documentElement.clientWidth; return [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > w && !e.closest('.table-box, #map'))"
            ".map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)"
        )
        assert overflow <= 0, (width, overflow, wide)
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        ARTEFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTEFACTS / f"gaps-page-{language}-{width}.png"))
        for part in ("ranking", "map"):  # below the fold: the ranked list, then the map
            browser.execute_script("document.getElementById(arguments[0]).scrollIntoView()", part)
            browser.save_screenshot(str(ARTEFACTS / f"gaps-page-{language}-{width}-{part}.png"))
    finally:
        browser.set_window_size(1200, 800)


def test_gaps_page_marks_a_concept_measured_through_another(browser, gaps_site) -> None:  # noqa: F811
    """A concept whose figures come from one narrower concept says so on the page (the sample data has none:
    index.json is given one, a broader concept fed by one of its narrower ones, as the gaps step writes it)."""
    path = gaps_site["gaps"] / "index.json"
    original = path.read_text(encoding="utf-8")
    index = json.loads(original)
    narrower = next(c for c in index["concepts"] if c.get("broader") in {d["notation"] for d in index["concepts"]})
    broader = narrower["broader"]
    for concept in index["concepts"]:
        if concept["notation"] == broader:
            concept["measured_through"] = narrower["notation"]
    path.write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    try:
        _load(browser, gaps_site["base"] + "gaps/")
        level = browser.execute_script("return document.getElementById('level').value")
        _choose(browser, broader, level)
        note = browser.find_element("id", "through")
        labels = {c["notation"]: c["label"]["fr"] for c in index["concepts"]}
        assert note.is_displayed() and "n'est mesuré qu'à travers" in note.text
        assert labels[narrower["notation"]] in note.text
        _choose(browser, narrower["notation"], level)
        assert not browser.find_element("id", "through").is_displayed()
    finally:
        path.write_text(original, encoding="utf-8")
