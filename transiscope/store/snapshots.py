"""Published snapshots of the embedded store: what every reader of the embedded store opens.

Why: pyoxigraph documents ``Store.read_only()`` on a directory that another process writes as undefined
behaviour, and it is not theoretical — RocksDB compacts, deletes the files a reader's view still names,
and the reader fails with ``No such file or directory: …/000438.sst`` (seen on the export DAG while a link
ran). So readers never open the store that is being written. When a writer closes the store (after its
transactions, which each leave the store consistent), it publishes a snapshot: ``Store.backup()`` into a
new folder next to the store, then one atomic replace of the ``current`` pointer file. A reader opens the
snapshot the pointer names, read-only; nobody ever writes a snapshot, so that is well-defined.

Why backups and not one serving process: every reader (a CLI query, an export task, a serve worker, the
extract stage's live check) keeps opening the store in its own process, as before, with nothing new to run
or to keep up; and a backup on the same filesystem hard-links the store's immutable SST files instead of
copying them, so publishing costs milliseconds and little disk (``bench/snapshots.py``).

Why lock files: a reader pins the snapshot it opened with a shared ``flock`` on ``<name>.lock`` for as long
as it keeps it open. The clean-up (after each publish, and when a reader closes) removes a snapshot older
than the current one only if it gets the exclusive lock without waiting, so a snapshot is never removed
under a reader; its hard links keep the files the store has since compacted away alive until then.

Layout, beside the store directory ``store``::

    store.snapshots/current            the name of the latest snapshot (one line)
    store.snapshots/000000000042/      a backup (a pyoxigraph store)
    store.snapshots/000000000042.lock  readers hold a shared lock on it

Names are increasing sequence numbers: only the writer (who holds the store's lock) creates one, and the
clean-up only touches names below the current one, so it never sees a snapshot still being published.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from transiscope.core.errors import StoreError
from transiscope.core.files import atomic_write

POINTER = "current"
#: attempts to pin the current snapshot when writers keep replacing it under the reader
_PIN_ATTEMPTS = 50


def snapshots_dir(store_path: Path) -> Path:
    """The folder of the snapshots of the store at ``store_path``: its sibling, on the same filesystem
    (so backups are hard links), and outside the RocksDB directory (which is RocksDB's alone)."""
    return store_path.with_name(store_path.name + ".snapshots")


def current_name(root: Path) -> str | None:
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def _names(root: Path) -> set[str]:
    names = {entry.name.removesuffix(".lock") for entry in root.iterdir()}
    return {name for name in names if name.isdigit()}


def publish(store: ox.Store, store_path: Path) -> str:
    """Publish the store's state as the new current snapshot; returns its name.

    Only the writer calls this (it holds the store's lock, so there is one publisher at a time). The
    pointer moves only once the backup and its lock file are complete: a reader sees the previous
    snapshot or this one, never a half-made one."""
    root = snapshots_dir(store_path)
    root.mkdir(parents=True, exist_ok=True)
    name = f"{max((int(n) for n in _names(root)), default=0) + 1:012d}"
    store.backup(str(root / name))
    (root / f"{name}.lock").touch()
    atomic_write(root / POINTER, name + "\n")
    collect(root)
    return name


def collect(root: Path) -> list[str]:
    """Remove the snapshots older than the current one that no reader holds; returns their names."""
    current = current_name(root)
    if current is None or not root.is_dir():
        return []
    removed = []
    for name in sorted(_names(root)):
        if name >= current:
            continue  # the current snapshot, or one a writer is publishing right now
        lock = root / f"{name}.lock"
        try:
            fd = os.open(lock, os.O_RDONLY)
        except FileNotFoundError:
            # no lock file: a publish that died before making it (never current), or a removal half-done
            shutil.rmtree(root / name, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a reader holds it: removed by a later clean-up
        try:
            shutil.rmtree(root / name, ignore_errors=True)
            lock.unlink(missing_ok=True)  # last, so that "no lock file" means "being removed or gone"
            removed.append(name)
        finally:
            os.close(fd)
    return removed


@dataclass
class Pin:
    """The snapshot a reader opened, and the open lock file that keeps it from being removed."""

    path: Path
    fd: int

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)  # closing the file releases the shared lock


def pin_current(store_path: Path) -> Pin | None:
    """Pin the current snapshot (shared lock), or None when none was ever published.

    Between reading the pointer and taking the lock, a writer may publish a newer snapshot and the
    clean-up remove the one just read: then the lock file is gone, or the lock is taken on a file that no
    longer names a snapshot, and the reader tries again with the new pointer."""
    root = snapshots_dir(store_path)
    for _ in range(_PIN_ATTEMPTS):
        name = current_name(root)
        if name is None:
            return None
        lock = root / f"{name}.lock"
        try:
            fd = os.open(lock, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a clean-up removes this snapshot
            still_there = os.path.samestat(os.fstat(fd), os.stat(lock)) and (root / name / "CURRENT").exists()
        except OSError:
            still_there = False
        if still_there:
            return Pin(root / name, fd)
        os.close(fd)
    raise StoreError(
        f"could not pin a snapshot of the embedded store {store_path}: it was replaced {_PIN_ATTEMPTS} times "
        "while opening it; try again"
    )
