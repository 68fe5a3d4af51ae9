"""The map page in headless Chromium at 100k (and 500k) initiatives: first draw and JS heap, before and after.

    .venv/bin/python bench/map_page.py [--sizes 100000,500000] [--before-rev 38e7b82] [--json]

For each size, synthetic records (bench/synthetic.py) are bulk-loaded into a fresh embedded store
(bench/exports.py's ``build_store``) and the map's points index is written from that store by
``transiscope.downstream.map_points.write_points``, the function ``transiscope export`` calls; ``transiscope
serve`` then serves the page (after). The page of ``--before-rev`` (the one that loads the GeoJSON export
whole into Leaflet.markercluster) is served by a small static server over an ``initiatives.geojson`` written
here from the same records, in the export's feature shape (the export itself would take minutes at 100k and
does not fit in memory at 500k: see bench/exports.py).

Measured in a fresh headless Chromium per page (the tests' flags): first draw = navigation start to the first
cluster or marker element in the page (a MutationObserver installed before any script runs), JS heap =
``Runtime.getHeapUsage`` after a garbage collection once the page says it is ready, and the bytes the page
fetched. Targets (issue 23): first draw <= 2 s, heap <= 200 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exports import build_store
from bench.synthetic import records
from transiscope.downstream.map_points import write_points
from transiscope.serve.endpoint import Endpoint, ServeSettings
from transiscope.serve.static_files import DEFAULT_MAP_ASSETS, MAP_PACKAGES
from transiscope.settings import PROJECT_ROOT, Settings
from transiscope.store.embedded import open_store

OBSERVER = """
window.__firstDraw = null;
new MutationObserver((changes, observer) => {
  if (document.querySelector('.marker-cluster, .ts-marker')) {
    window.__firstDraw = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, subtree: true });
"""


def before_geojson(size: int, path: Path) -> None:
    """The records as the GeoJSON export writes them (one feature per line, the properties the page reads)."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '{"type":"FeatureCollection","name":"initiatives","attribution":{"licence":"ODbL-1.0"},"features":[\n'
        )
        for k, r in enumerate(records(size, bad_share=0.0)):
            properties = {
                "id": f"https://w3id.org/transiscope/id/initiative/bench/{r['source_id']}",
                "source": "bench",
                "source_name": "Bench",
                "source_record_id": r["source_id"],
                "name": r["name"],
                "description": r["description"],
                "categories": r["concepts"],
                "category_labels": r["categories"],
                "domains": [],
                "domain": None,
                "lat": r["lat"],
                "lon": r["lon"],
                "street": r["street"],
                "postcode": r["postcode"],
                "city": r["city"],
                "country": r["country"],
                "departement": r["postcode"][:2],
                "website": r["website"],
                "email": None,
                "phone": r["phone"],
                "licence": r["licence"],
                "source_url": r["source_url"],
                "created": r["created_at"],
                "modified": r["updated_at"],
            }
            feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]}}
            feature["properties"] = properties
            out.write(("," if k else "") + json.dumps(feature, ensure_ascii=False) + "\n")
        out.write("]}\n")


class _BeforeSite(SimpleHTTPRequestHandler):
    """Today's page as ``transiscope serve`` served it: /map/, its config, its npm assets, the exports."""

    page: bytes = b""
    exports: Path = Path()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0]
        if clean.startswith("/map/vendor/"):
            package, _, rest = clean.removeprefix("/map/vendor/").partition("/")
            return str(DEFAULT_MAP_ASSETS / MAP_PACKAGES.get(package, "-") / rest)
        if clean.startswith("/exports/"):
            return str(self.exports / clean.removeprefix("/exports/"))
        return str(self.exports / "-")

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("/map/", "/map/config.json"):
            body = self.page if self.path.startswith("/map/?") or self.path == "/map/" else b'{"tiles": ""}'
            kind = "text/html" if body is self.page else "application/json"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


def browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--window-size=1200,800",
        "--enable-precise-memory-info",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    driver.set_page_load_timeout(600)
    return driver


def measure(url: str, timeout: float = 600.0) -> dict[str, Any]:
    driver = browser()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OBSERVER})
        started = time.monotonic()
        driver.get(url)
        first = None
        while time.monotonic() - started < timeout:
            first = driver.execute_script("return window.__firstDraw")
            if first is not None:
                break
            time.sleep(0.05)
        while time.monotonic() - started < timeout and driver.execute_script(
            "return document.body.dataset.ready"
        ) not in (
            "true",
            "error",
        ):
            time.sleep(0.1)
        ready = driver.execute_script("return document.body.dataset.ready")
        driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
        heap = driver.execute_cdp_cmd("Runtime.getHeapUsage", {})
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').reduce((a, e) => a + (e.encodedBodySize || 0), 0)"
        )
        return {
            "first_draw_s": round(first / 1000, 2) if first is not None else None,
            "ready": ready,
            "ready_after_s": round(time.monotonic() - started, 1),
            "heap_mb": round(heap["usedSize"] / 1e6, 1),
            "fetched_mb": round(fetched / 1e6, 2),
        }
    finally:
        driver.quit()


def run(size: int, before_rev: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"transiscope-bench-map-{size}-"))
    try:
        started = time.perf_counter()
        settings = build_store(size, work)
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        with open_store(settings, read_only=True) as store:
            points = write_points(store, settings.exports_dir, settings)
        index_s = time.perf_counter() - started
        before_dir = work / "exports-before"
        before_dir.mkdir()
        before_geojson(size, before_dir / "initiatives.geojson")
        page = subprocess.run(
            ["git", "show", f"{before_rev}:transiscope/templates/map.html"],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        ).stdout
        handler = type("Before", (_BeforeSite,), {"page": page, "exports": before_dir})
        before_server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler))
        threading.Thread(target=before_server.serve_forever, daemon=True).start()
        endpoint = Endpoint(settings, replace(ServeSettings(port=0, workers=1, map_tiles="")))
        threading.Thread(target=endpoint.serve_forever, daemon=True).start()
        try:
            before = measure(f"http://127.0.0.1:{before_server.server_address[1]}/map/")
            after = measure(f"http://127.0.0.1:{endpoint.server_address[1]}/map/")
        finally:
            before_server.shutdown()
            endpoint.shutdown()
            endpoint.server_close()
        index_bytes = sum(p.stat().st_size for p in (settings.exports_dir / "map").iterdir())
        return {
            "size": size,
            "points": points,
            "load_s": round(load_s, 1),
            "index_s": round(index_s, 1),
            "index_mb": round(index_bytes / 1e6, 1),
            "geojson_mb": round((before_dir / "initiatives.geojson").stat().st_size / 1e6, 1),
            "before": before,
            "after": after,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--before-rev", default="38e7b82", help="the commit whose map page is 'before'")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    Settings.from_env()  # a bad environment is a clear error before minutes of loading
    results = [run(int(s), args.before_rev) for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'size':>8} {'page':>6} {'first draw s':>12} {'ready s':>8} {'heap MB':>8} {'fetched MB':>10}")
    for r in results:
        for name in ("before", "after"):
            m = r[name]
            first = "-" if m["first_draw_s"] is None else f"{m['first_draw_s']:.2f}"
            print(
                f"{r['size']:>8} {name:>6} {first:>12} {m['ready_after_s']:>8} {m['heap_mb']:>8} {m['fetched_mb']:>10}"
                + ("" if m["ready"] == "true" else f"  (page: {m['ready']})")
            )
        print(
            f"{'':>8} store load {r['load_s']} s, points index {r['index_s']} s ({r['index_mb']} MB), "
            f"before's GeoJSON {r['geojson_mb']} MB"
        )


if __name__ == "__main__":
    main()
