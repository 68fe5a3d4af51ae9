"""SPARQL text as analysts type it: the project's usual prefixes added, error positions given back in their lines.

Shared by ``transiscope query`` and the endpoint's query workers, so that a query gives the same answer and the
same error message in both.
"""

from __future__ import annotations

import re

from transiscope.core.sparql_lexer import TOKENS as _TOKENS
from transiscope.core.sparql_lexer import unescape
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


# -- what a query would make the server do, read before any parser sees it ----------------------------------------
class QueryRefused(ValueError):
    """The query asks for something this endpoint does not do (a federated call, too deep a nesting): the
    message says what and why; the caller answers 400 without running anything."""


def check_query(sparql: str, *, allowed_services: frozenset[str] = frozenset(), max_depth: int = 64) -> None:
    """Refuse, before parsing, a query whose ``SERVICE`` clause names an endpoint not in ``allowed_services``
    (or a variable), and a query nested deeper than ``max_depth`` brackets.

    Why a scan of the text and not the parser's algebra: pyoxigraph evaluates ``SERVICE`` itself (it would send
    requests to any address a client writes, loopback and private ones included), and its parser has no depth
    limit (a query nested 10,000 deep crashes it); neither can be switched off in it. Comments, strings and IRIs
    are skipped, so that a ``SERVICE`` inside a literal or an IRI is not one.

    >>> check_query('SELECT * WHERE { ?s ?p "SERVICE <http://x/>" }')
    >>> check_query("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    transiscope.serve.sparql.QueryRefused: SERVICE <http://127.0.0.1:9/sparql> is refused: ...
    """
    # SPARQL lets \\uXXXX escapes stand for any character of the text: read them as the parser may
    sparql = unescape(sparql)
    depth = deepest = 0
    expect_service: bool = False
    for match in _TOKENS.finditer(sparql):
        kind = match.lastgroup
        text = match.group()
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                raise QueryRefused(
                    f"the query is nested more than {max_depth} levels deep (brackets, braces, parentheses): "
                    "this endpoint refuses it before parsing; flatten it"
                )
        elif kind == "close":
            depth = max(depth - 1, 0)
        if expect_service:
            if kind == "word" and text.upper() == "SILENT":
                continue
            expect_service = False
            target = text[1:-1] if kind == "iri" else None
            if target is None or target not in allowed_services:
                shown = text if kind in ("iri", "word") else "without an endpoint IRI"
                allowed = ", ".join(sorted(allowed_services)) or "none"
                raise QueryRefused(
                    f"SERVICE {shown} is refused: this endpoint does not send requests to other servers "
                    f"(federated queries allowed only towards the endpoints its operator lists in "
                    f"TRANSISCOPE_SERVE_SERVICE_ALLOW: {allowed})"
                )
        elif kind == "word" and text.upper() == "SERVICE":
            expect_service = True
    if expect_service:
        raise QueryRefused("SERVICE without an endpoint IRI is refused")
