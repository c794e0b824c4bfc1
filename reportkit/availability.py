"""Waiting for data without a webhook: :func:`wait_for_data` polls a report type's window.

Stripe moves a report type's ``data_available_end`` forward as it processes data (about twice a day,
balance data within about 12 hours of a UTC day's end) and sends ``reporting.report_type.updated``
when it does. Without a webhook endpoint the alternative is to ask: :func:`wait_for_data` fetches the
report type (``GET /v1/reporting/report_types/{id}``, or the v2 report) until its
``data_available_end`` reaches ``until``, pausing between fetches by the one polling cadence of
:func:`reportkit.runs.poll_pause` (fast at first, then a tenth of the time waited, at most 10 s), and
reports each look through a :class:`~reportkit.progress.Observer`. When ``timeout`` passes first it
raises :class:`~reportkit.errors.DataNotAvailableError` naming the report, the time waited for and the
window seen last. ``Client.wait_for_data`` and ``sync(..., wait=True)`` are this function.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from reportkit import config
from reportkit.errors import DataNotAvailableError, RunCancelledError
from reportkit.intervals import bound
from reportkit.objects import ReportType
from reportkit.progress import Observer, Progress
from reportkit.runs import poll_pause

__all__ = ["covers", "wait_for_data"]


def covers(t: ReportType, until: datetime) -> bool:
    """Whether ``t``'s data window reaches ``until`` (``data_available_end >= until``)."""
    return t.data_available_end is not None and t.data_available_end >= until


def wait_for_data(
    fetch: Callable[[], ReportType],
    until: Any,
    *,
    label: str,
    timeout: float = 3600.0,
    observer: Observer | None = None,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReportType:
    """Fetch the report type with ``fetch()`` until its ``data_available_end`` is at or after
    ``until`` (an aware datetime, a date or ``"YYYY-MM-DD"`` = UTC midnight); return that type.

    Raises :class:`DataNotAvailableError` after ``timeout`` seconds (its message names ``label``, the
    time waited for and the ``data_available_end`` seen last), :class:`RunCancelledError` when
    ``cancel`` is set. The first fetch happens at once, so data already there costs one request."""
    config.check_deadline(timeout, "timeout=3600")
    target = bound(until, "until").astimezone(UTC)
    obs = observer or Observer()
    begin = clock()
    deadline = begin + float(timeout)
    state = Progress(label=f"{label}: waiting for data through {_fmt(target)}", phase="waiting")
    obs.start(state)
    looks = 0
    try:
        while True:
            t = fetch()
            looks += 1
            if covers(t, target):
                obs.done(state.with_(label=_seen(label, t), phase="done", done=1))
                return t
            obs.step(state.with_(label=f"{_seen(label, t)}; waiting for {_fmt(target)} (look {looks})"))
            now = clock()
            if now >= deadline:
                raise DataNotAvailableError(
                    f"waited {now - begin:.1f} s ({looks} looks) for {label}'s data_available_end to reach "
                    f"{_fmt(target)}; it is {_fmt(t.data_available_end)}. Stripe moves it as data is "
                    "processed (about twice a day); wait longer (timeout=) or ask for an earlier end.",
                    report_type=t.id,
                    data_available_start=t.data_available_start,
                    data_available_end=t.data_available_end,
                )
            pause = min(poll_pause(now - begin), deadline - now)
            if cancel is not None:
                if cancel.wait(pause):
                    raise RunCancelledError(
                        f"cancelled while waiting for {label}'s data through {_fmt(target)}"
                    )
            else:
                sleep(pause)
    except BaseException as exc:
        obs.failed(state, exc)
        raise


def _seen(label: str, t: ReportType) -> str:
    return f"{label}: data through {_fmt(t.data_available_end)}"


def _fmt(when: datetime | None) -> str:
    return "none" if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
