"""Graph replacement on the embedded store: by difference, in one transaction, never half-done."""

from __future__ import annotations

from pathlib import Path

import pytest

from transiscope.core.errors import StoreError
from transiscope.store.embedded import EmbeddedStore

G, S = "https://example.org/graph/live", "https://example.org/graph/staging"


def _nt(path: Path, n: int, start: int = 0, tail: str = "") -> Path:
    lines = [
        f'<https://example.org/i/{i}> <http://schema.org/name> "Initiative n°{i} \\"quoted\\"" .'
        for i in range(start, start + n)
    ]
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return path


def _content(store: EmbeddedStore) -> set[str]:
    return {f"{r['s']} {r['o']}" for r in store.select(f"SELECT ?s ?o WHERE {{ GRAPH <{G}> {{ ?s ?p ?o }} }}")}


def _then(marker: str) -> str:
    triple = f'<https://example.org/run> <https://example.org/p> "{marker}"'
    return f"INSERT DATA {{ GRAPH <https://example.org/meta> {{ {triple} }} }}"


def test_replace_is_exact_and_carries_the_provenance(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as store:
        assert store.replace_graph(G, S, _nt(tmp_path / "a.nt", 100), _then("a")) == 100
        assert store.replace_graph(G, S, _nt(tmp_path / "b.nt", 100, start=50), _then("b")) == 100
        assert {s.rsplit("/", 1)[1].split(">")[0] for s in _content(store)} == {str(i) for i in range(50, 150)}
        marks = store.select("SELECT ?m WHERE { <https://example.org/run> <https://example.org/p> ?m }")
        assert sorted(m["m"].value for m in marks) == ["a", "b"]
        assert store.replace_graph(G, S, tmp_path / "b.nt") == 100  # unchanged: nothing to write


def test_a_failing_provenance_update_rolls_everything_back(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 100))
        before = _content(store)
        with pytest.raises(StoreError):
            store.replace_graph(G, S, _nt(tmp_path / "b.nt", 100, start=50), "INSERT DATA { this is not SPARQL }")
        assert _content(store) == before


def test_a_broken_file_leaves_the_old_graph(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 100))
        before = _content(store)
        broken = _nt(tmp_path / "b.nt", 100, start=50, tail="<https://example.org/x> <unterminated .\n")
        with pytest.raises(StoreError, match="reading b.nt failed"):
            store.replace_graph(G, S, broken)
        assert _content(store) == before


@pytest.mark.parametrize("lines", [20_000, 120_000])  # one bulk-loader call; three, the last one broken
def test_a_failed_first_load_leaves_no_partial_graph(tmp_path: Path, lines: int) -> None:
    big = _nt(tmp_path / "big.nt", lines, tail='<https://example.org/x> <https://example.org/p> "no end .\n')
    assert big.stat().st_size > 1_000_000  # the bulk-load path
    with EmbeddedStore(tmp_path / "store") as store:
        with pytest.raises(StoreError, match="loading big.nt into"):
            store.replace_graph(G, S, big)
        assert store.count(G) == 0


def test_a_big_first_load_then_a_small_change(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as store:
        assert store.replace_graph(G, S, _nt(tmp_path / "big.nt", 20_000), _then("first")) == 20_000
        assert store.replace_graph(G, S, _nt(tmp_path / "next.nt", 20_000, start=10)) == 20_000
        assert store.count(G) == 20_000 and len(store.select("SELECT ?m WHERE { ?r <https://example.org/p> ?m }")) == 1


def test_a_hostile_line_cannot_reach_the_update(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 10))
        hostile = _nt(tmp_path / "h.nt", 10, start=5, tail="} } ; DROP ALL ; INSERT DATA { GRAPH <x> {\n")
        with pytest.raises(StoreError, match="reading h.nt failed"):
            store.replace_graph(G, S, hostile)
        assert store.count(G) == 10


def test_blank_nodes_take_the_move_path(tmp_path: Path) -> None:
    ttl = tmp_path / "shapes.ttl"
    ttl.write_text('<https://example.org/s> <https://example.org/p> [ <https://example.org/q> "v" ] .\n')
    with EmbeddedStore(tmp_path / "store") as store:
        assert store.replace_graph(G, S, ttl) == 2
        assert store.replace_graph(G, S, ttl) == 2  # replaced, not duplicated
        assert store.count(S) == 0


def _files(store_dir: Path) -> int:
    return sum(1 for _ in store_dir.glob("*.sst"))


def test_bulk_loads_are_compacted_on_close_or_once_after_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk load leaves many small files; the store compacts them when it closes, or, inside
    ``compaction_deferred`` (``transiscope run``), once when the batch ends."""
    import transiscope.store.embedded as store_module
    from transiscope.settings import Settings
    from transiscope.store.embedded import compaction_deferred

    data = _nt(tmp_path / "a.nt", 160_000)
    with monkeypatch.context() as never:  # what a bulk load leaves when nothing compacts it
        never.setattr(store_module, "_COMPACT_AFTER", 10**12)
        with EmbeddedStore(tmp_path / "raw") as store:
            store.replace_graph(G, S, data)
    left_by_a_load = _files(tmp_path / "raw")
    with EmbeddedStore(tmp_path / "alone") as store:
        store.replace_graph(G, S, data)
    assert _files(tmp_path / "alone") < left_by_a_load
    settings = Settings.from_env().with_home(tmp_path)  # its store path is tmp_path / "store"
    with compaction_deferred(settings):
        with EmbeddedStore(settings.store_path) as store:
            store.replace_graph(G, S, data)
        inside = _files(settings.store_path)
        assert inside > _files(tmp_path / "alone")  # closed, not compacted yet
    assert _files(settings.store_path) < inside
    with EmbeddedStore(settings.store_path, read_only=True) as store:
        assert store.count(G) == 160_000


def test_readers_open_the_snapshot_of_the_last_closed_writer(tmp_path: Path) -> None:
    """A reader never opens the directory being written: it sees the state the last writer published
    when it closed, not the writes of a session still open."""
    from transiscope.store.snapshots import snapshots_dir

    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 10))
    with EmbeddedStore(tmp_path / "store") as writer:
        writer.replace_graph(G, S, _nt(tmp_path / "b.nt", 20))
        with EmbeddedStore(tmp_path / "store", read_only=True) as reader:
            assert len(_content(reader)) == 10
            assert reader._pin is not None and reader._pin.path.parent == snapshots_dir(tmp_path / "store")
    with EmbeddedStore(tmp_path / "store", read_only=True) as reader:
        assert len(_content(reader)) == 20


def test_a_snapshot_stays_while_a_reader_holds_it(tmp_path: Path) -> None:
    """The clean-up after a publish removes old snapshots, but not one a reader has open; the reader's
    own close removes it once it lets go."""
    from transiscope.store.snapshots import current_name, snapshots_dir

    root = snapshots_dir(tmp_path / "store")
    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 10))
    first = current_name(root)
    reader = EmbeddedStore(tmp_path / "store", read_only=True)
    for n in (20, 30):  # two writes while the reader holds the first snapshot
        with EmbeddedStore(tmp_path / "store") as store:
            store.replace_graph(G, S, _nt(tmp_path / f"{n}.nt", n))
            store._store.optimize()  # the files of the first snapshot are gone from the store itself
    names = {entry.name for entry in root.iterdir() if entry.is_dir()}
    assert names == {first, current_name(root)}  # the middle one, held by nobody, went at once
    assert len(_content(reader)) == 10  # and the held one still reads whole
    reader.close()
    last = current_name(root)
    assert {entry.name for entry in root.iterdir()} == {"current", f"{last}", f"{last}.lock"}


def test_a_store_without_snapshot_gets_one_from_its_first_reader(tmp_path: Path) -> None:
    """A store written before snapshots existed: the first reader publishes one (when nobody writes it),
    and while a writer holds the store it gets StoreLocked rather than a read of a directory in use."""
    import shutil

    from transiscope.core.errors import StoreLocked
    from transiscope.store.snapshots import snapshots_dir

    with EmbeddedStore(tmp_path / "store") as store:
        store.replace_graph(G, S, _nt(tmp_path / "a.nt", 10))
    shutil.rmtree(snapshots_dir(tmp_path / "store"))
    with EmbeddedStore(tmp_path / "store"), pytest.raises(StoreLocked):
        EmbeddedStore(tmp_path / "store", read_only=True)
    with EmbeddedStore(tmp_path / "store", read_only=True) as reader:
        assert len(_content(reader)) == 10
