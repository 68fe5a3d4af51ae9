"""Getting the source's bytes: a file, or a URL's first answer fetched with the bus's own HTTP code.

Why: the check must read a source exactly as the bus would (timeouts, size cap, HTML error pages refused), so
it uses :class:`transiscope.ingest.extract.Fetcher`; an API the connector pages itself is not fetched here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from transiscope.core.errors import ConfigError
from transiscope.reports.check_source.detection import URL_FORMATS
from transiscope.settings import Settings


def is_url(target: str) -> bool:
    return urlsplit(target).scheme in ("http", "https")


def acquire(
    target: str, name: str, forced: str | None, settings: Settings, say: Callable[[str], None]
) -> tuple[bytes | None, str]:
    """The payload (bytes) of a file or a URL's first answer; None for an API the connector must page itself."""
    if not is_url(target):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"no such file: {target} (give a file or an http(s) URL)")
        say(f"read {path} ({path.stat().st_size:,} bytes)")
        cap = settings.http.max_bytes
        if path.stat().st_size > cap:
            raise ConfigError(
                f"{target} is {path.stat().st_size:,} bytes, over the cap of {cap:,} (TRANSISCOPE_HTTP_MAX_BYTES)"
            )
        return path.read_bytes(), str(path)
    if forced in (None, "kvm", "openagenda", "murmurations"):
        for pattern, fmt in URL_FORMATS:
            if pattern.search(urlsplit(target).path) and forced in (None, fmt):
                return None, target
    from transiscope.ingest.extract import Fetcher
    from transiscope.ingest.formats import connector

    expect = getattr(connector(forced), "EXPECT", "data") if forced else "data (JSON, CSV, GeoJSON or iCalendar)"
    say(f"fetch {target}")
    with Fetcher(settings.http, name, connect_retries=0) as fetcher:
        body = fetcher.get_bytes(target, expect=expect)
    say(f"received {len(body):,} bytes")
    return body, target
