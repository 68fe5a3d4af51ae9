"""Files that ``transiscope serve`` publishes as they are: the exports, the quality reports, the map page's assets.

Why ETag + Cache-Control: the map and GoGoCarto instances poll the exports; a client that sends back the ETag
it got (``If-None-Match``) gets a bodiless 304 while the file is unchanged, and since unchanged data gives
byte-identical files, the ETag (a digest of the content) stays the same across export runs too. A client that
accepts gzip gets the ``.gz`` copy written next to each export. Paths are resolved under their root folder and
anything outside it (``..``, symlinks out) is refused.
"""

from __future__ import annotations

import hashlib
import os
import threading
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
#: the npm packages the map page uses (map/package.json), served from their ``dist`` folders
MAP_PACKAGES = ("leaflet", "leaflet.markercluster")


def map_assets_missing(directory: Path = DEFAULT_MAP_ASSETS) -> list[str]:
    """The map packages not installed in ``directory`` (``make map-assets`` installs them)."""
    return [name for name in MAP_PACKAGES if not (directory / name / "dist").is_dir()]


@dataclass
class FileAnswer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class StaticFiles:
    """Answers GET/HEAD for files under a root, with strong ETags cached per (path, mtime, size)."""

    def __init__(self, cache_control: str) -> None:
        self.cache_control = cache_control
        self._etags: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def _etag(self, path: Path, body: bytes, stat: os.stat_result) -> str:
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            etag = self._etags.get(key)
            if etag is None:
                if len(self._etags) > 4096:  # bounded: forget everything rather than grow forever
                    self._etags.clear()
                etag = self._etags[key] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return etag

    def answer(self, root: Path, relative: str, request_headers: dict[str, str]) -> FileAnswer | None:
        """The file's answer, or None when there is no such file under ``root``."""
        root = root.resolve()
        target = (root / relative).resolve()
        if root not in target.parents or not target.is_file() or target.name.startswith("."):
            return None
        media = MEDIA_TYPES.get(target.suffix, "application/octet-stream")
        headers = {"Cache-Control": self.cache_control, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
        chosen, suffix = target, ""
        compressed = target.with_name(target.name + ".gz")
        accepts_gzip = "gzip" in (request_headers.get("Accept-Encoding") or "").lower()
        if (
            accepts_gzip
            and target.suffix != ".gz"
            and compressed.is_file()
            and compressed.stat().st_mtime_ns >= target.stat().st_mtime_ns
        ):
            chosen, suffix = compressed, "-gzip"
            headers["Content-Encoding"] = "gzip"
        try:
            stat = chosen.stat()
            body = chosen.read_bytes()
        except OSError:
            return None
        etag = self._etag(chosen, body, stat)[:-1] + suffix + '"'
        headers["ETag"] = etag
        wanted = [tag.strip().removeprefix("W/") for tag in (request_headers.get("If-None-Match") or "").split(",")]
        if etag in wanted or "*" in wanted:
            return FileAnswer(304, media, b"", headers)
        return FileAnswer(200, media, body, headers)
