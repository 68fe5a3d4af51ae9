"""Files the bus writes so that no reader ever sees half of one, and the JSON Lines it keeps runs in.

Why one owner: about ten modules wrote "to a temporary name, then rename" each in its own way (some without
``fsync``, some leaving the temporary file behind on an error); a rename is atomic on one filesystem, so a
reader (the map, a downstream step, another Airflow task) sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload


@overload
@contextlib.contextmanager
def atomic_open(target: Path, mode: Literal["w"] = "w") -> Iterator[IO[str]]: ...


@overload
@contextlib.contextmanager
def atomic_open(target: Path, mode: Literal["wb"]) -> Iterator[IO[bytes]]: ...


@contextlib.contextmanager
def atomic_open(target: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A handle on a hidden temporary file next to ``target``, renamed over ``target`` when the block ends
    without an error (and removed when it does not). Text is UTF-8.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_open(folder / "a.txt") as out:
    ...     _ = out.write("written whole")
    >>> (folder / "a.txt").read_text(encoding="utf-8"), sorted(p.name for p in folder.iterdir())
    ('written whole', ['a.txt'])
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    text_options: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8"}
    try:
        with tmp.open(mode, **text_options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(target: Path, payload: bytes | str) -> None:
    """Write ``payload`` to ``target`` through a temporary file in the same folder and a rename."""
    if isinstance(payload, str):
        with atomic_open(target, "w") as text_out:
            text_out.write(payload)
    else:
        with atomic_open(target, "wb") as bytes_out:
            bytes_out.write(payload)


def write_json(target: Path, value: Any) -> None:
    """A JSON document (indented, non-ASCII kept), written atomically."""
    atomic_write(target, json.dumps(value, indent=2, ensure_ascii=False))


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON Lines file, one by one (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every object of a JSON Lines file; an absent file is an empty list."""
    return list(iter_jsonl(path)) if Path(path).exists() else []


def _lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace ``path`` with one JSON object per line, atomically."""
    with atomic_open(path) as out:
        out.writelines(_lines(rows))


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Add objects at the end of a JSON Lines file (created when absent)."""
    with Path(path).open("a", encoding="utf-8") as out:
        out.writelines(_lines(rows))
