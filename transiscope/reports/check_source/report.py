"""The report ``transiscope check-source`` prints: a short text for a terminal, or one JSON document.

Why apart from the findings: the findings are data the tests assert on; the text is only their wording for a
terminal, which changes without changing what a check finds. The JSON document (:func:`report_document`,
``check-source --json``) is a contract for scripts and the web self-check, versioned by ``schema_version``:
keys are only ever added within a version.

``schema_version`` 1 — every key is always present:

- ``schema_version`` (1), ``ok`` (true when the source could be read and checked), ``error`` (null, or the one
  line saying why the source could not be read: then the lists are empty and ``format`` may be null);
- ``origin`` (the URL or file checked), ``format`` (the connector: gogocarto, kvm, openagenda, ical, csv, geojson,
  jsonapi, murmurations), ``kind`` (initiatives or events), ``how`` (how the format was recognised), ``licence``
  (SPDX id, NOASSERTION when none was given), ``mapping`` (where the proposed mapping was written);
- ``records`` (records read), ``loaded`` and ``quarantined`` (counts; ``records = loaded + quarantined``);
- ``would_load``: one object per record that would load, in payload order: ``id`` (the source's id), ``name``,
  ``categories`` (taxonomy concept IRIs, ``https://w3id.org/transiscope/taxonomy/<notation>``), ``country``
  (the record's country as the bus normalises it: an ISO 3166-1 alpha-2 code, or null);
- ``would_quarantine``: one object per record set aside: ``id`` (null when the record has none), ``name``,
  ``stage`` (normalise, validate or shapes) and ``reasons`` (the sentences the quarantine holds);
- ``verdict`` (null, or why the bus would reject the whole batch), ``warnings`` and ``notes`` (``{"count",
  "reason"}``: loaded but worth a look; fixed or dropped while reading), ``fix_first`` (the advice, most
  important first, in English) and ``fix_first_fr`` (the same advice in French, line for line: same order and
  length; added within version 1, so a script reading ``fix_first`` sees no change).

The command's exit status: 0 when records would load and the batch would be accepted, 1 when the batch would be
rejected or nothing would load, 2 when the source could not be read (the document then has ``ok`` false).
"""

from __future__ import annotations

import re
from typing import Any

from transiscope.core.vocab import concept_iri
from transiscope.reports.check_source.findings import CheckResult
from transiscope.reports.check_source.text import pct

#: the version of the JSON document's contract (:func:`report_document`)
SCHEMA_VERSION = 1
_ALPHA2 = re.compile(r"^[A-Z]{2}$")


def _country(value: Any) -> str | None:
    return value if isinstance(value, str) and _ALPHA2.match(value) else None


def report_document(result: CheckResult) -> dict[str, Any]:
    """The check as the JSON document of ``check-source --json`` (schema_version 1, see the module's text)."""
    d = result.detection
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": True,
        "error": None,
        "origin": result.origin,
        "format": d.format,
        "kind": d.kind,
        "how": list(d.how),
        "licence": result.licence,
        "mapping": str(result.mapping_path),
        "records": result.counts["fetched"],
        "loaded": result.counts["loaded"],
        "quarantined": result.counts["quarantined"],
        "would_load": [
            {
                "id": r.get("source_id"),
                "name": r.get("name"),
                "categories": [concept_iri(n) for n in r.get("concepts") or ()],
                "country": _country(r.get("country")),
            }
            for r in result.loaded_records
        ],
        "would_quarantine": [dict(q) for q in result.quarantined_records],
        "verdict": result.verdict,
        "warnings": [{"count": n, "reason": r} for n, r in result.warnings],
        "notes": [{"count": n, "reason": r} for n, r in result.notes],
        "fix_first": list(result.fix_first),
        "fix_first_fr": list(result.fix_first_fr),
    }


def error_document(origin: str, message: str) -> dict[str, Any]:
    """The JSON document of a check that could not read its source: the same keys, ``ok`` false, empty lists."""
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": False,
        "error": message,
        "origin": origin,
        "format": None,
        "kind": None,
        "how": [],
        "licence": None,
        "mapping": None,
        "records": 0,
        "loaded": 0,
        "quarantined": 0,
        "would_load": [],
        "would_quarantine": [],
        "verdict": None,
        "warnings": [],
        "notes": [],
        "fix_first": [],
        "fix_first_fr": [],
    }


def format_report(result: CheckResult) -> str:
    """The short report printed by ``transiscope check-source``."""
    d = result.detection
    shape = f" (shape {result.proposal.data['shape']})" if "shape" in result.proposal.data else ""
    lines = [
        f"check-source: {result.origin}",
        f"  format   {d.format}{shape} - {'; '.join(d.how)}",
        f"  kind     {d.kind}   records {result.counts['fetched']}   licence {result.licence}",
        f"  mapping  {result.mapping_path} (proposed; valid against the mapping schema)",
        "",
        "fields chosen (source field, share of records with a value):",
    ]
    for column, (path, share) in result.proposal.chosen.items():
        lines.append(f"  {column:<14} {path[:44]:<44} {pct(share):>5}")
    matches = result.proposal.matches
    if matches:
        confident = sum(1 for m in matches if m.confident)
        left = [m.label for m in matches if not m.confident]
        lines.append(
            f"categories: {len(matches)} label(s), {confident} mapped in the draft crosswalk"
            + (f", {len(left)} left for review: {', '.join(left[:8])}" if left else "")
        )
    lines += [
        "",
        f"would load        {result.counts['loaded']} of {result.counts['fetched']} records",
        f"would quarantine  {result.counts['quarantined']}",
    ]
    lines += [f"  {n:>4}  {r}" for n, r in result.quarantine]
    if result.verdict:
        lines.append(f"batch: {result.verdict}")
    if result.warnings:
        lines.append("warnings (loaded, but worth a look):")
        lines += [f"  {n:>4}  {r}" for n, r in result.warnings]
    if result.notes:
        lines.append("fixed or dropped by the bus while reading:")
        lines += [f"  {n:>4}  {r}" for n, r in result.notes]
    if result.geocode:
        lines.append(f"positions: {result.geocode}")
    for line in result.extra:
        lines.append(f"source: {line}")
    if result.fix_first:
        lines += ["", "fix first:"] + [f"  {i}. {line}" for i, line in enumerate(result.fix_first, 1)]
    return "\n".join(lines)
