"""A labelled evaluation set for the link step: realistic synthetic variants of French initiatives.

    .venv/bin/python bench/link_pairs.py [--seed 2024] [--show 10]

Seeded, so the set is the same on every machine. Each generated record carries the id of the real-world
initiative it describes (``entity``), so the truth is known for *every* pair, not only the labelled ones:

- **positives** (same initiative, two sources): the second source's record is a variant of the first with
  one to three of: a typo, abbreviations ("Association" -> "Asso", "Saint" -> "St", "AMAP des X" ->
  "AMAP X", an acronym), capitals or accents lost, a moved pin (geocoded elsewhere, up to ~2.5 km, or at
  the commune centre), a different address for the same place (another way of writing it, the other
  street of a corner), missing contact fields, another way of writing the website or the phone;
- **hard negatives** (two initiatives): chain shops sharing a website ("Biocoop Croix-Rousse" / "Biocoop
  Part-Dieu"), "Repair Café <commune>" of neighbouring communes, two "Jardin partagé" a few hundred metres
  apart, two initiatives of different kinds at one address (a tiers-lieu hosting an AMAP and a repair
  café), the same name in two regions, and unrelated neighbours.

:func:`evaluate` runs the real link code (blocking, scoring, thresholds, clusters) over all the records and
measures precision over every predicted pair (any pair of different entities is a false positive, labelled
or not) and recall over every true pair.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: communes with their centre (approximate) and main postcode
COMMUNES = [
    ("Lyon", 45.7640, 4.8357, "69001"),
    ("Villeurbanne", 45.7719, 4.8902, "69100"),
    ("Nantes", 47.2184, -1.5536, "44000"),
    ("Rezé", 47.1833, -1.5500, "44400"),
    ("Montpellier", 43.6108, 3.8767, "34000"),
    ("Grenoble", 45.1885, 5.7245, "38000"),
    ("Rennes", 48.1173, -1.6778, "35000"),
    ("Dijon", 47.3220, 5.0415, "21000"),
    ("Strasbourg", 48.5734, 7.7521, "67000"),
    ("Lille", 50.6292, 3.0573, "59000"),
    ("Marseille", 43.2965, 5.3698, "13001"),
    ("Poitiers", 46.5802, 0.3404, "86000"),
    ("Toulouse", 43.6047, 1.4442, "31000"),
    ("Bordeaux", 44.8378, -0.5792, "33000"),
    ("Angers", 47.4784, -0.5632, "49000"),
    ("Limoges", 45.8336, 1.2611, "87000"),
    ("Nancy", 48.6921, 6.1844, "54000"),
    ("Brest", 48.3904, -4.4861, "29200"),
    ("Tours", 47.3941, 0.6848, "37000"),
    ("Clermont-Ferrand", 45.7772, 3.0870, "63000"),
    ("Saint-Étienne", 45.4397, 4.3872, "42000"),
    ("Besançon", 47.2378, 6.0241, "25000"),
    ("Caen", 49.1829, -0.3707, "14000"),
    ("Pau", 43.2951, -0.3708, "64000"),
    ("Périgueux", 45.1846, 0.7214, "24000"),
    ("Valence", 44.9334, 4.8924, "26000"),
    ("Bourges", 47.0810, 2.3988, "18000"),
    ("Mulhouse", 47.7508, 7.3359, "68100"),
    ("Quimper", 47.9960, -4.1020, "29000"),
    ("Niort", 46.3237, -0.4588, "79000"),
    ("Saint-Denis", 48.9362, 2.3574, "93200"),
    ("Montreuil", 48.8638, 2.4485, "93100"),
    ("Paris", 48.8566, 2.3522, "75011"),
    ("Aurillac", 44.9264, 2.4396, "15000"),
]
KINDS = [
    "AMAP",
    "Repair Café",
    "Ressourcerie",
    "Jardin partagé",
    "Épicerie coopérative",
    "Tiers-lieu",
    "Atelier vélo",
    "Recyclerie",
    "Café associatif",
    "Fablab",
    "Habitat participatif",
    "Université populaire",
    "Ciné-club",
    "Monnaie locale",
    "Ferme",
    "Association",
]
NAMES = [
    "des Pentes",
    "du Lez",
    "La Trouvaille",
    "Le Dérailleur",
    "Roule Ma Poule",
    "La Graine",
    "L'Étincelle",
    "Le Chaînon",
    "des Volcans",
    "La Bergerie",
    "Les Colibris",
    "du Bocage",
    "La Boucle",
    "Le Hangar",
    "Pollen",
    "La Lanterne",
    "Les Chênes",
    "du Grand Pré",
    "L'Épi Vert",
    "Belle-de-Mai",
    "La Cagette",
    "Le Zinc",
    "La Fabrique",
    "Les Tisserands",
    "Saint-Michel",
    "La Ruche",
    "Le Potager Nomade",
    "de la Guillotière",
    "Court-Circuit",
    "Les Mains Vertes",
    "L'Escargot",
    "La Clé des Champs",
    "Terre Ferme",
    "Le Grenier",
    "La Bricole",
    "Vélorution",
    "Les Petits Débrouillards",
    "Le Moulin",
    "La Cordée",
    "Grésivaudan",
    "Le Chat Perché",
    "La Source",
    "Les Tanneurs",
    "La Mine",
    "Le Bercail",
]
STREETS = [
    "rue de la République",
    "rue Victor Hugo",
    "avenue Jean Jaurès",
    "place du Marché",
    "boulevard Gambetta",
    "rue Pasteur",
    "chemin des Vignes",
    "allée des Tilleuls",
    "rue Saint-Michel",
    "quai de la Loire",
    "rue des Écoles",
    "impasse du Moulin",
    "route de Lyon",
    "rue de la Paix",
]
STREET_ABBREVIATIONS = {
    "rue": "r.",
    "avenue": "av.",
    "boulevard": "bd",
    "place": "pl.",
    "chemin": "ch.",
    "allée": "all.",
    "route": "rte",
    "impasse": "imp.",
    "Saint": "St",
}
CHAINS = [
    ("Biocoop", "biocoop.fr"),
    ("La Recyclerie", "larecyclerie.org"),
    ("Emmaüs", "emmaus-france.org"),
    ("Les Amis de la Terre", "amisdelaterre.org"),
    ("Alternatiba", "alternatiba.eu"),
]
DISTRICTS = ["Croix-Rousse", "Part-Dieu", "Centre", "Gare", "Saint-Jean", "Les Halles", "Nord", "Sud"]


@dataclass(frozen=True)
class EvalSet:
    records: list[dict[str, Any]]
    #: labelled pairs: (record index, record index, same initiative?, what kind of case)
    pairs: list[tuple[int, int, bool, str]]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text).split())


def _offset(lat: float, lon: float, metres: float, rng: random.Random) -> tuple[float, float]:
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = metres * math.cos(bearing) / 111_320
    dlon = metres * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _phone(rng: random.Random) -> str:
    return f"0{rng.randint(1, 5)} " + " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4))


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.records: list[dict[str, Any]] = []
        self.pairs: list[tuple[int, int, bool, str]] = []
        self.entities = 0
        #: (name, commune) already given to an initiative: two initiatives of one commune rarely share a name
        self.used: set[tuple[str, str]] = set()

    def add(self, record: dict[str, Any]) -> int:
        record.setdefault("source_id", f"r{len(self.records)}")
        self.records.append(record)
        return len(self.records) - 1

    def fresh(self, make: Callable[[], str], city: str) -> str:
        """A name not yet given to another initiative of ``city`` (bounded number of draws)."""
        for _ in range(200):
            name = make()
            if (name, city) not in self.used:
                return name
        raise RuntimeError(f"no fresh name left in {city}")

    def initiative(
        self,
        source: str,
        *,
        name: str | None = None,
        commune: tuple | None = None,
        at: tuple[float, float] | None = None,
        website: str | None = None,
        street: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        city, clat, clon, postcode = commune or rng.choice(COMMUNES)
        if name is None:

            def draw() -> str:
                drawn = f"{rng.choice(KINDS)} {rng.choice(NAMES)}"
                if rng.random() < 0.3:
                    drawn = f"{drawn} {city}" if rng.random() < 0.5 else f"{drawn} de {city}"
                return drawn

            name = self.fresh(draw, city)
        self.used.add((name, city))
        lat, lon = at or _offset(clat, clon, rng.uniform(0, 3000), rng)
        self.entities += 1
        slug = f"{_slug(f'{name} {city}')[:40]}-{self.entities}"  # every initiative has its own site
        return {
            "entity": self.entities,
            "source": source,
            "name": name,
            "lat": lat,
            "lon": lon,
            "street": street or f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
            "postcode": postcode,
            "city": city,
            "website": website
            if website is not None
            else (f"https://{slug}.example.org" if rng.random() < 0.7 else None),
            "phone": _phone(rng) if rng.random() < 0.6 else None,
            "email": f"contact@{slug}.example.org" if rng.random() < 0.5 else None,
        }

    # -- variants of one initiative --------------------------------------------------------------------
    def variant(self, record: dict[str, Any], source: str) -> tuple[dict[str, Any], str]:
        rng = self.rng
        other = dict(record, source=source, source_id=None)
        other.pop("source_id")
        changes = rng.sample(
            ["typo", "abbreviation", "case", "pin", "address", "missing", "contact_format"], k=rng.choice((1, 2, 2, 3))
        )
        for change in changes:
            getattr(self, f"_{change}")(other)
        return other, "+".join(sorted(changes))

    def _typo(self, r: dict[str, Any]) -> None:
        name = r["name"]
        letters = [i for i, c in enumerate(name) if c.isalpha()]
        i = self.rng.choice(letters[1:] or letters)
        kind = self.rng.randrange(3)
        if kind == 0:
            r["name"] = name[:i] + name[i + 1 :]
        elif kind == 1 and i + 1 < len(name):
            r["name"] = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        else:
            r["name"] = name[:i] + self.rng.choice("aeiourstnl") + name[i + 1 :]

    def _abbreviation(self, r: dict[str, Any]) -> None:
        name = r["name"]
        for long, short in (
            ("Association", "Asso"),
            ("Saint-", "St-"),
            ("Université populaire", "UP"),
            ("Épicerie coopérative", "Épicerie coop"),
            ("AMAP des ", "AMAP "),
            ("AMAP du ", "AMAP "),
            (" de ", " "),
            ("Tiers-lieu", "Tiers lieu"),
            ("Repair Café", "Repair-Café"),
        ):
            if long in name:
                r["name"] = name.replace(long, short, 1)
                return
        r["name"] = ("Association " + name) if self.rng.random() < 0.5 else name.replace("La ", "", 1)

    def _case(self, r: dict[str, Any]) -> None:
        plain = unicodedata.normalize("NFKD", r["name"]).encode("ascii", "ignore").decode()
        r["name"] = plain.upper() if self.rng.random() < 0.5 else plain.lower()

    def _pin(self, r: dict[str, Any]) -> None:
        if self.rng.random() < 0.3:  # geocoded at the commune centre
            commune = next(c for c in COMMUNES if c[0] == r["city"])
            r["lat"], r["lon"] = commune[1], commune[2]
        else:
            r["lat"], r["lon"] = _offset(r["lat"], r["lon"], self.rng.uniform(40, 2500), self.rng)

    def _address(self, r: dict[str, Any]) -> None:
        if self.rng.random() < 0.5 and r.get("street"):
            street = r["street"]
            for long, short in STREET_ABBREVIATIONS.items():
                street = street.replace(long, short)
            r["street"] = street.replace(" ", ", ", 1) if street == r["street"] else street
        else:  # the other street of a corner, or the entrance around the block
            r["street"] = f"{self.rng.randint(1, 120)} {self.rng.choice(STREETS)}"
            r["lat"], r["lon"] = _offset(r["lat"], r["lon"], self.rng.uniform(10, 150), self.rng)

    def _missing(self, r: dict[str, Any]) -> None:
        for key in self.rng.sample(["website", "phone", "email", "street", "postcode"], k=2):
            r[key] = None

    def _contact_format(self, r: dict[str, Any]) -> None:
        if r.get("website"):
            r["website"] = r["website"].replace("https://", "http://www.") + "/accueil"
        if r.get("phone"):
            r["phone"] = "+33 " + r["phone"][1:]
        if r.get("email"):
            r["email"] = r["email"].upper()

    # -- the set -------------------------------------------------------------------------------------------
    def build(self, positives: int, negatives_per_kind: int) -> EvalSet:
        rng = self.rng
        for _ in range(positives):
            base = self.initiative("alpha")
            other, case = self.variant(base, rng.choice(["beta", "gamma", "alpha"]))
            self.pairs.append((self.add(base), self.add(other), True, case))
        n = negatives_per_kind
        for _ in range(n):  # chains: same brand and website, other district, 1-15 km
            brand, domain = rng.choice(CHAINS)
            commune = rng.choice(COMMUNES)
            shop = lambda: f"{brand} {rng.choice(DISTRICTS)}"  # noqa: E731, B023
            first = self.initiative(
                "alpha", name=self.fresh(shop, commune[0]), commune=commune, website=f"https://www.{domain}"
            )
            second = self.initiative(
                "beta", name=self.fresh(shop, commune[0]), commune=commune, website=f"https://{domain}/magasins"
            )
            second["lat"], second["lon"] = _offset(first["lat"], first["lon"], rng.uniform(1000, 15000), rng)
            self.pairs.append((self.add(first), self.add(second), False, "chain"))
        for _ in range(n):  # "Repair Café <commune>" of two neighbouring communes
            one, two = rng.sample(
                [
                    ("Lyon", "Villeurbanne"),
                    ("Nantes", "Rezé"),
                    ("Paris", "Montreuil"),
                    ("Paris", "Saint-Denis"),
                    ("Saint-Denis", "Montreuil"),
                ],
                1,
            )[0]
            kind = rng.choice(["Repair Café", "AMAP", "Ressourcerie", "Atelier vélo"])
            communes = {c[0]: c for c in COMMUNES}
            first = self.initiative(
                "alpha",
                commune=communes[one],
                name=self.fresh(lambda: f"{kind} {one} {rng.choice(DISTRICTS)}", one),  # noqa: B023
            )
            second = self.initiative(
                "beta",
                commune=communes[two],
                name=self.fresh(lambda: f"{kind} {two} {rng.choice(DISTRICTS)}", two),  # noqa: B023
            )
            self.pairs.append((self.add(first), self.add(second), False, "same pattern, neighbouring communes"))
        for _ in range(n):  # two "Jardin partagé" of one commune, 300 m to 2 km apart, no contact
            commune = rng.choice(COMMUNES)
            first = self.initiative(
                "alpha", name=rng.choice(["Jardin partagé", "AMAP", "Repair Café"]), commune=commune, website=""
            )
            second = self.initiative(
                "beta",
                name=first["name"],
                commune=commune,
                website="",
                at=_offset(first["lat"], first["lon"], rng.uniform(300, 2000), rng),
            )
            for r in (first, second):
                r["phone"] = r["email"] = None
            self.pairs.append((self.add(first), self.add(second), False, "generic name, same commune"))
        for _ in range(n):  # two kinds at one address (a tiers-lieu hosting an AMAP and a repair café)
            commune = rng.choice(COMMUNES)
            kinds = rng.sample(["AMAP", "Repair Café", "Atelier vélo", "Épicerie coopérative", "Ressourcerie"], 2)
            place = self.fresh(lambda: rng.choice(NAMES), commune[0])
            self.used.add((place, commune[0]))
            first = self.initiative("alpha", name=f"{kinds[0]} {place}", commune=commune)
            second = self.initiative(
                "beta",
                name=f"{kinds[1]} {place}",
                commune=commune,
                street=first["street"],
                at=_offset(first["lat"], first["lon"], rng.uniform(0, 30), rng),
            )
            self.pairs.append((self.add(first), self.add(second), False, "two kinds, one address"))
        for _ in range(n):  # the same name in two regions
            one, two = rng.sample(COMMUNES, 2)
            name = self.fresh(lambda: f"{rng.choice(KINDS)} {rng.choice(NAMES)}", one[0])
            name = self.fresh(lambda: name, two[0]) if (name, two[0]) not in self.used else name  # noqa: B023
            first = self.initiative("alpha", name=name, commune=one)
            second = self.initiative("beta", name=name, commune=two)
            self.pairs.append((self.add(first), self.add(second), False, "same name, elsewhere"))
        for _ in range(n):  # unrelated neighbours
            commune = rng.choice(COMMUNES)
            first = self.initiative("alpha", commune=commune)
            second = self.initiative(
                "beta", commune=commune, at=_offset(first["lat"], first["lon"], rng.uniform(0, 400), rng)
            )
            self.pairs.append((self.add(first), self.add(second), False, "neighbours"))
        for position, record in enumerate(self.records):
            record["source_id"] = f"r{position}"
        return EvalSet(self.records, self.pairs)


def generate(seed: int = 2024, positives: int = 240, negatives_per_kind: int = 40) -> EvalSet:
    """The labelled set: ``positives`` true pairs and six kinds of hard negatives."""
    return _Generator(seed).build(positives, negatives_per_kind)


@dataclass(frozen=True)
class Evaluation:
    labelled_pairs: int
    true_pairs: int
    same_as: int
    same_as_correct: int
    candidates: int
    candidates_correct: int
    found_true: int
    #: scorer alone on the labelled pairs (no blocking): precision of sameAs, recall of sameAs+candidates
    labelled_precision: float
    labelled_recall: float
    errors: list[tuple[str, dict, dict, float, tuple[str, ...]]]

    @property
    def precision(self) -> float:
        return self.same_as_correct / self.same_as if self.same_as else 1.0

    @property
    def recall(self) -> float:
        return self.found_true / self.true_pairs if self.true_pairs else 1.0

    @property
    def same_as_recall(self) -> float:
        return self.same_as_correct / self.true_pairs if self.true_pairs else 1.0


def evaluate(data: EvalSet, high: float, low: float) -> Evaluation:
    """Run the link code over every record of the set at thresholds ``high`` (sameAs) and ``low``."""
    from itertools import combinations

    from transiscope.downstream.link import linker as link
    from transiscope.downstream.link import matching

    decisions = link.Decisions()
    result = link.link_records(data.records, high=high, low=low, decisions=decisions)
    entity = [r["entity"] for r in data.records]
    by_entity: dict[int, list[int]] = {}
    for position, e in enumerate(entity):
        by_entity.setdefault(e, []).append(position)
    true_pairs = {p for members in by_entity.values() for p in combinations(sorted(members), 2)}
    same_as = {(m.a, m.b) for m in result.same_as}
    candidates = {(m.a, m.b) for m in result.candidates}
    errors = []
    for m in result.same_as:
        if (m.a, m.b) not in true_pairs:
            errors.append(("false sameAs", data.records[m.a], data.records[m.b], m.score, m.evidence))
    for pair in sorted(true_pairs - same_as - candidates):
        match = matching.score_pair(
            matching.comparable(pair[0], data.records[pair[0]]), matching.comparable(pair[1], data.records[pair[1]])
        )
        errors.append(("missed", data.records[pair[0]], data.records[pair[1]], match.score, match.evidence))
    # the scorer alone, on the labelled pairs
    scored = [
        (
            same,
            matching.score_pair(matching.comparable(a, data.records[a]), matching.comparable(b, data.records[b])).score,
        )
        for a, b, same, _ in data.pairs
    ]
    predicted = [same for same, score in scored if score >= high]
    positives = [score for same, score in scored if same]
    return Evaluation(
        labelled_pairs=len(data.pairs),
        true_pairs=len(true_pairs),
        same_as=len(same_as),
        same_as_correct=len(same_as & true_pairs),
        candidates=len(candidates),
        candidates_correct=len(candidates & true_pairs),
        found_true=len((same_as | candidates) & true_pairs),
        labelled_precision=sum(predicted) / len(predicted) if predicted else 1.0,
        labelled_recall=sum(1 for s in positives if s >= low) / len(positives) if positives else 1.0,
        errors=errors,
    )


def main() -> None:
    from transiscope.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--show", type=int, default=10, help="errors to print")
    args = parser.parse_args()
    settings = Settings.from_env()
    data = generate(args.seed)
    result = evaluate(data, settings.link.high, settings.link.low)
    kinds: dict[str, int] = {}
    for _, _, same, case in data.pairs:
        key = "positive" if same else f"negative: {case}"
        kinds[key] = kinds.get(key, 0) + 1
    print(
        f"records {len(data.records)}, labelled pairs {result.labelled_pairs} "
        f"({', '.join(f'{k} {v}' for k, v in kinds.items())})"
    )
    print(f"thresholds: sameAs >= {settings.link.high}, candidate >= {settings.link.low}")
    print(
        f"end to end (blocking + score + clusters), over every pair of records: sameAs {result.same_as} "
        f"(correct {result.same_as_correct}), candidates {result.candidates} (true {result.candidates_correct})"
    )
    print(
        f"  precision sameAs {result.precision:.3f}   recall sameAs {result.same_as_recall:.3f}   "
        f"recall sameAs+candidates {result.recall:.3f}   (true pairs {result.true_pairs})"
    )
    print(
        f"scorer alone on the labelled pairs: precision sameAs {result.labelled_precision:.3f}   "
        f"recall sameAs+candidates {result.labelled_recall:.3f}"
    )
    for kind, left, right, score, evidence in result.errors[: args.show]:
        print(
            f"  {kind} {score:.3f}: {left['name']!r} ({left['city']}) / {right['name']!r} ({right['city']}): "
            f"{'; '.join(evidence)}"
        )


if __name__ == "__main__":
    main()
