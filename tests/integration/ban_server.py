"""A loopback HTTP server that speaks the BAN geocoding API (``/search/`` and ``/search/csv/``).

It answers from recorded answers (``answers``: query text -> a GeoCodeJSON FeatureCollection, as
``api-adresse.data.gouv.fr`` returns them); a query without a recorded answer gets BAN's "no result"
(an empty FeatureCollection, ``result_status`` ``not-found`` in CSV). ``fail_with`` scripts failures
(429 with ``Retry-After``, 5xx) answered before the recorded answers; ``synthetic`` (benchmarks only)
answers every unknown query with a point derived from the query text, so thousands of addresses can be
geocoded without recording thousands of answers. Every wait is bounded; ``close()`` stops the server.
"""

from __future__ import annotations

import csv
import email.parser
import email.policy
import functools
import hashlib
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.servers import serve_on_loopback

#: the columns BAN appends to each row of a CSV batch (``/search/csv/``)
RESULT_COLUMNS = (
    "latitude",
    "longitude",
    "result_label",
    "result_score",
    "result_score_next",
    "result_type",
    "result_id",
    "result_housenumber",
    "result_name",
    "result_street",
    "result_postcode",
    "result_city",
    "result_context",
    "result_citycode",
    "result_oldcitycode",
    "result_oldcity",
    "result_district",
    "result_status",
)


@functools.lru_cache(maxsize=1)
def _lambert93() -> Any:
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)


def feature(
    lon: float,
    lat: float,
    *,
    label: str,
    score: float,
    kind: str,
    postcode: str,
    citycode: str,
    city: str,
    context: str,
    housenumber: str | None = None,
    street: str | None = None,
) -> dict[str, Any]:
    """One GeoCodeJSON feature in BAN's shape (``x``/``y`` are Lambert-93, as BAN gives them)."""
    x, y = _lambert93().transform(lon, lat)
    name = f"{housenumber} {street}" if housenumber else (street or city)
    number = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16) % 100000
    properties = {
        "label": label,
        "score": score,
        "id": f"{citycode}_{number:05d}",
        "name": name,
        "postcode": postcode,
        "citycode": citycode,
        "x": round(x, 2),
        "y": round(y, 2),
        "city": city,
        "context": context,
        "type": kind,
        "importance": 0.61,
    }
    if housenumber:
        properties["housenumber"] = housenumber
    if street:
        properties["street"] = street
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def collection(query: str, features: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "version": "draft",
        "features": features,
        "attribution": "BAN",
        "licence": "ETALAB-2.0",
        "query": query,
        "limit": 1,
    }


def _synthetic(query: str) -> dict[str, Any]:
    """A made-up house-number answer for benchmarks: a point in metropolitan France derived from the query."""
    digest = hashlib.sha256(query.encode()).digest()
    lat = 43.0 + digest[0] / 255 * 5.5
    lon = -1.0 + digest[1] / 255 * 7.0
    postcode = (re.findall(r"\b\d{5}\b", query) or ["00000"])[-1]
    return collection(
        query,
        [
            feature(
                round(lon, 6),
                round(lat, 6),
                label=query,
                score=0.9,
                kind="housenumber",
                postcode=postcode,
                citycode="00000",
                city="Synthétique",
                context="00",
            )
        ],
    )


class BanServer:
    def __init__(self, answers: dict[str, dict[str, Any]] | None = None, *, synthetic: bool = False) -> None:
        self.answers = dict(answers or {})
        self.synthetic = synthetic
        self.fail_with: list[tuple[int, dict[str, str]]] = []
        self.hits: dict[str, int] = {}
        self.queries: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _failure(self, path: str) -> bool:
                with server._lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    failure = server.fail_with.pop(0) if server.fail_with else None
                if failure is None:
                    return False
                status, headers = failure
                self._reply(
                    status,
                    json.dumps({"code": status, "message": "scripted failure"}).encode(),
                    "application/json",
                    headers,
                )
                return True

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/search/":
                    self._reply(404, b'{"code": 404, "message": "not found"}', "application/json")
                    return
                if self._failure(parts.path):
                    return
                query = (parse_qs(parts.query).get("q") or [""])[0]
                server.queries.append(query)
                body = json.dumps(server.answer(query), ensure_ascii=False).encode("utf-8")
                self._reply(200, body, "application/json; charset=utf-8")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = urlsplit(self.path).path
                if path != "/search/csv/":
                    self._reply(404, b'{"code": 404, "message": "not found"}', "application/json")
                    return
                if self._failure(path):
                    return
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                )
                fields: dict[str, list[Any]] = {}
                for part in message.iter_parts():
                    fields.setdefault(part.get_param("name", header="content-disposition"), []).append(
                        part.get_payload(decode=True)
                    )
                if not fields.get("data"):
                    self._reply(
                        400, b'{"code": 400, "message": "A file must be provided in data field"}', "application/json"
                    )
                    return
                columns = [c.decode() for c in fields.get("columns", [])]
                self._reply(
                    200,
                    server.batch(fields["data"][0].decode("utf-8-sig"), columns).encode("utf-8"),
                    "text/csv; charset=utf-8",
                )

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @classmethod
    def from_file(cls, path: Path) -> BanServer:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        return sum(self.hits.values())

    def answer(self, query: str) -> dict[str, Any]:
        if query in self.answers:
            return self.answers[query]
        return _synthetic(query) if self.synthetic else collection(query, [])

    def batch(self, text: str, columns: list[str]) -> str:
        reader = csv.DictReader(io.StringIO(text))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[*(reader.fieldnames or []), *RESULT_COLUMNS], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            query = " ".join(row.get(c) or "" for c in columns).strip()
            self.queries.append(query)
            features = self.answer(query)["features"]
            if not features:
                writer.writerow({**row, "result_status": "not-found"})
                continue
            p = features[0]["properties"]
            lon, lat = features[0]["geometry"]["coordinates"]
            writer.writerow(
                {
                    **row,
                    "latitude": lat,
                    "longitude": lon,
                    "result_label": p["label"],
                    "result_score": p["score"],
                    "result_score_next": "",
                    "result_type": p["type"],
                    "result_id": p["id"],
                    "result_housenumber": p.get("housenumber", ""),
                    "result_name": p["name"],
                    "result_street": p.get("street", ""),
                    "result_postcode": p["postcode"],
                    "result_city": p["city"],
                    "result_context": p["context"],
                    "result_citycode": p["citycode"],
                    "result_oldcitycode": "",
                    "result_oldcity": "",
                    "result_district": "",
                    "result_status": "ok",
                }
            )
        return out.getvalue()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
