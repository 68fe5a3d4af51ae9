"""The self-check (``/verifier/``) of ``transiscope serve``, as a maintainer and as an attacker would use it: the
bundled samples by file and by URL, the JSON document of ``check-source --json``, refused addresses, hostile
files (a file over the cap, HTML named ``.json``, a zip bomb named ``.json``), the per-client limit; and the page
in headless Chromium (screenshot kept)."""

from __future__ import annotations

import html
import io
import json
import re
import threading
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from tests.conftest import PayloadServer
from tests.integration.test_map_page import ARTEFACTS, browser  # noqa: F401  (the Chromium fixture)
from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.settings import PROJECT_ROOT, Settings

SAMPLES = PROJECT_ROOT / "transforms" / "samples"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Start an endpoint with the given serve options; returns its base URL."""
    home = tmp_path_factory.mktemp("verifier")
    endpoints: list[Endpoint] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRANSISCOPE_HOME", str(home / "home"))
        settings = Settings.from_env()

        def start(**options: object) -> str:
            endpoint = Endpoint(settings, replace(ServeSettings(port=0, workers=1, map_tiles=""), **options))
            threading.Thread(target=endpoint.serve_forever, daemon=True).start()
            endpoints.append(endpoint)
            return f"http://127.0.0.1:{endpoint.server_address[1]}"

        yield start
        for endpoint in endpoints:
            endpoint.shutdown()
            endpoint.server_close()


@pytest.fixture(scope="module")
def base(serve: Callable[..., str]) -> str:
    return serve(verifier_max_bytes=400_000, verifier_per_client=100)


def _check_file(base: str, name: str, data: bytes) -> requests.Response:
    return requests.post(f"{base}/verifier/", files={"file": (name, data)}, headers=JSON, timeout=180)


def test_a_bundled_sample_by_file(base: str) -> None:
    reply = _check_file(base, "transiscope.json", (SAMPLES / "transiscope.json").read_bytes())
    document = reply.json()
    assert reply.status_code == 200 and document["ok"] is True and document["format"] == "gogocarto"
    assert document["records"] == document["loaded"] + document["quarantined"] and document["loaded"] > 0
    assert document["origin"] == "transiscope.json" and document["mapping"] == "proposed.mapping.toml"
    assert all(q["reasons"] for q in document["would_quarantine"])
    assert "/tmp" not in json.dumps(document)  # no path of the server in what a client reads


def test_what_to_fix_first_in_the_page_s_language(base: str) -> None:
    """The French page shows the advice in French, the English page in English; the JSON carries both."""
    data = (SAMPLES / "transiscope.json").read_bytes()
    document = _check_file(base, "transiscope.json", data).json()
    assert document["fix_first"] and len(document["fix_first_fr"]) == len(document["fix_first"])
    pages = {
        lang: requests.post(f"{base}{path}", files={"file": ("transiscope.json", data)}, timeout=180).text
        for lang, path in (("fr", "/verifier/"), ("en", "/verifier/en/"))
    }
    advice = {lang: re.search(r'<ol id="fix-first">(.*?)</ol>', page, re.S) for lang, page in pages.items()}
    assert advice["fr"] and advice["en"]
    french, english = (html.unescape(advice[lang].group(1)) for lang in ("fr", "en"))
    assert "les fiches que la source marque elle-même comme supprimées" in french and "records the source" not in french
    assert "records the source itself marks as deleted" in english and "fiche(s)" not in english
    assert french.count("<li>") == english.count("<li>") == len(document["fix_first"])


def test_a_csv_sample_by_file(base: str) -> None:
    document = _check_file(base, "ressourceries.csv", (SAMPLES / "ressourceries.csv").read_bytes()).json()
    assert document["ok"] is True and document["format"] == "csv" and document["loaded"] > 0


def test_loopback_and_other_schemes_are_refused(base: str, payload_server: PayloadServer) -> None:
    url = payload_server.serve_file("/verifier/transiscope.json", SAMPLES / "transiscope.json")
    for target in (url, "http://10.0.0.1/data.json", "ftp://example.org/data.json", "http://[::1]:9/x"):
        reply = requests.post(f"{base}/verifier/", data={"url": target}, headers=JSON, timeout=60)
        assert reply.status_code == 400, target
        assert reply.json()["ok"] is False and reply.json()["error"], target
    assert payload_server.hits["/verifier/transiscope.json"] == 0  # nothing was fetched
    page = requests.post(f"{base}/verifier/", data={"url": url}, timeout=60)
    assert page.status_code == 400 and "adresse privée ou locale" in page.text


def test_a_url_the_operator_allows(serve: Callable[..., str], payload_server: PayloadServer) -> None:
    url = payload_server.serve_file("/verifier/allowed.json", SAMPLES / "presdecheznous.json")
    host = urllib.parse.urlsplit(url).netloc
    allowed = serve(verifier_allow=frozenset({host}))
    reply = requests.post(f"{allowed}/verifier/", data={"url": url}, headers=JSON, timeout=180)
    assert reply.status_code == 200 and reply.json()["ok"] is True and reply.json()["format"] == "gogocarto"
    assert payload_server.hits["/verifier/allowed.json"] == 1


def test_hostile_files(base: str) -> None:
    sample = (SAMPLES / "transiscope.json").read_bytes()
    payload = json.loads(sample)
    payload["data"] = payload["data"] * 10 * 40  # a 10x payload (and more), over the cap
    big = json.dumps(payload).encode()
    assert len(big) > 400_000
    reply = _check_file(base, "big.json", big)
    assert reply.status_code == 413 and reply.json()["ok"] is False
    html = b"<!doctype html><html><body><h1>Notre carte</h1><script>alert(1)</script></body></html>"
    document = _check_file(base, "page.json", html).json()
    assert document["ok"] is False and document["error"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", b"0" * 200_000_000)  # 200 MB of zeros, ~200 kB zipped
    reply = _check_file(base, "data.json", bomb.getvalue())
    assert reply.status_code == 200 and reply.json()["ok"] is False  # read as it is: not JSON, never inflated
    assert requests.get(f"{base}/health", timeout=10).status_code == 200


def test_checks_per_client_are_limited(serve: Callable[..., str]) -> None:
    limited = serve(verifier_per_client=1)
    csv = (SAMPLES / "ressourceries.csv").read_bytes()
    assert _check_file(limited, "a.csv", csv).status_code == 200
    reply = _check_file(limited, "a.csv", csv)
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0


def _after_submit(browser, element_id: str):  # noqa: F811
    """The element of the answer page: a click on submit returns before the answer is in (the check runs in a
    worker), so a lookup at once can read the form page still shown. Bounded wait, not a timing check."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 60).until(expected_conditions.presence_of_element_located((By.ID, element_id)))


def test_the_page_in_a_browser(browser, base: str, tmp_path: Path) -> None:  # noqa: F811
    sample = tmp_path / "transiscope.json"
    sample.write_bytes((SAMPLES / "transiscope.json").read_bytes())
    browser.set_window_size(1366, 900)
    try:
        browser.get(f"{base}/verifier/")
        assert "Vérifier les données d'une source" in browser.title
        browser.find_element("id", "file").send_keys(str(sample))
        browser.find_element("css selector", "form button").click()
        loaded = int(_after_submit(browser, "loaded").text)
        assert loaded > 0 and browser.find_element("id", "format").text == "gogocarto"
        assert browser.find_elements("css selector", "#quarantine tr")  # what is set aside, and why
        assert "[fields]" in browser.find_element("id", "mapping").text or browser.find_element("id", "mapping").text
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        ARTEFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTEFACTS / "verifier-result.png"))
        hostile = tmp_path / "page.json"
        hostile.write_bytes(b"<html><body><script>alert(1)</script></body></html>")
        browser.get(f"{base}/verifier/en/")
        browser.find_element("id", "file").send_keys(str(hostile))
        browser.find_element("css selector", "form button").click()
        assert "could not read the source" in _after_submit(browser, "error").text
        assert browser.execute_script("return document.querySelectorAll('script').length") == 0
        browser.save_screenshot(str(ARTEFACTS / "verifier-hostile.png"))
    finally:
        browser.set_window_size(1200, 800)
