"""The query workers of ``transiscope serve``: child processes that run one query each at a time, killed when
they run past the time limit and replaced, each under its own memory limit.

Why processes: neither pyoxigraph nor a remote store lets a running query be cancelled from Python, and one
runaway query must not take the endpoint down. Workers open the store read-only for each query (≈10 ms on the
embedded store), so the endpoint never holds the writer's lock and the pipeline can load while it serves; on the
embedded store that is the latest snapshot the last writer published (:mod:`transiscope.store.snapshots`), so a
query never reads files a running load compacts.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_ready
from typing import IO, cast

from transiscope.core.errors import StoreLocked, TransiscopeError
from transiscope.serve.protocol import FORMATS, NotAcceptable, choose_format
from transiscope.settings import Settings
from transiscope.store.base import QueryDataset

log = logging.getLogger(__name__)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


def _error(status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(int(status), "text/plain; charset=utf-8", (message + "\n").encode(), headers or {})


# -- in the worker process ------------------------------------------------------------------------
class ResultTooLarge(Exception):
    pass


class CappedBuffer:
    """A write-only buffer that refuses to grow past ``cap`` bytes: pyoxigraph serialises into it in one
    pass and stops (the exception propagates) as soon as the result is over the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.cap:
            raise ResultTooLarge
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


@dataclass(frozen=True)
class SparqlRequest:
    """One query or update as the server hands it to a worker (picklable: it crosses a pipe)."""

    kind: str  # "query" or "update"
    text: str
    max_bytes: int
    accept: str = ""
    #: the ``format`` parameter, when the client gave one
    explicit_format: str | None = None
    dataset: QueryDataset = field(default_factory=QueryDataset)


def _form(result: object) -> str:
    import pyoxigraph as ox

    if isinstance(result, ox.QueryTriples):
        return "graph"
    return "boolean" if isinstance(result, ox.QueryBoolean) else "solutions"


def execute(settings: Settings, request: SparqlRequest) -> Answer:
    """Run one query or update against the store; every failure becomes an HTTP answer."""
    import pyoxigraph as ox

    from transiscope.ingest.run_records import write_pending
    from transiscope.serve.sparql import user_position, with_prefixes
    from transiscope.store.embedded import open_store

    try:
        if request.kind == "update":
            with open_store(settings) as store:
                write_pending(store, settings)  # every writer writes the run records still pending
                store.update(request.text, base_iri=request.dataset.base_iri)
            return Answer(int(HTTPStatus.NO_CONTENT), "text/plain", b"", {})
        sparql = with_prefixes(request.text)
        buffer = CappedBuffer(request.max_bytes)
        with open_store(settings, read_only=True) as store:
            result = store.query(sparql, request.dataset)
            form = _form(result)
            name = choose_format(form, request.accept, request.explicit_format)
            media, attr = FORMATS[form][name]
            if isinstance(result, ox.QueryTriples):
                result.serialize(cast(IO[bytes], buffer), getattr(ox.RdfFormat, attr))
            else:
                result.serialize(cast(IO[bytes], buffer), getattr(ox.QueryResultsFormat, attr))
        charset = "; charset=utf-8" if media.startswith("text/") else ""
        return Answer(200, media + charset, buffer.getvalue(), {"Vary": "Accept"})
    except NotAcceptable as exc:
        return _error(HTTPStatus(exc.status), str(exc))
    except ResultTooLarge:
        return _error(
            HTTPStatus.BAD_REQUEST,
            f"the result is larger than {request.max_bytes:,} bytes, the cap of this endpoint "
            "(transiscope serve --max-mb, TRANSISCOPE_SERVE_MAX_MB): add a LIMIT or narrow the query",
        )
    except StoreLocked as exc:
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "5"})
    except TransiscopeError as exc:
        message = user_position(str(exc)) if request.kind == "query" else str(exc)
        if "not valid" in message:
            return _error(HTTPStatus.BAD_REQUEST, message)
        # the store is down or busy (a remote store unreachable, a server error): worth retrying later
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, message, {"Retry-After": "10"})
    except SyntaxError as exc:
        return _error(HTTPStatus.BAD_REQUEST, f"the SPARQL {request.kind} is not valid: {exc}")
    except (RuntimeError, ValueError) as exc:
        # the query engine cannot evaluate what the query asks (an unknown function...): the client's to change
        return _error(HTTPStatus.BAD_REQUEST, f"the SPARQL {request.kind} cannot be evaluated: {exc}")
    except OSError as exc:
        # the store's disk or a remote store failed in a way it did not classify: worth retrying soon
        return _error(
            HTTPStatus.SERVICE_UNAVAILABLE, f"the store could not answer right now ({exc})", {"Retry-After": "2"}
        )


def _worker_main(conn: Connection, memory_bytes: int = 0) -> None:
    if memory_bytes > 0:
        import resource

        # the address space of this worker: a query that needs more fails here, never in the server
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    settings = Settings.from_env()
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        answer = execute(settings, request)
        conn.send((answer.status, answer.content_type, answer.body, answer.headers))


# -- in the server process ------------------------------------------------------------------------
class Worker:
    """A child process that executes queries one at a time; killed and replaced on timeout."""

    _context = multiprocessing.get_context("spawn")  # no fork of a threaded server

    def __init__(self, memory_bytes: int = 0) -> None:
        self.conn, child = self._context.Pipe()
        self.process = self._context.Process(target=_worker_main, args=(child, memory_bytes), daemon=True)
        self.process.start()
        child.close()

    def run(self, request: SparqlRequest, timeout: float) -> Answer | None:
        """The answer, or None when the query ran out of time (the worker is then dead); raises
        :class:`WorkerCrashed` when the worker died before answering (out of memory, a crash of the store's
        query engine)."""
        self.conn.send(request)
        ready = wait_ready([self.conn, self.process.sentinel], timeout)
        if self.conn not in ready:
            if self.process.sentinel in ready:
                self.process.join(5)
                code = self.process.exitcode
                self.conn.close()
                raise WorkerCrashed(code)
            self.kill()
            return None
        try:
            status, content_type, body, headers = self.conn.recv()
        except EOFError:  # the pipe closed: the worker died as it answered
            self.process.join(5)
            self.conn.close()
            raise WorkerCrashed(self.process.exitcode) from None
        return Answer(status, content_type, body, headers)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def alive(self) -> bool:
        return self.process.is_alive()


class WorkerCrashed(Exception):
    """The worker process died while it answered a query."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(exitcode)
        self.exitcode = exitcode


class WorkerPool:
    """Query workers, each answering one query at a time; a worker that times out or dies is replaced, and
    a replacement that cannot start (too many open files, no memory) is retried in the background with
    backoff, so that the pool always comes back to its size (``missing`` says how far it is, for /health)."""

    def __init__(self, size: int, memory_bytes: int = 0) -> None:
        self.size = size
        self.memory_bytes = memory_bytes
        self.idle: queue.Queue[Worker] = queue.Queue()
        self.missing = 0
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(size):
            self._replace()

    def _replace(self) -> None:
        """Start one worker into the pool, or count it missing and retry later."""
        try:
            self.idle.put(Worker(self.memory_bytes))
        except OSError as exc:
            log.error("a query worker could not start (%s): retrying in the background", exc)
            with self._lock:
                self.missing += 1
                first = self.missing == 1
            if first:
                threading.Thread(target=self._refill, daemon=True).start()

    def _refill(self) -> None:
        delay = 0.5
        while not self._closed:
            time.sleep(delay)
            with self._lock:
                if self.missing == 0:
                    return
            try:
                worker = Worker(self.memory_bytes)
            except OSError as exc:
                log.error("a query worker still cannot start (%s)", exc)
                delay = min(delay * 2, 30.0)
                continue
            self.idle.put(worker)
            with self._lock:
                self.missing -= 1
            delay = 0.5

    def run(self, request: SparqlRequest, timeout: float, queue_wait: float | None = None) -> Answer:
        """The answer of a worker, waiting at most ``queue_wait`` seconds (default: ``timeout``) for one to be
        free, then ``timeout`` seconds for the query."""
        wait = timeout if queue_wait is None else queue_wait
        try:
            worker = self.idle.get(timeout=wait)
        except queue.Empty:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"all {self.size} query workers stayed busy for {wait:g} s; try again shortly",
                {"Retry-After": "5"},
            )
        answer = None
        crashed: WorkerCrashed | None = None
        try:
            answer = worker.run(request, timeout)
        except WorkerCrashed as exc:
            crashed = exc
        except (EOFError, OSError, BrokenPipeError):
            worker.kill()
        finally:
            if answer is not None and worker.alive():
                self.idle.put(worker)
            else:
                self._replace()
        if crashed is not None:
            limit = f" (the limit is {self.memory_bytes // 2**20:,} MB per query, TRANSISCOPE_SERVE_WORKER_MB)"
            return _error(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"the query's worker crashed (exit code {crashed.exitcode}) before answering: most often a query "
                f"that needs more memory than a worker may take{limit if self.memory_bytes else ''}; "
                "narrow the query or add a LIMIT",
            )
        if answer is None:
            return _error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"the query ran longer than the limit of {timeout:g} s (TRANSISCOPE_SERVE_TIMEOUT) "
                "and was stopped: narrow it or add a LIMIT",
            )
        return answer

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self.idle.get_nowait().kill()
            except queue.Empty:
                return
