"""What the Transiscope DAG files share: the retry policy and the Asset of each source's live graph (a module
of the DAG folder, which Airflow puts on ``sys.path``; it defines no DAG and ``.airflowignore`` keeps the DAG
processor from parsing it as one).

Why a policy and not plain ``retries``: retrying a 404, a malformed payload or a rejected batch gives the
same answer and delays the failure an operator must see; only failures the core marks ``transient``
(connection errors, 429, 5xx, the embedded store locked by another writer) are worth another try.
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
        if getattr(exception, "transient", False):
            return RetryDecision.retry(reason=f"transient failure ({getattr(exception, 'kind', 'error')})")
        return RetryDecision.fail(reason=f"not transient ({getattr(exception, 'kind', type(exception).__name__)})")

    def serialize(self) -> dict[str, Any]:
        return {"__type": "RetryIfTransient"}


def source_asset(source_id: str, base_iri: str) -> Asset:
    """The Asset of a source's live graph: the ingest DAG's outlet, and what the downstream DAGs schedule on
    (one definition, so that name, URI and extra are the same on both sides)."""
    return Asset(
        name=source_asset_name(source_id),
        uri=source_asset_uri(source_id),
        group="transiscope",
        extra={"source": source_id, "graph": source_graph(base_iri, source_id)},
    )
