"""What a check found in the run of the bus's stages, and what the source's maintainers should fix first.

Why: the files of a run (records, quarantine, validation) say what would happen record by record; a source's
maintainers need it counted by kind of problem, the batch's verdict (rejected as a whole?), and advice in their
words, the blocking problems first.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transiscope.core.files import read_jsonl
from transiscope.reports.check_source.detection import Detection
from transiscope.reports.check_source.proposal import Proposal
from transiscope.reports.check_source.text import kind_of
from transiscope.settings import Settings

#: the licence of a source that does not say (SPDX's word for "not stated")
NO_LICENCE = "NOASSERTION"


@dataclass
class CheckResult:
    name: str
    origin: str
    detection: Detection
    proposal: Proposal
    mapping_path: Path
    total: int
    counts: dict[str, int]
    quarantine: list[tuple[int, str]]
    warnings: list[tuple[int, str]]
    notes: list[tuple[int, str]]
    verdict: str | None
    fix_first: list[str]
    licence: str
    geocode: str = ""
    extra: list[str] = field(default_factory=list)
    #: the French of ``extra`` and ``fix_first``, line for line (same order, same length)
    extra_fr: list[str] = field(default_factory=list)
    fix_first_fr: list[str] = field(default_factory=list)
    #: the French of a reason, warning or note (by its English kind, as counted), when the bus wrote one
    french: dict[str, str] = field(default_factory=dict)
    #: the canonical records that would load, and the quarantine entries (id, name, stage, reasons), record by
    #: record: what ``check-source --json`` lists (the run's files are gone when the check ends)
    loaded_records: list[dict[str, Any]] = field(default_factory=list)
    quarantined_records: list[dict[str, Any]] = field(default_factory=list)


def result_of_run(
    name: str,
    origin: str,
    detection: Detection,
    proposal: Proposal,
    out: Path,
    run_dir: Path,
    total: int,
    verdict: str | None,
    licence: str,
    settings: Settings,
) -> CheckResult:
    from transiscope.ingest.geocode import checks as geochecks
    from transiscope.runs import read_run

    run = read_run(run_dir)
    records = read_jsonl(run_dir / "records.jsonl")
    quarantine = read_jsonl(run_dir / "quarantine.jsonl")
    fetched = (run["stages"].get("normalise") or {}).get("fetched", total)
    validation = (
        json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
        if (run_dir / "validation.json").exists()
        else {"expectations": []}
    )
    by_reason: Counter[str] = Counter()
    french: dict[str, str] = {}
    for entry in quarantine:
        if entry["stage"] != "validate":
            by_reason.update(kind_of(reason) for reason in entry["reasons"])
            for reason, reason_fr in zip(entry["reasons"], entry.get("reasons_fr") or (), strict=False):
                if reason_fr:
                    french.setdefault(kind_of(reason), kind_of(reason_fr))
    warnings: Counter[str] = Counter()
    for expectation in validation["expectations"]:
        if expectation.get("failed"):
            text = expectation.get("description") or expectation.get("type")
            (by_reason if expectation["severity"] == "critical" else warnings)[text] += expectation["failed"]
            if expectation.get("description_fr"):
                french.setdefault(text, expectation["description_fr"])
    quarantined_at = {e["record_index"] for e in quarantine}
    flags: Counter[str] = Counter()
    for record in records:
        for flag in record.get("geo_flags") or ():
            if flag.get("code") in geochecks.TEXTS and record["record_index"] not in quarantined_at:
                flags[kind_of(geochecks.reason(flag))] += 1
                french.setdefault(kind_of(geochecks.reason(flag)), kind_of(geochecks.reason(flag, "fr")))
    warnings.update(flags)
    notes = Counter(
        kind_of(note)
        for r in records
        for note in r.get("notes") or ()
        if not note.startswith("placed ") and "geocod" not in note
    )
    counts = {"fetched": fetched, "quarantined": len(quarantine), "loaded": fetched - len(quarantine)}
    if verdict is None and fetched:
        share = len(quarantine) / fetched
        if counts["loaded"] == 0:
            verdict = f"all {fetched} records would be quarantined: the bus would reject the batch"
            french[verdict] = f"les {fetched} fiches seraient mises de côté : le bus refuserait le lot"
        elif share > settings.max_quarantine_share:
            verdict = (
                f"{share:.0%} of the records would be quarantined, more than the "
                f"{settings.max_quarantine_share:.0%} the bus accepts: it would reject the whole batch"
            )
            french[verdict] = (
                f"{share:.0%} des fiches seraient mises de côté, plus que les {settings.max_quarantine_share:.0%} "
                "que le bus accepte : il refuserait le lot entier"
            ).replace("%", " %")
    placed = Counter(r.get("geo_method") for r in records if r.get("geo_method") not in (None, "source"))
    geocode = ""
    if placed:
        geocode = (
            f"{sum(placed.values())} record(s) without coordinates were placed offline at their commune's "
            "reference point; the bus asks the BAN geocoder for a precise point from the street address"
        )
    unplaced = sum(1 for r in records if r.get("lat") is None)
    if unplaced:
        geocode = (geocode + "; " if geocode else "") + (
            f"{unplaced} record(s) have no point and could not be placed from a commune here; the bus would try the "
            "BAN geocoder with their address"
        )
    result = CheckResult(
        name,
        origin,
        detection,
        proposal,
        out,
        total,
        counts,
        sorted(((n, r) for r, n in by_reason.items()), key=lambda x: (-x[0], x[1])),
        sorted(((n, r) for r, n in warnings.items()), key=lambda x: (-x[0], x[1])),
        sorted(((n, r) for r, n in notes.items()), key=lambda x: (-x[0], x[1])),
        verdict,
        [],
        licence,
        geocode,
        french=french,
    )
    lines = fix_first_texts(result, records)
    result.fix_first = [en for en, _ in lines]
    result.fix_first_fr = [fr for _, fr in lines]
    result.loaded_records = [r for r in records if r["record_index"] not in quarantined_at]
    result.quarantined_records = [
        {"id": e.get("source_id"), "name": e.get("name"), "stage": e.get("stage"), "reasons": list(e["reasons"])}
        for e in sorted(quarantine, key=lambda e: e["record_index"])
    ]
    return result


#: advice for the reasons a maintainer meets most, by a word of the (English) reason: (word, English, French)
_ADVICE: tuple[tuple[str, str, str], ...] = (
    (
        "swapped",
        "put latitude and longitude in their own columns, latitude first",
        "mettez la latitude et la longitude chacune dans sa colonne, la latitude d'abord",
    ),
    (
        "between -90",
        "check the coordinates out of range: latitude and longitude swapped or mistyped?",
        "vérifiez les coordonnées hors limites : latitude et longitude inversées ou mal saisies ?",
    ),
    (
        "declared country",
        "records that declare another country are set aside: the bus maps initiatives in France (a source that "
        "also lists places abroad is declared international in the registry); check the country of the others",
        "les fiches qui déclarent un autre pays sont mises de côté : le bus cartographie les initiatives en France "
        "(une source qui recense aussi des lieux à l'étranger est déclarée internationale dans le registre) ; "
        "vérifiez le pays des autres",
    ),
    (
        "lies in France",
        "check the points outside France: latitude and longitude swapped or mistyped? (a source "
        "outside France is declared international in the registry)",
        "vérifiez les points hors de France : latitude et longitude inversées ou mal saisies ? (une source "
        "hors de France est déclarée internationale dans le registre)",
    ),
    (
        "not an active",
        "records the source itself marks as deleted, refused or unpublished are set aside: nothing to "
        "fix unless they should be public",
        "les fiches que la source marque elle-même comme supprimées, refusées ou non publiées sont mises de "
        "côté : rien à corriger, sauf si elles doivent être publiques",
    ),
    (
        "not a published",
        "records the source itself marks as deleted, refused or unpublished are set aside: nothing "
        "to fix unless they should be public",
        "les fiches que la source marque elle-même comme supprimées, refusées ou non publiées sont mises de "
        "côté : rien à corriger, sauf si elles doivent être publiques",
    ),
    (
        "appears",
        "give every record its own id: the same id twice keeps only the most recently updated copy",
        "donnez à chaque fiche son propre identifiant : deux fois le même ne garde que la copie mise à jour "
        "le plus récemment",
    ),
    (
        "latitude",
        "give every record a latitude and a longitude in decimal degrees (WGS 84), or a full street "
        "address the bus can geocode",
        "donnez à chaque fiche une latitude et une longitude en degrés décimaux (WGS 84), ou une adresse "
        "complète que le bus peut géocoder",
    ),
    (
        "markup",
        "publish names and descriptions as plain text (or simple HTML the bus can clean)",
        "publiez les noms et les descriptions en texte simple (ou en HTML simple que le bus sait nettoyer)",
    ),
    ("name", "give every record a name", "donnez un nom à chaque fiche"),
    (
        "id",
        "give every record a stable id that never changes and is never reused",
        "donnez à chaque fiche un identifiant stable, qui ne change jamais et n'est jamais réutilisé",
    ),
    (
        "crosswalk",
        "review the [categories] draft of the proposed mapping: map each label to a taxonomy concept",
        "relisez le brouillon [categories] de la correspondance proposée : rattachez chaque libellé à une "
        "catégorie de la taxonomie",
    ),
    (
        "category of the taxonomy",
        "give every record a category the crosswalk maps",
        "donnez à chaque fiche une catégorie que la table de correspondance connaît",
    ),
    (
        "can be read",
        "use ISO 8601 dates (2026-03-14) and decimal coordinates",
        "utilisez des dates ISO 8601 (2026-03-14) et des coordonnées décimales",
    ),
    (
        "not a date",
        "use ISO 8601 dates (2026-03-14), or one date format for every record",
        "utilisez des dates ISO 8601 (2026-03-14), ou un même format de date pour toutes les fiches",
    ),
    (
        "end before",
        "check the events whose end is before their start",
        "vérifiez les événements dont la fin précède le début",
    ),
    ("title", "give every event a title", "donnez un titre à chaque événement"),
    (
        "usable",
        "publish contacts that work (an http(s) website, a valid e-mail): the others are dropped",
        "publiez des contacts qui fonctionnent (un site en http(s), un courriel valide) : les autres sont écartés",
    ),
    (
        "postcode",
        "give French 5-digit postcodes (as text, so that 01000 keeps its 0)",
        "donnez des codes postaux français à 5 chiffres (en texte, pour que 01000 garde son 0)",
    ),
    (
        "website",
        "give websites as full http(s) addresses",
        "donnez les sites web en adresses http(s) complètes",
    ),
)


def advice_for(reason: str) -> tuple[str, str] | None:
    """What to do about a reason, as (English, French) advice, from the first word of ``_ADVICE`` it contains
    (shared by check-source's "fix first" and the maintainers' kit page, so both give the same advice)."""
    return next(((en, fr) for word, en, fr in _ADVICE if word.lower() in reason.lower()), None)


def _records(count: int, lang: str) -> str:
    return f"{count} fiche(s)" if lang == "fr" else f"{count} record(s)"


def fix_first(result: CheckResult, records: list[dict[str, Any]]) -> list[str]:
    """What the source's maintainers should fix first, in English (``check-source``'s text and JSON)."""
    return [en for en, _ in fix_first_texts(result, records)]


def fix_first_texts(result: CheckResult, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What the source's maintainers should fix first, as (English, French) pairs: what blocks records, then
    what makes them less useful. A reason the bus wrote only in English (a data-quality rule's description, an
    error message) stays in English inside the French line, in parentheses: better than no reason."""
    out: list[tuple[str, str]] = []
    french = result.french
    if result.verdict:
        out.append(
            (f"the batch as a whole: {result.verdict}", f"le lot entier : {french.get(result.verdict, result.verdict)}")
        )
    for origin, found in (
        ("quarantine", result.quarantine),
        ("source", []),
        ("warning", result.warnings),
        ("note", result.notes),
    ):
        if origin == "source":
            out.extend(_source_advice(result, records))
        for count, reason in found:
            advice = advice_for(reason)
            if advice is None and origin == "note":
                continue  # what the bus fixed quietly (a placeholder e-mail dropped, a past event) needs no fix
            reason_fr = french.get(reason, reason)
            if advice is None:
                out.append((f"{reason} ({_records(count, 'en')})", f"{reason_fr} ({_records(count, 'fr')})"))
                continue
            if any(done.startswith(advice[0]) for done, _ in out):
                continue
            out.append(
                (
                    f"{advice[0]} ({_records(count, 'en')}: {reason})",
                    f"{advice[1]} ({_records(count, 'fr')} : {reason_fr})",
                )
            )
    return out[:9]


def _source_advice(result: CheckResult, records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What is missing from the source as a whole (no update date, no licence, no categories), in both languages."""
    out = []
    chosen = result.proposal.chosen
    if result.detection.format != "gogocarto" and "updated_at" not in chosen:
        out.append(
            (
                "publish an update date for each record: it is how readers and the quality score (freshness) "
                "know a record is alive",
                "publiez une date de mise à jour pour chaque fiche : c'est ainsi que les lecteurs et la note de "
                "qualité (fraîcheur) savent qu'une fiche est vivante",
            )
        )
    if result.licence == NO_LICENCE:
        out.append(
            (
                "say under which licence the data is published (an SPDX id such as ODbL-1.0 or CC-BY-4.0): "
                "the bus cannot republish data without one (check again with --licence)",
                "dites sous quelle licence les données sont publiées (un identifiant SPDX comme ODbL-1.0 ou "
                "CC-BY-4.0) : le bus ne peut pas republier des données sans licence",
            )
        )
    if records and not any(r.get("categories") for r in records):
        out.append(
            (
                "give each record one or more categories: the map filters by them",
                "donnez à chaque fiche une ou plusieurs catégories : la carte filtre par elles",
            )
        )
    return out
