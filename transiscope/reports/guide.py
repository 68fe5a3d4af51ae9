"""The generated parts of the source maintainers' guide (``docs/guide-sources.fr.md`` and ``.en.md``).

Why generated: the lists a maintainer relies on — the formats and their options, the checks with their
severity and the sentences they will read in the quality report, the taxonomy concepts their categories
map to, the quality score's weights — live in code and data files that change. Written by hand they would
go stale; here they are rendered from those files between marker comments, and a test fails when the
committed guide differs from what this module produces.

    transiscope guide            # exit 1 and name the stale parts when the guide is out of date
    transiscope guide --write    # rewrite them (python -m transiscope.reports.guide does the same)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from transiscope.settings import PROJECT_ROOT

LANGS = ("fr", "en")
BLOCKS = ("formats", "columns", "expectations", "taxonomy", "score")
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z-]+) [^>]*-->\n)(?P<body>.*?)(<!-- end generated:(?P=name) -->)", re.S
)

T: dict[str, dict[str, str]] = {
    "fr": {
        "format": "format",
        "records": "fiches",
        "options": "options (valeur par défaut)",
        "defaults": "champs lus par défaut (colonne = chemin)",
        "none": "aucune",
        "initiatives": "initiatives",
        "events": "événements",
        "column": "colonne",
        "severity": "gravité",
        "rule": "règle",
        "reason": "phrase lue dans le rapport de qualité",
        "critical": "**bloquante** (mise en quarantaine)",
        "warning": "avertissement (chargée, signalée)",
        "notation": "notation",
        "label": "libellé",
        "broader": "domaine",
        "mapping_keys": "Clés d'un fichier de correspondance",
        "initiative_columns": "Colonnes canoniques d'une initiative",
        "event_columns": "Colonnes canoniques d'un événement",
        "functions": "Fonctions de valeur",
        "common": "Suite commune",
        "per_source": "Règles propres à une source",
        "weight": "poids",
        "part": "composante",
        "gogocarto_fields": '`shape` = `"2018"` ou `"2021"` ; `[fields]` : listes de champs personnalisés '
        "pour description, website, phone, email, categories",
        "key_fields": "Champs clés de la complétude",
    },
    "en": {
        "format": "format",
        "records": "records",
        "options": "options (default)",
        "defaults": "fields read by default (column = path)",
        "none": "none",
        "initiatives": "initiatives",
        "events": "events",
        "column": "column",
        "severity": "severity",
        "rule": "rule",
        "reason": "sentence read in the quality report",
        "critical": "**blocking** (quarantined)",
        "warning": "warning (loaded, reported)",
        "notation": "notation",
        "label": "label",
        "broader": "domain",
        "mapping_keys": "Keys of a mapping file",
        "initiative_columns": "Canonical columns of an initiative",
        "event_columns": "Canonical columns of an event",
        "functions": "Value functions",
        "common": "Common suite",
        "per_source": "Rules of one source",
        "weight": "weight",
        "part": "part",
        "gogocarto_fields": '`shape` = `"2018"` or `"2021"`; `[fields]`: lists of custom fields for '
        "description, website, phone, email, categories",
        "key_fields": "Key fields of completeness",
    },
}

#: the parts of the quality score, as the table of the score block names them
PARTS: dict[str, dict[str, str]] = {
    "fr": {
        "validity": "V — validité : fiches chargées / fiches lues",
        "completeness": "C — complétude : part moyenne des fiches ayant chaque champ clé",
        "warning_free": "W — part des fiches chargées sans aucun avertissement",
        "freshness": "F — fraîcheur : part des fiches mises à jour depuis moins de {years} ans",
    },
    "en": {
        "validity": "V — validity: records loaded / records read",
        "completeness": "C — completeness: mean share of records having each key field",
        "warning_free": "W — share of loaded records without any warning",
        "freshness": "F — freshness: share of records updated in the last {years} years",
    },
}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _schema_text(schema: dict[str, Any], default: Any) -> str:
    """One option's type and limits, from its JSON Schema, and its default."""
    if "enum" in schema:
        kind = " / ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in schema["enum"])
    else:
        kind = schema.get("type", "")
        if kind == "array":
            kind = f"array of {schema.get('items', {}).get('type', 'values')}"
        bounds = [
            f"≥ {schema['minimum']}" if "minimum" in schema else "",
            f"≤ {schema['maximum']}" if "maximum" in schema else "",
        ]
        kind += "".join(f" {b}" for b in bounds if b)
    return f"{kind} ({json.dumps(default, ensure_ascii=False)})" if default is not None else kind


def _paths(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return " / ".join(spec)
    if isinstance(spec, dict):
        text = _paths(spec.get("path", "")) or f"template {spec.get('template')}"
        return text + (f" + {', '.join(spec['apply'])}" if spec.get("apply") else "")
    return str(spec)


def block_formats(lang: str) -> str:
    from transiscope.ingest.formats import connector, gogocarto
    from transiscope.ingest.formats.base import DeclarativeConnector
    from transiscope.registry.schemas import MAPPING_SCHEMA
    from transiscope.registry.sources import SUPPORTED_FORMATS

    t = T[lang]
    rows = []
    for name in SUPPORTED_FORMATS:
        module = connector(name)
        kinds = ", ".join(t[k] for k in getattr(module, "KINDS", ("initiatives",)))
        if name == "gogocarto":
            rows.append(
                (
                    f"`{name}`",
                    kinds,
                    t["gogocarto_fields"],
                    ", ".join(f"{column} = {' / '.join(paths)}" for column, paths in gogocarto.DEFAULT_FIELDS.items()),
                )
            )
            continue
        defaults = getattr(module, "DEFAULT_OPTIONS", {})
        options = (
            "<br>".join(
                f"`{key}`: {_schema_text(schema, defaults.get(key))}"
                for key, schema in getattr(module, "OPTIONS_SCHEMA", {}).items()
            )
            or t["none"]
        )
        fields = (
            "; ".join(
                f"{column} = {_paths(spec)}"
                for column, spec in cast(DeclarativeConnector, module)
                .default_fields(getattr(module, "KINDS", ("initiatives",))[0])
                .items()
            )
            or t["none"]
        )
        rows.append((f"`{name}`", kinds, options, fields))
    keys = ", ".join(f"`{key}`" for key in MAPPING_SCHEMA["properties"])
    colon = " :" if lang == "fr" else ":"
    return (
        _table((t["format"], t["records"], t["options"], t["defaults"]), rows)
        + f"\n\n{t['mapping_keys']}{colon} {keys}\n"
    )


def block_columns(lang: str) -> str:
    from transiscope.ingest.mapping import ENGINE_COLUMNS, FUNCTIONS, NEEDS_ARGUMENT
    from transiscope.ingest.records import EVENT_COLUMNS, INITIATIVE_COLUMNS

    t = T[lang]
    colon = " :" if lang == "fr" else ":"
    initiative = ", ".join(
        f"`{c}`"
        for c in INITIATIVE_COLUMNS
        if c not in ENGINE_COLUMNS and c not in ("geo_precision", "geo_method", "geo_flags")
    )
    event = ", ".join(f"`{c}`" for c in EVENT_COLUMNS if c not in ENGINE_COLUMNS)
    functions = ", ".join(
        f"`{f}:…`" if f in NEEDS_ARGUMENT or f in ("split", "join", "lang", "wall_time") else f"`{f}`"
        for f in sorted(FUNCTIONS)
    )
    return (
        f"- {t['initiative_columns']}{colon} {initiative}\n- {t['event_columns']}{colon} {event}\n"
        f"- {t['functions']}{colon} {functions}\n"
    )


def _suite_rows(path: Path, lang: str) -> list[tuple[str, str, str, str]]:
    t = T[lang]
    data = json.loads(path.read_text(encoding="utf-8"))
    rows: list[tuple[str, str, str, str]] = []
    for expectation in data["expectations"]:
        meta = expectation.get("meta", {})
        if meta.get("disabled"):
            continue
        rule = meta.get("description_fr") if lang == "fr" else expectation.get("description")
        reason = meta.get("reason_fr") if lang == "fr" else meta.get("reason")
        rows.append(
            (
                f"`{expectation['kwargs'].get('column', '')}`",
                t[expectation.get("severity", "critical")],
                rule or expectation.get("description", ""),
                reason or "",
            )
        )
    return rows


def block_expectations(lang: str, expectations_dir: Path | None = None) -> str:
    t = T[lang]
    directory = expectations_dir or PROJECT_ROOT / "expectations"
    headers = (t["column"], t["severity"], t["rule"], t["reason"])
    parts = []
    for kind in ("initiatives", "events"):
        parts.append(
            f"**{t['common']} `expectations/{kind}.json`** ({t[kind]})\n\n"
            + _table(headers, _suite_rows(directory / f"{kind}.json", lang))
        )
    for path in sorted(directory.glob("*.json")):
        if path.stem in ("initiatives", "events"):
            continue
        rows = _suite_rows(path, lang)
        if rows:
            parts.append(f"**{t['per_source']} `expectations/{path.name}`**\n\n" + _table(headers, rows))
    return "\n\n".join(parts) + "\n"


def block_taxonomy(lang: str, taxonomy: Path | None = None) -> str:
    from transiscope.core.taxonomy import read_taxonomy

    t = T[lang]
    concepts = read_taxonomy(taxonomy or PROJECT_ROOT / "ontology" / "taxonomy.ttl").concepts
    rows = []
    for concept in concepts:
        label = concept.labels.get(lang) or concept.labels.get("fr") or concept.notation
        other = concept.labels.get("en" if lang == "fr" else "fr", "")
        rows.append(
            (
                f"`{concept.notation}`",
                f"{'**' if concept.broader is None else ''}{label}{'**' if concept.broader is None else ''}",
                other,
                f"`{concept.broader}`" if concept.broader else "—",
            )
        )
    other_lang = "en" if lang == "fr" else "fr"
    return _table((t["notation"], f"{t['label']} ({lang})", f"{t['label']} ({other_lang})", t["broader"]), rows) + "\n"


def block_score(lang: str) -> str:
    from transiscope.reports.quality import KEY_FIELDS, STALE_YEARS, WEIGHTS

    t = T[lang]
    formula = (
        "score = 100 × ("
        + " + ".join(f"{w:.2f} {k[0].upper() if k != 'warning_free' else 'W'}" for k, w in WEIGHTS.items())
        + ")"
    )
    rows = [(PARTS[lang][k].format(years=STALE_YEARS), f"{w:.0%}") for k, w in WEIGHTS.items()]
    colon = " :" if lang == "fr" else ":"
    return (
        f"```\n{formula}\n```\n\n"
        + _table((t["part"], t["weight"]), rows)
        + f"\n\n{t['key_fields']}{colon} "
        + ", ".join(f"`{k}`" for k in KEY_FIELDS)
        + "\n"
    )


RENDERERS = {
    "formats": block_formats,
    "columns": block_columns,
    "expectations": block_expectations,
    "taxonomy": block_taxonomy,
    "score": block_score,
}


def update(text: str, lang: str) -> tuple[str, list[str]]:
    """The guide with every generated part rendered again, and the names of the parts that changed."""
    changed: list[str] = []

    def render(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in RENDERERS:
            raise ValueError(f"unknown generated part {name!r} (known: {', '.join(RENDERERS)})")
        body = RENDERERS[name](lang)
        if body != match.group("body"):
            changed.append(name)
        return match.group(1) + body + match.group(4)

    return _BLOCK.sub(render, text), changed


def guide_path(lang: str, docs_dir: Path | None = None) -> Path:
    return (docs_dir or PROJECT_ROOT / "docs") / f"guide-sources.{lang}.md"


def run_guide(write: bool = False, docs_dir: Path | None = None) -> int:
    """Check (or ``write``) the generated parts of both guides; 1 when a guide is stale and not written."""
    stale = False
    for lang in LANGS:
        path = guide_path(lang, docs_dir)
        text = path.read_text(encoding="utf-8")
        new, changed = update(text, lang)
        missing = [name for name in BLOCKS if f"<!-- generated:{name} " not in text]
        if missing:
            print(f"{path}: no marker for the generated part(s) {', '.join(missing)}", file=sys.stderr)
            stale = True
        if not changed:
            print(f"{path}: up to date")
        elif write:
            path.write_text(new, encoding="utf-8")
            print(f"{path}: rewrote {', '.join(changed)}")
        else:
            print(f"{path}: stale parts: {', '.join(changed)} (run `transiscope guide --write`)", file=sys.stderr)
            stale = True
    return 1 if stale else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transiscope.reports.guide", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a guide is stale")
    args = parser.parse_args(argv)
    return run_guide(write=not args.check)


if __name__ == "__main__":
    sys.exit(main())
