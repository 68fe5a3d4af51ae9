"""The temporary home a check runs the bus's stages in: a one-source registry, the mapping, the suites.

Why: the check runs the bus's own stages, which read a registry, a mapping file and expectation suites from
settings; a throwaway home keeps the project's registry, runs and geocoding cache untouched, and the geocoder
is switched off so that a check never sends addresses anywhere.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from transiscope.registry.sources import Source
from transiscope.reports.check_source.detection import Detection
from transiscope.reports.check_source.text import toml_value
from transiscope.settings import Settings


class Workspace:
    """A temporary home: a one-source registry, the proposed mapping, the suites that apply, the run files."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="transiscope-check-"))
        self.name = name
        expectations = self.dir / "expectations"
        expectations.mkdir()
        for suite in ("initiatives.json", "events.json", f"{name}.json", f"{name}.events.json"):
            if (settings.expectations_dir / suite).exists():
                shutil.copyfile(settings.expectations_dir / suite, expectations / suite)
        if not (expectations / f"{name}.json").exists():
            (expectations / f"{name}.json").write_text(json.dumps({"name": name, "expectations": []}), encoding="utf-8")
        geocode = replace(settings.geocode, provider="none")  # a check never sends addresses anywhere
        self.settings = replace(
            settings,
            home=self.dir / "home",
            registry_path=self.dir / "sources.toml",
            expectations_dir=expectations,
            geocode=geocode,
        )

    def source(self, detection: Detection, mapping_text: str, url: str, licence: str) -> Source:
        from transiscope.ingest.mappings import load_registry

        mapping = self.dir / "mapping.toml"
        mapping.write_text(mapping_text, encoding="utf-8")
        entry = {
            "id": self.name,
            "name": self.name,
            "format": detection.format,
            "kind": detection.kind,
            "url": url,
            "licence": licence,
            "mapping": str(mapping),
            "min_interval": 0,
        }
        lines = ["[[source]]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
        self.settings.registry_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_registry(self.settings.registry_path).get(self.name)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def provisional_mapping(detection: Detection) -> str:
    """A mapping that only lets the connector read the payload (options; an id and a name for a CSV)."""
    lines = [f"format = {toml_value(detection.format)}"]
    if detection.format == "gogocarto":
        return "\n".join([*lines, 'shape = "2021"']) + "\n"
    lines.append(f"kind = {toml_value(detection.kind)}")
    if detection.options:
        lines += ["[options]"] + [f"{k} = {toml_value(v)}" for k, v in detection.options.items()]
    if detection.format == "csv":
        lines += ["[fields]", 'source_id = { default = "-" }', 'name = { default = "-" }']
    return "\n".join(lines) + "\n"
