"""The batch-level safety valves of a load: a live graph is never replaced by an empty batch, a batch
mostly quarantined (the quarantine share) or one that shrank too much against the live graph's run."""

from __future__ import annotations

from transiscope.core.errors import BatchRejected
from transiscope.registry.sources import Source
from transiscope.settings import Settings
from transiscope.store.provenance import LiveLoad


def check_batch(source: Source, counts: dict[str, int], previous: LiveLoad | None, settings: Settings) -> None:
    """Batch-level safety valves: refuse to replace a live graph with an empty or collapsed batch."""
    kept = f"; the live graph from run {previous[0]} ({previous[1]} initiatives) was kept" if previous else ""
    if counts["fetched"] == 0:
        raise BatchRejected(f"source {source.id!r} returned no records{kept}")
    if counts["loaded"] == 0:
        raise BatchRejected(
            f"source {source.id!r}: all {counts['fetched']} records were quarantined, none can be loaded{kept}"
        )
    max_share = float(source.extra.get("max_quarantine_share", settings.max_quarantine_share))
    share = counts["quarantined"] / counts["fetched"]
    if share > max_share:
        raise BatchRejected(
            f"source {source.id!r}: {counts['quarantined']} of {counts['fetched']} records quarantined "
            f"({share:.0%}, more than the allowed {max_share:.0%}, TRANSISCOPE_MAX_QUARANTINE_SHARE){kept}"
        )
    max_shrink = float(source.extra.get("max_shrink", settings.max_shrink))
    if previous and previous[1] > 0:
        drop = 1 - counts["loaded"] / previous[1]
        if drop > max_shrink:
            raise BatchRejected(
                f"source {source.id!r} shrank from {previous[1]} to {counts['loaded']} loadable records "
                f"(-{drop:.0%}, more than the allowed {max_shrink:.0%}, TRANSISCOPE_MAX_SHRINK){kept}"
            )
