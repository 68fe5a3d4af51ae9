"""Writing export files so that readers never see half a file and unchanged data gives unchanged bytes.

Every file is written to a hidden temporary name in the same folder and renamed over the old one (a rename
is atomic on one filesystem), together with a gzip copy whose header carries no name and no time (gzip
puts the modification time in its header by default, which would change the bytes of every run).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from transiscope.core.files import atomic_open, atomic_write

#: characters escaped in every JSON export, so that a value can never close a <script> or start markup when a
#: consumer pastes the JSON into a page; JSON parsers read the same strings back
_JSON_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def json_text(value: Any, *, indent: int | None = None) -> str:
    """Stable JSON (keys in the order given, non-ASCII kept) with HTML-significant characters escaped.

    ``str.replace`` per character rather than ``str.translate``: translate looks every character up in a
    Python dict, which took 35 s of a 100,000-initiative export; five replaces run in C."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))
    for char, escaped in _JSON_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


class ExportWriter:
    """Writes the files of one export run under ``root`` and remembers them (path, size, digest)."""

    def __init__(self, root: Path, *, gzip_copies: bool = True) -> None:
        self.root = Path(root)
        self.gzip_copies = gzip_copies
        self.written: dict[str, dict[str, Any]] = {}

    def write(self, relative: str, data: bytes | str, media_type: str) -> Path:
        payload = data.encode("utf-8") if isinstance(data, str) else data
        target = self.root / relative
        atomic_write(target, payload)
        entry = {
            "path": relative,
            "media_type": media_type,
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        if self.gzip_copies:
            compressed = gzip_bytes(payload)
            atomic_write(target.with_name(target.name + ".gz"), compressed)
            entry["gzip_bytes"] = len(compressed)
        self.written[relative] = entry
        return target

    @contextlib.contextmanager
    def stream(self, relative: str, media_type: str) -> Iterator[Output]:
        """Write ``relative`` as it is produced (with its gzip copy), atomically: readers see the old file until
        the block ends without an error."""
        target = self.root / relative
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(atomic_open(target, "wb"))
            compressed = (
                stack.enter_context(atomic_open(target.with_name(target.name + ".gz"), "wb"))
                if self.gzip_copies
                else None
            )
            output = Output(raw, compressed)
            yield output
            digest, gzip_size = output.finish()
        entry: dict[str, Any] = {"path": relative, "media_type": media_type, "bytes": output.size, "sha256": digest}
        if gzip_size is not None:
            entry["gzip_bytes"] = gzip_size
        self.written[relative] = entry

    def keep(self, entry: dict[str, Any]) -> None:
        """Record a file of the previous export left as it is (its manifest entry carried over)."""
        self.written[entry["path"]] = dict(entry)

    def prune(self, folder: str) -> list[str]:
        """Remove the files under ``root/folder`` that this run did not write (a département gone from the
        data...); returns their relative paths. Only folders the exports own are pruned."""
        removed: list[str] = []
        base = self.root / folder
        if not base.is_dir():
            return removed
        keep = set(self.written) | {f"{name}.gz" for name in self.written}
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(self.root).as_posix()
            if path.is_file() and relative not in keep:
                path.unlink()
                removed.append(relative)
        return removed


def gzip_bytes(payload: bytes) -> bytes:
    """gzip with no file name and mtime 0 in the header: the same input always gives the same bytes."""
    import io

    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=6) as out:
        out.write(payload)
    return buffer.getvalue()


class Output:
    """An export file being written: bytes go to the file, its SHA-256 and its gzip copy as they come.

    Writes are buffered (a GzipFile call per feature line would cost more than the line) and flushed in
    blocks; deflate gives the same bytes however its input is cut, so a streamed file's gzip copy equals
    :func:`gzip_bytes` of the whole."""

    _BLOCK = 1 << 20

    def __init__(self, raw: IO[bytes], compressed: IO[bytes] | None) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self._gzip = (
            gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=6) if compressed else None
        )
        self._compressed = compressed
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.size = 0

    def write(self, data: str | bytes) -> None:
        chunk = data.encode("utf-8") if isinstance(data, str) else data
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= self._BLOCK:
            self.flush()

    def copy_from(self, source: IO[bytes]) -> None:
        """Append the whole of ``source`` (a spooled body), from its start."""
        self.flush()
        source.seek(0)
        while block := source.read(self._BLOCK):
            self._emit(block)

    def flush(self) -> None:
        if self._pending:
            self._emit(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    def _emit(self, block: bytes) -> None:
        self._raw.write(block)
        self._digest.update(block)
        self.size += len(block)
        if self._gzip is not None:
            self._gzip.write(block)

    def finish(self) -> tuple[str, int | None]:
        """Flush everything; the SHA-256 of the file and the size of its gzip copy."""
        self.flush()
        self._raw.flush()  # the file's last write before its gzip copy's: a server serves a copy no older
        gzip_size = None
        if self._gzip is not None and self._compressed is not None:
            self._gzip.close()
            self._compressed.flush()
            gzip_size = self._compressed.tell()
        return self._digest.hexdigest(), gzip_size


class Body:
    """A file's body spooled to a temporary file, for a file whose head (the attribution) is known only once
    every record has been read: lines are joined with ``separator``."""

    def __init__(self, separator: str = ",\n") -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix=".export-body-")  # noqa: SIM115
        self._separator = separator.encode("utf-8")
        self._buffer: list[bytes] = []
        self._size = 0
        self.count = 0

    def add(self, text: str) -> None:
        if self.count:
            self._buffer.append(self._separator)
        self._buffer.append(text.encode("utf-8"))
        self._size += len(text)
        self.count += 1
        if self._size >= Output._BLOCK:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.file.write(b"".join(self._buffer))
            self._buffer, self._size = [], 0

    def close(self) -> None:
        self.file.close()
