"""JSON Schemas of the registry entries and mapping files, and the whole-registry check.

Why JSON Schema: the registry and mappings are data written by people who are not Python developers;
a schema states every allowed key and type in one place, catches a typo (``licnce = ...``) at load
time, and gives one message per problem. ``transiscope sources --check`` collects *all* problems of
all sources (registry keys, mapping files, crosswalk notations, samples, suites) instead of stopping
at the first.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.ingest.mapping import KINDS, compile_spec, config_error, line_of
from transiscope.ingest.records import EVENT_COLUMNS, INITIATIVE_COLUMNS

_NUMBER = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]}
_STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}

SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "format", "url", "licence", "mapping"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z][a-z0-9-]{1,62}$"},
        "name": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "format": {"type": "string"},
        "kind": {"enum": list(KINDS)},
        "url": {"type": "string", "pattern": r"^https?://[^\s/]+"},
        "schedule": {"type": "string"},
        "licence": {"type": "string", "minLength": 1},
        "licence_url": {"type": "string"},
        "landing_page": {"type": "string"},
        "publisher": {"type": "string"},
        "maintainer": {"type": "string"},
        "mapping": {"type": "string"},
        "sample": {"type": "string"},
        "international": {"type": ["boolean", "string"]},
        "max_shrink": _NUMBER,
        "max_quarantine_share": _NUMBER,
        #: seconds between two requests to the source's host (per-host rate limit)
        "min_interval": _NUMBER,
        #: size cap of one payload for this source (bytes); lower than the global cap to catch a 10x payload
        "max_bytes": _NUMBER,
        #: requests one run of a multi-request source may send (pages, tiles, batches of ids)
        "max_requests": {"type": "integer", "minimum": 1},
    },
}

MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format"],
    "additionalProperties": False,
    "properties": {
        "format": {"type": "string"},
        "kind": {"enum": list(KINDS)},
        "shape": {"type": "string"},
        "required": _STRINGS,
        "options": {"type": "object"},
        "defaults": {"type": "object"},
        "fields": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}},
                    {
                        "type": "object",
                        "properties": {
                            "path": _STRINGS,
                            "apply": _STRINGS,
                            "template": {"type": "string"},
                        },
                    },
                ]
            },
        },
        "categories": {"type": "object", "additionalProperties": _STRINGS},
    },
}


def _problems(instance: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(message, needle to find the line) of every schema violation."""
    found = []
    for error in sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            message = f"unknown key(s) {', '.join(extra)}" + (f" in {where}" if where else "")
            found.append((message, extra[0] if extra else where))
        else:
            needle = str(error.path[-1]) if error.path else ""
            found.append((f"{where or 'file'}: {error.message}", needle))
    return found


def mapping_problems(data: dict[str, Any], path: Path) -> list[str]:
    out = []
    for message, needle in _problems(data, MAPPING_SCHEMA):
        line = line_of(path, needle) if needle else None
        out.append(f"mapping {path.name}{f', line {line}' if line else ''}: {message}")
    return out


def load_declarative_mapping(data: dict[str, Any], path: Path, registry_kind: str | None = None):
    """A mapping of a declarative format: schema-checked, merged with the connector's defaults, compiled."""
    from transiscope.ingest.formats import connector
    from transiscope.registry.sources import Mapping, _as_tuple

    problems = mapping_problems(data, path)
    if problems:
        raise ConfigError(problems[0])
    module = connector(data["format"])
    kind = data.get("kind") or registry_kind or getattr(module, "DEFAULT_KIND", "initiatives")
    if registry_kind and data.get("kind") and registry_kind != data["kind"]:
        raise config_error(
            path, f"kind {data['kind']!r} differs from the registry's kind {registry_kind!r}", "kind", None
        )
    supported = getattr(module, "KINDS", KINDS)
    if kind not in supported:
        raise config_error(
            path, f"format {data['format']!r} has no {kind!r} records (it has: {', '.join(supported)})", "kind", None
        )
    fields = {**module.default_fields(kind), **(data.get("fields") or {})}
    options = {**getattr(module, "DEFAULT_OPTIONS", {}), **(data.get("options") or {})}
    option_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": getattr(module, "OPTIONS_SCHEMA", {}),
    }
    for message, needle in _problems(options, option_schema):
        raise config_error(path, f"[options] {message}", needle, "options")
    for column in ("source_id", "name"):
        if column not in fields:
            raise config_error(
                path,
                f"[fields].{column} is missing: every record needs an id and a name "
                f"(format {data['format']!r} has no default for it)",
                "[fields]",
                None,
            )
    columns = EVENT_COLUMNS if kind == "events" else INITIATIVE_COLUMNS
    spec = compile_spec({**data, "kind": kind, "fields": fields, "options": options}, path, columns)
    categories = {
        str(k): _as_tuple(v, f"mapping {path.name} [categories].{k!r}")
        for k, v in (data.get("categories") or {}).items()
    }
    required = _as_tuple(data["required"], f"mapping {path.name} required") if data.get("required") else ()
    return Mapping(
        format=data["format"],
        shape=str(data.get("shape", "")),
        fields={},
        categories=categories,
        path=path,
        required=required,
        kind=kind,
        spec=spec,
    )


def taxonomy_notations(taxonomy: Path) -> set[str]:
    """The skos:notation values of the taxonomy file (read as text: no need for a full parse here)."""
    return set(re.findall(r'skos:notation\s+"([^"]+)"', taxonomy.read_text(encoding="utf-8")))


def source_problems(table: Any, path: Path, index: int) -> list[str]:
    label = table.get("id", f"#{index + 1}") if isinstance(table, dict) else f"#{index + 1}"
    return [f"source {label!r} in {path.name}: {message}" for message, _ in _problems(table, SOURCE_SCHEMA)]


def check_registry(path: Path, expectations_dir: Path, taxonomy: Path) -> list[str]:
    """Every problem of the registry at ``path`` and of each source's files, one readable line each."""
    from transiscope.registry.sources import _source_from_table

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"source registry {path}: {exc}"]
    tables = data.get("source") or []
    if not isinstance(tables, list) or not tables:
        return [f"source registry {path} has no [[source]] entries"]
    notations = taxonomy_notations(taxonomy) if taxonomy.exists() else set()
    problems: list[str] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        found = source_problems(table, path, index)
        problems.extend(found)
        if found:
            continue
        if table["id"] in seen:
            problems.append(f"source id {table['id']!r} appears twice in {path.name}")
        seen.add(table["id"])
        try:
            source = _source_from_table(table, path, index)
            mapping = source.load_mapping()
        except TransiscopeError as exc:
            problems.append(str(exc))
            continue
        for label, concepts in mapping.categories.items():
            for notation in concepts:
                if notations and notation not in notations:
                    line = line_of(mapping.path, notation, "categories")
                    problems.append(
                        f"mapping {mapping.path.name}{f', line {line}' if line else ''}: crosswalk "
                        f"{label!r} -> {notation!r}: no concept with this notation in "
                        f"{taxonomy.name}"
                    )
        if source.sample_path is not None and not source.sample_path.exists():
            problems.append(f"source {source.id!r}: sample {source.sample_path.name} not found")
        suite = expectations_dir / (
            f"{source.id}.json" if mapping.kind == "initiatives" else f"{source.id}.events.json"
        )
        if mapping.kind == "initiatives" and not suite.exists():
            problems.append(f"source {source.id!r}: expectation suite {suite.name} not found")
        elif suite.exists():
            try:
                json.loads(suite.read_text(encoding="utf-8"))
            except ValueError as exc:
                problems.append(f"source {source.id!r}: expectation suite {suite.name} is not JSON: {exc}")
    return problems
