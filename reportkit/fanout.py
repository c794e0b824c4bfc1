"""Many report runs at once, within Stripe's concurrent-run and request-rate limits.

``run_batch(client, report, intervals, ...)`` is what ``Client.reports`` calls. For each interval it
looks in the cache, then creates a run, waits for it and downloads it, with at most ``max_concurrent``
runs *running* at any moment (downloads happen outside that budget, since Stripe only caps running
reports). Request rates are kept under Stripe's limits by the client's shared token buckets.

When Stripe answers 429 ``report_run_rate_limit_exceeded`` (other runs of the same key, from another
notebook say, hold the cap), the job does not hammer: it waits until one of our runs finishes, or
for a backoff when none of ours is running, then tries again with the same idempotency-free create
(the 429 created nothing). A failed interval never loses the others: every finished interval is
returned (and cached), and :class:`~reportkit.errors.BatchError` names the intervals that failed.

Downloads and parsing can be handed to any ``concurrent.futures.Executor`` (``executor=``), for
example a Dask distributed client's ``get_executor()``, when results are large.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

import pandas as pd

from reportkit import runs
from reportkit.errors import BatchError, ConfigurationError, ReportkitError, RunCancelledError
from reportkit.intervals import Interval

if TYPE_CHECKING:  # pragma: no cover
    from reportkit.client import Client

__all__ = ["DEFAULT_MAX_CONCURRENT", "BatchStats", "run_batch"]

#: Stripe documents a per-key cap on concurrently running report runs without giving its value;
#: five is the sandbox's default and a conservative choice for Stripe.
DEFAULT_MAX_CONCURRENT = 5


class BatchStats:
    """Counters of one batch, shown in the progress bar and returned in ``df.attrs``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.running = 0
        self.failed = 0
        self.cached = 0
        self.throttled = 0  # 429 run-cap answers absorbed
        self.lock = threading.Lock()
        self.slot_freed = threading.Condition(self.lock)

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "cached": self.cached,
            "throttled": self.throttled,
        }


def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="interval", disable=not enabled, leave=True)


def run_batch(
    client: Client,
    report: str,
    intervals: Iterable[Interval],
    *,
    api: str = "v1",
    max_concurrent: int | None = None,
    timeout: float = 3600.0,
    progress: bool = True,
    executor: Executor | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[dict[str, int]], None] | None = None,
    **parameters: Any,
) -> pd.DataFrame:
    """Run ``report`` over every interval and return one long DataFrame in interval order.

    The frame starts with ``interval_start`` and ``interval_end`` columns (aware, in the intervals'
    timezone). ``df.attrs["reportkit"]`` holds the batch's provenance: the run ids, cache hits and the
    counters of :class:`BatchStats`. Raises :class:`BatchError` if any interval failed; its ``frames``
    holds the intervals that succeeded and ``errors`` maps each failed interval to its exception.

    ``cancel``: a ``threading.Event``; once set, no new run is created and waiting stops (runs already
    created go on at Stripe; intervals that finished are kept, the rest fail with :class:`RunCancelledError`).
    ``on_progress``: called from worker threads with the counters (total, done, running, failed,
    cached, throttled) whenever they change, for a widget or a log.
    """
    ivs: Sequence[Interval] = list(intervals)
    if not ivs:
        raise ConfigurationError("intervals is empty: pass rk.intervals(start, end, freq=...)")
    for iv in ivs:
        if not isinstance(iv, Interval):
            raise ConfigurationError(
                f"intervals must hold rk.Interval objects (from rk.intervals()); got {type(iv).__name__}"
            )
    cap = DEFAULT_MAX_CONCURRENT if max_concurrent is None else max_concurrent
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigurationError(
            f"max_concurrent must be a whole number >= 1 (or None), got {max_concurrent!r}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigurationError(
            f"timeout must be a number of seconds >= 0 (e.g. timeout=3600), got {timeout!r}"
        )

    # Local columns in the intervals' own timezone unless told otherwise.
    parameters.setdefault("timezone", _tz_name(ivs[0]))
    # Check every request before creating anything (a typo found at the seventh interval must not
    # leave six runs behind), answering what the cache holds without touching the network.
    stats = BatchStats(len(ivs))
    results: dict[int, pd.DataFrame] = {}
    todo: dict[int, Any] = {}
    for i, iv in enumerate(ivs):
        req, hit = client._lookup(report, iv.start, iv.end, api=api, **parameters)
        if hit is not None:
            results[i] = hit
            stats.cached += 1
            stats.done += 1
        else:
            todo[i] = req

    slots = threading.BoundedSemaphore(cap)
    bar = _progress_bar(len(ivs), f"{report} x{len(ivs)}", progress)
    bar.update(stats.done)
    errors: dict[Interval, BaseException] = {}
    own_pool = executor is None and bool(todo)
    download_pool: Executor | None = executor or (
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="rk-dl") if todo else None
    )

    def notify() -> None:
        bar.set_postfix(running=stats.running, failed=stats.failed, cached=stats.cached, refresh=False)
        bar.refresh()
        if on_progress is not None:
            on_progress(stats.as_dict() | {"running": stats.running})

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    def pause(seconds: float) -> None:
        """Wait for one of our runs to finish (a slot at Stripe), at most ``seconds``; cancel wakes it."""
        if cancelled():
            raise RunCancelledError("cancelled before this interval's run was created")
        with stats.lock:
            stats.throttled += 1
            stats.slot_freed.wait(timeout=seconds if stats.running == 0 else seconds * 4)

    def create_when_allowed(req: Any) -> Any:
        if cancelled():
            raise RunCancelledError("cancelled before this interval's run was created")
        return runs.create(client, req, deadline=time.monotonic() + timeout, pause=pause)

    def job(req: Any) -> pd.DataFrame:
        with slots:
            run = create_when_allowed(req)
            with stats.lock:
                stats.running += 1
            notify()
            try:
                run = _wait_unless_cancelled(client, run, timeout, cancel)
            finally:
                with stats.lock:
                    stats.running -= 1
                    stats.slot_freed.notify_all()
        assert download_pool is not None
        return download_pool.submit(client.download, run).result()

    workers = ThreadPoolExecutor(max_workers=min(cap + 2, max(1, len(todo))), thread_name_prefix="rk-run")
    try:
        futures = {workers.submit(job, req): i for i, req in todo.items()}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except ReportkitError as exc:
                errors[ivs[i]] = exc
                with stats.lock:
                    stats.failed += 1
            with stats.lock:
                stats.done += 1
            bar.update(1)
            notify()
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
        if own_pool and download_pool is not None:
            download_pool.shutdown(wait=True)
        bar.close()

    frames = _combine(ivs, results, report=report, api=api, stats=stats)
    if errors:
        names = ", ".join(f"{iv.label} ({type(e).__name__}: {e})" for iv, e in errors.items())
        raise BatchError(
            f"{len(errors)} of {len(ivs)} intervals of {report} failed: {names}. "
            f"The other {len(results)} are in .frames (and cached); re-running repeats only the failures.",
            errors=errors,
            frames=frames,
        )
    return frames


def _wait_unless_cancelled(client: Client, run: Any, timeout: float, cancel: threading.Event | None) -> Any:
    """``runs.wait`` whose sleeps end early, with :class:`RunCancelledError`, once ``cancel`` is set."""
    if cancel is None:
        return runs.wait(client, run, timeout=timeout, progress=False)

    def sleep(seconds: float) -> None:
        if cancel.wait(seconds):
            raise RunCancelledError(f"cancelled while waiting; run {run.id} goes on at Stripe", run=run)

    return runs.wait(client, run, timeout=timeout, progress=False, sleep=sleep)


def _combine(
    ivs: Sequence[Interval],
    results: dict[int, pd.DataFrame],
    *,
    report: str,
    api: str,
    stats: BatchStats,
) -> pd.DataFrame:
    order = [i for i in range(len(ivs)) if i in results]
    provenance = [dict(results[i].attrs.get("reportkit", {})) for i in order]
    parts = [results[i] for i in order]
    if parts:
        out = pd.concat(parts, ignore_index=True)
        counts = [len(p) for p in parts]
        dtype = _tz_dtype(ivs[0])
        for name, attr in (("interval_end", "end"), ("interval_start", "start")):
            values = pd.DatetimeIndex([getattr(ivs[i], attr) for i in order]).tz_convert(dtype.tz)
            out.insert(0, name, pd.Series(values.repeat(counts), dtype=dtype))
    else:
        out = pd.DataFrame()
    out.attrs = {
        "reportkit": {
            "report": report,
            "api": api,
            "intervals": len(ivs),
            "run_ids": [p.get("run_id") for p in provenance],
            "cache_hits": sum(bool(p.get("cache_hit")) for p in provenance),
            "stats": stats.as_dict(),
            "parts": provenance,
        }
    }
    return out


def _tz_name(iv: Interval) -> str:
    tz = iv.start.tzinfo
    return getattr(tz, "key", None) or str(tz)


def _tz_dtype(iv: Interval) -> pd.DatetimeTZDtype:
    return pd.DatetimeTZDtype(unit="ns", tz=iv.start.tzinfo)
