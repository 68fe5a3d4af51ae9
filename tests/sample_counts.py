"""What the bundled samples (``transforms/samples/``) give when they go through the bus: one place for the
figures many tests check, read from ``transforms/samples/README.md``'s description of each sample."""

from __future__ import annotations

from typing import NamedTuple


class SampleCounts(NamedTuple):
    fetched: int
    loaded: int
    quarantined: int


#: source id -> counts of its sample's run (fetched = loaded + quarantined)
SAMPLE_COUNTS = {
    "transiscope": SampleCounts(14, 12, 2),
    "presdecheznous": SampleCounts(12, 10, 2),
    "francetierslieux": SampleCounts(10, 9, 1),
}
