"""JSON Schemas of the registry entries and mapping files, and the whole-registry check.

Why JSON Schema: the registry and mappings are data written by people who are not Python developers;
a schema states every allowed key and type in one place, catches a typo (``licnce = ...``) at load
time, and gives one message per problem. ``transiscope sources --check`` collects *all* problems of
all sources (registry keys, mapping files, crosswalk notations, samples, suites) instead of stopping
at the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from transiscope.core.errors import ConfigError

#: the two kinds of canonical records a source can give
KINDS = ("initiatives", "events")

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
        #: true: the source lists initiatives abroad too (loaded, never placed in a French territory)
        "international": {"type": "boolean"},
        #: Karte von morgen: companies (commercial entries) are dropped (default) or kept, tagged "entreprise"
        "businesses": {"enum": ["drop", "keep"]},
        "max_shrink": _NUMBER,
        "max_quarantine_share": _NUMBER,
        #: seconds between two requests to the source's host (per-host rate limit)
        "min_interval": _NUMBER,
        #: size cap of one payload for this source (bytes); lower than the global cap to catch a 10x payload
        "max_bytes": _NUMBER,
        #: requests one run of a multi-request source may send (pages, tiles, batches of ids)
        "max_requests": {"type": "integer", "minimum": 1},
        #: GoGoCarto: the map's taxonomy.json, when not beside the elements' endpoint (``.../api/taxonomy.json``)
        "taxonomy_url": {"type": "string", "pattern": r"^https?://[^\s/]+"},
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


def problems_of(instance: Any, schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(message, needle to find the line) of every schema violation."""
    found = []
    for error in sorted(Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in error.path)
        if error.validator == "additionalProperties":
            known = error.schema.get("properties", {})
            extra = sorted(set(error.instance) - set(known))
            named = ", ".join(f"{key}{did_you_mean(key, known)}" for key in extra)
            message = f"unknown key(s) {named}" + (f" in {where}" if where else "")
            found.append((message, extra[0] if extra else where))
        else:
            needle = str(error.path[-1]) if error.path else ""
            found.append((f"{where or 'file'}: {error.message}", needle))
    return found


def mapping_problems(data: dict[str, Any], path: Path) -> list[str]:
    out = []
    for message, needle in problems_of(data, MAPPING_SCHEMA):
        line = (key_line(path, needle) or line_of(path, needle)) if needle else None
        out.append(f"mapping {path.name}{f', line {line}' if line else ''}: {message}")
    return out


def source_problems(table: Any, path: Path, index: int) -> list[str]:
    label = table.get("id", f"#{index + 1}") if isinstance(table, dict) else f"#{index + 1}"
    return [f"source {label!r} in {path.name}: {message}" for message, _ in problems_of(table, SOURCE_SCHEMA)]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` with the known name nearest to a misspelt one, or "" when none is near.

    Why: a typo in a key (``descripton``) is the commonest mapping mistake, and the fix is one word away."""
    near = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def key_line(path: Path, key: str, table: str | None = None) -> int | None:
    """The line (1-based) of a TOML file where ``key`` is set: ``key = ...`` inside ``[table]``, or
    ``table.key = ...`` at the top level.

    Why not tomllib: it gives the values, never their lines, and a mistake must point at its line. Why not
    :func:`line_of`: a key's name is often a substring of a value or a comment elsewhere in the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    name = rf"(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')"
    in_table = re.compile(rf"^\s*{name}\s*=")
    dotted = re.compile(rf"^\s*{re.escape(table)}\s*\.\s*{name}\s*=") if table else None
    current = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.split("]")[0].strip("[ ")
            continue
        if current == table and in_table.match(line):
            return number
        if dotted is not None and current is None and dotted.match(line):
            return number
    return None


def line_of(path: Path, needle: str, table: str | None = None) -> int | None:
    """The first line of a TOML file (1-based) that mentions ``needle``, inside ``[table]`` when given."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    current = None
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.strip("[]").strip()
            continue
        if (table is None or current == table) and needle in line:
            return number
    return None


def config_error(path: Path, message: str, needle: str, table: str | None = "fields") -> ConfigError:
    line = key_line(path, needle, table) or line_of(path, needle, table) or line_of(path, needle)
    where = f"{path.name}, line {line}" if line else path.name
    return ConfigError(f"mapping {where}: {message}")
