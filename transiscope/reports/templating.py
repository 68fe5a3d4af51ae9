"""The Jinja environment of every page the bus writes or serves (quality reports, the kit, the gaps and
self-check pages): one per process, with the filters that put fields, states and dates in words.

Its own module so that each page's module uses it without importing another page's module.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from transiscope.reports.labels import field_label, state_label, when_label

if TYPE_CHECKING:
    import jinja2


@functools.cache
def template_environment() -> jinja2.Environment:
    """One Jinja environment per process: it keeps the compiled templates (compiling them took 0.5 s of
    every load, which rewrites its source's report). Jinja is imported here, on the first page written, not
    when a module that writes pages is imported."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("transiscope", "templates"),
        autoescape=True,  # every string from a source is hostile until escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda value: "–" if value is None else f"{100 * value:.0f} %"
    env.filters["label"] = field_label
    env.filters["state"] = state_label
    env.filters["when"] = when_label
    #: every page links to the maintainers' kit (the most common problems): its link's words
    env.globals["kit_link"] = {"fr": "Les problèmes les plus fréquents", "en": "The most common problems"}
    return env
