"""Files that ``transiscope serve`` publishes as they are: the exports, the quality reports, the map page's assets.

Why ETag + Cache-Control: the map and GoGoCarto instances poll the exports; a client that sends back the ETag
it got (``If-None-Match``) gets a bodiless 304 while the file is unchanged, and since unchanged data gives
byte-identical files, the ETag (a digest of the content) stays the same across export runs too. A client that
accepts gzip gets the ``.gz`` copy written next to each export. Paths are resolved under their root folder and
anything outside it (``..``, symlinks out) is refused. The files are never read whole into memory: the digest
is computed in blocks (once per file version) and the server streams the file, with ``Range`` for the clients
that read parts of it (map tiles archives, resumed downloads).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from transiscope.settings import DEFAULT_MAP_ASSETS

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".jsonld": "application/ld+json",
    ".csv": "text/csv; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
    ".ttl": "text/turtle",
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gz": "application/gzip",
    ".map": "application/json",
    ".txt": "text/plain",
}
#: the npm packages the pages use (map/package.json): the name they are served under (``/vendor/<name>/``, and
#: ``/map/vendor/<name>/`` for the map page) -> their folder of built files under node_modules
MAP_PACKAGES = {
    "leaflet": "leaflet/dist",
    "leaflet.markercluster": "leaflet.markercluster/dist",
    "yasgui": "@zazuko/yasgui/build",
}


def map_assets_missing(directory: Path = DEFAULT_MAP_ASSETS) -> list[str]:
    """The page packages not installed in ``directory`` (``make map-assets`` installs them)."""
    return [name for name, folder in MAP_PACKAGES.items() if not (directory / folder).is_dir()]


@dataclass
class FileAnswer:
    """What to answer: 304 with headers only, or 200 with the file at ``path`` (the server streams it)."""

    status: int
    content_type: str
    path: Path | None
    headers: dict[str, str] = field(default_factory=dict)


class StaticFiles:
    """Answers GET/HEAD for files under a root, with strong ETags cached per (path, mtime, size)."""

    def __init__(self, cache_control: str) -> None:
        self.cache_control = cache_control
        self._etags: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def _etag(self, path: Path, stat: os.stat_result) -> str:
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            etag = self._etags.get(key)
        if etag is None:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
            etag = '"' + digest.hexdigest()[:32] + '"'
            with self._lock:
                if len(self._etags) > 4096:  # bounded: forget everything rather than grow forever
                    self._etags.clear()
                self._etags[key] = etag
        return etag

    def answer(self, root: Path, relative: str, request_headers: Mapping[str, str]) -> FileAnswer | None:
        """The file's answer, or None when there is no such file under ``root`` (``request_headers`` with
        lower-case names, as ASGI gives them)."""
        root = root.resolve()
        target = (root / relative).resolve()
        if root not in target.parents or not target.is_file() or target.name.startswith("."):
            return None
        media = MEDIA_TYPES.get(target.suffix, "application/octet-stream")
        headers = {"Cache-Control": self.cache_control, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        chosen, suffix = target, ""
        compressed = target.with_name(target.name + ".gz")
        accepts_gzip = "gzip" in (request_headers.get("accept-encoding") or "").lower()
        if (
            accepts_gzip
            and target.suffix != ".gz"
            and compressed.is_file()
            and compressed.stat().st_mtime_ns >= target.stat().st_mtime_ns
        ):
            chosen, suffix = compressed, "-gzip"
            headers["Content-Encoding"] = "gzip"
        try:
            etag = self._etag(chosen, chosen.stat())[:-1] + suffix + '"'
        except OSError:
            return None
        headers["ETag"] = etag
        wanted = [tag.strip().removeprefix("W/") for tag in (request_headers.get("if-none-match") or "").split(",")]
        if etag in wanted or "*" in wanted:
            return FileAnswer(304, media, None, headers)
        return FileAnswer(200, media, chosen, headers)
