"""The registry of sources: one declarative entry per partner network, read from TOML.

Adding a source whose format is already supported is a registry entry, a mapping file and an
expectation suite: no Python. This module turns those files into typed objects and rejects a bad
file with a message that names the file, the source and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from transiscope.core.errors import ConfigError
from transiscope.registry.schemas import source_problems

#: the formats of the bus, listed here only (one connector module each in transiscope.ingest.formats, which
#: reads this list: the registry layer never imports the ingest one)
SUPPORTED_FORMATS = ("gogocarto", "kvm", "openagenda", "ical", "csv", "geojson", "jsonapi", "murmurations")
#: formats whose mapping is the declarative engine of transiscope.ingest.mapping (GoGoCarto has its own)
DECLARATIVE_FORMATS = tuple(name for name in SUPPORTED_FORMATS if name != "gogocarto")

_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
_REQUIRED = ("id", "name", "format", "url", "licence", "mapping")
SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")


@dataclass(frozen=True)
class Mapping:
    """How a source's records become canonical records (see ``transforms/mappings/``)."""

    format: str
    shape: str
    fields: dict[str, tuple[str, ...]]
    #: source category label -> taxonomy concept notations
    categories: dict[str, tuple[str, ...]]
    path: Path
    #: source fields whose absence from every record means schema drift (empty: the format's default)
    required: tuple[str, ...] = ()
    #: "initiatives" or "events": which canonical records the source's records become
    kind: str = "initiatives"
    #: declarative formats: the compiled field specs, options and defaults (transiscope/mapping.py)
    spec: Any = None
    #: what one run's payload says for all its records (GoGoCarto: the top-level licence, the map's option
    #: names from taxonomy.json), set by the connector's optional ``bind_run``; empty outside a run
    payload_facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    format: str
    url: str
    licence: str
    mapping_path: Path
    schedule: str | None = "@daily"
    description: str = ""
    licence_url: str = ""
    landing_page: str = ""
    publisher: str = ""
    maintainer: str = ""
    sample_path: Path | None = None
    #: the source lists initiatives outside France too: its foreign records are loaded (never quarantined for
    #: being abroad), and the gaps analysis never places them in a French territory
    international: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registry:
    path: Path
    sources: tuple[Source, ...]

    def ids(self) -> list[str]:
        return [s.id for s in self.sources]

    def get(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(self.ids()) or "none"
        raise ConfigError(f"unknown source {source_id!r} (configured sources: {known})")

    def select(self, source_ids: list[str] | None) -> list[Source]:
        """The sources named (in the order given), or all of them when none is named."""
        if not source_ids:
            return list(self.sources)
        return [self.get(source_id) for source_id in source_ids]


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def as_strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")


def check_schedule(schedule: Any, where: str) -> str | None:
    """An Airflow preset or a 5-field cron expression, checked here so a typo names its source."""
    if schedule in (None, "", "none", "None"):
        return None
    if not isinstance(schedule, str):
        raise ConfigError(f"{where}: schedule must be a string, not {schedule!r}")
    if schedule.startswith("@"):
        if schedule not in SCHEDULE_PRESETS:
            raise ConfigError(f"{where}: schedule {schedule!r} is not one of {', '.join(SCHEDULE_PRESETS)}")
        return schedule
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ConfigError(f"{where}: schedule {schedule!r} is not a 5-field cron expression such as '0 3 * * *'")
    return schedule


def source_from_table(table: dict[str, Any], path: Path, index: int) -> Source:
    base = path.parent
    label = table.get("id", f"#{index + 1}")
    missing = [key for key in _REQUIRED if not table.get(key)]
    if missing:
        raise ConfigError(f"source {label!r} in {path} lacks {', '.join(missing)}")
    source_id = table["id"]
    if not isinstance(source_id, str) or not _ID_RE.match(source_id):
        raise ConfigError(
            f"source id {source_id!r} in {path} must be a lowercase slug (letters, digits, hyphens; 2-63 chars)"
        )
    if table["format"] not in SUPPORTED_FORMATS:
        raise ConfigError(
            f"source {source_id!r}: format {table['format']!r} is not one of {', '.join(SUPPORTED_FORMATS)}"
        )
    url = str(table["url"])
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"source {source_id!r}: url {url!r} is not an http(s) URL")
    known = {f.name for f in Source.__dataclass_fields__.values()} | {"mapping", "sample"}
    sample = table.get("sample")
    return Source(
        id=source_id,
        name=str(table["name"]),
        format=str(table["format"]),
        url=url,
        licence=str(table["licence"]),
        mapping_path=(base / table["mapping"]).resolve(),
        schedule=check_schedule(table.get("schedule", "@daily"), f"source {source_id!r} in {path}"),
        description=str(table.get("description", "")),
        licence_url=str(table.get("licence_url", "")),
        landing_page=str(table.get("landing_page", "")),
        publisher=str(table.get("publisher", "")),
        maintainer=str(table.get("maintainer", "")),
        sample_path=(base / sample).resolve() if sample else None,
        international=table.get("international") is True,
        extra={k: v for k, v in table.items() if k not in known},
    )


def read_registry(path: Path) -> Registry:
    """Read and check the registry file (its mapping files are read by
    :func:`transiscope.ingest.mappings.load_registry`)."""
    data = read_toml(path, "source registry")
    tables = data.get("source", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"source registry {path} has no [[source]] entries")
    sources = []
    for i, table in enumerate(tables):
        sources.append(source_from_table(table, path, i))
        problems = source_problems(table, path, i)  # after the checks above, whose messages are clearer
        if problems:
            raise ConfigError(problems[0])
    seen: set[str] = set()
    for source in sources:
        if source.id in seen:
            raise ConfigError(f"source id {source.id!r} appears twice in {path}")
        seen.add(source.id)
    return Registry(path=path, sources=tuple(sources))
