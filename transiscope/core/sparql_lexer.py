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
