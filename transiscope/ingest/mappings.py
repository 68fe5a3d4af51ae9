"""A source's mapping file, read and compiled, and the registry with every mapping checked.

Why in the ingest layer: a mapping is compiled against its format's connector (default fields, options) and
the mapping engine's value functions, which are the ingest's; the registry layer below only knows the
registry file and the JSON Schemas of both files.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any, cast

from transiscope.core.errors import ConfigError, TransiscopeError
from transiscope.core.taxonomy import read_taxonomy
from transiscope.ingest.formats import connector
from transiscope.ingest.formats.base import DeclarativeConnector
from transiscope.ingest.mapping import compile_spec
from transiscope.ingest.records import EVENT_COLUMNS, INITIATIVE_COLUMNS
from transiscope.registry.schemas import (
    KINDS,
    config_error,
    did_you_mean,
    key_line,
    line_of,
    mapping_problems,
    problems_of,
    source_problems,
)
from transiscope.registry.sources import (
    DECLARATIVE_FORMATS,
    SUPPORTED_FORMATS,
    Mapping,
    Registry,
    Source,
    as_strings,
    read_registry,
    read_toml,
    source_from_table,
)


def load_mapping(source: Source) -> Mapping:
    """The source's mapping, checked and compiled (a :class:`ConfigError` naming file and line otherwise)."""
    return load_mapping_file(source.mapping_path, source.id, kind=source.extra.get("kind"))


def load_mapping_file(path: Path, source_id: str = "?", kind: str | None = None) -> Mapping:
    data = read_toml(path, f"mapping of source {source_id!r}")
    where = f"mapping {path.name}"
    fmt = data.get("format")
    if fmt not in SUPPORTED_FORMATS:
        raise ConfigError(f"{where}: format {fmt!r} is not one of {', '.join(SUPPORTED_FORMATS)}")
    if fmt in DECLARATIVE_FORMATS:
        return load_declarative_mapping(data, path, kind)
    unknown = unknown_keys(data, path, connector(fmt))
    if unknown:
        raise ConfigError("; ".join(unknown))
    shape = str(data.get("shape", "2021"))
    if shape not in ("2018", "2021"):
        raise ConfigError(f'{where}: shape must be "2018" or "2021", not {shape!r}')
    fields = {k: as_strings(v, f"{where} [fields].{k}") for k, v in data.get("fields", {}).items()}
    categories = {str(k): as_strings(v, f"{where} [categories].{k!r}") for k, v in data.get("categories", {}).items()}
    required = as_strings(data.get("required", []), f"{where} required") if data.get("required") else ()
    return Mapping(format=fmt, shape=shape, fields=fields, categories=categories, path=path, required=required)


#: the top-level keys of a mapping of a format with its own reader (GoGoCarto): no options, no defaults
OWN_READER_KEYS = frozenset({"format", "shape", "fields", "categories", "required"})


def unknown_keys(data: dict[str, Any], path: Path, module: Any) -> list[str]:
    """One message per key of the mapping that its format does not read: a top-level key, or a ``[fields]``
    key outside the connector's ``FIELD_KEYS``, each with its line and the nearest known key.

    Why: such a key is silently ignored (``descripton = ["resume"]`` leaves the default field in force), so
    the run looks healthy while the mapping does nothing; it must fail the check instead."""
    found: list[tuple[str, str | None, str]] = []
    known_fields: frozenset[str] = getattr(module, "FIELD_KEYS", frozenset())
    for key in data:
        if key not in OWN_READER_KEYS:
            found.append((key, None, f"unknown key {key!r}{did_you_mean(key, OWN_READER_KEYS)}"))
    fields = data.get("fields") or {}
    if not isinstance(fields, dict):
        return [f"mapping {path.name}: [fields] must be a table of field keys"]
    for key in fields:
        if known_fields and key not in known_fields:
            found.append(
                (
                    key,
                    "fields",
                    f"[fields].{key} is not a field key of format {data.get('format')!r}"
                    f"{did_you_mean(key, known_fields)} (known: {', '.join(sorted(known_fields))})",
                )
            )
    out = []
    for key, table, message in found:
        line = key_line(path, key, table)
        out.append(f"mapping {path.name}{f', line {line}' if line else ''}: {message}")
    return out


def load_declarative_mapping(data: dict[str, Any], path: Path, registry_kind: str | None = None) -> Mapping:
    """A mapping of a declarative format: schema-checked, merged with the connector's defaults, compiled."""
    problems = mapping_problems(data, path)
    if problems:
        raise ConfigError(problems[0])
    module = cast(DeclarativeConnector, connector(data["format"]))  # the registry's DECLARATIVE_FORMATS
    default_kind: str = getattr(module, "DEFAULT_KIND", "initiatives")
    kind: str = data.get("kind") or registry_kind or default_kind
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
    for message, needle in problems_of(options, option_schema):
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
    spec = dataclasses.replace(spec, mapped=tuple(data.get("fields") or ()))
    categories = {
        str(k): as_strings(v, f"mapping {path.name} [categories].{k!r}")
        for k, v in (data.get("categories") or {}).items()
    }
    required = as_strings(data["required"], f"mapping {path.name} required") if data.get("required") else ()
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
    """The skos:notation values of the taxonomy file."""
    return set(read_taxonomy(taxonomy).notations)


def load_registry(path: Path) -> Registry:
    """Read and check the registry; every source's mapping file is read and compiled here too, so that a
    mistake in one names its file and line before any run starts."""
    registry = read_registry(path)
    for source in registry.sources:
        load_mapping(source)
    return registry


def check_registry(path: Path, expectations_dir: Path, taxonomy: Path) -> list[str]:
    """Every problem of the registry at ``path`` and of each source's files, one readable line each."""
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
            source = source_from_table(table, path, index)
            mapping = load_mapping(source)
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
