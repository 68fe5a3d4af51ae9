"""``check_source``: read a source, propose a mapping, run the bus's stages on the records it maps.

Why: this is the sequence the command runs, in one place: acquire the payload, detect the format, profile the
records, propose a mapping (twice: the crosswalk needs the labels the first draft reads), validate it against the
mapping schema, write it, then run normalise, (offline) geocode, validate, to_rdf and shapes in a workspace.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from transiscope.core.errors import ConfigError, MalformedPayload, TransiscopeError
from transiscope.ingest.mappings import load_mapping
from transiscope.registry.sources import Source
from transiscope.reports.check_source.acquire import acquire, is_url
from transiscope.reports.check_source.crosswalk import known_crosswalks, match_labels, taxonomy_concepts
from transiscope.reports.check_source.detection import detect, url_detection
from transiscope.reports.check_source.findings import NO_LICENCE, CheckResult, result_of_run
from transiscope.reports.check_source.profiling import profile, unnamable
from transiscope.reports.check_source.proposal import build_proposal
from transiscope.reports.check_source.text import slug
from transiscope.reports.check_source.workspace import Workspace, provisional_mapping
from transiscope.settings import PROJECT_ROOT, Settings

#: formats the ``--format`` option accepts: the registry's names, ``json`` for any JSON API
FORMAT_CHOICES = ("auto", "gogocarto", "kvm", "openagenda", "ical", "csv", "geojson", "json", "jsonapi", "murmurations")
_PLACEHOLDER_HOST = "https://check-source.invalid/"


def _labels(elements: list[Any], source: Source) -> Counter[str]:
    """The category labels of the records as the mapping reads them (what the crosswalk will see)."""
    from transiscope.ingest.formats import RecordRejected, connector

    module = connector(source.format)
    mapping = load_mapping(source)
    labels: Counter[str] = Counter()
    for index, element in enumerate(elements):
        try:
            record = module.normalise(element, index, source, mapping)
        except (RecordRejected, TransiscopeError, TypeError, ValueError):
            continue
        labels.update(dict.fromkeys(record.get("categories") or ()).keys())
    return labels


def check_source(
    target: str,
    fmt: str = "auto",
    out: Path | None = None,
    *,
    name: str | None = None,
    licence: str | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> CheckResult:
    """Read ``target`` (URL or file), propose a mapping (written to ``out``), and check the records with it."""
    from transiscope.ingest import stages
    from transiscope.ingest.formats import connector
    from transiscope.ingest.mappings import load_registry
    from transiscope.ingest.run_context import start_run
    from transiscope.registry.schemas import mapping_problems

    say = progress or (lambda _message: None)
    if fmt not in FORMAT_CHOICES:
        raise ConfigError(f"unknown format {fmt!r} (one of: {', '.join(FORMAT_CHOICES)})")
    forced = {"auto": None, "json": "jsonapi"}.get(fmt, fmt)
    settings = settings or Settings.from_env()
    parts = urlsplit(target)
    if not name:
        stem = Path(parts.path).stem if is_url(target) else Path(target).stem
        generic = {"", "api", "elements", "events", "search", "feed", "ics", "index", "export", "nodes", "data"}
        name = stem if stem.lower() not in generic else (parts.hostname or "source").removeprefix("www.").split(".")[0]
    name = slug(name)
    known = {s.id: s for s in _project_sources(settings)}
    licence = licence or (known[name].licence if name in known else NO_LICENCE)

    raw, origin = acquire(target, name, forced, settings, say)
    detection = url_detection(target, forced) if raw is None else detect(raw, origin, forced)
    say(f"format: {detection.format} ({'; '.join(detection.how)})")
    url = target if is_url(target) else _PLACEHOLDER_HOST + Path(target).name
    workspace = Workspace(settings, name)
    try:
        source = workspace.source(detection, provisional_mapping(detection), url, licence)
        module = connector(detection.format)
        if detection.raw is None or (is_url(target) and detection.options.get("pagination") == "next_url"):
            from transiscope.ingest.extract import Fetcher, source_http
            from transiscope.ingest.formats.base import PagedConnector

            say(f"{detection.format}: fetching every page the way the bus does")
            with Fetcher(source_http(settings.http, source), name, connect_retries=0) as fetcher:
                pages = cast(PagedConnector, module).extract_pages(fetcher, target, source, load_mapping(source), None)
            detection.raw = json.dumps(pages, ensure_ascii=False).encode("utf-8")
            say(f"{detection.format}: {fetcher.requests} request(s), {fetcher.bytes:,} bytes")
        elements = module.parse(detection.raw, source)
        if not elements:
            raise MalformedPayload(f"{origin} holds no records: nothing to check")
        say(f"{len(elements)} records read; profiling their fields")
        profiles, total = profile(elements)
        draft = build_proposal(name, origin, detection, elements, profiles, total)
        source = workspace.source(detection, draft.text, url, licence)
        labels = _labels(elements, source)
        matches = match_labels(
            labels,
            taxonomy_concepts(settings.ontology_dir / "taxonomy.ttl"),
            known_crosswalks(
                PROJECT_ROOT / "transforms" / "mappings",
                exclude=known[name].mapping_path.name if name in known else None,
            ),
        )
        proposal = build_proposal(name, origin, detection, elements, profiles, total, matches)
        problems = mapping_problems(tomllib.loads(proposal.text), Path(f"{name}.mapping.toml"))
        if problems:  # a bug of this module, never the source's fault
            raise RuntimeError(f"the proposed mapping does not validate: {problems[0]}")
        source = workspace.source(detection, proposal.text, url, licence)
        out = out or Path.cwd() / f"{name}.mapping.toml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(proposal.text, encoding="utf-8")
        say(f"proposed mapping written to {out}")

        load_registry(workspace.settings.registry_path)
        run_dir = start_run(name, settings=workspace.settings, runner="check-source", url=url, mode="check")
        (run_dir / "raw.json").write_bytes(detection.raw)
        verdict = None
        try:
            # every stage before the load, the SHACL shapes included: what would be quarantined is all there
            for stage in (s for s in stages.REPLAYED if not s.writes_store):
                say(f"{name}: {stage.name}")
                stage(run_dir, workspace.settings, record_failures=False)
        except TransiscopeError as exc:  # schema drift and the like: what the bus would say about the batch
            verdict = str(exc)
        result = result_of_run(
            name, origin, detection, proposal, out, run_dir, total, verdict, licence, workspace.settings
        )
        lost = unnamable(elements)
        if lost:
            names = ", ".join(map(repr, lost[:8]))
            result.extra.append(
                f"field(s) a mapping cannot name (a dot or spaces around the name), so the bus "
                f"cannot read them: {names}; rename them"
            )
            result.extra_fr.append(
                f"champ(s) qu'une correspondance ne peut pas nommer (un point ou des espaces autour du nom), que "
                f"le bus ne peut donc pas lire : {names} ; renommez-les"
            )
        extra_cells = sum(1 for e in elements if isinstance(e, dict) and e.get("_extra_cells"))
        if extra_cells:
            result.extra.append(
                f"{extra_cells} row(s) have more cells than the header has columns: the extra "
                "cells are not read (a separator inside an unquoted value?)"
            )
            result.extra_fr.append(
                f"{extra_cells} ligne(s) ont plus de cellules que l'en-tête n'a de colonnes : les cellules en trop "
                "ne sont pas lues (un séparateur dans une valeur sans guillemets ?)"
            )
        result.fix_first = (result.fix_first[:2] + result.extra + result.fix_first[2:])[:9]
        result.fix_first_fr = (result.fix_first_fr[:2] + result.extra_fr + result.fix_first_fr[2:])[:9]
        return result
    finally:
        workspace.close()


def _project_sources(settings: Settings) -> list[Source]:
    from transiscope.ingest.mappings import load_registry

    try:
        return list(load_registry(settings.registry_path).sources)
    except TransiscopeError:
        return []
