"""What the reportkit forms share: the worker thread, readable error text, status and result preview.

The forms do their work on a daemon thread so the kernel stays free for the notebook, and they
write to widgets *explicitly* (``widget.value = ...``) from that thread: output captured from
threads with ``with output:`` is lost in ipykernel 7 and fragile before it. Nothing here prints.
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

__all__ = ["FormInputError", "Worker", "error_text", "preview_html"]

FormInputError = errors.FormInputError  # a form field is unusable (in the one exception tree)


_TITLES: list[tuple[type[BaseException], str]] = [
    (FormInputError, "Check the form"),
    (errors.DataNotAvailableError, "No data for that period"),
    (errors.ConfigurationError, "Check the settings"),
    (errors.AuthenticationError, "The API key was refused"),
    (errors.PermissionDeniedError, "The API key may not do this"),
    (errors.NotFoundError, "Not found"),
    (errors.InvalidRequestError, "Stripe refused the request"),
    (errors.RateLimitError, "Too many requests; try again in a minute"),
    (errors.ServerError, "Stripe had a server error; try again later"),
    (errors.APIConnectionError, "Could not reach the API"),
    (errors.RunFailedError, "The report run failed"),
    (errors.RunTimeoutError, "The report run did not finish in time"),
    (errors.RunCancelledError, "Cancelled"),
    (errors.ResultParseError, "The result file could not be read"),
    (errors.BatchError, "Some intervals failed"),
    (errors.ReportkitError, "Error"),
]


def error_text(exc: BaseException) -> str:
    """One readable paragraph for ``exc``: a title, the message, and the details a support ticket needs.

    Never a traceback. reportkit's own messages are already free of keys (errors.redact); any other
    exception's text is passed through ``redact`` as well.
    """
    title = next(
        (t for cls, t in _TITLES if isinstance(exc, cls)), f"Unexpected error ({type(exc).__name__})"
    )
    msg = errors.redact(str(exc)).strip() or type(exc).__name__
    extra = []
    if isinstance(exc, errors.APIError):  # its message usually names these already
        for label, value in (("code", exc.code), ("parameter", exc.param), ("request", exc.request_id)):
            if value and str(value) not in msg:
                extra.append(f"{label} {value}")
    run = getattr(exc, "run", None)
    if run is not None and getattr(run, "id", None) and run.id not in msg:
        extra.append(f"run {run.id}")
    tail = f" ({', '.join(extra)})" if extra else ""
    return f"{title}: {msg}{tail}"


def error_html(text: str) -> str:
    return (
        "<div class='rk-error' style='color:#a00;border:1px solid #e3b4b4;background:#fdf3f3;"
        f"padding:6px 8px;border-radius:4px;white-space:pre-wrap'>{html.escape(text)}</div>"
    )


def preview_html(df: pd.DataFrame, rows: int = 10) -> str:
    """Shape line plus the first ``rows`` rows as an HTML table (values escaped)."""
    n, m = df.shape
    shape = (
        f"<div class='rk-shape' data-rows='{n}' data-columns='{m}'>"
        f"{n:,} row{'s' if n != 1 else ''} &times; {m} column{'s' if m != 1 else ''}"
        f"{f' (first {rows} shown)' if n > rows else ''}</div>"
    )
    table = df.head(rows).to_html(index=False, border=0, classes="rk-preview", na_rep="", escape=True)
    style = (
        "<style>.rk-preview{border-collapse:collapse;font-size:12px}"
        ".rk-preview td,.rk-preview th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "</style>"
    )
    return f"{style}{shape}<div style='overflow-x:auto'>{table}</div>"


def elapsed(t0: float) -> str:
    s = time.monotonic() - t0
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


class Worker:
    """One job on a daemon thread, with a cancel flag. ``join()`` is what tests and ``form.wait()`` use."""

    def __init__(self, target: Callable[[threading.Event], Any], name: str) -> None:
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=target, args=(self.cancel,), name=name, daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the job; True when it has finished."""
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)
        return not self.thread.is_alive()


def section(title: str, *children: w.Widget) -> w.VBox:
    return w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), *children], layout=w.Layout(margin="4px 0"))


def show(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"
