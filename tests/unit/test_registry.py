"""The registry and mapping files: good files load, bad ones give one readable line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from transiscope.core.errors import ConfigError
from transiscope.ingest.mappings import load_mapping, load_registry
from transiscope.settings import PROJECT_ROOT

GOOD_MAPPING = 'format = "gogocarto"\nshape = "2021"\n[categories]\n"AMAP" = ["amap-circuits-courts"]\n'


def _write(tmp_path: Path, registry: str, mapping: str = GOOD_MAPPING) -> Path:
    (tmp_path / "m.toml").write_text(mapping, encoding="utf-8")
    path = tmp_path / "sources.toml"
    path.write_text(registry, encoding="utf-8")
    return path


def _entry(**overrides: str) -> str:
    values = {
        "id": "amap-idf",
        "name": "AMAP IdF",
        "format": "gogocarto",
        "licence": "ODbL-1.0",
        "url": "https://amap.example.org/api/elements.json",
        "mapping": "m.toml",
        **overrides,
    }
    return "[[source]]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items() if v is not None)


def test_project_registry_sources_have_their_files() -> None:
    registry = load_registry(PROJECT_ROOT / "transforms" / "sources.toml")
    assert registry.ids()[:3] == ["transiscope", "presdecheznous", "francetierslieux"]
    for source in registry.sources:
        assert source.sample_path is not None and source.sample_path.exists()
        mapping = load_mapping(source)
        if mapping.kind == "initiatives":
            assert (PROJECT_ROOT / "expectations" / f"{source.id}.json").exists()
        assert mapping.categories, f"{source.id} has an empty crosswalk"
    shapes = {s.id: load_mapping(s).shape for s in registry.sources}
    assert shapes["presdecheznous"] == "2018" and shapes["transiscope"] == "2021"


def test_a_good_file_loads(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, _entry()))
    source = registry.get("amap-idf")
    assert load_mapping(source).categories == {"AMAP": ("amap-circuits-courts",)}
    assert source.schedule == "@daily"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry(url=None), "lacks url"),
        (_entry(id="AMAP IdF"), "must be a lowercase slug"),
        (_entry(format="shapefile"), "format 'shapefile' is not one of"),
        (_entry(url="ftp://amap.example.org/x"), "is not an http(s) URL"),
        (_entry(mapping="missing.toml"), "mapping of source 'amap-idf' not found"),
        (_entry() + _entry(), "appears twice"),
        (
            _entry(businesses="sell"),
            "source 'amap-idf' in sources.toml: businesses: 'sell' is not one of ['drop', 'keep']",
        ),
        ("[[source]\nid = 1", "is not valid TOML"),
        ("title = 'no sources'", "has no [[source]] entries"),
    ],
)
def test_bad_registry_gives_one_clear_line(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_registry(_write(tmp_path, entry))
    assert "\n" not in str(caught.value)


def test_bad_mapping_is_reported_with_its_file(tmp_path: Path) -> None:
    path = _write(tmp_path, _entry(), mapping='format = "gogocarto"\nshape = "2019"\n')
    with pytest.raises(ConfigError, match=r"mapping m\.toml: shape must be"):
        load_registry(path)


def test_unknown_source_lists_the_configured_ones(tmp_path: Path) -> None:
    registry = load_registry(_write(tmp_path, _entry()))
    with pytest.raises(ConfigError, match=r"unknown source 'nope' \(configured sources: amap-idf\)"):
        registry.get("nope")


def test_missing_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="source registry not found"):
        load_registry(tmp_path / "absent.toml")


@pytest.mark.parametrize("schedule", ["@daily", "0 3 * * *", "*/15 6-22 * * MON-FRI", ""])
def test_good_schedules(tmp_path: Path, schedule: str) -> None:
    source = load_registry(_write(tmp_path, _entry(schedule=schedule))).get("amap-idf")
    assert source.schedule == (schedule or None)


@pytest.mark.parametrize(
    ("schedule", "message"), [("@dayly", "is not one of @once"), ("0 3 * *", "is not a 5-field cron expression")]
)
def test_bad_schedule_names_its_source(tmp_path: Path, schedule: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        load_registry(_write(tmp_path, _entry(schedule=schedule)))
    assert "source 'amap-idf' in " in str(caught.value)


def test_international_is_a_boolean(tmp_path: Path) -> None:
    """``international = "yes"`` once counted as true (any non-empty string did, "false" too)."""
    assert load_registry(_write(tmp_path, _entry() + "international = true\n")).sources[0].international is True
    assert load_registry(_write(tmp_path, _entry())).sources[0].international is False
    with pytest.raises(ConfigError, match=r"source 'amap-idf' in sources\.toml: international: 'false' is not of"):
        load_registry(_write(tmp_path, _entry() + 'international = "false"\n'))
