"""Quality reports for the people who maintain each source, and an index ranking the sources.

Built from the files of the source's latest processed run (records, quarantine, warnings, the GX
summary) and from its recent run.json files for the trend, so a report never needs the store (which
may be busy with another source's load). Written as JSON plus HTML in French and English.

The score is stated on every page; it rewards what makes a record usable on the map:

    score = 100 × (0.40 V + 0.30 C + 0.15 W + 0.15 F)

V (validity) = loaded / fetched; C (completeness) = mean share of records having each key field
(name, position, category, address, contact, description, update date); W = share of loaded records
without any warning; F (freshness) = share of records updated in the last ``STALE_YEARS`` years.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from transiscope.core.files import read_jsonl
from transiscope.core.text import fold
from transiscope.registry.sources import Registry, Source
from transiscope.reports.kit import write_kit
from transiscope.reports.labels import POINT_FLAG_LABELS
from transiscope.reports.templating import template_environment
from transiscope.runs import latest_processed_run, read_run, recent_runs
from transiscope.settings import Settings

STALE_YEARS = 3
TREND_RUNS = 10
#: flags of the geocode stage that make a point "not far but wrong": counted under positions, not as far
OWN_ENTRY_FLAGS = ("null-island", "france-centroid", "swapped")
WEIGHTS = {"validity": 0.40, "completeness": 0.30, "warning_free": 0.15, "freshness": 0.15}

#: key fields of the score: label -> test on a canonical record
KEY_FIELDS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "name": lambda r: bool(r.get("name")),
    "position": lambda r: r.get("lat") is not None and r.get("lon") is not None,
    "category": lambda r: bool(r.get("concepts")),
    "address": lambda r: bool(r.get("street") or r.get("postcode") or r.get("city")),
    "contact": lambda r: bool(r.get("website") or r.get("email") or r.get("phone")),
    "description": lambda r: bool(r.get("description")),
    "updated_at": lambda r: bool(r.get("updated_at")),
}
#: every canonical field whose completeness is shown
FIELDS = (
    "name",
    "description",
    "categories",
    "concepts",
    "lat",
    "lon",
    "street",
    "postcode",
    "city",
    "website",
    "email",
    "phone",
    "opening_hours",
    "created_at",
    "updated_at",
)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _parse_when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duplicates_inside(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups of records with the same folded name and the same place (≈100 m, or same postcode)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        name = fold(record.get("name"))
        if not name:
            continue
        if record.get("lat") is not None and record.get("lon") is not None:
            groups[(name, "at", round(record["lat"], 3), round(record["lon"], 3))].append(record)
        elif record.get("postcode"):
            groups[(name, "cp", record["postcode"])].append(record)
    return [
        [{"source_id": r["source_id"], "name": r["name"], "postcode": r.get("postcode")} for r in group]
        for group in groups.values()
        if len(group) > 1
    ]


def _trend(settings: Settings, source_id: str) -> list[dict[str, Any]]:
    runs = []
    for _run_dir, run in recent_runs(settings, source_id, TREND_RUNS):
        counts = run.get("counts") or {}
        runs.append(
            {
                "run_id": run["run_id"],
                "started": run["started"],
                "outcome": run["outcome"],
                "mode": run["mode"],
                "fetched": counts.get("fetched"),
                "loaded": counts.get("loaded"),
                "quarantined": counts.get("quarantined"),
                "error": run.get("error"),
            }
        )
    return runs


def build_source_report(settings: Settings, source: Source, *, now: datetime | None = None) -> dict[str, Any]:
    """The quality report of one source, from its latest processed run (empty sections if none)."""
    now = now or datetime.now(UTC)
    report: dict[str, Any] = {
        "source": {
            "id": source.id,
            "name": source.name,
            "url": source.url,
            "licence": source.licence,
            "landing_page": source.landing_page,
            "maintainer": source.maintainer,
        },
        "generated": now.isoformat(timespec="seconds"),
        "trend": _trend(settings, source.id),
        "run": None,
        "links": links_of(settings, source.id),
    }
    run_dir = latest_processed_run(settings, source.id)
    if run_dir is None:
        report["score"] = None
        return report
    run = read_run(run_dir)
    records = read_jsonl(run_dir / "records.jsonl")
    quarantine = read_jsonl(run_dir / "quarantine.jsonl")
    warnings = read_jsonl(run_dir / "warnings.jsonl")
    validation = (
        json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
        if (run_dir / "validation.json").exists()
        else {"expectations": []}
    )
    fetched = (run.get("stages", {}).get("normalise") or {}).get("fetched", len(records))
    pages = {r["source_id"]: r["source_url"] for r in records if _web_page(r.get("source_url"))}
    quarantined_ids = {e["record_index"] for e in quarantine}
    loaded = [r for r in records if r["record_index"] not in quarantined_ids]

    completeness = {
        field: _share(sum(1 for r in records if r.get(field) not in (None, "", [])), len(records)) for field in FIELDS
    }
    key_fields = {label: _share(sum(1 for r in records if test(r)), len(records)) for label, test in KEY_FIELDS.items()}
    stale_before = now - timedelta(days=365.25 * STALE_YEARS)
    stale = [r for r in records if (when := _parse_when(r.get("updated_at"))) is not None and when < stale_before]
    undated = [r for r in records if _parse_when(r.get("updated_at")) is None]
    uncategorised = [r for r in records if not r.get("concepts")]
    unmapped = Counter(label for r in records for label in r.get("unmapped_categories") or ())

    normalise_reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in quarantine:
        if entry["stage"] in ("normalise", "batch", "shapes"):
            french = entry.get("reasons_fr") or [None] * len(entry["reasons"])
            for reason, reason_fr in zip(entry["reasons"], french, strict=False):
                key = reason.split(":")[0] if entry["stage"] == "batch" else re.sub(r"'[^']*'|\d+", "…", reason)
                if entry["stage"] == "shapes":  # the SHACL message names the value: group on the shape's words
                    key = "SHACL: " + re.sub(r"\S*[<(/\d]\S*", "…", reason)
                normalise_reasons[key].append(
                    {
                        "source_id": entry["source_id"],
                        "name": entry.get("name"),
                        "reason": reason,
                        "reason_fr": reason_fr,
                    }
                )

    far_km = settings.geocode.far_km  # TRANSISCOPE_FAR_KM, the threshold the geocode stage flags with
    far: dict[str, Any] = {"checked": False, "threshold_km": far_km, "count": 0, "examples": []}
    if settings.territories_dir is not None:
        from transiscope.territories.communes import load_communes

        communes = load_communes(settings.territories_dir, settings.cache_dir)
        # a point already flagged as (0, 0), centre of France or swapped has its own entry in "positions"
        measured = [r for r in records if not any(f.get("code") in OWN_ENTRY_FLAGS for f in r.get("geo_flags") or ())]
        found = communes.far_from_declared(measured, far_km)
        far.update(
            checked=True,
            count=len(found),
            examples=[
                {
                    "source_id": measured[f.position]["source_id"],
                    "name": measured[f.position]["name"],
                    "km": f.km,
                    "declared": f.declared,
                }
                for f in sorted(found, key=lambda f: -f.km)[:10]
            ],
        )
        from transiscope.downstream.gaps.disagreements import quality_disagreements

        far["other_commune"] = quality_disagreements(settings, measured)

    scores = {
        "validity": _share(len(loaded), fetched),
        "completeness": round(sum(key_fields.values()) / len(key_fields), 4) if records else 0.0,
        "warning_free": _share(len(loaded) - len({w["record_index"] for w in warnings}), len(loaded)),
        "freshness": _share(len(records) - len(stale) - len(undated), len(records)),
    }
    report.update(
        run={
            "run_id": run["run_id"],
            "started": run["started"],
            "outcome": run["outcome"],
            "mode": run["mode"],
            "error": run.get("error"),
            "fetched": fetched,
            "loaded": len(loaded) if run["outcome"] == "success" else 0,
            "quarantined": len(quarantine),
            "warnings": len(warnings),
            "normalised": len(records),
        },
        completeness=completeness,
        key_fields=key_fields,
        expectations=[
            {"examples": [], "description_fr": "", **e} for e in validation["expectations"] if e.get("failed")
        ],
        expectations_passed=sum(1 for e in validation["expectations"] if not e.get("failed")),
        rejected_at_normalise=[{"kind": k, "count": len(v), "examples": v[:5]} for k, v in normalise_reasons.items()],
        # a column the mapping maps but no record has (the source renamed it, or its header was misread)
        empty_fields=[
            {"field": e["field"], "paths": e["paths"], "records": e["records"], "message": e["message"]}
            for e in (run.get("stages", {}).get("normalise") or {}).get("empty_fields", [])
        ],
        duplicates=duplicates_inside(records),
        far_from_declared=far,
        positions=positions_of(records, run),
        stale={
            "years": STALE_YEARS,
            "count": len(stale),
            "undated": len(undated),
            "examples": [
                {"source_id": r["source_id"], "name": r["name"], "updated_at": r["updated_at"]}
                for r in sorted(stale, key=lambda r: r["updated_at"])[:5]
            ],
        },
        uncategorised={
            "count": len(uncategorised),
            "examples": [
                {"source_id": r["source_id"], "name": r["name"], "labels": r["categories"]} for r in uncategorised[:5]
            ],
        },
        unmapped_labels=[{"label": label, "records": n} for label, n in unmapped.most_common()],
        scores=scores,
        score=round(100 * sum(WEIGHTS[k] * v for k, v in scores.items()), 1),
    )
    _link_examples(report, pages)
    report["raise_most"] = _raise_most(report, len(stale) + len(undated))
    return report


def _web_page(url: object) -> bool:
    """Only http(s) pages become links on a report (a source's value is hostile until checked)."""
    return isinstance(url, str) and urlsplit(url).scheme in ("http", "https") and bool(urlsplit(url).netloc)


def _link_examples(report: dict[str, Any], pages: dict[str, str]) -> None:
    """Give every example record of the report its page at the source, where the source publishes one."""
    groups = [
        *(g["examples"] for g in report["rejected_at_normalise"]),
        *(e["examples"] for e in report["expectations"]),
        report["stale"]["examples"],
        report["uncategorised"]["examples"],
        report["far_from_declared"]["examples"],
        *(f["examples"] for f in (report.get("positions") or {}).get("flags", [])),
    ]
    for examples in groups:
        for example in examples:
            page = pages.get(str(example.get("source_id")))
            if page:
                example["page"] = page


def _raise_most(report: dict[str, Any], old_or_undated: int) -> list[dict[str, Any]]:
    """The three parts of the score whose repair would raise it most, with the points each would bring and
    what to repair (for the sentence the page writes)."""
    scores, run = report["scores"], report["run"]
    weakest = min(report["key_fields"].items(), key=lambda item: item[1], default=("name", 1.0))
    facts = {
        "validity": {"count": run["quarantined"]},
        "completeness": {"field": weakest[0], "share": weakest[1]},
        "warning_free": {"count": run["warnings"]},
        "freshness": {"count": old_or_undated},
    }
    gains = [
        {"part": part, "points": round(100 * WEIGHTS[part] * (1 - value), 1), **facts[part]}
        for part, value in scores.items()
    ]
    return [g for g in sorted(gains, key=lambda g: -g["points"]) if g["points"] > 0][:3]


def positions_of(records: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """How the points were obtained (precision, method), what geocoding cost, and the points flagged.

    The "far from the declared commune" flag is left to its own section (``far_from_declared``).
    """
    from transiscope.ingest.geocode.checks import reason

    flagged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        for flag in record.get("geo_flags") or ():
            if flag.get("code") != "far":
                flagged[flag["code"]].append(
                    {
                        "source_id": record["source_id"],
                        "name": record.get("name"),
                        "reason": reason(flag),
                        "reason_fr": reason(flag, "fr"),
                    }
                )
    stage = (run.get("stages") or {}).get("geocode")
    keys = (
        "provider",
        "without_point",
        "addresses",
        "cache_hits",
        "cache_hit_rate",
        "requests",
        "max_requests",
        "budget_exhausted",
        "placed",
        "messages",
    )
    return {
        "precision": dict(Counter(r.get("geo_precision") or "none" for r in records).most_common()),
        "method": dict(Counter(r.get("geo_method") or "none" for r in records).most_common()),
        "geocode": {k: stage.get(k) for k in keys} if stage else None,
        "flags": [
            {"code": code, "count": len(found), "examples": found[:5]}
            for code, found in sorted(flagged.items(), key=lambda item: -len(item[1]))
        ],
    }


# -- rendering ---------------------------------------------------------------------------------------
TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Qualité des données",
        "index_title": "Qualité des sources",
        "source": "Source",
        "score": "Score",
        "formula": "Formule du score :",
        "formula_text": "score = 100 × (0,40 V + 0,30 C + 0,15 W + 0,15 F) ; V (validité) = fiches chargées / "
        "fiches reçues ; C (complétude) = part moyenne des fiches ayant chaque champ clé (nom, "
        "position, catégorie, adresse, contact, description, date de mise à jour) ; W = part des "
        "fiches chargées sans avertissement ; F (fraîcheur) = part des fiches mises à jour depuis "
        "moins de {years} ans.",
        "last_run": "Dernière exécution",
        "outcome": "Résultat",
        "fetched": "Reçues",
        "loaded": "Chargées",
        "quarantined": "En quarantaine",
        "warnings": "Avertissements",
        "completeness": "Complétude des champs",
        "field": "Champ",
        "filled": "Renseigné",
        "failures": "Contrôles en échec",
        "check": "Contrôle",
        "severity": "Gravité",
        "records": "Fiches",
        "examples": "Exemples",
        "none": "Aucun.",
        "passed": "{n} autres contrôles passent.",
        "normalise": "Fiches écartées avant contrôle",
        "empty_field": "Champ « {field} » vide dans toutes les fiches (lu dans {paths} de la source) : la source "
        "l'a-t-elle renommé ou supprimé ? Vérifier la correspondance.",
        "duplicates": "Doublons probables dans la source (même nom, même lieu)",
        "stale": "Fiches anciennes",
        "stale_text": "{count} fiches non mises à jour depuis {years} ans ; {undated} sans date de mise à jour.",
        "far": "Points loin de la commune ou du code postal déclarés",
        "far_text": "{count} fiches dont le point est à plus de {km} km (à vol d'oiseau) des communes déclarées.",
        "far_unchecked": "Non vérifié : les données des territoires ne sont pas installées sur ce serveur.",
        "other_commune": "{count} fiches dont le point est dans une autre commune que celle déclarée (à toute "
        "distance) ; l'analyse des manques territoriaux les place d'après leur point.",
        "positions": "Positions : précision, méthode et contrôles",
        "precision": "Précision",
        "method": "Méthode",
        "geocoding": "Géocodage ({provider}) : {without} fiches sans point, {addresses} adresses, {hits} trouvées "
        "dans le cache, {requests} requêtes envoyées (budget : {budget}).",
        "uncategorised": "Fiches sans catégorie de la taxonomie",
        "unmapped": "Libellés de catégorie non reconnus",
        "label": "Libellé",
        "trend": "Évolution des dernières exécutions",
        "started": "Début",
        "mode": "Mode",
        "error": "Erreur",
        "error_colon": "Erreur :",
        "no_run": "Cette source n'a pas encore été lue.",
        "critical": "bloquant",
        "warning": "avertissement",
        "generated": "Rapport généré le",
        "licence": "Licence",
        "index_intro": "Les sources sont classées par score de qualité. Un score bas signale des données "
        "à enrichir, pas une mauvaise source : chaque rapport dit quoi corriger en premier.",
        "other_lang": "English version",
        "key_fields": "Champs clés du score",
        "how": "Pour corriger : modifier les fiches chez la source ; elles sortent de quarantaine à la prochaine "
        "exécution.",
    },
    "en": {
        "title": "Data quality",
        "index_title": "Quality of the sources",
        "source": "Source",
        "score": "Score",
        "formula": "Score formula:",
        "formula_text": "score = 100 × (0.40 V + 0.30 C + 0.15 W + 0.15 F); V (validity) = records loaded / "
        "records fetched; C (completeness) = mean share of records having each key field (name, "
        "position, category, address, contact, description, update date); W = share of loaded "
        "records without any warning; F (freshness) = share of records updated in the last "
        "{years} years.",
        "last_run": "Last run",
        "outcome": "Outcome",
        "fetched": "Fetched",
        "loaded": "Loaded",
        "quarantined": "Quarantined",
        "warnings": "Warnings",
        "completeness": "Field completeness",
        "field": "Field",
        "filled": "Filled",
        "failures": "Failing checks",
        "check": "Check",
        "severity": "Severity",
        "records": "Records",
        "examples": "Examples",
        "none": "None.",
        "passed": "{n} other checks pass.",
        "normalise": "Records set aside before the checks",
        "empty_field": "Field “{field}” empty in every record (read from {paths} in the source): did the source "
        "rename or drop it? Check the mapping.",
        "duplicates": "Likely duplicates inside the source (same name, same place)",
        "stale": "Old records",
        "stale_text": "{count} records not updated for {years} years; {undated} without an update date.",
        "far": "Points far from their declared commune or postcode",
        "far_text": "{count} records whose point lies more than {km} km (straight line) from the communes "
        "they declare.",
        "far_unchecked": "Not checked: no territories data on this server.",
        "other_commune": "{count} records whose point lies in another commune than the one they declare (at any "
        "distance); the territorial gap analysis places them by their point.",
        "positions": "Positions: precision, method and checks",
        "precision": "Precision",
        "method": "Method",
        "geocoding": "Geocoding ({provider}): {without} records without a point, {addresses} addresses, {hits} found "
        "in the cache, {requests} requests sent (budget: {budget}).",
        "uncategorised": "Records without a taxonomy category",
        "unmapped": "Category labels not recognised",
        "label": "Label",
        "trend": "Recent runs",
        "started": "Started",
        "mode": "Mode",
        "error": "Error",
        "error_colon": "Error:",
        "no_run": "This source has not been read yet.",
        "critical": "blocking",
        "warning": "warning",
        "generated": "Report generated on",
        "licence": "Licence",
        "index_intro": "Sources are ranked by quality score. A low score points at data to enrich, not at a bad "
        "source: each report says what to fix first.",
        "other_lang": "Version française",
        "key_fields": "Key fields of the score",
        "how": "To fix: edit the records at the source; they leave quarantine at the next run.",
    },
}


def links_of(settings: Settings, source_id: str) -> dict[str, Any] | None:
    """What the last link step found for this source (from ``links/summary.json``; None before any):
    records also published elsewhere, the sources it shares initiatives with, the pairs waiting for review."""
    from transiscope.downstream.link.linker import read_summary

    summary = read_summary(settings)
    if summary is None:
        return None
    review = (summary.get("candidates_per_source") or {}).get(source_id) or {"total": 0, "examples": []}
    overlap = (summary.get("overlap") or {}).get(source_id) or {}
    return {
        "generated": summary.get("generated"),
        "thresholds": summary.get("thresholds"),
        "linked": (summary.get("linked_per_source") or {}).get(source_id, 0),
        "shared_with": sorted(
            ({"source": other, "initiatives": n} for other, n in overlap.items() if other != source_id),
            key=lambda e: (-e["initiatives"], e["source"]),
        ),
        "inside": overlap.get(source_id, 0),
        "candidates": review["total"],
        "examples": review["examples"],
    }


def overlap_of(reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The overlap matrix between sources (shared consolidated initiatives), for the index page."""
    rows = {r["source"]["id"]: r["links"] for r in reports if r.get("links")}
    if not rows:
        return None
    ids = sorted(rows)
    matrix = {
        s: {
            t: (
                rows[s]["inside"]
                if s == t
                else next((e["initiatives"] for e in rows[s]["shared_with"] if e["source"] == t), 0)
            )
            for t in ids
        }
        for s in ids
    }
    return {"sources": ids, "matrix": matrix}


for _lang, _flags in POINT_FLAG_LABELS.items():  # the point checks' words: one table, reports.labels
    TEXT[_lang].update({f"flag_{code}": words for code, words in _flags.items()})
TEXT["fr"].update(
    {
        "links": "Les mêmes initiatives ailleurs",
        "links_text": "{linked} fiches de cette source sont reliées (owl:sameAs) à une fiche décrivant "
        "la même initiative (score ≥ {high}) ; {inside} groupes de doublons dans la source même.",
        "links_none": "La recherche des mêmes initiatives dans les autres sources n'a pas encore été faite.",
        "shared_with": "Initiatives partagées avec :",
        "to_review": "Paires à vérifier (score entre {low} et {high})",
        "to_review_text": "{count} paires que l'équipe de Transiscope vérifie ; si vous savez que deux fiches "
        "décrivent la même initiative (ou non), dites-le-lui.",
        "overlap": "Recouvrement entre sources (initiatives partagées ; diagonale : doublons internes)",
        "pair": "Paire",
        "evidence": "Indices",
        "initiatives": "Initiatives",
        "more": "… et {n} de plus",
        "raise_title": "Ce qui ferait le plus monter le score",
        "raise_validity": "Corriger les {count} fiches mises de côté (quarantaine) : jusqu'à +{points} points.",
        "raise_completeness": "Compléter le champ « {field} » (renseigné dans {share} des fiches) et les autres "
        "champs clés : jusqu'à +{points} points.",
        "raise_warning_free": "Corriger les fiches qui ont un avertissement ({count}) : jusqu'à +{points} points.",
        "raise_freshness": "Mettre à jour les {count} fiches anciennes ou sans date : jusqu'à +{points} points.",
        "score_words": "Le score va de 0 à 100. Il compte surtout la part des fiches chargées sur la carte "
        "(40 %), puis la présence des champs clés (30 %), l'absence d'avertissements (15 %) et la "
        "fraîcheur des fiches (15 %).",
        "page_link": "voir la fiche à la source",
    }
)
TEXT["en"].update(
    {
        "links": "The same initiatives elsewhere",
        "links_text": "{linked} records of this source are linked (owl:sameAs) to a record describing "
        "the same initiative (score ≥ {high}); {inside} groups of duplicates inside the source itself.",
        "links_none": "The search for the same initiatives in the other sources has not been made yet.",
        "shared_with": "Initiatives shared with:",
        "to_review": "Pairs to review (score between {low} and {high})",
        "to_review_text": "{count} pairs the Transiscope team checks; if you know that two records describe the "
        "same initiative (or not), tell them.",
        "overlap": "Overlap between sources (shared initiatives; diagonal: duplicates inside a source)",
        "pair": "Pair",
        "evidence": "Evidence",
        "initiatives": "Initiatives",
        "more": "… and {n} more",
        "raise_title": "What would raise the score most",
        "raise_validity": "Fix the {count} records set aside (quarantine): up to +{points} points.",
        "raise_completeness": 'Fill in the field "{field}" (present in {share} of the records) and the other key '
        "fields: up to +{points} points.",
        "raise_warning_free": "Fix the records that have a warning ({count}): up to +{points} points.",
        "raise_freshness": "Update the {count} old or undated records: up to +{points} points.",
        "score_words": "The score goes from 0 to 100. It counts mostly the share of records loaded on the map "
        "(40 %), then the presence of the key fields (30 %), the absence of warnings (15 %) and how "
        "recent the records are (15 %).",
        "page_link": "see the record at the source",
    }
)


def render(report: dict[str, Any], lang: str, template: str = "report.html.j2") -> str:
    other = "en" if lang == "fr" else "fr"
    return (
        template_environment()
        .get_template(template)
        .render(r=report, t=TEXT[lang], lang=lang, other=other, weights=WEIGHTS, years=STALE_YEARS)
    )


def build_index(reports: list[dict[str, Any]]) -> dict[str, Any]:
    ranked = sorted(reports, key=lambda r: (r.get("score") is None, -(r.get("score") or 0), r["source"]["id"]))
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "formula": TEXT["en"]["formula_text"].format(years=STALE_YEARS),
        "weights": WEIGHTS,
        "overlap": overlap_of(reports),
        "sources": [
            {
                "id": r["source"]["id"],
                "name": r["source"]["name"],
                "score": r.get("score"),
                "scores": r.get("scores"),
                "run": r.get("run"),
            }
            for r in ranked
        ],
    }


def write_reports(
    settings: Settings, registry: Registry, source_ids: list[str] | None = None, out_dir: Path | None = None
) -> Path:
    """Write ``<source>.json``, ``<source>.fr.html``, ``<source>.en.html``, the index and the maintainers' kit
    (``kit.*``); returns the folder.

    The index always covers every registry source: the reports of sources not asked for are read back
    from their JSON when present, otherwise rebuilt.
    """
    out_dir = out_dir or settings.home / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(source_ids or registry.ids())
    reports = []
    for source in registry.sources:
        existing = out_dir / f"{source.id}.json"
        if source.id not in wanted and existing.exists():
            reports.append(json.loads(existing.read_text(encoding="utf-8")))
            continue
        report = build_source_report(settings, source)
        existing.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        for lang in TEXT:
            (out_dir / f"{source.id}.{lang}.html").write_text(render(report, lang), encoding="utf-8")
        reports.append(report)
    index = build_index(reports)
    (out_dir / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False), encoding="utf-8")
    for lang in TEXT:
        (out_dir / f"index.{lang}.html").write_text(render(index, lang, "index.html.j2"), encoding="utf-8")
    write_kit(reports, out_dir)
    return out_dir
