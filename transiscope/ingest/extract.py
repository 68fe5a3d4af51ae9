"""Extract: fetch a source over HTTP and keep the raw payload on disk.

Retries are urllib3's :class:`~urllib3.util.Retry` (backoff, 429/5xx, ``Retry-After``) mounted on a
requests session; this module only adds what a shared scheduler needs on top: a cap on how long a
``Retry-After`` may make a worker sleep, a cap on the payload size, a per-host rate limit, conditional
requests (ETag / Last-Modified: a 304 means "nothing to load"), a check that the body is what the
format expects (an HTML error page served with status 200 is not data), and errors an operator can read.

One-request formats go through :func:`fetch` (streamed to disk); formats that need several requests
(bbox tiling, pagination, index then profiles) use a :class:`Fetcher`, which keeps every page in
memory under one cumulative size cap, so the run's raw file can hold all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from transiscope.core.errors import MalformedPayload, PayloadTooLarge, SourceHTTPError, SourceUnreachable
from transiscope.core.files import atomic_open, atomic_write
from transiscope.core.http import LIMITER, RETRY_STATUSES, host_of, make_session
from transiscope.ingest.mappings import load_mapping
from transiscope.settings import HttpSettings

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FetchResult:
    url: str
    path: str
    status: int
    bytes: int
    seconds: float
    content_type: str
    etag: str | None
    last_modified: str | None
    fetched_at: str


#: expected kinds of body -> the words a Content-Type or the first bytes may show
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def check_content(source_id: str, url: str, content_type: str, head: bytes, expect: str | None) -> None:
    """Refuse a body that is an HTML page when the format expects ``expect`` (json, calendar, csv...).

    Lenient on purpose for everything else: many servers label JSON ``text/plain`` or CSV
    ``application/octet-stream``; the parse step checks the rest.
    """
    if expect is None or expect == "html":
        return
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    html = "html" in content_type.lower() or start.startswith(_HTML_START)
    if html:
        title = ""
        lowered = head.decode("utf-8", errors="replace")
        lower = lowered.lower()
        if "<title>" in lower:
            begin = lower.index("<title>") + 7
            title = " ".join(lowered[begin : lower.find("</title>", begin)].split())[:80]
        shown = f", title {title!r}" if title else f", starting {' '.join(lowered[:80].split())!r}"
        raise MalformedPayload(
            f"source {source_id!r}: {host_of(url)} answered an HTML page (Content-Type "
            f"{content_type or 'none'}{shown}) where {expect} was expected: an error or login page, not data"
        )


def _request(
    session: requests.Session,
    url: str,
    http: HttpSettings,
    source_id: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """GET with the error mapping shared by every extract; the response is streamed and open."""
    try:
        response = session.get(
            url, params=params, headers=headers, timeout=(http.connect_timeout, http.read_timeout), stream=True
        )
    except requests.exceptions.RetryError as exc:
        raise SourceHTTPError(
            f"source {source_id!r}: {host_of(url)} kept failing after {http.retries} retries ({exc})"
        ) from None
    except requests.exceptions.ConnectionError as exc:
        reason = str(exc.args[0]) if exc.args else str(exc)
        if "Read timed out" in reason:
            raise SourceUnreachable(
                f"source {source_id!r}: {url} did not answer within {http.read_timeout:g} s "
                f"(after {http.retries} retries)"
            ) from None
        if "Name or service not known" in reason or "NameResolution" in reason or "resolve" in reason:
            why = "its host name does not resolve (no network, or a wrong URL)"
        elif "refused" in reason.lower():
            why = "the connection was refused"
        elif "reset" in reason.lower() or "aborted" in reason.lower():
            why = "the connection was reset"
        else:
            why = "it could not be reached"
        raise SourceUnreachable(f"source {source_id!r}: {url} is unreachable: {why}") from None
    except requests.exceptions.Timeout:
        raise SourceUnreachable(f"source {source_id!r}: {url} did not answer within {http.read_timeout:g} s") from None
    except requests.exceptions.RequestException as exc:
        raise SourceUnreachable(f"source {source_id!r}: request to {url} failed: {exc}") from None
    if response.status_code >= 400:
        with response:
            retried = " after retries" if response.status_code in RETRY_STATUSES else ""
            raise SourceHTTPError(
                f"source {source_id!r}: {host_of(url)} answered HTTP {response.status_code} "
                f"{response.reason or ''}{retried} for {response.url}".rstrip(),
                status=response.status_code,
            )
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > http.max_bytes:
        response.close()
        raise PayloadTooLarge(
            f"source {source_id!r}: {url} announces {int(declared):,} bytes, over the cap of "
            f"{http.max_bytes:,} (TRANSISCOPE_HTTP_MAX_BYTES, or the source's max_bytes)"
        )
    return response


def _chunks(response: requests.Response, url: str, source_id: str, limit: int) -> Iterator[bytes]:
    """The body in chunks, stopped with :class:`PayloadTooLarge` past ``limit`` bytes."""
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"source {source_id!r}: {url} sent more than the cap of {limit:,} bytes "
                    "(TRANSISCOPE_HTTP_MAX_BYTES, or the source's max_bytes)"
                )
            yield chunk
    except requests.exceptions.RequestException as exc:
        raise SourceUnreachable(f"source {source_id!r}: download from {url} broke off: {exc}") from None


def fetch(
    url: str,
    destination: Path,
    http: HttpSettings,
    *,
    source_id: str,
    connect_retries: int | None = None,
    conditional: dict[str, str | None] | None = None,
    expect: str | None = None,
    min_interval: float = 0.0,
) -> FetchResult:
    """GET ``url`` into ``destination`` (streamed, size-capped); metadata in ``<destination>.meta.json``.

    ``conditional``: the ``etag`` / ``last_modified`` of the last loaded payload; a 304 answer returns a
    result with status 304 and leaves ``destination`` absent. ``expect``: what the body must be (see
    :func:`check_content`).
    """
    started = time.monotonic()
    destination.parent.mkdir(parents=True, exist_ok=True)
    headers = {}
    if conditional and conditional.get("etag"):
        headers["If-None-Match"] = str(conditional["etag"])
    if conditional and conditional.get("last_modified"):
        headers["If-Modified-Since"] = str(conditional["last_modified"])
    LIMITER.wait(host_of(url), min_interval)
    with (
        make_session(http, connect_retries) as session,
        _request(session, url, http, source_id, headers=headers or None) as response,
    ):
        size = 0
        if response.status_code != 304:
            # a payload cut short (size cap, wrong content, dropped connection) never replaces the last one
            with atomic_open(destination, "wb") as out:
                first = True
                for chunk in _chunks(response, url, source_id, http.max_bytes):
                    if first:
                        check_content(source_id, url, response.headers.get("Content-Type", ""), chunk[:2048], expect)
                        first = False
                    size += len(chunk)
                    out.write(chunk)
        result = FetchResult(
            url=url,
            path=str(destination),
            status=response.status_code,
            bytes=size,
            seconds=round(time.monotonic() - started, 3),
            content_type=response.headers.get("Content-Type", ""),
            etag=response.headers.get("ETag") or (conditional or {}).get("etag"),
            last_modified=response.headers.get("Last-Modified") or (conditional or {}).get("last_modified"),
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    if result.status != 304:
        destination.with_name(destination.name + ".meta.json").write_text(
            json.dumps(asdict(result), indent=2), encoding="utf-8"
        )
    return result


#: seconds between two requests to one host when the registry does not say (``min_interval``)
DEFAULT_MIN_INTERVAL = 0.2
#: requests one run of a multi-request source may send when the registry does not say (``max_requests``)
DEFAULT_MAX_REQUESTS = 2000


class Fetcher:
    """Several requests of one run (pages, tiles, profiles) with one session, one rate limit and one
    cumulative size cap; every page is kept (:attr:`pages`) so the run's raw file can hold them all.

    ``max_requests`` bounds every loop a connector runs (a source that paginates forever fails).
    """

    def __init__(
        self,
        http: HttpSettings,
        source_id: str,
        *,
        min_interval: float = 0.0,
        connect_retries: int | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
    ) -> None:
        self.http = http
        self.source_id = source_id
        self.min_interval = min_interval
        self.max_requests = max_requests
        self.requests = 0
        self.bytes = 0
        self.last_status = 0
        self._session = make_session(http, connect_retries)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._session.close()

    def get_bytes(self, url: str, params: dict[str, Any] | None = None, *, expect: str | None = "JSON") -> bytes:
        if self.requests >= self.max_requests:
            shown = url if len(url) <= 160 else url[:160] + "…"
            raise MalformedPayload(
                f"source {self.source_id!r}: more than {self.max_requests} requests in one run (pagination or "
                f"tiling does not end, or the source grew: raise its max_requests in the registry; last URL {shown})"
            )
        self.requests += 1
        LIMITER.wait(host_of(url), self.min_interval)
        with _request(self._session, url, self.http, self.source_id, params=params) as response:
            self.last_status = response.status_code
            parts: list[bytes] = []
            for chunk in _chunks(response, url, self.source_id, self.http.max_bytes - self.bytes):
                if not parts:
                    check_content(self.source_id, url, response.headers.get("Content-Type", ""), chunk[:2048], expect)
                parts.append(chunk)
                self.bytes += len(chunk)
            return b"".join(parts)

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """The parsed JSON body of ``url``, or :class:`MalformedPayload` naming the URL and the problem."""
        body = self.get_bytes(url, params)
        return parse_json(body, self.source_id, url)


def parse_json(body: bytes, source_id: str, url: str = "") -> Any:
    """JSON from bytes (UTF-8, BOM tolerated) or :class:`MalformedPayload` that an operator can read."""
    where = f" from {url}" if url else ""
    if not body.strip():
        raise MalformedPayload(f"source {source_id!r}: the response body{where} is empty")
    try:
        return json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"source {source_id!r}: the response{where} is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        preview = " ".join(body[:80].decode("utf-8", errors="replace").split())
        raise MalformedPayload(
            f"source {source_id!r}: the response{where} is not JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}, {len(body):,} bytes; it starts with {preview!r}): truncated or not JSON"
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits: Python refuses to read it
        raise MalformedPayload(
            f"source {source_id!r}: the response{where} holds an unreadable number ({exc})"
        ) from None


def source_http(http: HttpSettings, source: Any) -> HttpSettings:
    """The HTTP limits of one source: its ``max_bytes`` (to catch a payload 10x its usual size) if lower."""
    cap = source.extra.get("max_bytes")
    if cap not in (None, ""):
        return replace(http, max_bytes=min(http.max_bytes, int(float(cap))))
    return http


def extract_source(
    source: Any,
    url: str,
    run_dir: Path,
    http: HttpSettings,
    *,
    previous: dict[str, Any] | None = None,
    connect_retries: int | None = None,
) -> dict[str, Any]:
    """Fetch one source into ``run_dir/raw.json``: the stats of the extract stage.

    One-request formats: a streamed GET, conditional on the validators of ``previous`` (the last
    successful run of the same URL); a 304 returns ``{"not_modified": True}`` and writes nothing.
    Multi-request formats (a connector with ``extract_pages``): every page in memory under one size
    cap, then ``raw.json`` is the JSON list of the pages, so the run can be replayed from its files.
    """
    from transiscope.ingest.formats import connector

    fmt = connector(source.format)
    http = source_http(http, source)
    min_interval = float(source.extra.get("min_interval", DEFAULT_MIN_INTERVAL))
    expect = getattr(fmt, "EXPECT", None)
    destination = run_dir / "raw.json"
    started = time.monotonic()
    if hasattr(fmt, "extract_pages"):
        mapping = load_mapping(source)
        max_requests = int(source.extra.get("max_requests", DEFAULT_MAX_REQUESTS))
        with Fetcher(
            http, source.id, min_interval=min_interval, connect_retries=connect_retries, max_requests=max_requests
        ) as fetcher:
            pages = fmt.extract_pages(fetcher, url, source, mapping, previous)
        body = json.dumps(pages, ensure_ascii=False).encode("utf-8")
        atomic_write(destination, body)
        meta = {
            "url": url,
            "path": str(destination),
            "status": fetcher.last_status,
            "bytes": len(body),
            "requests": fetcher.requests,
            "pages": len(pages),
            "seconds": round(time.monotonic() - started, 3),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        destination.with_name(destination.name + ".meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return {
            "bytes": fetcher.bytes,
            "http_status": fetcher.last_status,
            "url": url,
            "requests": fetcher.requests,
            "pages": len(pages),
        }
    conditional = None
    if previous and (previous.get("etag") or previous.get("last_modified")):
        conditional = {"etag": previous.get("etag"), "last_modified": previous.get("last_modified")}
    result = fetch(
        url,
        destination,
        http,
        source_id=source.id,
        connect_retries=connect_retries,
        conditional=conditional,
        expect=expect,
        min_interval=min_interval,
    )
    stats: dict[str, Any] = {"bytes": result.bytes, "http_status": result.status, "url": result.url, "requests": 1}
    if result.status == 304:
        stats.update(not_modified=True, since_run=previous["run_id"] if previous else None)
    elif hasattr(fmt, "extract_companions"):
        # what the records need besides the payload (GoGoCarto: the map's taxonomy.json), with the same HTTP rules
        with Fetcher(http, source.id, min_interval=min_interval, connect_retries=connect_retries) as fetcher:
            companions = fmt.extract_companions(fetcher, url, destination, source, load_mapping(source))
        atomic_write(run_dir / COMPANIONS, json.dumps(companions, ensure_ascii=False, indent=1).encode("utf-8"))
        stats["requests"] += fetcher.requests
        stats["bytes"] += fetcher.bytes
        if "taxonomy" in companions:
            stats["taxonomy"] = companions["taxonomy"].get("error") or companions["taxonomy"]["url"]
    return stats


#: the run file of what a one-request format fetched or read besides its payload (``extract_companions``)
COMPANIONS = "companions.json"


def read_companions(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``companions.json`` (None when the format keeps none, or a run from before they existed)."""
    path = run_dir / COMPANIONS
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None
