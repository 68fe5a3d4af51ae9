"""A loopback HTTP server that answers like OpenFairDB's public API (Karte von morgen), for the KVM connector.

What it reproduces of the real server (its ``openapi.yaml`` and the query parsing of its web layer):

- every endpoint knows a fixed set of query parameters and answers **400** to any other (``tags`` on
  ``/v0/events``, whose tag filter is ``tag``, repeated);
- ``/v0/search?bbox=&categories=&tags=&limit=``: ``visible`` (entries inside the box, at most ``limit``,
  itself capped at 2,000) and ``invisible`` (up to 5 entries *outside* the box, from a box extended around
  it); ``categories`` keeps the entries with any of the listed category ids, ``tags`` those with every tag;
- ``/v0/entries/{id,id,...}``: the full entries;
- ``/v0/events?bbox=&start_min=&tag=&limit=``: the events of a box *extended* around the one asked (a fifth
  of its size on each side), from ``start_min`` on when given, oldest first, capped at ``limit`` (2,000 at
  most; 100 when not given): without ``start_min`` the past fills the answer.

Entries and events are plain dicts in OpenFairDB's JSON shape (``lat``/``lng``, ``categories``, ``tags``,
Unix ``start``/``end``). ``requests`` keeps every (path, query pairs) answered; ``errors`` the 400s.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.integration.servers import serve_on_loopback

CAP = 2000
NON_PROFIT = "2cd00bebec0c48ba9db761da48678134"
COMMERCIAL = "77b3c33a92554bcf8e8c2c86cedd6f6f"
SEARCH_PARAMS = frozenset({"bbox", "org_tag", "categories", "text", "ids", "tags", "status", "limit"})
ENTRIES_PARAMS = frozenset({"org_tag"})
EVENTS_PARAMS = frozenset(
    {"bbox", "limit", "tag", "start_min", "start_max", "end_min", "end_max", "text", "created_by"}
)


def _box(text: str) -> tuple[float, float, float, float]:
    south, west, north, east = (float(v) for v in text.split(","))
    return south, west, north, east


def _extended(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    south, west, north, east = box
    dlat, dlon = (north - south) / 5, (east - west) / 5
    return south - dlat, west - dlon, north + dlat, east + dlon


def _inside(item: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    south, west, north, east = box
    return south <= item["lat"] <= north and west <= item["lng"] <= east


class OpenFairDB:
    """The server; ``entries`` and ``events`` may be changed between runs. ``close()`` stops it."""

    def __init__(self, entries: list[dict[str, Any]] | None = None, events: list[dict[str, Any]] | None = None) -> None:
        self.entries = list(entries or [])
        self.events = list(events or [])
        self.requests: list[tuple[str, list[tuple[str, str]]]] = []
        self.errors: list[str] = []
        world = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                pairs = parse_qsl(parts.query, keep_blank_values=True)
                world.requests.append((parts.path, pairs))
                if parts.path.endswith("/v0/search"):
                    allowed, answer = SEARCH_PARAMS, world.search
                elif "/v0/entries/" in parts.path:
                    allowed, answer = ENTRIES_PARAMS, world.entries_by_id(parts.path.rsplit("/", 1)[1])
                elif parts.path.endswith("/v0/events"):
                    allowed, answer = EVENTS_PARAMS, world.search_events
                else:
                    self._send(404, {"http_status": 404, "message": "Not Found"})
                    return
                unknown = sorted({name for name, _ in pairs} - allowed)
                if unknown:
                    world.errors.append(f"{parts.path}: unknown parameter(s) {', '.join(unknown)}")
                    self._send(400, {"http_status": 400, "message": f"unknown query parameter {unknown[0]}"})
                    return
                try:
                    body = answer(pairs)
                except ValueError as exc:
                    world.errors.append(f"{parts.path}: {exc}")
                    self._send(400, {"http_status": 400, "message": str(exc)})
                    return
                self._send(200, body)

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = serve_on_loopback(Handler)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @staticmethod
    def _limit(pairs: list[tuple[str, str]], default: int) -> int:
        values = [v for k, v in pairs if k == "limit" and v]
        limit = int(values[0]) if values else default
        if limit <= 0:
            raise ValueError("invalid limit")
        return min(limit, CAP)

    def search(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        query = dict(pairs)
        if not query.get("bbox"):
            raise ValueError("bbox is required")
        box = _box(query["bbox"])
        categories = {c for c in query.get("categories", "").split(",") if c}
        tags = {t for t in query.get("tags", "").split(",") if t}

        def wanted(entry: dict[str, Any]) -> bool:
            return (not categories or bool(categories & set(entry.get("categories") or ()))) and tags <= set(
                entry.get("tags") or ()
            )

        def summary(entry: dict[str, Any]) -> dict[str, Any]:
            keys = ("id", "lat", "lng", "title", "description", "categories", "tags")
            return {k: entry.get(k) for k in keys} | {"ratings": {"total": 0.0}}

        chosen = [e for e in self.entries if wanted(e)]
        visible = [e for e in chosen if _inside(e, box)][: self._limit(pairs, 100)]
        around = [e for e in chosen if not _inside(e, box) and _inside(e, _extended(box))][:5]
        return {"visible": [summary(e) for e in visible], "invisible": [summary(e) for e in around]}

    def entries_by_id(self, ids: str) -> Any:
        wanted = set(ids.split(","))
        return lambda _pairs: [e for e in self.entries if e["id"] in wanted]

    def search_events(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        query = dict(pairs)
        events = self.events
        if query.get("bbox"):
            box = _extended(_box(query["bbox"]))
            events = [e for e in events if _inside(e, box)]
        if query.get("start_min"):
            start_min = int(query["start_min"])
            events = [e for e in events if e["start"] >= start_min]
        tags = {v for k, v in pairs if k == "tag" and v}
        events = [e for e in events if tags <= set(e.get("tags") or ())]
        return sorted(events, key=lambda e: e["start"])[: self._limit(pairs, 100)]
