"""The one lifecycle every form shares: worker thread, Run/Cancel, status, progress, on_result.

A form subclasses :class:`FormRun` (or :class:`FrameForm`, a form whose result is one DataFrame shown
in a Result and a Code tab), creates its controls with :meth:`FormRun.build_controls` and supplies
``_job(cancel, observer)`` (the work, on the public
``client.prepare/run`` and ``client.reports(cancel=, observer=)``) and ``_show_result(result, t0)``.
:class:`FormRun` does the rest: it refuses a second start while one runs, enables and disables the
buttons, runs the job on a daemon thread, turns the progress events of
:class:`reportkit.progress.Observer` into the status line and the progress bar (:class:`FormObserver`),
and ends in exactly one of: done (result shown, ``on_result`` callbacks called), cancelled
(:class:`~reportkit.errors.RunCancelledError`, the one cancellation exception: runs already created
carry on at Stripe), failed (readable text, never a traceback).
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit import errors
from reportkit.progress import Observer, Progress
from reportkit.widgets import _common as c
from reportkit.widgets import _result

__all__ = ["FormObserver", "FormRun", "FrameForm", "SeriesObserver", "batch_cancelled"]

#: A single run's progress bar: created, succeeded, downloaded.
_SINGLE_STEPS = {"checking": 0, "creating": 0, "waiting": 1, "downloading": 2, "done": 3}


class FormObserver(Observer):
    """Progress events -> the form's status line, progress bar and last-seen run."""

    def __init__(self, form: FormRun, t0: float) -> None:
        self.form, self.t0 = form, t0

    def start(self, state: Progress) -> None:
        self.step(state)

    def done(self, state: Progress) -> None:
        self.step(state)

    def step(self, state: Progress) -> None:
        form = self.form
        if state.total > 1:
            form._set_progress(min(state.done, state.total), state.total)
            form.status.value = (
                f"{state.total} runs of {state.label}: {state.done} done, {state.running} running, "
                f"{state.failed} failed, {state.cached} from the cache ({c.elapsed(self.t0)})…"
            )
            return
        if state.run is not None:
            form.run = state.run
        form._set_progress(_SINGLE_STEPS.get(state.phase, 0), 3)
        run = state.run
        if state.phase == "creating":
            form.status.value = (
                f"Creating the {form.run_noun}… (while the key is at Stripe's {form.cap_noun}, this waits "
                "for a slot)"
            )
        elif state.phase == "waiting" and run is not None:
            form.status.value = f"Run {run.id} is {run.status} ({c.elapsed(self.t0)})…"
        elif state.phase == "downloading" and run is not None:
            form.status.value = f"Run {run.id} succeeded; downloading {_size(run)}…"


class SeriesObserver(FormObserver):
    """Progress of several calls made one after another on one observer (``check_period``'s report
    fetches): the bar follows the current call's intervals, ``form.counts`` shows which call it is and
    the runs counted over all calls so far (done, from the cache, running, failed, waits at the run cap).
    Calls are told apart by their ``start`` events; events may come from several threads."""

    def __init__(self, form: FormRun, t0: float) -> None:
        super().__init__(form, t0)
        self._lock = threading.Lock()
        self.calls = 0
        self.totals = {"done": 0, "cached": 0, "failed": 0, "throttled": 0}
        self.current: Progress | None = None
        self.reports: list[str] = []

    def start(self, state: Progress) -> None:
        with self._lock:
            self.calls += 1
            self.reports.append(state.label)
            self.current = state
        self._show(state)

    def step(self, state: Progress) -> None:
        with self._lock:
            if self.current is not None and state.label == self.current.label:
                self.current = state
        self._show(state)

    def done(self, state: Progress) -> None:
        with self._lock:
            for key in self.totals:
                self.totals[key] += getattr(state, key)
            self.current = None
        self._show(state, finished=True)

    def failed(self, state: Progress, error: BaseException) -> None:
        self.done(state)

    def counts(self) -> dict[str, int]:
        """Runs over all finished calls: done, cached, failed, throttled; and ``calls`` made so far."""
        with self._lock:
            return {**self.totals, "calls": self.calls}

    def _show(self, state: Progress, finished: bool = False) -> None:
        form = self.form
        with self._lock:
            done = self.totals["done"] + (0 if finished else state.done)
            cached = self.totals["cached"] + (0 if finished else state.cached)
            failed = self.totals["failed"] + (0 if finished else state.failed)
            throttled = self.totals["throttled"] + (0 if finished else state.throttled)
            calls = self.calls
        running = 0 if finished else state.running
        form._set_progress(min(state.done, state.total), state.total)
        where = f"report {calls}: {state.label}, {min(state.done, state.total)} of {state.total} interval"
        where += "s" if state.total != 1 else ""
        counts = getattr(form, "counts", None)
        text = f"{done} runs done ({cached} from the cache), {running} running, {failed} failed" + (
            f", {throttled} waits at the run cap" if throttled else ""
        )
        if counts is not None:
            counts.value = (
                f"<div class='rk-counts-line' data-calls='{calls}' data-done='{done}' data-cached='{cached}' "
                f"data-failed='{failed}' data-running='{running}' style='color:#555'>"
                f"{where} &middot; {text}</div>"
            )
        form.status.value = f"Checking… {where}; {text} ({c.elapsed(self.t0)})"


class FormRun:
    """Run/Cancel/status/progress for a form; see the module docstring.

    The subclass creates ``run_button``, ``cancel_button``, ``status``, ``error`` (and optionally
    ``progress``, an ``IntProgress``), usually with :meth:`build_controls`, and ``widget`` (what the
    form displays) before calling :meth:`_init_run`.
    """

    run_button: w.Button
    cancel_button: w.Button
    status: w.Label
    error: w.HTML
    progress: w.IntProgress | None = None
    run_noun = "report run"  # what the status line calls one run
    cap_noun = "concurrent-run cap"  # and the key's limit on runs at once
    run: Any = None
    error_message: str | None = None

    widget: w.Widget

    def build_controls(self, label: str = "Run", icon: str = "play") -> w.HBox:
        """Create ``run_button`` (captioned ``label``), ``cancel_button``, ``progress``, ``status`` and
        ``error``; return the row of the two buttons and the progress bar."""
        self.run_button = w.Button(description=label, button_style="primary", icon=icon)
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.status = w.Label("Ready.")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="300px"))
        self.error = w.HTML()
        return w.HBox([self.run_button, self.cancel_button, self.progress])

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _init_run(self, name: str) -> None:
        self._name = name
        self._callbacks: list[Callable[[Any], Any]] = []
        self._worker: c.Worker | None = None
        self.run_button.on_click(lambda _: self.start_run())
        self.cancel_button.on_click(lambda _: self.cancel())

    # -- what a form supplies ----------------------------------------------------------------------
    def _prepare_job(self) -> Callable[[threading.Event, Observer], Any]:
        """Check the form and return the job (raise :class:`errors.FormInputError` to refuse)."""
        raise NotImplementedError

    def _clear(self) -> None:
        """Forget the last result before a new run."""

    def _show_result(self, result: Any, t0: float) -> None:
        raise NotImplementedError

    def _show_partial(self, exc: BaseException, t0: float) -> None:
        """After a failure: keep what succeeded, if the form can (default: nothing)."""

    def _callback_value(self, result: Any) -> Any:
        """What ``on_result`` callbacks receive (default: the job's result)."""
        return result

    # -- the lifecycle ------------------------------------------------------------------------------
    def on_result(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(result)`` after every successful run (on the worker thread)."""
        self._callbacks.append(callback)

    def start_run(self) -> None:
        """What the Run button does: check the form, then run on a worker thread."""
        if self._worker is not None and self._worker.alive:
            return
        self.run, self.error_message = None, None
        self.error.value = ""
        self._clear()
        try:
            job = self._prepare_job()
        except errors.ReportkitError as exc:  # a bad field: nothing was sent
            self._show_error(c.error_text(exc))
            self.status.value = "Not started."
            return
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._set_progress(0, 1, "info")
        self.status.value = "Starting…"
        self._worker = c.Worker(lambda cancel: self._work(job, cancel), name=self._name).start()

    def cancel(self) -> None:
        """Stop creating and waiting (runs already created carry on at Stripe)."""
        if self._worker is not None and self._worker.alive:
            # Say so *before* setting the event: the worker wakes at once and writes "Cancelled after ...",
            # which a later "Cancelling…" from this thread would overwrite for good.
            self.cancel_button.disabled = True
            self.status.value = "Cancelling…"
            self._worker.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run is over (True) or ``timeout`` seconds passed (False)."""
        return self._worker.join(timeout) if self._worker is not None else True

    def _observer(self, t0: float) -> FormObserver:
        """The observer a run reports to (a form whose job makes several calls uses SeriesObserver)."""
        return FormObserver(self, t0)

    def _work(self, job: Callable[[threading.Event, Observer], Any], cancel: threading.Event) -> None:
        t0 = time.monotonic()
        try:
            result = job(cancel, self._observer(t0))
        except errors.RunCancelledError as exc:
            self._set_progress(None, None, "warning")
            self.status.value = f"Cancelled after {c.elapsed(t0)}: {exc}"
        except Exception as exc:  # every failure ends up as readable text in the form
            cancelled = batch_cancelled(exc) if cancel.is_set() else None
            if cancelled is not None:
                self._set_progress(None, None, "warning")
                self.status.value = f"Cancelled after {c.elapsed(t0)}: {cancelled}"
            else:
                self._set_progress(None, None, "danger")
                self.status.value = f"Failed after {c.elapsed(t0)}."
                self._show_partial(exc, t0)
                self._show_error(c.error_text(exc))
        else:
            try:
                self._show_result(result, t0)
                if self.progress is not None:
                    self._set_progress(self.progress.max, None, "success")
            except Exception as exc:  # drawing went wrong: still a message, never a traceback
                self._show_error(c.error_text(exc))
            for callback in self._callbacks:
                try:
                    callback(self._callback_value(result))
                except Exception as exc:
                    name = getattr(callback, "__name__", "callback")
                    self._show_error(f"on_result({name}) raised: {c.error_text(exc)}")
        finally:
            self.run_button.disabled, self.cancel_button.disabled = False, True

    def _set_progress(self, value: int | None, total: int | None, style: str | None = None) -> None:
        bar = self.progress
        if bar is None:
            return
        if total is not None:
            bar.max = max(total, 1)
        if value is not None:
            bar.value = value
        if style is not None:
            bar.bar_style = style

    def _show_error(self, text: str) -> None:
        self.error_message = text
        self.error.value = c.error_html(text)


class FrameForm(FormRun):
    """A form whose result is one DataFrame (``.df``) shown in a Result tab (preview, exact totals,
    downloads) next to a Code tab (``code_text``, the Python that does what Run does).

    The subclass calls :meth:`build_result_tabs` and supplies ``code_text``; :meth:`show_frame` fills
    the Result tab."""

    df: pd.DataFrame | None = None
    preview_rows = 10
    client: Any = None
    preview: w.HTML
    totals: w.HTML
    downloads: w.HTML
    code: w.HTML

    @property
    def code_text(self) -> str:
        raise NotImplementedError

    def build_result_tabs(self) -> w.Tab:
        """Create ``preview``, ``totals``, ``downloads`` and ``code``; return the Result/Code tabs."""
        self.preview, self.totals, self.downloads, self.code = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        tabs = w.Tab(children=[w.VBox([self.preview, self.totals, self.downloads]), self.code])
        tabs.set_title(0, "Result")
        tabs.set_title(1, "Code")
        return tabs

    def _refresh_code(self, *_: Any) -> None:
        self.code.value = f"<pre class='rk-code-text'>{html.escape(self.code_text)}</pre>"

    def _clear(self) -> None:
        self.df = None
        self.preview.value = (
            "<i class='rk-no-result' style='color:#777'>No result yet: Run shows its rows here.</i>"
        )
        self.totals.value = self.downloads.value = ""

    def show_frame(self, df: pd.DataFrame, report: str | None, stem: str, status: str | None = None) -> None:
        """Show ``df``: preview, totals (``report``'s money columns, None for any), downloads named
        ``stem``. Every part is built first (the files take a moment), then all are set with ``status``."""
        parts = (
            c.preview_html(df, self.preview_rows),
            _result.totals_html(df, report),
            _result.downloads_html(df, stem, self.client),
        )
        self.preview.value, self.totals.value, self.downloads.value = parts
        if status is not None:
            self.status.value = status


def batch_cancelled(exc: BaseException) -> str | None:
    """The status text of a batch stopped by Cancel (None when ``exc`` is not that)."""
    if not isinstance(exc, errors.BatchError):
        return None
    left = sum(isinstance(e, errors.RunCancelledError) for e in exc.errors.values())
    if not left:
        return None
    frames = exc.frames if isinstance(exc.frames, pd.DataFrame) else pd.DataFrame()
    total = frames.attrs.get("reportkit", {}).get("intervals", len(exc.errors))
    return (
        f"stopped {left} of {total} intervals; runs already created carry on at Stripe and the "
        "intervals that finished are cached, so Run again picks them up"
    )


def _size(run: Any) -> str:
    """What is being downloaded: ``1.2 MB`` (v1, v2), ``12 rows, 1 kB`` where the run declares its rows."""
    result = run.result
    size = (result.size or 0) if result is not None else 0
    text = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
    rows = getattr(result, "row_count", None)
    return f"{rows:,} row{'s' if rows != 1 else ''}, {text}" if rows is not None else text
