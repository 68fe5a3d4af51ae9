"""The maintainers' kit: the problems met most across the sources this month, in plain words, with a real example.

Why a page of its own: a source's report says what is wrong with that source; the people who train and
accompany the sources (and the maintainers themselves) need to know which problems are common, so the
training and the guide start with them. The page is built from the sources' quality reports — the same
reading of each latest run's quarantine, warnings and validation summary — never from the run files again,
so the kit and the reports can never disagree on a count.

"This month" is the latest processed run of each source, when it started in the last ``WINDOW_DAYS`` days:
a source not read for longer says nothing about today's problems. A problem is ranked by the records it
touched across those runs, then by the number of sources.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from transiscope.reports.check_source.findings import advice_for
from transiscope.reports.check_source.text import kind_of
from transiscope.reports.labels import FIELD_LABELS, POINT_FLAG_LABELS, field_label
from transiscope.reports.templating import template_environment

WINDOW_DAYS = 30
TOP = 5

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Les problèmes les plus fréquents",
        "intro": "Les {n} problèmes qui ont touché le plus de fiches dans les dernières lectures des sources "
        "(lectures des {days} derniers jours : {sources} sources). Chacun dit ce qui ne va pas, quoi faire, "
        "et donne un exemple réel.",
        "fewer": "Seulement {n} sortes de problèmes ont été trouvées : les voici toutes.",
        "nothing_read": "Aucune source n'a été lue ces {days} derniers jours : il n'y a pas encore de problème "
        "à résumer. La page se remplit après les prochaines lectures.",
        "nothing_found": "Aucun problème dans les dernières lectures des {sources} sources lues ces {days} "
        "derniers jours.",
        "rule": "Règle non respectée",
        "todo": "Quoi faire",
        "touched": "{records} fiches dans {sources} sources",
        "touched_one": "{records} fiches dans 1 source",
        "blocking": "bloquant : la fiche est mise de côté",
        "warning": "avertissement : la fiche est chargée, mais signalée",
        "example": "Exemple",
        "in_source": "dans la source",
        "field": "champ",
        "page_link": "voir la fiche à la source",
        "reports": "Rapports de qualité des sources",
        "other_lang": "English version",
        "generated": "Page générée le",
        "colon": " :",
        "open": "« ",
        "close": " »",
    },
    "en": {
        "title": "The most common problems",
        "intro": "The {n} problems that touched the most records in the sources' latest reads (reads of the "
        "last {days} days: {sources} sources). Each says what is wrong, what to do, and gives a real example.",
        "fewer": "Only {n} kinds of problem were found: here they all are.",
        "nothing_read": "No source was read in the last {days} days: there is no problem to sum up yet. The page "
        "fills in after the next reads.",
        "nothing_found": "No problem in the latest reads of the {sources} sources read in the last {days} days.",
        "rule": "Rule not met",
        "todo": "What to do",
        "touched": "{records} records in {sources} sources",
        "touched_one": "{records} records in 1 source",
        "blocking": "blocking: the record is set aside",
        "warning": "warning: the record is loaded, but flagged",
        "example": "Example",
        "in_source": "in the source",
        "field": "field",
        "page_link": "see the record at the source",
        "reports": "Quality reports of the sources",
        "other_lang": "Version française",
        "generated": "Page generated on",
        "colon": ":",
        "open": "“",
        "close": "”",
    },
}


def _started(report: dict[str, Any]) -> datetime | None:
    value = (report.get("run") or {}).get("started")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _example(source_id: str, example: dict[str, Any]) -> dict[str, Any]:
    """One record as the page shows it (its values stay data: the template escapes them)."""
    return {
        "source": source_id,
        "source_id": example.get("source_id"),
        "name": example.get("name"),
        "reason": example.get("reason"),
        "reason_fr": example.get("reason_fr") or example.get("reason"),
        **({"page": example["page"]} if example.get("page") else {}),
    }


def problems_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems one source's report found, each with its key across sources, its words and its records:
    the records set aside before the checks, the failing checks (blocking or warning), the flagged points."""
    source = report["source"]["id"]
    found: list[dict[str, Any]] = []
    for group in report.get("rejected_at_normalise") or ():
        examples = group.get("examples") or []
        french = next((e["reason_fr"] for e in examples if e.get("reason_fr")), None)
        found.append(
            {
                "key": f"set-aside:{group['kind']}",
                "severity": "critical",
                "what_en": group["kind"],
                "what_fr": kind_of(french) if french else group["kind"],
                "column": None,
                "records": group["count"],
                "example": _example(source, examples[0]) if examples else None,
                "match": group["kind"],
            }
        )
    for check in report.get("expectations") or ():
        examples = check.get("examples") or []
        english = check.get("description") or check.get("type") or ""
        found.append(
            {
                "key": f"check:{check.get('type')}:{check.get('column')}:{english}",
                "severity": "critical" if check.get("severity") == "critical" else "warning",
                "what_en": english,
                "what_fr": check.get("description_fr") or english,
                "column": check.get("column"),
                "records": check["failed"],
                "example": _example(source, examples[0]) if examples else None,
                "match": english,
            }
        )
    for flag in (report.get("positions") or {}).get("flags") or ():
        examples = flag.get("examples") or []
        code = flag["code"]
        found.append(
            {
                "key": f"point:{code}",
                "severity": "warning",
                "what_en": POINT_FLAG_LABELS["en"].get(code, code),
                "what_fr": POINT_FLAG_LABELS["fr"].get(code, code),
                "column": "position",
                "records": flag["count"],
                "example": _example(source, examples[0]) if examples else None,
                "match": examples[0]["reason"] if examples else code,
            }
        )
    return [problem for problem in found if problem["records"] > 0]


#: advice of the kit's own where check-source's speaks of its proposed mapping (a maintainer of a source already
#: read by the bus has none): (word of the reason, English, French)
KIT_ADVICE: tuple[tuple[str, str, str], ...] = (
    (
        "crosswalk",
        "tell the Transiscope team which category of the map each new label matches (or use a label the map "
        "already knows): until then the record is shown without that category",
        "dites à l'équipe de Transiscope à quelle catégorie de la carte correspond chaque nouveau libellé (ou "
        "utilisez un libellé que la carte connaît déjà) : d'ici là, la fiche est montrée sans cette catégorie",
    ),
)


def _advice(reason: str) -> tuple[str, str] | None:
    own = next(((en, fr) for word, en, fr in KIT_ADVICE if word in reason.lower()), None)
    return own or advice_for(reason)


def build_kit(reports: list[dict[str, Any]], *, now: datetime | None = None) -> dict[str, Any]:
    """The kit's document: the ``TOP`` problems of the sources read in the last ``WINDOW_DAYS`` days, with
    how many sources and records each touched and one example (from the source where it touched most)."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=WINDOW_DAYS)
    read = [r for r in reports if (started := _started(r)) is not None and since <= started <= now]
    merged: dict[str, dict[str, Any]] = {}
    for report in sorted(read, key=lambda r: r["source"]["id"]):
        for problem in problems_of(report):
            entry = merged.get(problem["key"])
            if entry is None:
                entry = merged[problem["key"]] = {**problem, "records": 0, "sources": [], "_most": -1}
            entry["records"] += problem["records"]
            entry["sources"].append(report["source"]["id"])
            if problem["example"] and problem["records"] > entry["_most"]:
                entry["example"], entry["_most"] = problem["example"], problem["records"]
    ranked = sorted(merged.values(), key=lambda p: (-p["records"], -len(p["sources"]), p["key"]))
    problems = []
    for problem in ranked[:TOP]:
        advice = _advice(problem["match"])
        problems.append(
            {
                "key": problem["key"],
                "severity": problem["severity"],
                "what": {"fr": problem["what_fr"], "en": problem["what_en"]},
                "todo": {"fr": advice[1], "en": advice[0]} if advice else None,
                "field": (
                    {"fr": field_label(problem["column"], "fr"), "en": field_label(problem["column"], "en")}
                    if problem["column"] in FIELD_LABELS  # a column only the bus computes has no words: none shown
                    else None
                ),
                "records": problem["records"],
                "sources": sorted(problem["sources"]),
                "example": problem["example"],
            }
        )
    return {
        "generated": now.isoformat(timespec="seconds"),
        "window_days": WINDOW_DAYS,
        "since": since.isoformat(timespec="seconds"),
        "sources_read": sorted(r["source"]["id"] for r in read),
        "problems_found": len(ranked),
        "problems": problems,
    }


def render_kit(kit: dict[str, Any], lang: str) -> str:
    other = "en" if lang == "fr" else "fr"
    return (
        template_environment().get_template("kit.html.j2").render(k=kit, t=TEXT[lang], lang=lang, other=other, top=TOP)
    )


def write_kit(reports: list[dict[str, Any]], out_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Write ``kit.json``, ``kit.fr.html`` and ``kit.en.html`` beside the reports; returns the document."""
    kit = build_kit(reports, now=now)
    (out_dir / "kit.json").write_text(json.dumps(kit, indent=2, ensure_ascii=False), encoding="utf-8")
    for lang in TEXT:
        (out_dir / f"kit.{lang}.html").write_text(render_kit(kit, lang), encoding="utf-8")
    return kit
