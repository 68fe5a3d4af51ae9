"""The map page in headless Chromium (Debian's chromium + chromium-driver, driven by selenium), served by
``transiscope serve`` over the exports of a real store. A screenshot is kept under ``test-artefacts/``.

Needs ``make map-assets`` (Leaflet from npm) and the Debian packages: ``make test`` installs them.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import PROJECT, PayloadServer
from tests.integration.exported import BASE, EVENT_GRAPH, EVENT_SOURCE, GEO, build_site
from transiscope.core.text import clean_text
from transiscope.core.vocab import PROV, SCHEMA, TS, TX
from transiscope.downstream.exports import export_all
from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.serve.static_files import map_assets_missing
from transiscope.store.embedded import EmbeddedStore

ARTEFACTS = PROJECT / "test-artefacts"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "headless Chromium is missing: install the Debian packages chromium and chromium-driver "
            "(make test does it as root)"
        )
    if map_assets_missing():
        pytest.fail(f"map assets missing ({', '.join(map_assets_missing())}): run `make map-assets`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


#: an initiative with a 10 kB name behind a right-to-left override, contacts published openly, a page at its source
BIDI_IRI = f"{BASE}id/initiative/{EVENT_SOURCE}/bidi"
BIDI_NAME = "\u202eLong " + "nom " * 2600
BIDI_PAGE = "https://agenda.example.org/fiche/bidi/"


def _bidi_triples() -> str:
    return (
        f"<{BIDI_IRI}> a <{TS}Initiative> ; <{SCHEMA}name> {json.dumps(BIDI_NAME)} ; "
        f"<{TS}source> <{BASE}id/source/{EVENT_SOURCE}> ; <{TS}category> <{TX}repair-cafes> ; "
        f'<{SCHEMA}telephone> "04 72 00 00 00" ; <{SCHEMA}email> "contact@bidi.example.org" ; '
        f'<{PROV}wasDerivedFrom> <{BIDI_PAGE}> ; <{SCHEMA}dateModified> "2026-11-02T10:00:00+01:00" ; '
        f"<{GEO}hasGeometry> <{BIDI_IRI}/geometry> . <{BIDI_IRI}/geometry> "
        f'<{SCHEMA}latitude> "45.7601" ; <{SCHEMA}longitude> "4.8412" .'
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, payload_server: PayloadServer):
    tmp = tmp_path_factory.mktemp("map")
    with pytest.MonkeyPatch.context() as mp:
        settings, _ = build_site(tmp, payload_server, mp)
        with EmbeddedStore(settings.store_path) as store:
            store.update(f"INSERT DATA {{ GRAPH <{EVENT_GRAPH}> {{ {_bidi_triples()} }} }}")
        summary = export_all(settings)
        servers = []

        def serve(tiles: str, assets: Path | None = None) -> str:
            options = ServeSettings(port=0, workers=1, map_tiles=tiles)
            endpoint = Endpoint(settings, replace(options, map_assets=assets) if assets else options)
            threading.Thread(target=endpoint.serve_forever, daemon=True).start()
            servers.append(endpoint)
            return f"http://127.0.0.1:{endpoint.server_address[1]}/map/"

        yield {"serve": serve, "summary": summary, "settings": settings}
        for endpoint in servers:
            endpoint.shutdown()
            endpoint.server_close()


def _load(driver, url: str) -> None:
    driver.get(url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not driver.execute_script("return document.body.dataset.ready"):
        time.sleep(0.1)
    assert driver.execute_script("return document.body.dataset.ready") == "true"


def _visible_total(driver) -> int:
    """Initiatives drawn: the counts shown on the clusters plus the single markers."""
    return driver.execute_script("""
        const clusters = [...document.querySelectorAll('.marker-cluster span')].map(s => parseInt(s.textContent));
        return clusters.reduce((a, b) => a + b, 0) + document.querySelectorAll('.ts-marker').length;""")


def _settle(driver, change: str) -> None:
    """Run ``change`` (a filter, a move) and wait until the page has drawn the answer to it."""
    before = driver.execute_script("return document.body.dataset.view")
    driver.execute_script(change)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and driver.execute_script("return document.body.dataset.view") == before:
        time.sleep(0.05)
    assert driver.execute_script("return document.body.dataset.view") != before, change
    time.sleep(0.2)  # the list of the view follows the points
    driver.execute_script("return 1")


def _choose(select_id: str, value: str) -> str:
    return (
        f"{{ const s = document.getElementById('{select_id}'); s.value = {json.dumps(value)};"
        "s.dispatchEvent(new Event('change')); }"
    )


def _api(driver, path: str):
    return driver.execute_script(f"return fetch({json.dumps(path)}).then(r => r.json())")


def test_map_page_points_filters_popup(browser, site) -> None:
    _load(browser, site["serve"](""))  # no tile server: the page must work without internet
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    expected = site["summary"].with_point
    count = browser.find_element("id", "count")
    assert int(count.get_attribute("data-count")) == expected
    in_view = int(count.get_attribute("data-in-view"))
    assert 0 < in_view <= expected and _visible_total(browser) == in_view
    # metropolitan France by default, not a world view fitted to every point
    lat, lon, zoom = browser.execute_script(
        "const m = window.transiscopeMap.layer._map, c = m.getCenter(); return [c.lat, c.lng, m.getZoom()];"
    )
    assert 44 < lat < 49 and 0 < lon < 5 and zoom >= 5
    # the category filter is the taxonomy's tree: domains, then their sub-concepts, each with a count
    options = browser.execute_script(
        "return [...document.querySelectorAll('#category option')].map(o => [o.value, o.className, o.textContent])"
    )
    kinds = {value: kind for value, kind, _ in options}
    assert kinds["se-nourrir"] == "domain" and kinds["repair-cafes"] == "sub"
    assert all(re.search(r"\(\d[\d\u202f ]*\)$", text) for value, _, text in options if value)
    domain_at = [v for v, _, _ in options].index("consommer-produire")
    assert [v for v, _, _ in options].index("repair-cafes") > domain_at  # a sub-concept under its domain
    _settle(browser, _choose("category", "repair-cafes"))
    filtered = int(count.get_attribute("data-count"))
    assert 0 < filtered < expected
    assert _visible_total(browser) == int(count.get_attribute("data-in-view"))
    # département names in the filter
    label = browser.execute_script("return document.querySelector('#departement option[value=\"69\"]').textContent")
    assert label.startswith("69 — Rhône (")
    _settle(browser, _choose("departement", "69"))
    assert int(count.get_attribute("data-count")) <= filtered
    _settle(browser, _choose("category", ""))
    assert 0 < int(count.get_attribute("data-count")) < expected
    _settle(browser, _choose("category", "") + _choose("departement", ""))
    assert int(count.get_attribute("data-count")) == expected
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "map-page.png"))
    assert (ARTEFACTS / "map-page.png").stat().st_size > 10_000


def test_map_popup_links_and_sanitised_text(browser, site) -> None:
    """The popup of the initiative with a 10 kB name behind U+202E: the name cut and cleaned, tel:/mailto: links,
    the last update, every credited source and "signaler une erreur" to its page at the source; the data export
    keeps the whole name."""
    _load(browser, site["serve"](""))
    found = _api(browser, "api/list?bbox=4.8,45.7,4.9,45.8&zoom=12&q=long nom")
    (item,) = [i for i in found["items"] if i["id"] == BIDI_IRI]
    browser.execute_script(f"return window.transiscopeMap.openDetail({item['row']})")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not browser.find_elements("css selector", ".leaflet-popup .ts-popup"):
        time.sleep(0.1)
    box = browser.find_element("css selector", ".leaflet-popup .ts-popup")
    title = box.find_element("tag name", "h3").text
    assert "\u202e" not in title and title.startswith("Long nom") and len(title) <= 160 and title.endswith("…")
    tel = box.find_element("css selector", "a[href^='tel:']")
    assert tel.get_attribute("href") == "tel:0472000000" and tel.text == "04 72 00 00 00"
    assert box.find_element("css selector", "a[href^='mailto:']").get_attribute("href") == (
        "mailto:contact@bidi.example.org"
    )
    assert "Mise à jour : 2026-11-02" in box.text
    report = box.find_element("css selector", "a.report-error")
    assert report.text == "Signaler une erreur" and report.get_attribute("href") == BIDI_PAGE
    assert "Source : " in box.text
    exports = site["settings"].exports_dir
    geojson = json.loads((exports / "initiatives.geojson").read_text("utf-8"))
    (whole,) = [f for f in geojson["features"] if f["properties"]["id"] == BIDI_IRI]
    assert whole["properties"]["name"] == clean_text(BIDI_NAME, multiline=False)  # the export keeps the full text
    browser.save_screenshot(str(ARTEFACTS / "map-popup.png"))


def test_map_outlines_without_tile_server_and_drom_view(browser, site) -> None:
    """No tile server at all: the régions and départements outlines are drawn under the points; the DROM
    switcher shows La Réunion with its points."""
    _load(browser, site["serve"](""))
    assert browser.execute_script("return window.transiscopeMap.outlines") > 100  # 18 régions + 101 départements
    drawn = browser.execute_script("return document.querySelectorAll('.leaflet-outlines-pane path').length")
    assert drawn > 50  # the metropolitan ones in view
    assert browser.find_element("id", "notice").text == ""
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "map-outlines-offline.png"))
    _settle(browser, _choose("territory", "974"))
    lat, lon = browser.execute_script("const c = window.transiscopeMap.layer._map.getCenter(); return [c.lat, c.lng];")
    assert -21.5 < lat < -20.8 and 55.1 < lon < 55.9
    assert browser.execute_script("return document.querySelectorAll('.leaflet-outlines-pane path').length") >= 1
    browser.save_screenshot(str(ARTEFACTS / "map-drom-reunion.png"))


def test_map_search_and_list_in_view(browser, site) -> None:
    """The search narrows the map and the list to names and places; the list is what is in view."""
    _load(browser, site["serve"](""))
    listed = browser.execute_script("return window.transiscopeMap.list.map(i => i.name)")
    in_view = int(browser.find_element("id", "count").get_attribute("data-in-view"))
    assert len(listed) == min(in_view, 50)
    inside = browser.execute_script("""const b = window.transiscopeMap.layer._map.getBounds();
        return window.transiscopeMap.list.every(i => b.contains([i.lat, i.lon]));""")
    assert inside
    _settle(
        browser,
        "const s = document.getElementById('search'); s.value = 'long nom';s.dispatchEvent(new Event('input'));",
    )
    count = browser.find_element("id", "count")
    assert int(count.get_attribute("data-count")) == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(browser.find_elements("css selector", "#list li")) != 1:
        time.sleep(0.1)
    (entry,) = browser.find_elements("css selector", "#list li")
    assert entry.text.startswith("Long nom")
    # a place: the Lyon postcode finds the initiatives there, and only them
    _settle(
        browser, "const s = document.getElementById('search'); s.value = '69001';s.dispatchEvent(new Event('input'));"
    )
    found = int(count.get_attribute("data-count"))
    assert found >= 1
    items = _api(browser, "api/list?bbox=-180,-90,180,90&zoom=3&q=69001")["items"]
    assert len(items) == found and all(i["postcode"] == "69001" or "69001" in i["city"] for i in items)
    entry = browser.find_element("css selector", "#list li")
    entry.click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not browser.find_elements("css selector", ".leaflet-popup .ts-popup"):
        time.sleep(0.1)
    assert browser.find_element("css selector", ".leaflet-popup .ts-popup h3").text == items[0]["name"]


def test_map_page_degrades_without_tiles(browser, site) -> None:
    """Tiles that cannot load (a closed port here, no internet in real life): a notice, the markers still there."""
    _load(browser, site["serve"]("http://127.0.0.1:9/{z}/{x}/{y}.png"))
    deadline = time.monotonic() + 10
    notice = browser.find_element("id", "notice")
    while time.monotonic() < deadline and not notice.text:
        time.sleep(0.1)
    assert "Fond de carte indisponible" in notice.text
    assert int(browser.find_element("id", "count").get_attribute("data-count")) == site["summary"].with_point
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "127.0.0.1:9/" not in e["message"]]
    assert errors == []  # only the tiles failed


def test_map_page_says_when_assets_are_missing(browser, site, tmp_path: Path) -> None:
    browser.get(site["serve"]("", assets=tmp_path / "none"))
    deadline = time.monotonic() + 10
    notice = browser.find_element("id", "notice")
    while time.monotonic() < deadline and not notice.text:
        time.sleep(0.1)
    assert "make map-assets" in notice.text


def test_map_page_gaps_choropleth(browser, site) -> None:
    """The gap analysis as a choropleth: a level, a concept and a measure chosen, a legend with the caveat."""
    import json

    from transiscope.downstream.gaps.step import run_gaps
    from transiscope.settings import GapsSettings

    settings = site["settings"]
    run_gaps(settings, GapsSettings(file_levels=("region", "departement")), write_store=False)
    departements = json.loads((settings.exports_dir / "gaps" / "gaps-departement.geojson").read_text("utf-8"))
    browser.get_log("browser")  # forget what earlier tests left in the log
    _load(browser, site["serve"](""))
    assert browser.find_element("id", "gaps-controls").is_displayed()
    levels = browser.execute_script("return [...document.querySelectorAll('#gaps-level option')].map(o => o.value)")
    assert levels == ["", "region", "departement"]
    browser.execute_script("""
        const set = (id, v) => { const s = document.getElementById(id); s.value = v; };
        set('gaps-concept', 'repair-cafes'); set('gaps-measure', 'share_beyond_20km'); set('gaps-level', 'departement');
        document.getElementById('gaps-level').dispatchEvent(new Event('change'));""")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and browser.execute_script("return document.body.dataset.gaps") != "shown":
        time.sleep(0.1)
    assert browser.execute_script("return window.transiscopeMap.gapsShown") == len(departements["features"])
    legend = browser.find_element("id", "gaps-legend").text
    assert "à vol d'oiseau" in legend and "Non recensé ne veut pas dire absent" in legend
    classes = browser.execute_script("return window.transiscopeMap.gaps.classes")
    assert len(classes) >= 2 and len({c["colour"] for c in classes}) == len(classes)  # a real scale
    # the Rhône (69) has repair cafés in the sample data: a lighter class than a département without any
    colours = browser.execute_script("""const out = {};
        window.transiscopeMap.gaps.layer.eachLayer(l => { out[l.feature.properties.code] = l.options.fillColor; });
        return out;""")
    ramp = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"]
    assert ramp.index(colours["69"]) < ramp.index(colours["23"])  # Creuse: nothing listed
    index = json.loads((settings.exports_dir / "gaps" / "index.json").read_text("utf-8"))
    # the fixed classes of index.json, not quantiles: every territory with a value in the colour of its class
    assert [c["fr"] for c in classes] == [c["fr"] for c in index["measures"]["share_beyond_20km"]["classes"]]
    for feature in departements["features"]:
        value = feature["properties"]["indicators"]["repair-cafes"]["share_beyond_20km"]
        band = [c for c in index["measures"]["share_beyond_20km"]["classes"] if c["from"] is None or value >= c["from"]]
        assert colours[feature["properties"]["code"]] == ramp[band[-1]["shade"]], feature["properties"]["code"]
    assert "pas de valeur" not in browser.find_element("id", "gaps-legend").text  # every département has one
    # a measure where more is better (the count): the ramp turns round, Creuse (none listed) is the darkest
    browser.execute_script("""const s = document.getElementById('gaps-measure'); s.value = 'count';
        document.body.dataset.gaps = ''; s.dispatchEvent(new Event('change'));""")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and browser.execute_script("return document.body.dataset.gaps") != "shown":
        time.sleep(0.1)
    colours = browser.execute_script("""const out = {};
        window.transiscopeMap.gaps.layer.eachLayer(l => { out[l.feature.properties.code] = l.options.fillColor; });
        return out;""")
    assert colours["23"] == ramp[-1] and ramp.index(colours["69"]) < len(ramp) - 1
    # the measures offered are those the level's file carries
    offered = browser.execute_script("return [...document.querySelectorAll('#gaps-measure option')].map(o => o.value)")
    assert offered == index["level_measures"]["departement"]
    browser.execute_script("""const s = document.getElementById('gaps-measure'); s.value = 'share_beyond_20km';
        document.body.dataset.gaps = ''; s.dispatchEvent(new Event('change'));""")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and browser.execute_script("return document.body.dataset.gaps") != "shown":
        time.sleep(0.1)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "map-gaps.png"))


def _run_query(driver, query: str) -> None:
    """Type a query into the active YASGUI tab and run it; wait for its results to be drawn."""
    driver.execute_script(
        """const tab = window.transiscopeYasgui.getTab(); tab.getYasqe().setValue(arguments[0]);
        window.__drawn = false; tab.getYasr().once('drawn', () => { window.__drawn = true; });
        tab.getYasqe().query();""",
        query,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not driver.execute_script("return window.__drawn"):
        time.sleep(0.1)
    assert driver.execute_script("return window.__drawn") is True


def test_query_page_runs_pages_and_disarms_links(browser, site) -> None:
    """The query page (YASGUI from npm, no CDN) under its Content-Security-Policy: the examples open in tabs with
    the project's prefixes declared, results are paged, and a result IRI that is not http(s) is no link."""
    base = site["serve"]("").removesuffix("map/")
    _load(browser, base)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    titles = [o.text for o in browser.find_elements("css selector", "#examples option")][1:]
    assert "Initiatives within N km of a point" in titles
    browser.execute_script(
        "const s = document.getElementById('examples'); s.value = 'initiatives-per-category';"
        "s.dispatchEvent(new Event('change'));"
    )
    editor = browser.execute_script("return window.transiscopeYasgui.getTab().getYasqe().getValue()")
    assert "PREFIX skos:" in editor and "PREFIX tx:" not in editor  # only the prefixes the query uses
    _run_query(browser, "SELECT ?i WHERE { ?i a ts:Initiative }")
    rows = browser.find_elements("css selector", ".yasr table.dataTable tbody tr")
    assert 0 < len(rows) <= 50  # one page of results
    _run_query(
        browser,
        'SELECT ?x ?y WHERE { BIND(IRI("javascript:alert(document.domain)") AS ?x) '
        "BIND(<https://transiscope.org/> AS ?y) }",
    )
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", ".yasr table.dataTable a[href]")]
    assert not [href for href in links if href.lower().startswith("javascript:")]
    assert any(href.startswith("https://transiscope.org/") for href in links)
    assert "javascript:alert" in browser.find_element("css selector", ".yasr table.dataTable").text
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "query-page.png"))


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_quality_reports_read_as_a_maintainer_would(browser, site, width: int, height: int) -> None:
    """The maintainers' pages fit the window (wide tables scroll in their own box, never the page), speak in
    words (fields, states, dates), give no command to run, and link example records to their pages."""
    base = site["serve"]("").removesuffix("map/")
    browser.set_window_size(width, height)
    try:
        for page in ("reports/index.fr.html", "reports/transiscope.fr.html", "reports/presdecheznous.en.html"):
            browser.get(base + page)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (page, width, overflow)
            text = browser.find_element("tag name", "body").text
            assert "transiscope link" not in text and "TRANSISCOPE_" not in text, page
            assert "updated_at" not in text and "success" not in text.split(), page
            if page.endswith(".fr.html"):
                assert "réussi" in text and re.search(r"\d+ \w+ \d{4} à \d+ h \d\d \((il y a|à l'instant)", text), page
            ARTEFACTS.mkdir(exist_ok=True)
            name = page.removeprefix("reports/").replace(".html", "")
            browser.save_screenshot(str(ARTEFACTS / f"report-{name}-{width}.png"))
        browser.get(base + "reports/transiscope.fr.html")
        links = [a.get_attribute("href") for a in browser.find_elements("css selector", "a[title]")]
        assert any("/map#/fiche/" in href for href in links)  # an example record links to its page
    finally:
        browser.set_window_size(1200, 800)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_the_kit_page_read_as_a_maintainer_would(browser, site, width: int, height: int) -> None:
    """The maintainers' kit fits the window, lists the common problems with a sentence, figures and an example,
    gives no command to run; every report page and the self-check lead to it."""
    base = site["serve"]("").removesuffix("map/")
    browser.set_window_size(width, height)
    try:
        for lang in ("fr", "en"):
            browser.get(f"{base}reports/kit.{lang}.html")
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (lang, width, overflow)
            problems = browser.find_elements("css selector", "#kit-problems > li")
            assert 0 < len(problems) <= 5
            for problem in problems:
                assert problem.find_element("tag name", "h2").text
                assert re.search(r"\d+ (fiches|records) (dans|in) \d+ sources?", problem.text), problem.text
                assert problem.find_elements("css selector", ".example")
            text = browser.find_element("tag name", "body").text
            assert not re.search(r"transiscope (check-source|run|report|link|serve|guide|export)", text)
            assert "TRANSISCOPE_" not in text and "--" not in text and "_count" not in text
            ARTEFACTS.mkdir(exist_ok=True)
            browser.save_screenshot(str(ARTEFACTS / f"kit-{lang}-{width}.png"))
        if width == 1366:
            pages = [
                ("reports/index.fr.html", "fr"),
                ("reports/transiscope.fr.html", "fr"),
                ("reports/presdecheznous.en.html", "en"),
                ("reports/kit.en.html", "en"),
                ("verifier/", "fr"),
                ("verifier/en/", "en"),
            ]
            for page, lang in pages:
                browser.get(base + page)
                link = browser.find_element("css selector", "a.kit-link")
                assert link.get_attribute("href") == f"{base}reports/kit.{lang}.html", page
                link.click()
                assert browser.find_elements("id", "kit-problems"), page
    finally:
        browser.set_window_size(1200, 800)


def test_map_api_answers_bounded_and_refuses_bad_views(site) -> None:
    """The API without a browser: clusters and points add up to what matches; a bad view is a 400 that says
    what to send; no traceback."""
    import urllib.error
    import urllib.request

    root = site["serve"]("") + "api/"

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(root + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    status, body = get("points?bbox=-180,-90,180,90&zoom=3")
    assert status == 200
    answer = json.loads(body)
    drawn = sum(c["count"] for c in answer["clusters"]) + len(answer["points"])
    assert drawn == answer["in_view"] == answer["matching"] == site["summary"].with_point
    for path, words in (
        ("points?zoom=3", "bbox=west,south,east,north"),
        ("points?bbox=1,2,3&zoom=3", "bbox=west,south,east,north"),
        ("points?bbox=0,50,1,40&zoom=3", "south <= north"),
        ("points?bbox=0,40,1,50&zoom=99", "zoom"),
        ("points?bbox=0,40,1,50&zoom=5&concept=nope", "unknown notation"),
        ("list?bbox=0,40,1,50&zoom=5&offset=-1", "offset"),
        ("initiative/99999", "no point 99999"),
        ("points?bbox=0,40,1,50&zoom=5&q=" + "x" * 101, "at most 100"),
    ):
        status, body = get(path)
        assert status == 400 and words in body and "Traceback" not in body, (path, body)
    assert get("nothing")[0] == 404
