"""The short report ``transiscope check-source`` prints.

Why apart from the findings: the findings are data the tests assert on; this is only their wording for a
terminal, which changes without changing what a check finds.
"""

from __future__ import annotations

from transiscope.reports.check_source.findings import CheckResult
from transiscope.reports.check_source.text import pct


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
