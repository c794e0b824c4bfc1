"""The records and stores the backend keeps: runs, files, idempotency answers, rate windows, the log.

All of it lives in memory, guarded by locks, because the server answers on many threads at once.
These are plain containers; the rules that use them (admission, outcomes, limits) are the backend's.
A run's status is not stored but derived from the monotonic clock: it is ``pending`` (v1) or
``running`` (v2) until its ``done_at``, then ``succeeded`` or ``failed`` (see backend.py).
:class:`Caller` is the authenticated key of a request; :func:`key_id` is the non-secret handle all
per-key state is keyed by; :class:`Urls` and :class:`FileInfo` are what the backend knows of the
hosts' addresses and of a v1 file.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reportkit.sandbox.params import RunParams

__all__ = [
    "Caller",
    "FileInfo",
    "IdempotencyStore",
    "LoggedRequest",
    "RateWindow",
    "RequestLog",
    "Run",
    "RunStore",
    "SavedAnswer",
    "Urls",
    "key_id",
]


def key_id(key: str) -> str:
    """A stable, non-secret handle for an API key (state is keyed by this, never by the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class Caller:
    """The authenticated key of a request (kept only in memory, never logged)."""

    key: str = field(repr=False)
    owner: str = ""  # key_id(key): per-key state (the concurrent-run cap)
    livemode: bool = False
    account: str = "default"  # the account the key belongs to: objects, lists, idempotency, rates


@dataclass
class Urls:
    """The base URLs of the three hosts, once the server has bound them (empty before)."""

    api: str = ""
    files: str = ""
    downloads: str = ""


@dataclass(frozen=True)
class FileInfo:
    """A v1 ``file`` object's facts: the CSV of a succeeded run."""

    id: str
    filename: str
    title: str
    created: int
    expires_at: int
    size: int
    url: str


@dataclass
class Run:
    """One report run, v1 or v2."""

    id: str
    api: str  # "v1" or "v2"
    owner: str  # key_id of the creating key
    livemode: bool
    seq: int  # creation order (ties in ``created``)
    created: float  # sandbox wall clock, epoch seconds
    done_at: float  # monotonic time when it stops being pending/running
    report_type: str  # the v1 report type id behind it
    params: RunParams  # normalised parameters, as reports.render takes them
    echo: dict[str, Any]  # parameters as echoed back (v1 parameters / v2 report_parameters)
    failure: Any = None  # faults.RunFailure, or None
    v2_report: Any = None  # catalog.V2Report for v2 runs
    compress: bool = False
    discrepancies: Any = None
    file_id: str | None = None
    csv: bytes | None = None
    render_error: str | None = None
    created_mono: float = 0.0  # monotonic time of creation
    account: str = "default"  # the account of the creating key: only its keys (of this mode) see it
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def download_name(self) -> str:
        """The file name of a v2 run's result: ``<run id>.csv`` or ``.zip`` when compressed."""
        return f"{self.id}.{'zip' if self.compress else 'csv'}"

    def finished(self, mono: float | None = None) -> bool:
        return (time.monotonic() if mono is None else mono) >= self.done_at

    def succeeded_at(self) -> float:
        """Sandbox wall time at which the run finished (created + processing duration)."""
        return self.created + max(0.0, self.done_at - self.created_mono)


class RunStore:
    """Runs by id, with their creation order, and files by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._files: dict[str, Run] = {}
        self._seq = 0
        self.created = 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, run: Run) -> None:
        with self._lock:
            self._runs[run.id] = run
            if run.file_id:
                self._files[run.file_id] = run
            self.created += 1

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def by_file(self, file_id: str) -> Run | None:
        with self._lock:
            return self._files.get(file_id)

    def listing(self, api: str, livemode: bool, account: str = "default") -> list[Run]:
        """The runs of one API, mode and account, newest first."""
        with self._lock:
            runs = [
                r
                for r in self._runs.values()
                if r.api == api and r.livemode == livemode and r.account == account
            ]
        return sorted(runs, key=lambda r: (int(r.created), r.seq), reverse=True)

    def in_progress(self, owner: str, mono: float) -> int:
        """How many runs of this key (v1 and v2) are still pending or running."""
        with self._lock:
            return sum(1 for r in self._runs.values() if r.owner == owner and not r.finished(mono))


@dataclass
class SavedAnswer:
    """The first answer to an idempotent POST: the request's fingerprint, status, body and headers."""

    fingerprint: str
    status: int
    body: bytes
    headers: list[tuple[str, str]]


class IdempotencyStore:
    """Saved first answers of POSTs, by (account, mode, Idempotency-Key), with one lock per scope."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[tuple[str, ...], SavedAnswer] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}

    def lock_for(self, scope: tuple[str, ...]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(scope, threading.Lock())

    def get(self, scope: tuple[str, ...]) -> SavedAnswer | None:
        with self._lock:
            return self._records.get(scope)

    def put(
        self,
        scope: tuple[str, ...],
        fingerprint: str,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]],
    ) -> None:
        with self._lock:
            self._records[scope] = SavedAnswer(fingerprint, status, body, headers)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


class RateWindow:
    """A sliding one-second window of request times per key: ``allow`` says if one more fits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def allow(self, who: str, limit: int | None, *, now: float | None = None) -> bool:
        """Count one request of ``who`` at ``now`` (monotonic; default: the clock) if it fits."""
        if limit is None:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._seen.setdefault(who, deque())
            while q and q[0] <= now - 1.0:
                q.popleft()
            if len(q) >= limit:
                return False
            q.append(now)
            return True


@dataclass(frozen=True)
class LoggedRequest:
    """One request as a host saw it. Headers are kept as sent (tests audit where a key went)."""

    host: str  # "api", "files" or "downloads"
    method: str
    path: str
    query: str
    headers: dict[str, str]
    time: float

    def __repr__(self) -> str:  # never show header values (they may hold a key)
        return f"LoggedRequest({self.host} {self.method} {self.path}{'?' if self.query else ''}{self.query})"


class RequestLog:
    """A thread-safe list of :class:`LoggedRequest`; iterate, ``len()``, index, or :meth:`clear`.

    Keeps the newest ``maxlen`` requests (so a long-running sandbox does not grow without bound)."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._items: deque[LoggedRequest] = deque(maxlen=maxlen)

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, i: int) -> LoggedRequest:
        with self._lock:
            return self._items[i]

    def __repr__(self) -> str:
        return f"RequestLog({len(self)} requests)"
