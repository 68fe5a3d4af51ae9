"""Errors a person can act on.

Every failure caused by input (a source, a config file, a command line) is raised as a
:class:`TransiscopeError` whose message is one readable line; the CLI prints it without a traceback
and Airflow shows it in the task log. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations


class TransiscopeError(Exception):
    """Base class: the message is meant for the operator, on one line."""

    #: short machine-readable kind, written into run provenance
    kind = "error"
    #: whether retrying later may succeed (connection, 429, 5xx), used by Airflow retries
    transient = False


class ConfigError(TransiscopeError):
    kind = "config"


class SourceUnreachable(TransiscopeError):
    kind = "unreachable"
    transient = True


class SourceHTTPError(TransiscopeError):
    kind = "http"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.transient = status is not None and (status == 429 or status >= 500)


class PayloadTooLarge(TransiscopeError):
    kind = "too-large"


class MalformedPayload(TransiscopeError):
    kind = "malformed"


class BatchRejected(TransiscopeError):
    """The batch as a whole is not fit to replace the live graph (empty, collapsed, all invalid)."""

    kind = "batch-rejected"


class StoreError(TransiscopeError):
    kind = "store"


class StoreLocked(StoreError):
    kind = "store-locked"
    transient = True


class GeocoderUnavailable(TransiscopeError):
    """The geocoding service kept failing (unreachable, 429, 5xx after retries, or an unreadable answer)."""

    kind = "geocoder"
    transient = True


class GeocodeBudgetExhausted(TransiscopeError):
    """The run has sent as many geocoding requests as its budget allows (``TRANSISCOPE_GEOCODER_MAX_REQUESTS``)."""

    kind = "geocode-budget"


class NotificationError(TransiscopeError):
    """A failure notification could not be delivered (webhook unreachable or refusing it)."""

    kind = "notify"
    transient = True
