"""Exports that follow the graphs' digests: an unchanged store writes nothing, and loading one more source
rewrites that source's own files and the files every source shares, never the other sources' files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import SOURCE_IDS, PayloadServer, sample_path, write_registry
from transiscope import jobs
from transiscope.downstream.exports import export_all
from transiscope.downstream.exports.murmurations import profile_path
from transiscope.downstream.exports.pair import pair_paths
from transiscope.settings import Settings


def _written(out: Path) -> dict[str, tuple[int, int]]:
    """Each export file (and gzip copy) -> (inode, modification time): a rewrite (a new file renamed over the
    old one) changes both."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.parts[len(out.parts)] not in ("reports", "vocabulary")
    }


def _own_files(source_id: str) -> set[str]:
    paths = {profile_path(source_id), *pair_paths(source_id).values()}
    return paths | {f"{p}.gz" for p in paths}


def test_only_the_new_source_and_the_shared_files_are_rewritten(
    tmp_path: Path, payload_server: PayloadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = {sid: payload_server.serve_file(f"/{tmp_path.name}/{sid}.json", sample_path(sid)) for sid in SOURCE_IDS}
    monkeypatch.setenv("TRANSISCOPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRANSISCOPE_REGISTRY", str(write_registry(tmp_path, urls)))
    *loaded, added = SOURCE_IDS
    for source_id in loaded:
        assert jobs.run_source(source_id).outcome == "success"
    settings = Settings.from_env()
    first = export_all(settings)
    out = Path(first.out_dir)
    before = _written(out)
    assert all(_own_files(s) <= set(before) for s in loaded)

    again = export_all(settings)
    assert again.unchanged and again.generated == first.generated
    assert again.initiatives == first.initiatives and again.files == first.files
    assert _written(out) == before  # nothing written at all

    assert jobs.run_source(added).outcome == "success"
    third = export_all(settings)
    assert not third.unchanged and third.initiatives > first.initiatives
    after = _written(out)
    for source_id in loaded:  # untouched: same file, byte for byte
        for path in _own_files(source_id):
            assert after[path] == before[path], path
    assert _own_files(added) <= set(after) - set(before)
    for shared in ("initiatives.geojson", "initiatives.csv", "initiatives.jsonld", "gogocarto/elements.json"):
        assert after[shared] != before[shared], shared
    # the manifest still describes every file as it is, the kept ones included
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    for entry in index["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"], entry["path"]
    assert set(index["sources"]) >= set(SOURCE_IDS)
    assert any(graph.endswith(f"/graph/source/{added}") for graph in index["graphs"])
    profile = json.loads((out / profile_path(added)).read_text(encoding="utf-8"))
    assert profile["transiscope"]["initiatives"] > 0
