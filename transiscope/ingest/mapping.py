"""Declarative mappings: a source's records -> canonical records, from a TOML file and no code.

A mapping file (``transforms/mappings/<source>.toml``) says, for each canonical column, where the
value is in a source record (a dotted *path*, ``*`` to go through a list), what to do to it (a list of
*value functions* from the fixed set :data:`FUNCTIONS`, never ``eval``), a default, or a *template*
that builds a string from other paths. Category labels then go through the source's crosswalk to
the taxonomy notations of ``ontology/taxonomy.ttl``.

Why a fixed set of functions: the old Semantic Bus ran user JavaScript with ``eval`` (a CVSS 9.8
remote-code-execution flaw). Here configuration can only *select* behaviour that is written, reviewed
and tested in this module. A mistake in a file (unknown function, malformed path, unknown column) is a
:class:`~transiscope.core.errors.ConfigError` naming the file and the line, raised when the registry loads.

Per column, after the functions, a default coercion applies (text cleaned of HTML, contacts with
"private" placeholders dropped, coordinates with decimal commas read, dates to ISO 8601), so a
mapping only lists functions when a source needs more than that.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from transiscope.core.text import ascii_fold, clean_contact, clean_text
from transiscope.ingest.formats import RecordRejected
from transiscope.ingest.records import EVENT_COLUMNS, INITIATIVE_COLUMNS, empty_record, parse_date, to_float
from transiscope.ingest.value_functions import (  # the set a mapping selects from (re-exported)
    FUNCTIONS as FUNCTIONS,
)
from transiscope.ingest.value_functions import (
    NEEDS_ARGUMENT as NEEDS_ARGUMENT,
)
from transiscope.ingest.value_functions import (
    _lang,
    _timestamp,
)
from transiscope.ingest.value_functions import (
    normalise_email as normalise_email,
)
from transiscope.ingest.value_functions import (
    normalise_phone as normalise_phone,
)
from transiscope.ingest.value_functions import (
    normalise_url as normalise_url,
)
from transiscope.registry.schemas import config_error, did_you_mean

LIST_COLUMNS = frozenset({"categories", "tags"})
FLOAT_COLUMNS = frozenset({"lat", "lon"})
DATE_COLUMNS = frozenset({"created_at", "updated_at"})
TIME_COLUMNS = frozenset({"start", "end"})
MULTILINE_COLUMNS = frozenset({"description"})
#: columns a mapping may not set: filled by the engine itself
ENGINE_COLUMNS = frozenset({"source", "record_index", "concepts", "unmapped_categories", "notes", "unparsed", "past"})
_SEGMENT = re.compile(r"^[^.\s][^.]*$")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_PHONE_KEEP = re.compile(r"[^\d+]")
#: a URI scheme other than a host's port (``www.x.org:8080`` is a host, ``javascript:`` a scheme)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")
MAX_SPLIT_PARTS = 200
#: what a value function raises on a value it cannot read: the value is dropped with a note on the record
UNREADABLE = (ValueError, TypeError, OverflowError, OSError, ArithmeticError, LookupError, RecursionError)
#: the value functions that drop what is not a usable contact (the record says so)
_CONTACT_FUNCTIONS = frozenset({"url", "email", "phone"})


def shown(value: Any, limit: int = 80) -> str:
    """A value as a note quotes it: cut to ``limit`` characters, never raising (an int of 10,000 digits
    has no ``str`` in Python 3.11, and a note must not be what fails a record)."""
    try:
        text = value if isinstance(value, str) else repr(value)
    except (ValueError, RecursionError):
        return f"<a {type(value).__name__} too large to show>"
    return repr(text[:limit]) if isinstance(value, str) else text[:limit]


# -- compiled specs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    column: str
    paths: tuple[tuple[str, ...], ...] = ()
    functions: tuple[tuple[str, str | None], ...] = ()
    default: Any = None
    template: str | None = None


@dataclass(frozen=True)
class MappingSpec:
    kind: str
    fields: dict[str, FieldSpec]
    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: the columns the mapping file itself sets in ``[fields]`` (the others are the format's defaults): one
    #: of them empty in every record of a run is a warning of that run (the source renamed or lost it)
    mapped: tuple[str, ...] = ()


def parse_path(text: str) -> tuple[str, ...] | None:
    """``"location.address"`` -> ``("location", "address")``; None when malformed (empty segment...)."""
    if not isinstance(text, str) or not text.strip():
        return None
    parts = tuple(p.strip() for p in text.split("."))
    if not all(p and _SEGMENT.match(p) for p in parts):
        return None
    return parts


def _parse_function(text: Any) -> tuple[str, str | None] | None:
    if not isinstance(text, str) or not text:
        return None
    name, _, arg = text.partition(":")
    return name.strip(), (arg if _ else None)


#: the keys of a ``[fields]`` entry written as a table
FIELD_TABLE_KEYS = frozenset({"path", "apply", "default", "template"})


def compile_spec(data: dict[str, Any], path: Path, columns: tuple[str, ...]) -> MappingSpec:
    """Check and compile the ``[fields]`` table of a mapping file (its other tables checked by the schema)."""
    kind = data.get("kind", "initiatives")
    allowed = set(columns) - ENGINE_COLUMNS
    specs: dict[str, FieldSpec] = {}
    for column, raw in (data.get("fields") or {}).items():
        if column not in allowed:
            raise config_error(
                path,
                f"[fields].{column} is not a column of canonical {kind} records{did_you_mean(column, allowed)} "
                f"(one of: {', '.join(sorted(allowed))})",
                f"{column}",
            )
        if isinstance(raw, str | list):
            raw = {"path": raw}
        if not isinstance(raw, dict):
            raise config_error(path, f"[fields].{column} must be a path, a list of paths or a table", column)
        unknown_keys = set(raw) - FIELD_TABLE_KEYS
        if unknown_keys:
            raise config_error(
                path,
                f"[fields].{column} has unknown key(s) "
                f"{', '.join(k + did_you_mean(k, FIELD_TABLE_KEYS) for k in sorted(unknown_keys))} "
                "(allowed: path, apply, default, template)",
                sorted(unknown_keys)[0],
            )
        paths_raw = raw.get("path", [])
        paths_raw = [paths_raw] if isinstance(paths_raw, str) else paths_raw
        paths = []
        for text in paths_raw:
            parsed = parse_path(text)
            if parsed is None:
                raise config_error(
                    path,
                    f"[fields].{column}: bad path {text!r} (dotted names such as "
                    '"location.address", "*" for every item of a list)',
                    str(text),
                )
            paths.append(parsed)
        template = raw.get("template")
        if template is not None:
            if not isinstance(template, str):
                raise config_error(path, f"[fields].{column}: template must be a string", column)
            for inner in _TEMPLATE_FIELD.findall(template):
                if parse_path(inner) is None:
                    raise config_error(path, f"[fields].{column}: bad path {{{inner}}} in the template", inner)
        functions = []
        apply = raw.get("apply", [])
        for item in [apply] if isinstance(apply, str) else apply:
            parsed_fn = _parse_function(item)
            if parsed_fn is None or parsed_fn[0] not in FUNCTIONS:
                raise config_error(
                    path,
                    f"[fields].{column}: unknown function {item!r}"
                    f"{did_you_mean(str(parsed_fn[0]) if parsed_fn else str(item), FUNCTIONS)} "
                    f"(known: {', '.join(sorted(FUNCTIONS))})",
                    str(item),
                )
            if parsed_fn[0] in NEEDS_ARGUMENT and not parsed_fn[1]:
                raise config_error(
                    path,
                    f'[fields].{column}: {parsed_fn[0]} needs an argument, e.g. "{parsed_fn[0]}:%d/%m/%Y"',
                    str(item),
                )
            if parsed_fn[0] == "wall_time" and parsed_fn[1]:
                try:
                    ZoneInfo(parsed_fn[1])
                except (ZoneInfoNotFoundError, ValueError):
                    raise config_error(
                        path, f"[fields].{column}: unknown time zone {parsed_fn[1]!r}", str(item)
                    ) from None
            functions.append(parsed_fn)
        if not paths and template is None and "default" not in raw:
            raise config_error(path, f"[fields].{column} has no path, template or default", column)
        specs[column] = FieldSpec(column, tuple(paths), tuple(functions), raw.get("default"), template)
    return MappingSpec(
        kind=kind, fields=specs, options=dict(data.get("options") or {}), defaults=dict(data.get("defaults") or {})
    )


# -- applying a spec -------------------------------------------------------------------------------
def resolve(element: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a record; ``*`` maps over a list. A flat key with dots is tried first."""
    if isinstance(element, dict) and len(path) > 1 and ".".join(path) in element:
        return element[".".join(path)]
    value: Any = element
    for index, part in enumerate(path):
        if part == "*":
            if not isinstance(value, list):
                return None
            rest = path[index + 1 :]
            items = [resolve(item, rest) if rest else item for item in value]
            flat: list[Any] = []
            for item in items:
                if isinstance(item, list):
                    flat.extend(item)
                elif item not in (None, ""):
                    flat.append(item)
            return flat
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdecimal() and part.isascii():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            return None
    return value


def _template(template: str, element: Any) -> str | None:
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = resolve(element, parse_path(match.group(1)) or ())
        if value in (None, "", [], {}):
            missing = True
            return ""
        return quote(str(value), safe="")

    text = _TEMPLATE_FIELD.sub(fill, template)
    return None if missing else text


def _value(spec: FieldSpec, element: Any, notes: list[str] | None = None) -> Any:
    """The value of one column: its template or first non-empty path, through its functions, else its default.

    A function that cannot read the value (it raises) drops it, and a contact function that finds no usable
    contact drops it too: either way the record's ``notes`` say so, and the record itself goes on.
    """
    value = None
    if spec.template is not None:
        value = _template(spec.template, element)
    for path in spec.paths:
        value = resolve(element, path)
        if value not in (None, "", [], {}):
            break
    for name, arg in spec.functions:
        if value is None:
            break
        before = value
        try:
            value = FUNCTIONS[name](value, arg)
        except UNREADABLE as exc:
            if notes is not None:
                notes.append(f"{spec.column} {shown(before)}: {name} cannot read it ({type(exc).__name__}): dropped")
            value = None
            break
        if (
            notes is not None
            and name in _CONTACT_FUNCTIONS
            and value in (None, "", [])
            and not isinstance(before, list)
            and clean_contact(before)
        ):
            notes.append(f"{spec.column} {shown(before)} is not a usable {name}: dropped")
    if value in (None, "", [], {}):
        value = spec.default
    return value


def _resolver(path: tuple[str, ...]) -> Callable[[Any], Any]:
    """:func:`resolve` for one path, with the path's shape worked out once: a plain key or a chain of keys
    is a few dictionary look-ups; a path through lists (``*``, an index) goes through :func:`resolve`."""
    if "*" in path or any(part.isdecimal() for part in path):
        return lambda element: resolve(element, path)
    if len(path) == 1:
        key = path[0]
        return lambda element: element.get(key) if isinstance(element, dict) else None
    joined = ".".join(path)

    def chain(element: Any) -> Any:
        if not isinstance(element, dict):
            return None
        if joined in element:  # a flat key with dots is tried first, as resolve does
            return element[joined]
        value: Any = element
        for part in path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return chain


ValueFunction = Callable[[Any, list[str] | None], Any]


def compile_value(spec: FieldSpec) -> ValueFunction:
    """:func:`_value` for one column, compiled: paths resolved into look-ups, functions selected, once."""
    resolvers = tuple(_resolver(path) for path in spec.paths)
    functions = tuple((name, FUNCTIONS[name], arg, name in _CONTACT_FUNCTIONS) for name, arg in spec.functions)
    template, default, column = spec.template, spec.default, spec.column

    def value_of(element: Any, notes: list[str] | None = None) -> Any:
        value = None
        if template is not None:
            value = _template(template, element)
        for resolver in resolvers:
            value = resolver(element)
            if value not in (None, "", [], {}):
                break
        for name, function, arg, contact in functions:
            if value is None:
                break
            before = value
            try:
                value = function(value, arg)
            except UNREADABLE as exc:
                if notes is not None:
                    notes.append(f"{column} {shown(before)}: {name} cannot read it ({type(exc).__name__}): dropped")
                value = None
                break
            if (
                contact
                and notes is not None
                and value in (None, "", [])
                and not isinstance(before, list)
                and clean_contact(before)
            ):
                notes.append(f"{column} {shown(before)} is not a usable {name}: dropped")
        if value in (None, "", [], {}):
            value = default
        return value

    return value_of


def parse_time(value: Any, zone: str | None) -> tuple[str | None, bool]:
    """(ISO 8601 string, all_day) of an event time; a naive time gets the event's ``zone``."""
    if value is None or value == "":
        return None, False
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat(), False
        except (OverflowError, OSError, ValueError):
            return None, False
    text = str(value).strip()
    if len(text) == 10:
        try:
            return date.fromisoformat(text).isoformat(), True
        except ValueError:
            return None, False
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone or "Europe/Paris"))
    return moment.isoformat(), False


def _coerce(column: str, value: Any, record: dict[str, Any]) -> Any:
    """The default cleaning of each canonical column."""
    if column in LIST_COLUMNS:
        items = value if isinstance(value, list) else [value]
        cleaned = [clean_text(item, multiline=False) for item in items if not isinstance(item, dict | list)]
        return list(dict.fromkeys(v for v in cleaned if v))
    if isinstance(value, list):
        value = next((v for v in value if v not in (None, "")), None)
    if isinstance(value, dict):
        value = _lang(value, None)
    if column in FLOAT_COLUMNS:
        return to_float(value)
    if column == "website" or column == "source_url":
        return normalise_url(value)
    if column == "email":
        return normalise_email(value)
    if column == "phone":
        return normalise_phone(value)
    if column in DATE_COLUMNS:
        return parse_date(_timestamp(value, None) if isinstance(value, int | float) else value, False)
    if column == "all_day":
        return bool(value) if value is not None else None
    if column in TIME_COLUMNS:
        return value
    return clean_text(value, multiline=column in MULTILINE_COLUMNS)


def _coerce_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    cleaned = [clean_text(item, multiline=False) for item in items if not isinstance(item, dict | list)]
    return list(dict.fromkeys(v for v in cleaned if v))


def _coerce_date(value: Any) -> str | None:
    return parse_date(_timestamp(value, None) if isinstance(value, int | float) else value, False)


def coercer(column: str) -> Callable[[Any], Any]:
    """:func:`_coerce` for one column, with the column's branch chosen once."""
    if column in LIST_COLUMNS:
        return _coerce_list
    op: Callable[[Any], Any]
    if column in FLOAT_COLUMNS:
        op = to_float
    elif column == "website" or column == "source_url":
        op = normalise_url
    elif column == "email":
        op = normalise_email
    elif column == "phone":
        op = normalise_phone
    elif column in DATE_COLUMNS:
        op = _coerce_date
    elif column == "all_day":
        op = lambda v: bool(v) if v is not None else None  # noqa: E731
    elif column in TIME_COLUMNS:
        op = lambda v: v  # noqa: E731
    else:
        multiline = column in MULTILINE_COLUMNS
        op = lambda v: clean_text(v, multiline=multiline)  # noqa: E731

    def coerce(value: Any) -> Any:
        if isinstance(value, list):
            value = next((v for v in value if v not in (None, "")), None)
        if isinstance(value, dict):
            value = _lang(value, None)
        return op(value)

    return coerce


#: what is said of a value that its column's coercion turned into None: a dropped contact, unreadable
#: coordinates, a date that is none
_DROPPED_CONTACT, _UNREADABLE_POINT, _NOT_A_DATE = 1, 2, 3


def _check_of(column: str) -> int:
    if column in ("website", "email", "phone"):
        return _DROPPED_CONTACT
    if column in ("lat", "lon"):
        return _UNREADABLE_POINT
    if column in DATE_COLUMNS:
        return _NOT_A_DATE
    return 0


@dataclass(frozen=True)
class CompiledMapping:
    """A mapping compiled once per run into one step per canonical column (issue 26): the selected value
    function of the column's spec, its default, its coercion and what to note when that drops the value,
    so that a record is a loop over steps, with nothing left to look up or interpret."""

    spec: MappingSpec
    events: bool
    columns: tuple[str, ...]
    steps: tuple[tuple[str, ValueFunction | None, bool, Any, Callable[[Any], Any], int], ...]


def compile_mapping(spec: MappingSpec) -> CompiledMapping:
    events = spec.kind == "events"
    columns = EVENT_COLUMNS if events else INITIATIVE_COLUMNS
    steps = []
    for column in columns:
        if column in ENGINE_COLUMNS:
            continue
        field_spec = spec.fields.get(column)
        steps.append(
            (
                column,
                compile_value(field_spec) if field_spec else None,
                column in spec.defaults,
                spec.defaults.get(column),
                coercer(column),
                _check_of(column),
            )
        )
    return CompiledMapping(spec, events, columns, tuple(steps))


#: the compiled mappings of the last specs seen, by identity (a run applies one spec to all its records)
_COMPILED: dict[int, CompiledMapping] = {}
#: the case- and accent-blind forms of the last crosswalks seen, by identity
_FOLDED: dict[int, tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]] = {}


def compiled(spec: MappingSpec) -> CompiledMapping:
    """The spec's compiled mapping, compiled on first use (and again only for another spec)."""
    done = _COMPILED.get(id(spec))
    if done is None or done.spec is not spec:
        if len(_COMPILED) >= 16:
            _COMPILED.pop(next(iter(_COMPILED)))
        done = _COMPILED[id(spec)] = compile_mapping(spec)
    return done


def _folded(categories: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    done = _FOLDED.get(id(categories))
    if done is None or done[0] is not categories:
        if len(_FOLDED) >= 16:
            _FOLDED.pop(next(iter(_FOLDED)))
        done = _FOLDED[id(categories)] = (categories, {ascii_fold(k): v for k, v in categories.items()})
    return done[1]


def crosswalk(labels: list[str], categories: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """(concept notations, unmapped labels); labels compare exactly first, then case- and accent-blind."""
    folded = _folded(categories)
    concepts: list[str] = []
    unmapped: list[str] = []
    for label in labels:
        mapped = categories.get(label) or folded.get(ascii_fold(label))
        if mapped:
            concepts.extend(mapped)
        else:
            unmapped.append(label)
    return list(dict.fromkeys(concepts)), unmapped


def apply_mapping(
    element: Any,
    index: int,
    source_id: str,
    spec: MappingSpec,
    categories: dict[str, tuple[str, ...]],
    licence: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One canonical record (initiative or event, by ``spec.kind``) from one source record."""
    if not isinstance(element, dict):
        raise RecordRejected(f"record is a JSON {type(element).__name__}, not an object")
    plan = compiled(spec)
    events = plan.events
    record = empty_record(plan.columns)
    notes: list[str] = record["notes"]
    record["source"] = source_id
    record["record_index"] = index
    raw_values: dict[str, Any] = {}
    for column, value_of, has_default, default, coerce, check in plan.steps:
        value = value_of(element, notes) if value_of is not None else None
        if has_default and value in (None, "", []):
            value = default
        raw_values[column] = value
        if value is None:
            continue
        try:
            coerced = record[column] = coerce(value)
        except UNREADABLE as exc:  # one value the bus cannot read never fails the record, nor the run
            record[column] = [] if column in LIST_COLUMNS else None
            raw_values[column] = None
            notes.append(f"{column} {shown(value)} cannot be read ({type(exc).__name__}): dropped")
            continue
        if coerced is not None or not check:
            continue
        if check == _DROPPED_CONTACT:
            if clean_contact(value):
                notes.append(f"{column} {shown(value)} is not a usable {column}: dropped")
        elif check == _UNREADABLE_POINT:
            record["unparsed"].append(f"{column}={shown(value)}")
            notes.append(f"unreadable {column} {shown(value)}")
        else:
            record["unparsed"].append(f"{column}={shown(value)}")
            notes.append(f"{column} {shown(value)} is not a date")

    source_id_value = record.get("source_id")
    if source_id_value is None:
        raise RecordRejected("record has no id, so it cannot be tracked across runs")
    if not record.get("licence"):
        record["licence"] = licence
    record["concepts"], record["unmapped_categories"] = crosswalk(record["categories"], categories)
    # swapped coordinates are fixed by the normalise stage over the whole batch, with France's outlines
    # (transiscope.ingest.france.fix_swapped)
    if events:
        _event_times(record, raw_values, notes, now or datetime.now(UTC))
    return record


def _event_times(record: dict[str, Any], raw: dict[str, Any], notes: list[str], now: datetime) -> None:
    zone = record.get("timezone") or "Europe/Paris"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a "zone" too long for a file name
        notes.append(f"unknown time zone {shown(zone)}: Europe/Paris assumed")
        zone = "Europe/Paris"
    record["timezone"] = zone
    all_day = bool(record.get("all_day"))
    for column in ("start", "end"):
        value, is_day = parse_time(raw.get(column), zone)
        if raw.get(column) not in (None, "") and value is None:
            record["unparsed"].append(f"{column}={shown(raw[column])}")
            notes.append(f"{column} {shown(raw[column])} is not a date-time")
        record[column] = value
        all_day = all_day or (column == "start" and is_day)
    record["all_day"] = all_day
    if all_day:  # both ends dates, as the shapes require for an all-day event
        for column in ("start", "end"):
            if record[column] and len(record[column]) > 10:
                record[column] = record[column][:10]
    status = (record.get("status") or "scheduled").lower()
    record["status"] = "cancelled" if status in ("cancelled", "canceled", "annulé", "annule", "6") else status
    if record["status"] not in ("cancelled", "postponed", "rescheduled", "moved-online"):
        record["status"] = "scheduled"
    record["past"] = is_past(record, now)
    if record["past"]:
        notes.append("past event: kept as history")


def is_past(record: dict[str, Any], now: datetime) -> bool | None:
    """Whether the event ended before ``now`` (an all-day event ends at the end of its last day)."""
    value = record.get("end") or record.get("start")
    if not value:
        return None
    if len(value) == 10:
        return date.fromisoformat(value) + timedelta(days=1) <= now.astimezone(UTC).date()
    return datetime.fromisoformat(value) < now


# -- what declarative connectors share -------------------------------------------------------------
def normalise(element: Any, index: int, source: Any, mapping: Any) -> dict[str, Any]:
    """The ``normalise`` of every declarative connector: the source's compiled mapping, applied."""
    return apply_mapping(element, index, source.id, mapping.spec, mapping.categories, source.licence)


def element_id(element: Any, mapping: Any) -> Any:
    """The source id of a raw record as the mapping reads it (for quarantine entries of rejected records)."""
    spec = mapping.spec.fields.get("source_id")
    if spec is None or not isinstance(element, dict):
        return None
    value = _value(spec, element)
    return None if value in (None, "", [], {}) else value


def required_fields(mapping: Any) -> tuple[str, ...]:
    """Top-level source fields holding the id and the name: absent from every record = schema drift."""
    spec: MappingSpec = mapping.spec
    out = []
    for column in ("source_id", "name"):
        field_spec = spec.fields.get(column)
        if field_spec and field_spec.paths and field_spec.template is None and field_spec.default is None:
            out.append(field_spec.paths[0][0])
    return tuple(dict.fromkeys(out))
