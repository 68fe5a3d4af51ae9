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
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from transiscope.config import Settings
from transiscope.registry import Registry, Source

STALE_YEARS = 3
#: a point further than this from every commune its record declares is listed in the report
FAR_KM = 5.0
TREND_RUNS = 10
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
FIELDS = ("name", "description", "categories", "concepts", "lat", "lon", "street", "postcode", "city",
          "website", "email", "phone", "opening_hours", "created_at", "updated_at")

_FOLD = re.compile(r"[^a-z0-9]+")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fold(text: str | None) -> str:
    """Name folded for comparison: no accents, no case, no punctuation."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return _FOLD.sub(" ", ascii_text).strip()


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
    return [[{"source_id": r["source_id"], "name": r["name"], "postcode": r.get("postcode")} for r in group]
            for group in groups.values() if len(group) > 1]


def _trend(settings: Settings, source_id: str) -> list[dict[str, Any]]:
    runs_dir = settings.runs_dir / source_id
    runs = []
    if runs_dir.is_dir():
        for run_dir in sorted(runs_dir.iterdir(), reverse=True)[:TREND_RUNS]:
            try:
                run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            counts = run.get("counts") or {}
            runs.append({"run_id": run["run_id"], "started": run["started"], "outcome": run["outcome"],
                         "mode": run["mode"], "fetched": counts.get("fetched"), "loaded": counts.get("loaded"),
                         "quarantined": counts.get("quarantined"), "error": run.get("error")})
    return runs


def build_source_report(settings: Settings, source: Source, *, now: datetime | None = None) -> dict[str, Any]:
    """The quality report of one source, from its latest processed run (empty sections if none)."""
    from transiscope.pipeline import latest_processed_run

    now = now or datetime.now(UTC)
    report: dict[str, Any] = {
        "source": {"id": source.id, "name": source.name, "url": source.url, "licence": source.licence,
                   "landing_page": source.landing_page, "maintainer": source.maintainer},
        "generated": now.isoformat(timespec="seconds"),
        "trend": _trend(settings, source.id),
        "run": None,
    }
    run_dir = latest_processed_run(settings, source.id)
    if run_dir is None:
        report["score"] = None
        return report
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    records = _read_jsonl(run_dir / "records.jsonl")
    quarantine = _read_jsonl(run_dir / "quarantine.jsonl")
    warnings = _read_jsonl(run_dir / "warnings.jsonl")
    validation = json.loads((run_dir / "validation.json").read_text(encoding="utf-8")) \
        if (run_dir / "validation.json").exists() else {"expectations": []}
    fetched = (run.get("stages", {}).get("normalise") or {}).get("fetched", len(records))
    quarantined_ids = {e["record_index"] for e in quarantine}
    loaded = [r for r in records if r["record_index"] not in quarantined_ids]

    completeness = {
        field: _share(sum(1 for r in records if r.get(field) not in (None, "", [])), len(records))
        for field in FIELDS
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
                normalise_reasons[key].append({"source_id": entry["source_id"], "name": entry.get("name"),
                                               "reason": reason, "reason_fr": reason_fr})

    far: dict[str, Any] = {"checked": False, "threshold_km": FAR_KM, "count": 0, "examples": []}
    if settings.territories_dir is not None:
        from transiscope.territories import load_communes

        communes = load_communes(settings.territories_dir, settings.cache_dir)
        found = communes.far_from_declared(records, FAR_KM)
        far.update(checked=True, count=len(found), examples=[
            {"source_id": records[f.position]["source_id"], "name": records[f.position]["name"], "km": f.km,
             "declared": f.declared} for f in sorted(found, key=lambda f: -f.km)[:10]])

    scores = {
        "validity": _share(len(loaded), fetched),
        "completeness": round(sum(key_fields.values()) / len(key_fields), 4) if records else 0.0,
        "warning_free": _share(len(loaded) - len({w["record_index"] for w in warnings}), len(loaded)),
        "freshness": _share(len(records) - len(stale) - len(undated), len(records)),
    }
    report.update(
        run={"run_id": run["run_id"], "started": run["started"], "outcome": run["outcome"], "mode": run["mode"],
             "error": run.get("error"), "fetched": fetched, "loaded": len(loaded) if run["outcome"] == "success" else 0,
             "quarantined": len(quarantine), "warnings": len(warnings), "normalised": len(records)},
        completeness=completeness,
        key_fields=key_fields,
        expectations=[{"examples": [], "description_fr": "", **e}
                      for e in validation["expectations"] if e.get("failed")],
        expectations_passed=sum(1 for e in validation["expectations"] if not e.get("failed")),
        rejected_at_normalise=[{"kind": k, "count": len(v), "examples": v[:5]} for k, v in normalise_reasons.items()],
        duplicates=duplicates_inside(records),
        far_from_declared=far,
        stale={"years": STALE_YEARS, "count": len(stale), "undated": len(undated),
               "examples": [{"source_id": r["source_id"], "name": r["name"], "updated_at": r["updated_at"]}
                            for r in sorted(stale, key=lambda r: r["updated_at"])[:5]]},
        uncategorised={"count": len(uncategorised),
                       "examples": [{"source_id": r["source_id"], "name": r["name"], "labels": r["categories"]}
                                    for r in uncategorised[:5]]},
        unmapped_labels=[{"label": label, "records": n} for label, n in unmapped.most_common()],
        scores=scores,
        score=round(100 * sum(WEIGHTS[k] * v for k, v in scores.items()), 1),
    )
    return report


# -- rendering ---------------------------------------------------------------------------------------
TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Qualité des données", "index_title": "Qualité des sources", "source": "Source",
        "score": "Score", "formula": "Formule du score :",
        "formula_text": "score = 100 × (0,40 V + 0,30 C + 0,15 W + 0,15 F) ; V (validité) = fiches chargées / "
                        "fiches reçues ; C (complétude) = part moyenne des fiches ayant chaque champ clé (nom, "
                        "position, catégorie, adresse, contact, description, date de mise à jour) ; W = part des "
                        "fiches chargées sans avertissement ; F (fraîcheur) = part des fiches mises à jour depuis "
                        "moins de {years} ans.",
        "last_run": "Dernière exécution", "outcome": "Résultat", "fetched": "Reçues", "loaded": "Chargées",
        "quarantined": "En quarantaine", "warnings": "Avertissements", "completeness": "Complétude des champs",
        "field": "Champ", "filled": "Renseigné", "failures": "Contrôles en échec", "check": "Contrôle",
        "severity": "Gravité", "records": "Fiches", "examples": "Exemples", "none": "Aucun.",
        "passed": "{n} autres contrôles passent.", "normalise": "Fiches écartées avant contrôle",
        "duplicates": "Doublons probables dans la source (même nom, même lieu)", "stale": "Fiches anciennes",
        "stale_text": "{count} fiches non mises à jour depuis {years} ans ; {undated} sans date de mise à jour.",
        "far": "Points loin de la commune ou du code postal déclarés",
        "far_text": "{count} fiches dont le point est à plus de {km} km (à vol d'oiseau) des communes déclarées.",
        "far_unchecked": "Non vérifié : données des territoires non configurées (TRANSISCOPE_TERRITORIES_DIR).",
        "uncategorised": "Fiches sans catégorie de la taxonomie", "unmapped": "Libellés de catégorie non reconnus",
        "label": "Libellé", "trend": "Évolution des dernières exécutions", "started": "Début", "mode": "Mode",
        "error": "Erreur", "error_colon": "Erreur :", "no_run": "Cette source n'a pas encore été lue.",
        "critical": "bloquant",
        "warning": "avertissement", "generated": "Rapport généré le", "licence": "Licence",
        "index_intro": "Les sources sont classées par score de qualité. Un score bas signale des données "
                       "à enrichir, pas une mauvaise source : chaque rapport dit quoi corriger en premier.",
        "other_lang": "English version", "key_fields": "Champs clés du score",
        "how": "Pour corriger : modifier les fiches chez la source ; elles sortent de quarantaine à la prochaine "
               "exécution.",
    },
    "en": {
        "title": "Data quality", "index_title": "Quality of the sources", "source": "Source",
        "score": "Score", "formula": "Score formula:",
        "formula_text": "score = 100 × (0.40 V + 0.30 C + 0.15 W + 0.15 F); V (validity) = records loaded / "
                        "records fetched; C (completeness) = mean share of records having each key field (name, "
                        "position, category, address, contact, description, update date); W = share of loaded "
                        "records without any warning; F (freshness) = share of records updated in the last "
                        "{years} years.",
        "last_run": "Last run", "outcome": "Outcome", "fetched": "Fetched", "loaded": "Loaded",
        "quarantined": "Quarantined", "warnings": "Warnings", "completeness": "Field completeness",
        "field": "Field", "filled": "Filled", "failures": "Failing checks", "check": "Check",
        "severity": "Severity", "records": "Records", "examples": "Examples", "none": "None.",
        "passed": "{n} other checks pass.", "normalise": "Records set aside before the checks",
        "duplicates": "Likely duplicates inside the source (same name, same place)", "stale": "Old records",
        "stale_text": "{count} records not updated for {years} years; {undated} without an update date.",
        "far": "Points far from their declared commune or postcode",
        "far_text": "{count} records whose point lies more than {km} km (straight line) from the communes "
                    "they declare.",
        "far_unchecked": "Not checked: no territories data configured (TRANSISCOPE_TERRITORIES_DIR).",
        "uncategorised": "Records without a taxonomy category", "unmapped": "Category labels not recognised",
        "label": "Label", "trend": "Recent runs", "started": "Started", "mode": "Mode", "error": "Error",
        "error_colon": "Error:",
        "no_run": "This source has not been read yet.", "critical": "blocking", "warning": "warning",
        "generated": "Report generated on", "licence": "Licence",
        "index_intro": "Sources are ranked by quality score. A low score points at data to enrich, not at a bad "
                       "source: each report says what to fix first.",
        "other_lang": "Version française", "key_fields": "Key fields of the score",
        "how": "To fix: edit the records at the source; they leave quarantine at the next run.",
    },
}


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("transiscope", "templates"),
        autoescape=True,  # every string from a source is hostile until escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda value: "–" if value is None else f"{100 * value:.0f} %"
    return env


def render(report: dict[str, Any], lang: str, template: str = "report.html.j2") -> str:
    other = "en" if lang == "fr" else "fr"
    return _environment().get_template(template).render(r=report, t=TEXT[lang], lang=lang, other=other,
                                                         weights=WEIGHTS, years=STALE_YEARS)


def build_index(reports: list[dict[str, Any]]) -> dict[str, Any]:
    ranked = sorted(reports, key=lambda r: (r.get("score") is None, -(r.get("score") or 0), r["source"]["id"]))
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "formula": TEXT["en"]["formula_text"].format(years=STALE_YEARS),
        "weights": WEIGHTS,
        "sources": [{"id": r["source"]["id"], "name": r["source"]["name"], "score": r.get("score"),
                     "scores": r.get("scores"), "run": r.get("run")} for r in ranked],
    }


def write_reports(settings: Settings, registry: Registry, source_ids: list[str] | None = None,
                  out_dir: Path | None = None) -> Path:
    """Write ``<source>.json``, ``<source>.fr.html``, ``<source>.en.html`` and the index; returns the folder.

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
    return out_dir
