"""Licence and credits carried by every export: which sources, under which licence, exported when.

The sources' DCAT datasets (metadata graph) give the names, publishers and licences; each record also
carries its own licence (Karte von morgen licenses per entry). When any record or source of a file is under
the ODbL, the file is a derivative database under the ODbL too and says so (share-alike).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from transiscope.downstream.exports.read import ReadModel, SourceCredit, is_odbl, licence_id

ODBL_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
ODBL_NOTICE = {
    "fr": "Contient des données sous licence ODbL 1.0 : cette base dérivée est publiée sous ODbL 1.0 ; toute "
    "réutilisation doit créditer les sources ci-dessous et partager ses améliorations sous la même licence.",
    "en": "Contains data under the ODbL 1.0: this derivative database is published under the ODbL 1.0; any reuse "
    "must credit the sources below and share improvements under the same licence (share-alike).",
}
TITLE = "Transiscope — alternatives de la transition / transition alternatives"


class Tally:
    """What a file's attribution needs of its records, counted as they stream by: records per source and the
    licences met (a few keys, whatever the number of records)."""

    def __init__(self) -> None:
        self.per_source: Counter[str] = Counter()
        self.licences: set[str] = set()

    def add(self, record: dict[str, Any]) -> None:
        if record.get("source"):
            self.per_source[record["source"]] += 1
        if record.get("licence"):
            self.licences.add(record["licence"])

    def block(self, sources: Iterable[SourceCredit], generated: str, what: str = "initiatives") -> dict[str, Any]:
        """The attribution block of the records counted so far (``sources``: the catalogue's credits)."""
        per_source, licences = self.per_source, set(self.licences)
        credits = []
        for credit in sorted(sources, key=lambda c: c.id):
            if credit.id not in per_source:
                continue
            if credit.licence:
                licences.add(licence_id(credit.licence))
            credits.append(
                {
                    "id": credit.id,
                    "iri": credit.iri,
                    "name": credit.name,
                    "publisher": credit.publisher or None,
                    "licence": licence_id(credit.licence) or None,
                    "landing_page": credit.landing_page or None,
                    "modified": credit.modified or None,
                    what: per_source[credit.id],
                }
            )
        odbl = any(is_odbl(licence) for licence in licences)
        if odbl:
            licence, url = "ODbL-1.0", ODBL_URL
        elif len(licences) == 1:
            licence = next(iter(licences))
            url = licence if licence.startswith("http") else f"https://spdx.org/licenses/{licence}.html"
        else:
            licence, url = None, None  # mixed or unknown: each record and each source says its own
        block: dict[str, Any] = {
            "title": TITLE,
            "generated": generated,
            "licence": licence,
            "licence_url": url,
            "records": sum(per_source.values()),
            "sources": credits,
            "notice": {
                "fr": "Données issues des sources partenaires de Transiscope, chacune créditée ci-dessous ; chaque "
                "fiche indique sa source et l'adresse de sa fiche d'origine.",
                "en": "Data from Transiscope's partner sources, each credited below; every record names its source "
                "and the address of its original page.",
            },
        }
        if odbl:
            block["share_alike"] = ODBL_NOTICE
        return block


def attribution(
    records: Iterable[dict[str, Any]], model: ReadModel, generated: str, what: str = "initiatives"
) -> dict[str, Any]:
    """The attribution block of a file holding ``records`` (initiatives or events of the read model)."""
    tally = Tally()
    for record in records:
        tally.add(record)
    return tally.block(model.sources.values(), generated, what)


def credit_line(block: dict[str, Any], lang: str = "fr") -> str:
    """The attribution as one plain-text paragraph (iCalendar description, CSV metadata...)."""
    names = ", ".join(f"{s['name']} ({s['licence'] or '?'})" for s in block["sources"]) or "—"
    head = {"fr": "Sources", "en": "Sources"}[lang]
    parts = [
        f"{head} : {names}." if lang == "fr" else f"{head}: {names}.",
        ("Exporté le " if lang == "fr" else "Exported on ") + block["generated"] + ".",
    ]
    if block["licence"]:
        parts.append(("Licence : " if lang == "fr" else "Licence: ") + block["licence"] + ".")
    if block.get("share_alike"):
        parts.append(block["share_alike"][lang])
    return " ".join(parts)
