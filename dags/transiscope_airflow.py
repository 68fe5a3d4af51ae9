"""What the Transiscope DAG files share: the retry policy and the Asset of each source's live graph (a module
of the DAG folder, which Airflow puts on ``sys.path``; it defines no DAG and ``.airflowignore`` keeps the DAG
processor from parsing it as one).

Why a policy and not plain ``retries``: retrying a 404, a malformed payload or a rejected batch gives the
same answer and delays the failure an operator must see; only failures the core marks ``transient``
(connection errors, 429, 5xx, the embedded store locked by another writer) and failures of the
infrastructure itself (a time-out or a dropped connection towards Airflow's Execution API or any other
service, which the core never raises as its own errors) are worth another try.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, RetryDecision, RetryPolicy

from transiscope.core.vocab import source_graph
from transiscope.operations import source_asset_name, source_asset_uri


class RetryIfTransient(RetryPolicy):
    """Retry only failures the core marks ``transient`` (connection errors, 429, 5xx, store locked).

    A 404, a malformed payload or a rejected batch fails at once: retrying would give the same answer.
    The task's ``retries`` still caps the number of tries.
    """

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> RetryDecision:
        kind = getattr(exception, "kind", type(exception).__name__)
        if getattr(exception, "transient", False) or _infrastructure(exception):
            if try_number > max_tries:  # Airflow retries while the try number is at most max_tries
                return RetryDecision.fail(reason=f"fail: still failing after {try_number} tries ({kind})")
            return RetryDecision.retry(reason=f"transient failure ({kind}), try {try_number} of {max_tries}")
        return RetryDecision.fail(reason=f"fail: not transient ({kind}), retrying would give the same answer")

    def serialize(self) -> dict[str, Any]:
        return {"__type": "RetryIfTransient"}


def _infrastructure(exception: BaseException) -> bool:
    """A time-out or a lost connection outside the bus's own errors (those carry ``transient`` themselves):
    Airflow's Execution API answering late, a socket reset. A bug (``ValueError``...) is not one."""
    if hasattr(exception, "transient"):
        return False
    import httpx

    return isinstance(exception, httpx.TransportError | ConnectionError | TimeoutError)


def source_asset(source_id: str, base_iri: str) -> Asset:
    """The Asset of a source's live graph: the ingest DAG's outlet, and what the downstream DAGs schedule on
    (one definition, so that name, URI and extra are the same on both sides)."""
    return Asset(
        name=source_asset_name(source_id),
        uri=source_asset_uri(source_id),
        group="transiscope",
        extra={"source": source_id, "graph": source_graph(base_iri, source_id)},
    )
