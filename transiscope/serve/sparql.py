"""SPARQL text as analysts type it: the project's usual prefixes added, error positions given back in their lines.

Shared by ``transiscope query`` and the endpoint's query workers, so that a query gives the same answer and the
same error message in both.
"""

from __future__ import annotations

import re

from transiscope.core.vocab import PREFIXES


def with_prefixes(sparql: str) -> str:
    """Prepend, on one line, the project's usual prefixes that the query does not declare itself."""
    declared = {
        line.split()[1].rstrip(":").lower()
        for line in sparql.splitlines()
        if line.strip().upper().startswith("PREFIX") and len(line.split()) > 1
    }
    prologue = " ".join(f"PREFIX {p}: <{ns}>" for p, ns in PREFIXES.items() if p not in declared)
    return prologue + "\n" + sparql


_POSITION = re.compile(r"\b(error at )(\d+):(\d+)")


def user_position(message: str) -> str:
    """Error positions as the user counts them, without the prologue line of ``with_prefixes``."""
    return _POSITION.sub(lambda m: f"{m.group(1)}line {int(m.group(2)) - 1}, column {m.group(3)}", message)
