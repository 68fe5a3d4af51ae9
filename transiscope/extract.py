"""Extract: fetch a source over HTTP and keep the raw payload on disk.

Retries are urllib3's :class:`~urllib3.util.Retry` (backoff, 429/5xx, ``Retry-After``) mounted on a
requests session; this module only adds what a shared scheduler needs on top: a cap on how long a
``Retry-After`` may make a worker sleep, a cap on the payload size, and errors an operator can read.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from transiscope.config import HttpSettings
from transiscope.errors import PayloadTooLarge, SourceHTTPError, SourceUnreachable

RETRY_STATUSES = (429, 500, 502, 503, 504)
_CHUNK = 1024 * 1024


class CappedRetry(Retry):
    """urllib3 Retry whose ``Retry-After`` sleep is capped: a source asking for an hour fails instead."""

    max_retry_after: float = 60.0

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = super().parse_retry_after(retry_after)
        return min(seconds, self.max_retry_after)

    def new(self, **kwargs):  # keep the cap on the copies urllib3 makes at every attempt
        retry = super().new(**kwargs)
        retry.max_retry_after = self.max_retry_after
        return retry


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


def make_session(http: HttpSettings, connect_retries: int | None = None) -> requests.Session:
    retry = CappedRetry(
        total=http.retries,
        connect=http.retries if connect_retries is None else connect_retries,
        read=http.retries,
        status=http.retries,
        backoff_factor=http.backoff_factor,
        backoff_max=http.max_backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.max_retry_after = http.max_backoff
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = http.user_agent
    session.headers["Accept"] = "application/json, */*;q=0.5"
    return session


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def fetch(
    url: str,
    destination: Path,
    http: HttpSettings,
    *,
    source_id: str,
    connect_retries: int | None = None,
) -> FetchResult:
    """GET ``url`` into ``destination`` (streamed, size-capped); metadata in ``<destination>.meta.json``."""
    started = time.monotonic()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    with make_session(http, connect_retries) as session:
        try:
            response = session.get(url, timeout=(http.connect_timeout, http.read_timeout), stream=True)
        except requests.exceptions.RetryError as exc:
            raise SourceHTTPError(
                f"source {source_id!r}: {_host(url)} kept failing after {http.retries} retries ({exc})"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            reason = str(exc.args[0]) if exc.args else str(exc)
            if "Name or service not known" in reason or "NameResolution" in reason or "resolve" in reason:
                why = "its host name does not resolve (no network, or a wrong URL)"
            elif "refused" in reason.lower():
                why = "the connection was refused"
            else:
                why = "it could not be reached"
            raise SourceUnreachable(f"source {source_id!r}: {url} is unreachable: {why}") from None
        except requests.exceptions.Timeout:
            raise SourceUnreachable(
                f"source {source_id!r}: {url} did not answer within {http.read_timeout:g} s"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise SourceUnreachable(f"source {source_id!r}: request to {url} failed: {exc}") from None
        with response:
            if response.status_code >= 400:
                retried = " after retries" if response.status_code in RETRY_STATUSES else ""
                raise SourceHTTPError(
                    f"source {source_id!r}: {_host(url)} answered HTTP {response.status_code} "
                    f"{response.reason or ''}{retried} for {url}".rstrip(),
                    status=response.status_code,
                )
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > http.max_bytes:
                raise PayloadTooLarge(
                    f"source {source_id!r}: {url} announces {int(declared):,} bytes, over the cap of "
                    f"{http.max_bytes:,} (TRANSISCOPE_HTTP_MAX_BYTES)"
                )
            size = 0
            try:
                with partial.open("wb") as out:
                    for chunk in response.iter_content(_CHUNK):
                        size += len(chunk)
                        if size > http.max_bytes:
                            raise PayloadTooLarge(
                                f"source {source_id!r}: {url} sent more than the cap of {http.max_bytes:,} "
                                "bytes (TRANSISCOPE_HTTP_MAX_BYTES)"
                            )
                        out.write(chunk)
            except requests.exceptions.RequestException as exc:
                partial.unlink(missing_ok=True)
                raise SourceUnreachable(f"source {source_id!r}: download from {url} broke off: {exc}") from None
            except PayloadTooLarge:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(destination)
            result = FetchResult(
                url=url,
                path=str(destination),
                status=response.status_code,
                bytes=size,
                seconds=round(time.monotonic() - started, 3),
                content_type=response.headers.get("Content-Type", ""),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
    destination.with_name(destination.name + ".meta.json").write_text(
        json.dumps(asdict(result), indent=2), encoding="utf-8"
    )
    return result
