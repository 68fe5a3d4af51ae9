"""The text forms check-source writes and compares: folded names, registry ids, TOML literals, examples.

Why: the proposed mapping, the crosswalk and the report all write values the same way (a TOML literal, an
example cut to one line with the contacts of persons masked, a share in per cent) and compare names the same way
(folded: case-, accent- and punctuation-blind); one module keeps them identical everywhere.
"""

from __future__ import annotations

import json
import re
from typing import Any

from transiscope.core.text import fold as text_fold
from transiscope.core.text import split_camel

_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
#: what varies inside one kind of message (values, figures), blanked to count messages by kind
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|-?\d+(?:[.,]\d+)?")


def fold(text: str) -> str:
    """Case-, accent- and punctuation-blind form of a label or a field name (words joined by ``_``)."""
    return text_fold(split_camel(str(text)), "_")


def slug(text: str) -> str:
    """A registry id (``[a-z][a-z0-9-]{1,62}``) made from a file name or a host."""
    value = fold(text).replace("_", "-")[:60].strip("-") or "source"
    return value if value[0].isalpha() and len(value) > 1 else f"source-{value}"[:62]


def toml_value(value: Any) -> str:
    """A TOML literal for a string, number, boolean, list or inline table (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML literal for {type(value).__name__}")


def example_text(value: Any, width: int = 40) -> str:
    """An example value for a report or a comment: one line, cut, contacts of persons masked."""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value[:4] if not isinstance(v, dict | list))
    text = " ".join(str(value).split())
    if _EMAIL_LIKE.search(text):
        return "<e-mail>"
    if len(re.sub(r"\D", "", text)) >= 9 and re.fullmatch(r"[\d\s.+()/-]+", text):
        return "<phone>"
    return json.dumps(text[: width - 1] + "…" if len(text) > width else text, ensure_ascii=False)


def kind_of(message: str) -> str:
    return " ".join(_VARYING.sub("…", message).split())


def pct(share: float) -> str:
    return f"{round(100 * share)} %"
