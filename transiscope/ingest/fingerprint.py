"""What a run's result depends on, as one digest, so that an unchanged source costs a download and no more.

Why: most sources change little from one run to the next, and many cannot answer a conditional request
(Karte von morgen's search, OpenAgenda's incremental pages, a CSV behind a script). The stages after the
extract are pure functions of a few inputs; when all of them are the same as for the run whose graph is
live, running the stages again would write the very same graph. The inputs are:

- the raw payload (``raw.json``) byte for byte — or, for a format whose payload also holds something that
  changes on every run (OpenAgenda's incremental pages name the date they asked from; the connector says
  ``DIGEST_RECORDS = True``), the records parsed from it — and the run's mode;
- the source's registry entry and its mapping file (fields, crosswalk, options);
- the rules: expectation suites, ontology, shapes and taxonomy files, every setting of the bus, and the
  code of the ``transiscope`` package itself;
- the territories data used to place and check points (names, sizes and modification times);
- the day (UTC): date checks — dates in the future, past events, recurrence windows — depend on today,
  so a new day processes the payload once more.

Not in it: the geocoding cache, which only ever answers what the provider answered before.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transiscope.registry.sources import Source
    from transiscope.settings import Settings

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes, read in chunks (payloads run to hundreds of megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _tree(digest: hashlib._Hash, root: Path, pattern: str) -> None:
    for path in sorted(root.rglob(pattern)) if root.is_dir() else ():
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


@functools.cache
def code_digest() -> str:
    """The ``transiscope`` package's Python code and templates (computed once per process)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]  # transiscope/, this module being in transiscope/ingest/
    _tree(digest, package, "*.py")
    _tree(digest, package / "templates", "*")
    return digest.hexdigest()


def _stats(digest: hashlib._Hash, root: Path | None) -> None:
    if root is None or not root.is_dir():
        digest.update(b"no territories\0")
        return
    for path in sorted(root.rglob("*")):
        if path.is_file():
            info = path.stat()
            digest.update(f"{path.relative_to(root)}:{info.st_size}:{info.st_mtime_ns}\0".encode())


def elements_digest(elements: list[Any]) -> str:
    """The parsed records of a payload, as canonical JSON (keys sorted), digested."""
    digest = hashlib.sha256()
    encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    for element in elements:
        digest.update(encoder.encode(element).encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def payload_digest(raw: Path, source: Source) -> str:
    """The raw payload's digest: its bytes, or its parsed records when the connector asks for it."""
    from transiscope.ingest.formats import connector

    fmt = connector(source.format)
    if getattr(fmt, "DIGEST_RECORDS", False):
        return elements_digest(fmt.parse(raw.read_bytes(), source))
    return file_digest(raw)


def inputs_digest(payload: str, source: Source, settings: Settings, mode: str, today: datetime | None = None) -> str:
    """One digest of everything the stages after the extract read (see the module docstring);
    ``payload`` is :func:`payload_digest` of the run's raw payload."""
    digest = hashlib.sha256()
    digest.update(payload.encode() + b"\0" + mode.encode() + b"\0")
    digest.update(repr(dataclasses.asdict(source)).encode() + b"\0")
    digest.update(source.mapping_path.read_bytes() if source.mapping_path.exists() else b"no mapping")
    _tree(digest, settings.expectations_dir, "*")
    _tree(digest, settings.ontology_dir, "*.ttl")
    digest.update(repr(settings).encode() + b"\0" + code_digest().encode() + b"\0")
    _stats(digest, settings.territories_dir)
    digest.update((today or datetime.now(UTC)).date().isoformat().encode())
    return "sha256:" + digest.hexdigest()
