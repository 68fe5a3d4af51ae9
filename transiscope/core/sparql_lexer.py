"""SPARQL text read as tokens without a parser: what the endpoint checks before any parser sees a query (a
``SERVICE`` clause, the nesting depth) and what the store checks to know whether a query chooses its own dataset
(``FROM``). Comments, strings and IRIs are tokens of their own, so that a keyword inside them is not one.
"""

from __future__ import annotations

import re

#: what the scanner skips: comments, strings (long ones first), IRIs; what it looks at: keywords and brackets
TOKENS = re.compile(
    r"""(?P<comment>\#[^\n]*)
      | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
                  |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<iri><[^<>"{}|^`\\\s]*>)
      | (?P<word>[?$]?[A-Za-z_][\w\-]*(?::[\w\-.]*)?|:[\w\-.]*)
      | (?P<open>[{(\[])
      | (?P<close>[})\]])
    """,
    re.VERBOSE,
)


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def _character(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2), 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def unescape(sparql: str) -> str:
    """The text with its ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes read as the characters they stand for (SPARQL
    allows them anywhere in a query, keywords included).

    >>> unescape(r"\\u0053ERVICE")
    'SERVICE'
    """
    return _ESCAPE.sub(_character, sparql)


def declares_dataset(sparql: str) -> bool:
    """Whether the query names its own dataset with ``FROM`` or ``FROM NAMED``.

    >>> declares_dataset("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }")
    True
    >>> declares_dataset('SELECT * WHERE { ?s ?p "FROM <x>" } # FROM <y>')
    False
    """
    return any(
        match.lastgroup == "word" and match.group().upper() == "FROM" for match in TOKENS.finditer(unescape(sparql))
    )


def split_dataset(sparql: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The query without its ``FROM <iri>`` / ``FROM NAMED <iri>`` clauses, and the graphs they named: what a
    client of a remote store sends as the Protocol's dataset parameters instead, since some servers ignore
    ``FROM`` over a union default graph (Oxigraph) or merge it with the parameters (Virtuoso). A ``FROM`` with a
    prefixed name is left in the text.

    >>> split_dataset("SELECT * FROM <http://g/1> FROM NAMED <http://g/2> WHERE { ?s ?p ?o }")
    ('SELECT *   WHERE { ?s ?p ?o }', ('http://g/1',), ('http://g/2',))
    """
    text = unescape(sparql)
    tokens = [(m.lastgroup, m.group(), m.start(), m.end()) for m in TOKENS.finditer(text)]
    cuts: list[tuple[int, int]] = []
    defaults: list[str] = []
    named: list[str] = []
    for index, (kind, word, start, _) in enumerate(tokens):
        if kind != "word" or word.upper() != "FROM":
            continue
        following = tokens[index + 1 : index + 3]
        is_named = bool(following) and following[0][0] == "word" and following[0][1].upper() == "NAMED"
        target = following[1] if is_named and len(following) > 1 else following[0] if following else None
        if target is None or target[0] != "iri":
            continue
        (named if is_named else defaults).append(target[1][1:-1])
        cuts.append((start, target[3]))
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text, tuple(defaults), tuple(named)
