"""The inputs digest: the same payload under the same rules on the same day gives the same digest, and any
input the stages read changes it (so an unchanged-source skip can never hide a change of rules)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from transiscope.ingest.fingerprint import elements_digest, file_digest, inputs_digest, payload_digest
from transiscope.ingest.mappings import load_registry
from transiscope.settings import PROJECT_ROOT, Settings

DAY = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Settings, object, str]:
    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    source = registry.get("transiscope")
    mapping = tmp_path / "transiscope.toml"
    shutil.copy(source.mapping_path, mapping)
    source = dataclasses.replace(source, mapping_path=mapping)
    settings = dataclasses.replace(Settings.from_env(), expectations_dir=tmp_path / "expectations")
    shutil.copytree(PROJECT_ROOT / "expectations", settings.expectations_dir)
    raw = tmp_path / "raw.json"
    shutil.copy(source.sample_path, raw)
    return settings, source, payload_digest(raw, source)


def test_same_inputs_same_digest(world) -> None:
    settings, source, payload = world
    first = inputs_digest(payload, source, settings, "live", DAY)
    assert first == inputs_digest(payload, source, settings, "live", DAY) and first.startswith("sha256:")


def test_every_input_changes_the_digest(world, tmp_path: Path) -> None:
    settings, source, payload = world
    base = inputs_digest(payload, source, settings, "live", DAY)
    other_payload = elements_digest([{"id": "x"}])
    assert inputs_digest(other_payload, source, settings, "live", DAY) != base
    assert inputs_digest(payload, source, settings, "sample", DAY) != base
    assert inputs_digest(payload, source, settings, "live", datetime(2026, 11, 30, tzinfo=UTC)) != base
    assert inputs_digest(payload, dataclasses.replace(source, licence="CC0-1.0"), settings, "live", DAY) != base
    assert inputs_digest(payload, source, dataclasses.replace(settings, max_shrink=0.9), "live", DAY) != base
    with source.mapping_path.open("a", encoding="utf-8") as mapping:
        mapping.write("\n# a crosswalk line changed\n")
    changed_mapping = inputs_digest(payload, source, settings, "live", DAY)
    assert changed_mapping != base
    suite = next(settings.expectations_dir.glob("*.json"))
    suite.write_text(json.dumps(json.loads(suite.read_text(encoding="utf-8")), indent=1), encoding="utf-8")
    assert inputs_digest(payload, source, settings, "live", DAY) != changed_mapping


def test_records_digest_ignores_what_the_request_named(tmp_path: Path) -> None:
    """OpenAgenda's incremental payload names the date it asked from: the digest is over its events."""
    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    source = registry.get("agenda-transition")
    pages = json.loads(source.sample_path.read_text(encoding="utf-8"))
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(pages), encoding="utf-8")
    for page in pages:
        page.setdefault("params", {})["updatedAt[gte]"] = "2026-11-29T08:00:00Z"
    second.write_text(json.dumps(pages), encoding="utf-8")
    assert file_digest(first) != file_digest(second)
    assert payload_digest(first, source) == payload_digest(second, source)
