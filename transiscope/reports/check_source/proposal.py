"""The mapping file proposed for a source: its data and its TOML text, commented for review.

Why: adding a source should be the review of a file, not writing one from scratch; the proposal is written in
the format of ``transforms/mappings/`` with, beside each choice, the evidence for it (coverage, an example), the
columns no field looked like, and the draft crosswalk, so that a reviewer sees what to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from transiscope.core.errors import MalformedPayload
from transiscope.reports.check_source.columns import GOGOCARTO_FIELDS, WRITE_ORDER
from transiscope.reports.check_source.crosswalk import EXACT_RATIO, LabelMatch
from transiscope.reports.check_source.detection import Detection
from transiscope.reports.check_source.profiling import (
    DMY,
    PROFILE_LIMIT,
    FieldProfile,
    choose_fields,
    field_spec,
    name_score,
    plausibility,
)
from transiscope.reports.check_source.text import example_text, pct, toml_value


@dataclass
class Proposal:
    data: dict[str, Any]
    text: str
    #: column -> (the field chosen, its coverage) for the report
    chosen: dict[str, tuple[str, float]]
    matches: list[LabelMatch]


def _default_paths(spec: Any) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, list):
        return [p for p in spec if isinstance(p, str)]
    if isinstance(spec, dict):
        paths = spec.get("path") or []
        return [paths] if isinstance(paths, str) else list(paths)
    return []


def _coverage_of(paths: list[str], elements: list[Any]) -> float:
    from transiscope.ingest.mapping import parse_path, resolve

    objects = [e for e in elements[:PROFILE_LIMIT] if isinstance(e, dict)]
    parsed = [p for p in (parse_path(path) for path in paths) if p]
    if not objects or not parsed:
        return 0.0
    return sum(1 for e in objects if any(resolve(e, p) not in (None, "", [], {}) for p in parsed)) / len(objects)


def build_proposal(
    name: str,
    origin: str,
    detection: Detection,
    elements: list[Any],
    profiles: list[FieldProfile],
    total: int,
    matches: list[LabelMatch] | None = None,
) -> Proposal:
    """The mapping file proposed for the source: TOML text with comments, and its data."""
    from transiscope.ingest.formats import MODULES, connector
    from transiscope.ingest.formats.base import DeclarativeConnector

    fmt = detection.format
    module = connector(fmt)
    data: dict[str, Any] = {"format": fmt}
    chosen_report: dict[str, tuple[str, float]] = {}
    field_lines: list[str] = []
    if fmt == "gogocarto":
        shape = _gogocarto_shape(elements)
        data["shape"] = shape
        top = {p.path: p for p in profiles}
        fields: dict[str, list[str]] = {}
        for column, names in GOGOCARTO_FIELDS.items():
            present = [n for n in names if n in top]
            extra = [
                p.path
                for p in profiles
                if "." not in p.path
                and p.path not in names
                and p.path not in _gogocarto_known()
                and name_score(p.path, column) >= 2
                and plausibility(column, p.values, total) >= 0.5
            ]
            fields[column] = list(dict.fromkeys([names[0], *present, *extra])) if present or extra else list(names[:2])
            chosen_report[column] = (" / ".join(fields[column]), _coverage_of(fields[column], elements))
            shares = ", ".join(f"{n} ({pct(_coverage_of([n], elements))})" for n in fields[column])
            field_lines.append(f"# {column}: {shares}")
            field_lines.append(f"{column} = {toml_value(fields[column])}")
        data["fields"] = fields
        for column, path in (
            ("source_id", "id"),
            ("name", "name"),
            ("position", "geo"),
            ("street", "address.streetAddress"),
            ("postcode", "address.postalCode"),
            ("city", "address.addressLocality"),
            ("categories", "categoriesFull"),
            ("updated_at", "updatedAt"),
        ):
            chosen_report[column] = (path, _coverage_of([path], elements))
    else:
        kind = detection.kind
        data["kind"] = kind
        options = {k: v for k, v in detection.options.items() if k not in ("encoding", "delimiter") or fmt == "csv"}
        if options:
            data["options"] = options
        defaults = cast(DeclarativeConnector, module).default_fields(kind)  # GoGoCarto is handled above
        fields_out: dict[str, Any] = {}
        if fmt in ("csv", "geojson", "jsonapi"):
            skip = frozenset({"id"}) if fmt == "geojson" and not any(p.path == "id" for p in profiles) else frozenset()
            picked = choose_fields(profiles, total, kind, skip)
            for column in WRITE_ORDER:
                if column not in picked:
                    continue
                if fmt == "geojson" and column in ("lat", "lon"):
                    continue  # the connector's point of the geometry
                fields_out[column] = field_spec(column, picked[column])
                chosen_report[column] = (picked[column].path, picked[column].coverage(total))
                field_lines.append(
                    f"# {picked[column].path}: {pct(picked[column].coverage(total))} of records, "
                    f"e.g. {example_text(picked[column].example)}"
                )
                field_lines.append(f"{column} = {toml_value(fields_out[column])}")
            missing = [
                c
                for c in ("source_id", "name", "lat", "lon", "categories", "updated_at", "street", "postcode", "city")
                if c not in fields_out and not (fmt == "geojson" and c in ("lat", "lon"))
            ]
            if kind == "events":
                missing = [c for c in ("start", *missing) if c not in fields_out]
            for column in missing:
                field_lines.append(
                    f"# {column} = ?   no field of the source looked like it: {_WHY_MISSING.get(column, '')}"
                )
            if "source_id" not in fields_out:
                raise MalformedPayload(
                    f"{origin}: no field can serve as the records' id (none is filled in every "
                    "record with unique values): the bus cannot track records across runs"
                )
            if "name" not in fields_out:
                raise MalformedPayload(f"{origin}: no field looks like the records' name")
            if "country" not in fields_out:
                data["defaults"] = {"country": "FR"}
        elif fmt == "murmurations":
            # the index's node_id is stable whichever host serves the profile, unlike the profile's URL
            fields_out["source_id"] = ["index.node_id", "profile_url"]
            field_lines.append("# the index's node_id is stable whichever host serves the profile; profile_url is not")
            field_lines.append(f"source_id = {toml_value(fields_out['source_id'])}")
        if fmt not in ("csv",):
            module_file = MODULES[fmt]
            field_lines.insert(
                0,
                f"# the connector's default fields apply (transiscope/ingest/formats/{module_file}.py); "
                "listed here only what differs",
            )
            for column, spec in defaults.items():
                if column in fields_out:
                    continue
                paths = _default_paths(spec)
                if paths:
                    chosen_report[column] = (" / ".join(paths), _coverage_of(paths, elements))
        if fields_out:
            data["fields"] = fields_out
        for column, spec in fields_out.items():
            chosen_report[column] = (" / ".join(_default_paths(spec)), _coverage_of(_default_paths(spec), elements))
    matches = matches or []
    crosswalk = {m.label: m.proposed for m in matches if m.confident}
    if crosswalk:
        data["categories"] = crosswalk
    text = _render(name, origin, detection, data, field_lines, profiles, total, matches)
    return Proposal(data, text, chosen_report, matches)


_WHY_MISSING = {
    "source_id": "every record needs a stable id",
    "name": "every record needs a name",
    "lat": "a point places the initiative on the map (or an address the bus can geocode)",
    "lon": "a point places the initiative on the map (or an address the bus can geocode)",
    "categories": "categories are how the map filters initiatives",
    "updated_at": "an update date tells readers the record is alive",
    "street": "an address lets the bus place and check the point",
    "postcode": "a postcode lets the bus check the point",
    "city": "a commune lets the bus check the point",
    "start": "an event needs a start date",
}


def _gogocarto_known() -> frozenset[str]:
    from transiscope.ingest.formats import gogocarto

    return gogocarto.KNOWN_FIELDS


def _gogocarto_shape(elements: list[Any]) -> str:
    """``2018`` when categories are option ids or dates are d/m/Y, else ``2021``."""
    for element in elements[:200]:
        if not isinstance(element, dict):
            continue
        if any(isinstance(c, int) for c in element.get("categories") or ()):
            return "2018"
        if any(isinstance(element.get(k), str) and DMY.match(element[k]) for k in ("createdAt", "updatedAt")):
            return "2018"
    return "2021"


def _render(
    name: str,
    origin: str,
    detection: Detection,
    data: dict[str, Any],
    field_lines: list[str],
    profiles: list[FieldProfile],
    total: int,
    matches: list[LabelMatch],
) -> str:
    today = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Mapping proposed by `transiscope check-source` on {today} for {origin}",
        "# A draft to review (fields, value functions, crosswalk), not a final mapping.",
        "# See docs/guide-sources.fr.md (français) or docs/guide-sources.en.md (English).",
        f"# Detected: {'; '.join(detection.how)}; {total} records read.",
        "#",
        "# Fields found in the records (share of records with a value; an example):",
    ]
    for entry in sorted(profiles, key=lambda p: -p.count)[:40]:
        lines.append(f"#   {entry.path[:38]:<38} {pct(entry.coverage(total)):>5}  {example_text(entry.example)}")
    if len(profiles) > 40:
        lines.append(f"#   … and {len(profiles) - 40} more")
    lines += ["", f"format = {toml_value(data['format'])}"]
    for key in ("kind", "shape"):
        if key in data:
            lines.append(f"{key} = {toml_value(data[key])}")
    if "options" in data:
        lines += ["", "[options]"] + [f"{k} = {toml_value(v)}" for k, v in data["options"].items()]
    if field_lines:
        lines += ["", '# canonical column = path in a source record (dotted, "*" for each item of a list)', "[fields]"]
        lines += field_lines
    if "defaults" in data:
        lines += ["", "# the bus lists initiatives in France: remove if the source is international", "[defaults]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in data["defaults"].items()]
    if matches:
        lines += [
            "",
            "# Crosswalk draft: the source's category label -> taxonomy notations (ontology/taxonomy.ttl).",
            "# Active lines: the same label in another source's crosswalk, or a label that is (nearly, "
            f"{EXACT_RATIO}+ of 100)",
            "# a concept's label once case and accents are set aside. The other candidates are commented",
            "# `# suggestion:` lines for a person to decide (remove the `# suggestion: ` to accept one).",
            "# An unmapped label is kept as the source's label; its records get no taxonomy category.",
            "[categories]",
        ]
        for match in matches:
            others = "; ".join(f"{n} {s} ({why})" for n, s, why in match.candidates)
            if match.confident:
                lines.append(
                    f"{toml_value(match.label)} = {toml_value(match.proposed)}  # {match.records} record(s); {others}"
                )
            elif match.candidates:
                lines.append(
                    f"# suggestion: {toml_value(match.label)} = {toml_value(match.proposed)}"
                    f"  # {match.records} record(s), not sure: {others}"
                )
            else:
                lines.append(f"# {toml_value(match.label)} = []  # {match.records} record(s), no close concept")
    return "\n".join(lines) + "\n"
