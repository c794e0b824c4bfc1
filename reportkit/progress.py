"""The one progress channel: an :class:`Observer` receives ``start``, ``step``, ``done``, ``failed``.

Every long call (``client.run``/``report``, ``client.wait``, ``client.reports``, the reconciliation)
reports through an observer passed *per call*, like papermill's execution manager: the tqdm bar
(:class:`TqdmObserver`, what ``progress=True`` gives), a callback of counters (:class:`CallbackObserver`,
what ``on_progress=`` gives) and the widgets' status lines are all observers. Nothing here is client
state, so silencing progress is ``progress=False``, not a modified client.

Each event carries a :class:`Progress` snapshot: the label, how many parts (intervals) in all and how
many are done, running, failed, cached or throttled, and for one run the phase and the run last seen.
Observers are called from worker threads; they must be quick and must not raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["PHASES", "CallbackObserver", "Observer", "Observers", "Progress", "TqdmObserver", "observer_for"]

#: The phases of one run, in order (``Progress.phase``).
PHASES = ("checking", "creating", "waiting", "downloading", "done")


@dataclass(frozen=True)
class Progress:
    """A snapshot of one call's progress."""

    label: str
    total: int = 1
    done: int = 0
    running: int = 0
    failed: int = 0
    cached: int = 0
    throttled: int = 0  # 429 run-cap answers absorbed by waiting
    phase: str = "checking"
    run: Any = None  # the ReportRun last seen (single runs)

    def counts(self) -> dict[str, int]:
        """The counters alone: total, done, running, failed, cached, throttled."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, int) and not isinstance(v, bool)}

    def with_(self, **changes: Any) -> Progress:
        return replace(self, **changes)


class Observer:
    """Base observer: every event does nothing. Override what you need."""

    def start(self, state: Progress) -> None:
        """The call begins (``state.done`` may already count cache hits)."""

    def step(self, state: Progress) -> None:
        """Something changed: a run's status, a phase, a counter."""

    def done(self, state: Progress) -> None:
        """The call finished (also when some parts failed: see ``state.failed``)."""

    def failed(self, state: Progress, error: BaseException) -> None:
        """The call ended with ``error``."""


class Observers(Observer):
    """Several observers as one, called in order."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.observers = [o for o in observers if o is not None]

    def start(self, state: Progress) -> None:
        for o in self.observers:
            o.start(state)

    def step(self, state: Progress) -> None:
        for o in self.observers:
            o.step(state)

    def done(self, state: Progress) -> None:
        for o in self.observers:
            o.done(state)

    def failed(self, state: Progress, error: BaseException) -> None:
        for o in self.observers:
            o.failed(state, error)


class CallbackObserver(Observer):
    """Calls ``fn(counts)`` (a dict: total, done, running, failed, cached, throttled) on every event."""

    def __init__(self, fn: Callable[[dict[str, int]], None]) -> None:
        self.fn = fn

    def start(self, state: Progress) -> None:
        self.fn(state.counts())

    def step(self, state: Progress) -> None:
        self.fn(state.counts())

    def done(self, state: Progress) -> None:
        self.fn(state.counts())


class TqdmObserver(Observer):
    """A ``tqdm.auto`` bar: a spinner with the run's status for one run, a bar of intervals for many."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._lock = threading.Lock()

    def start(self, state: Progress) -> None:
        from tqdm.auto import tqdm

        with self._lock:
            if state.total > 1:
                desc = f"{state.label} x{state.total}"
                self._bar = tqdm(total=state.total, desc=desc, unit="interval", leave=True)
                self._bar.update(state.done)
            else:
                self._bar = tqdm(
                    desc=_run_label(state), total=None, bar_format="{desc} [{elapsed}]", leave=False
                )

    def step(self, state: Progress) -> None:
        with self._lock:
            bar = self._bar
            if bar is None:
                return
            if state.total > 1:
                if state.done > bar.n:
                    bar.update(state.done - bar.n)
                bar.set_postfix(
                    running=state.running, failed=state.failed, cached=state.cached, refresh=False
                )
                bar.refresh()
            else:
                bar.set_description_str(_run_label(state), refresh=False)
                bar.update(0)

    def done(self, state: Progress) -> None:
        self.step(state)
        self._close()

    def failed(self, state: Progress, error: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def _run_label(state: Progress) -> str:
    run = state.run
    if run is None:
        return f"{state.label}: {state.phase}"
    return f"{run.report_name or run.report} {run.id}: {run.status}"


def observer_for(
    progress: bool,
    observer: Observer | None = None,
    on_progress: Callable[[dict[str, int]], None] | None = None,
) -> Observer:
    """The observer of one call: a tqdm bar when ``progress``, plus ``observer`` and ``on_progress``."""
    chosen: list[Observer] = []
    if progress:
        chosen.append(TqdmObserver())
    if observer is not None:
        chosen.append(observer)
    if on_progress is not None:
        chosen.append(CallbackObserver(on_progress))
    return chosen[0] if len(chosen) == 1 else Observers(chosen)
