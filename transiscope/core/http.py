"""HTTP as every part of the bus speaks it: one session recipe (retries with backoff honouring a capped
``Retry-After``, a User-Agent), and one per-host rate limiter shared by every request of a process.

Why here and not in the extract: the territories download and the geocoders ask the network too, with the
same retry rules; three session recipes had started to differ.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from transiscope.settings import HttpSettings

RETRY_STATUSES = (429, 500, 502, 503, 504)


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


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class HostLimiter:
    """Per-host minimum interval between request starts, shared by every fetch of this process.

    Why per host: several sources may live on one server (GoGoCarto instances, OpenAgenda agendas);
    the politeness limit is the server's, not the source's. Airflow workers are separate processes,
    each with its own limiter: the pool size bounds them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, host: str, interval: float) -> float:
        if interval <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + interval
        delay = start - now
        if delay > 0:
            time.sleep(delay)
        return delay


LIMITER = HostLimiter()
