"""``transiscope check-source``: a self-check for the people who run a source, before it joins the bus.

Why: adding a source used to mean an operator reading a payload by hand and writing a mapping file from
scratch, and the source's maintainers learning about their data's problems only from the first quarantine.
This package does the first pass for both: it reads a URL or a file the way the bus would (the same HTTP
code: timeouts, size cap, HTML error pages refused), recognises the format from the content, *proposes* a
mapping file in the format of ``transforms/mappings/`` (the fields found with their coverage, the paths
chosen for each canonical column, a draft category crosswalk to the taxonomy), then runs the bus's own
normalise, (offline) geocode, validate, to_rdf and shapes stages on the records as that proposal maps them,
and says what would load, what would be quarantined and why, and what to fix first. Adding the source is then a review
of a file, not a rewrite.

Nothing here parses a format itself: records come from the connectors of :mod:`transiscope.ingest.formats` and
the stages of :mod:`transiscope.ingest.stages` (all but the fetch and the load), run in a temporary home with a
temporary one-source registry.
No store is opened, no geocoding service is asked, nothing is left behind but the proposed mapping.

One module per step, in the order a check runs them:

================  ==========================================================================================
:mod:`.acquire`    the source's bytes: a file, or a URL's first answer fetched with the bus's HTTP code
:mod:`.detection`  the connector, the kind of records and the options, from the content or an API URL
:mod:`.profiling`  the records' fields with their coverage, and the field chosen for each canonical column
:mod:`.columns`    the canonical columns' synonyms and the orders they are chosen and written in
:mod:`.crosswalk`  the draft category crosswalk to the taxonomy
:mod:`.proposal`   the proposed mapping file, data and commented TOML text
:mod:`.workspace`  the temporary home the bus's stages run in
:mod:`.findings`   what the run would load and quarantine, the batch's verdict, what to fix first
:mod:`.report`     the report the command prints, as text or as one JSON document (``--json``)
:mod:`.check`      :func:`check_source`, the whole sequence
:mod:`.text`       the text forms they share: folded names, ids, TOML literals, examples, shares
================  ==========================================================================================
"""

from transiscope.reports.check_source.check import FORMAT_CHOICES, check_source
from transiscope.reports.check_source.findings import CheckResult
from transiscope.reports.check_source.report import error_document, format_report, report_document

__all__ = ["FORMAT_CHOICES", "CheckResult", "check_source", "error_document", "format_report", "report_document"]
