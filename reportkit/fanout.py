"""Many prepared requests at once, within Stripe's concurrent-run and request-rate limits.

``run_batch(runner, requests, intervals, ...)`` is what ``Client.reports`` calls with one prepared
:class:`~reportkit._request.RunRequest` per interval. It first answers what the cache holds and checks
every other request against the data window (a typo found at the seventh interval must not leave six
runs behind), then creates, waits for and downloads the rest with at most ``max_concurrent`` runs
*running* at any moment (downloads happen outside that budget, since Stripe only caps running
reports). Request rates are kept under Stripe's limits by the transport's shared token buckets.
While several v1 runs are pending, one :class:`~reportkit.runs.Poller` asks about all of them with
one list page instead of one retrieve each (``poll="each"``: the per-run polling).

When Stripe answers 429 ``report_run_rate_limit_exceeded`` (other runs of the same key, from another
notebook say, hold the cap), the job does not hammer: it waits until one of our runs finishes, or for
a backoff when none of ours is running, then tries again (the 429 created nothing). A failed interval
never loses the others: every finished interval is returned (and cached), and
:class:`~reportkit.errors.BatchError` names the intervals that failed.

Parsing can be handed to any ``concurrent.futures.Executor`` (``executor=``), for example a Dask
distributed client's ``get_executor()`` or a process pool, when results are large: it gets
:func:`reportkit.frames.parse` with the downloaded bytes (picklable; the key never leaves this
process), while the batch's own threads download. Progress goes to one
:class:`~reportkit.progress.Observer`; ``cancel`` (an Event) stops creating and waiting at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from typing import Any

import pandas as pd

from reportkit import _provenance, config
from reportkit._request import RunRequest
from reportkit.errors import BatchError, ConfigurationError, ReportkitError, RunCancelledError
from reportkit.frames import STRING_DTYPE
from reportkit.intervals import Interval
from reportkit.progress import Observer, Progress
from reportkit.runs import Poller, Runner

__all__ = ["DEFAULT_MAX_CONCURRENT", "POLLS", "BatchStats", "check_cap", "check_intervals", "run_batch"]

#: Stripe documents a per-key cap on concurrently running report runs without giving its value;
#: five is the sandbox's default and a conservative choice for Stripe.
DEFAULT_MAX_CONCURRENT = 5
#: How a batch waits: ``"list"`` (one :class:`reportkit.runs.Poller` asks about every pending v1 run
#: with one list page) or ``"each"`` (one retrieve per run, :meth:`reportkit.runs.Runner.wait`).
POLLS = ("list", "each")


def check_cap(max_concurrent: Any) -> int:
    """``max_concurrent`` (None = the default) as a whole number >= 1."""
    cap = DEFAULT_MAX_CONCURRENT if max_concurrent is None else max_concurrent
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigurationError(
            f"max_concurrent must be a whole number >= 1 (or None), got {max_concurrent!r}"
        )
    return cap


def check_intervals(intervals: Any) -> list[Interval]:
    """``intervals`` as a non-empty list of :class:`~reportkit.intervals.Interval`, or a clear error."""
    if not isinstance(intervals, Iterable) or isinstance(intervals, str | bytes):
        raise ConfigurationError(
            f"intervals must be a list of rk.Interval (from rk.intervals()), got {intervals!r}"
        )
    ivs = list(intervals)
    if not ivs:
        raise ConfigurationError("intervals is empty: pass rk.intervals(start, end, freq=...)")
    if not all(isinstance(iv, Interval) for iv in ivs):
        bad = next(iv for iv in ivs if not isinstance(iv, Interval))
        raise ConfigurationError(
            f"intervals must hold rk.Interval objects (from rk.intervals()); got {type(bad).__name__}"
        )
    return ivs


class BatchStats:
    """Counters of one batch, sent to the observer and returned in ``df.attrs``."""

    def __init__(self, total: int, label: str) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.running = 0
        self.failed = 0
        self.cached = 0
        self.throttled = 0  # 429 run-cap answers absorbed
        self.lock = threading.Lock()
        self.slot_freed = threading.Condition(self.lock)

    def snapshot(self) -> Progress:
        return Progress(
            label=self.label,
            total=self.total,
            done=self.done,
            running=self.running,
            failed=self.failed,
            cached=self.cached,
            throttled=self.throttled,
            phase="done" if self.done == self.total else "waiting",
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "cached": self.cached,
            "throttled": self.throttled,
        }


def run_batch(
    runner: Runner,
    requests: Sequence[RunRequest],
    intervals: Sequence[Interval],
    *,
    report: str,
    api: str = "v1",
    max_concurrent: int | None = None,
    timeout: float = 3600.0,
    executor: Executor | None = None,
    cancel: threading.Event | None = None,
    observer: Observer | None = None,
    poll: str = "list",
    accounts: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """Run one prepared request per interval and return one long DataFrame in interval order.

    The frame starts with ``interval_start`` and ``interval_end`` columns (aware, in the intervals'
    timezone). ``df.attrs["reportkit"]`` holds the batch's provenance: the run ids, cache hits and the
    counters of :class:`BatchStats`. Raises :class:`BatchError` if any interval failed; its ``frames``
    holds the intervals that succeeded and ``errors`` maps each failed interval to its exception.

    ``cancel``: once set, no new run is created and waiting stops (runs already created go on at
    Stripe; intervals that finished are kept, the rest fail with :class:`RunCancelledError`).

    ``poll``: ``"list"`` (default) asks about all pending v1 runs with one list page
    (:class:`reportkit.runs.Poller`); ``"each"`` retrieves each run on its own.

    ``accounts`` (Connect): the connected account of each request (``client.reports(accounts=...)``
    builds one request per account and interval, all within the one cap). The frame then starts with
    an ``account`` column, its provenance lists each part's account (``accounts``, aligned with
    ``run_ids``), and :class:`BatchError` keys its errors by ``(account, interval)``.
    """
    if len(requests) != len(intervals):
        raise ConfigurationError("run_batch needs one request per interval")
    if accounts is not None and len(accounts) != len(requests):
        raise ConfigurationError("run_batch needs one account per request")
    cap = check_cap(max_concurrent)
    config.check_deadline(timeout, "timeout=3600")
    if poll not in POLLS:
        raise ConfigurationError(f"poll must be one of {', '.join(map(repr, POLLS))}, got {poll!r}")
    obs = observer or Observer()
    stats = BatchStats(len(intervals), report)
    results: dict[int, pd.DataFrame] = {}
    todo: dict[int, RunRequest] = {}
    found = runner.read_cached(requests)
    if found is not None and found.complete:  # a cached re-run: one read, no request, no thread
        body, counts, provs = found.combined()
        stats.cached = stats.done = len(intervals)
        obs.start(stats.snapshot())
        if not found.packed:
            runner.consolidate(requests)
        obs.done(stats.snapshot())
        order = list(range(len(intervals)))
        return _assemble(
            intervals, order, body, counts, provs, report=report, api=api, stats=stats, accounts=accounts
        )
    checked = runner.lookup_many(requests, found)  # every check before any run is created
    for i, (req, hit) in enumerate(checked):
        if hit is not None:
            results[i] = hit
            stats.cached += 1
            stats.done += 1
        else:
            todo[i] = req

    slots = threading.BoundedSemaphore(cap)
    poller = Poller(runner.api) if poll == "list" and todo else None
    wait = poller.wait if poller is not None else runner.wait
    errors: dict[Any, BaseException] = {}  # by interval, or by (account, interval)
    own_pool = executor is None and bool(todo)
    download_pool: Executor | None = executor or (
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="rk-dl") if todo else None
    )

    def notify() -> None:
        with stats.lock:
            state = stats.snapshot()
        obs.step(state)

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    def pause(seconds: float) -> None:
        """Wait for one of our runs to finish (a slot at Stripe), at most ``seconds``; cancel wakes it."""
        if cancelled():
            raise RunCancelledError("cancelled before this interval's run was created")
        with stats.lock:
            stats.throttled += 1
            stats.slot_freed.wait(timeout=seconds if stats.running == 0 else seconds * 4)

    def job(req: RunRequest) -> pd.DataFrame:
        with slots:
            if cancelled():
                raise RunCancelledError("cancelled before this interval's run was created")
            run = runner.create(req, deadline=time.monotonic() + timeout, pause=pause)
            with stats.lock:
                stats.running += 1
            notify()
            try:
                run = wait(run, timeout=timeout, cancel=cancel)
            finally:
                with stats.lock:
                    stats.running -= 1
                    stats.slot_freed.notify_all()
        if executor is not None:  # the caller's executor parses (picklable work, no key); we download
            return runner.download(run, request=req, parse_on=executor)
        assert download_pool is not None
        return download_pool.submit(runner.download, run, request=req).result()

    obs.start(stats.snapshot())
    workers = ThreadPoolExecutor(max_workers=min(cap + 2, max(1, len(todo))), thread_name_prefix="rk-run")
    try:
        futures = {workers.submit(job, req): i for i, req in todo.items()}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except ReportkitError as exc:
                errors[intervals[i] if accounts is None else (accounts[i], intervals[i])] = exc
                with stats.lock:
                    stats.failed += 1
            with stats.lock:
                stats.done += 1
            notify()
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
        if poller is not None:
            poller.close()
        if own_pool and download_pool is not None:
            download_pool.shutdown(wait=True)
        obs.done(stats.snapshot())

    if len(results) > 1:  # a cached re-run of these intervals is then one read
        runner.consolidate([req for req, _ in checked])
    frames = _combine(intervals, results, report=report, api=api, stats=stats, accounts=accounts)
    if errors:
        names = ", ".join(f"{_label(key)} ({type(e).__name__}: {e})" for key, e in errors.items())
        raise BatchError(
            f"{len(errors)} of {len(intervals)} intervals of {report} failed: {names}. "
            f"The other {len(results)} are in .frames (and cached); re-running repeats only the failures.",
            errors=errors,
            frames=frames,
        )
    return frames


def _label(key: Any) -> str:
    """An interval's label, or ``acct_... 2025-01`` for an (account, interval) key."""
    return f"{key[0]} {key[1].label}" if isinstance(key, tuple) else key.label


def _combine(
    ivs: Sequence[Interval],
    results: dict[int, pd.DataFrame],
    *,
    report: str,
    api: str,
    stats: BatchStats,
    accounts: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    order = [i for i in range(len(ivs)) if i in results]
    parts = [results[i] for i in order]
    body = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    provs = [_provenance.get(p) for p in parts]
    counts = [len(p) for p in parts]
    return _assemble(ivs, order, body, counts, provs, report=report, api=api, stats=stats, accounts=accounts)


def _assemble(
    ivs: Sequence[Interval],
    order: list[int],
    body: pd.DataFrame,
    counts: list[int],
    provs: Sequence[Mapping[str, Any]],
    *,
    report: str,
    api: str,
    stats: BatchStats,
    accounts: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """The batch's long frame: ``body`` (the rows of the intervals ``order``, ``counts`` rows each)
    after their ``interval_start``/``interval_end`` columns (and, with ``accounts``, an ``account``
    column first), with the batch's provenance."""
    if order:
        out = body
        dtype = pd.DatetimeTZDtype(unit="ns", tz=ivs[0].start.tzinfo)
        for name, attr in (("interval_end", "end"), ("interval_start", "start")):
            values = pd.DatetimeIndex([getattr(ivs[i], attr) for i in order]).tz_convert(dtype.tz)
            out.insert(0, name, pd.Series(values.repeat(counts), dtype=dtype))
        if accounts is not None:  # Connect: whose rows they are, first
            names = pd.array([accounts[i] for i in order], dtype=STRING_DTYPE)
            out.insert(0, "account", pd.Series(names.repeat(counts), dtype=STRING_DTYPE))
    else:
        out = pd.DataFrame()
    prov = _provenance.of_batch(provs, report=report, api=api, intervals=len(ivs), counts=stats.as_dict())
    if accounts is not None:
        prov["accounts"] = [accounts[i] for i in order]  # aligned with run_ids and parts
    out.attrs = {_provenance.KEY: prov}
    return out
