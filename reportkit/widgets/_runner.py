"""The work behind a form's Run button, made cancellable and observable; no widgets in here.

``run_one`` takes the client's own steps for one report (check, cache, create, poll, download: what
``client.report`` does) but polls itself so that Cancel stops at once. ``run_split`` hands the
intervals to ``client.reports`` on an inner thread and counts finished downloads for the progress
bar. Cancel means "stop waiting": runs already created carry on at Stripe (Stripe has no way to
cancel a report run), and whatever finishes is cached by the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from reportkit import errors, runs
from reportkit.widgets._common import Cancelled, elapsed

__all__ = ["Hooks", "run_one", "run_split"]


class Hooks:
    """Where the runner reports: ``status(text)``, ``step(value, total)``, ``run(ReportRun)``."""

    def __init__(
        self,
        status: Callable[[str], None],
        step: Callable[[int, int], None],
        run: Callable[[Any], None] | None = None,
    ) -> None:
        self.status, self.step, self.run = status, step, run or (lambda _: None)


def kwargs_of(req: dict[str, Any]) -> dict[str, Any]:
    return {"timezone": req["timezone"], "columns": req["columns"], "api": req["api"], **req["parameters"]}


def run_one(
    client: Any, req: dict[str, Any], *, cancel: threading.Event, timeout: float, hooks: Hooks
) -> pd.DataFrame:
    """One run of ``req`` (a ReportForm.request() dict), cancellable while it is being polled."""
    t0 = time.monotonic()
    prepared = client._prepare_run(req["report"], req["start"], req["end"], **kwargs_of(req))
    cached = client._cache_get(prepared)
    if cached is not None:
        hooks.step(3, 3)
        return cached
    hooks.status("Creating the report run…")
    run = client._create_prepared(prepared)
    hooks.run(run)
    hooks.step(1, 3)
    deadline = t0 + timeout
    while not run.is_done:
        hooks.status(f"Run {run.id} is {run.status} ({elapsed(t0)})…")
        waited = time.monotonic() - t0
        pause = min(max(runs.POLL_FIRST, runs.POLL_RATIO * waited), runs.POLL_MAX)
        if cancel.wait(pause):
            raise Cancelled(
                f"stopped waiting for run {run.id}; the run itself carries on at Stripe "
                f"(client.wait({run.id!r}) picks it up)"
            )
        if time.monotonic() > deadline:
            raise errors.RunTimeoutError(
                f"report run {run.id} still {run.status} after {timeout:.0f} s; it goes on at Stripe: "
                f"resume with client.wait({run.id!r})",
                run=run,
            )
        run = client.retrieve_run(run.id)
        hooks.run(run)
    runs._raise_if_failed(run)
    hooks.step(2, 3)
    hooks.status(f"Run {run.id} succeeded; downloading {_size(run)}…")
    return client.download(run)


def run_split(
    client: Any, req: dict[str, Any], *, cancel: threading.Event, timeout: float, hooks: Hooks
) -> pd.DataFrame:
    """``client.reports`` over ``rk.intervals(start, end, freq=split, tz=timezone)``; cancellable.

    The batch's own ``cancel`` event and ``on_progress`` counters drive the form: Cancel stops creating
    and waiting at once (runs already created carry on at Stripe; finished intervals are cached)."""
    from reportkit.errors import BatchError, RunCancelledError
    from reportkit.intervals import intervals

    t0 = time.monotonic()
    ivs = list(intervals(req["start"], req["end"], freq=req["split"], tz=req["timezone"]))
    n = len(ivs)

    def progress(counts: dict[str, int]) -> None:
        hooks.step(min(counts["done"], n), n)
        hooks.status(
            f"{n} runs of {req['report']}: {counts['done']} done, {counts['running']} running, "
            f"{counts['failed']} failed, {counts['cached']} from the cache ({elapsed(t0)})…"
        )

    hooks.step(0, n)
    try:
        return client.reports(
            req["report"], ivs, progress=False, timeout=timeout, cancel=cancel, on_progress=progress,
            **kwargs_of(req),
        )
    except BatchError as exc:
        if cancel.is_set() and any(isinstance(e, RunCancelledError) for e in exc.errors.values()):
            left = sum(isinstance(e, RunCancelledError) for e in exc.errors.values())
            raise Cancelled(
                f"stopped {left} of {n} intervals; runs already created carry on at Stripe and the "
                "intervals that finished are cached, so Run again picks them up"
            ) from None
        raise


def _size(run: Any) -> str:
    size = run.result.size if run.result is not None else 0
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
