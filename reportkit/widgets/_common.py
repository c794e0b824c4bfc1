"""What the reportkit forms share: the worker thread, readable error text, the account banner, status and
result preview.

The forms do their work on a daemon thread so the kernel stays free for the notebook, and they
write to widgets *explicitly* (``widget.value = ...``) from that thread: output captured from
threads with ``with output:`` is lost in ipykernel 7 and fragile before it. Nothing here prints.
"""

from __future__ import annotations

import html
import ipaddress
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as w
import pandas as pd

from reportkit import errors

__all__ = ["FormInputError", "Worker", "account_banner", "account_text", "error_text", "preview_html"]

FormInputError = errors.FormInputError  # a form field is unusable (in the one exception tree)


#: The code of SQL Stripe refuses (a failed query run's ``error_code``, or a 400's ``code``).
INVALID_SQL = "query_run_invalid_sql"
_QUERY_IDS = ("qrun_", "qryrun_")  # /v2/data query runs (report runs are rrun_)

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
    run = getattr(exc, "run", None)
    code = getattr(exc, "code", None) or getattr(run, "error_code", None)
    if isinstance(exc, errors.ReportkitError) and code == INVALID_SQL:  # a failed run or a 400 alike
        title = "The query is not valid SQL"
    elif isinstance(exc, errors.RunFailedError) and str(getattr(run, "id", "")).startswith(_QUERY_IDS):
        title = "The query run failed"
    msg = errors.redact(str(exc)).strip() or type(exc).__name__
    extra = []
    if isinstance(exc, errors.APIError):  # its message usually names these already
        for label, value in (("code", exc.code), ("parameter", exc.param), ("request", exc.request_id)):
            if value and str(value) not in msg:
                extra.append(f"{label} {value}")
    if run is not None and getattr(run, "id", None) and run.id not in msg:
        extra.append(f"run {run.id}")
    tail = f" ({', '.join(extra)})" if extra else ""
    return f"{title}: {msg}{tail}"


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8, ``::1``): a local sandbox."""
    host = (urlsplit(url or "").hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_MASKED_IN_REPR = re.compile(r"\bkey=((?:sk|rk)_(?:test|live)_\.\.\.[A-Za-z0-9]{0,4}|<no key>)")


def masked_key(client: Any) -> str | None:
    """The client's key as dashboards show it (``sk_test_...a1b2``): ``client.masked_key`` when the client
    has it, else the ``key=`` field of its repr (which shows only the masked form), else None."""
    key = getattr(client, "masked_key", None)
    if isinstance(key, str) and key:
        return key
    m = _MASKED_IN_REPR.search(repr(client))
    return m.group(1) if m else None


def account_text(client: Any) -> tuple[str, str]:
    """(kind, text) of the account a form talks to: kind is ``sandbox``, ``test`` or ``live``.

    A local sandbox is ``client.sandbox`` (what ``rk.connect()`` started) or any loopback API base; else
    the key's mode decides (``client.livemode``). The text names the API host and the masked key."""
    base = str(getattr(client, "api_base", "") or "")
    host = urlsplit(base).netloc or base or "?"
    key = masked_key(client)
    tail = f" · {host}" + (f" · key {key}" if key else "")
    if getattr(client, "sandbox", None) is not None or is_loopback(base):
        return "sandbox", f"LOCAL SANDBOX (synthetic data){tail}"
    if getattr(client, "livemode", False):
        return "live", f"LIVE mode: your real Stripe account{tail}"
    return "test", f"test mode{tail}"


_BANNER_STYLE = {
    "sandbox": "background:#fff4d6;border:1px solid #e0b84c;color:#5c4300",
    "test": "background:#e8f1fb;border:1px solid #8fb3dc;color:#1b3f66",
    "live": "background:#fde8e8;border:1px solid #d66;color:#7a0d0d",
}


def account_banner(client: Any) -> w.HTML:
    """The banner at the top of every form: which account (sandbox, test or LIVE) the form runs against."""
    kind, text = account_text(client)
    banner = w.HTML(
        f"{FORM_CSS}<div class='rk-account-line' data-kind='{kind}' "
        f"style='{_BANNER_STYLE[kind]};padding:4px 8px;"
        f"border-radius:4px;font-weight:600'>{html.escape(text)}</div>"
    )
    banner.add_class("rk-account")
    return banner


#: Page styles the forms need: the status line wraps instead of being cut off at the form's edge; SQL
#: is typed in a monospace font.
FORM_CSS = (
    "<style>.rk-status.widget-label,.rk-status .widget-label{white-space:normal;height:auto;"
    "line-height:1.4;overflow:visible}.rk-sql textarea{font-family:monospace;font-size:12px}</style>"
)


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


def css_hooks(form: Any, names: tuple[str, ...] | list[str]) -> None:
    """Give each named widget of ``form`` the class ``rk-<name>`` (underscores as dashes): stable hooks
    for CSS and tests."""
    for name in names:
        getattr(form, name).add_class(f"rk-{name.replace('_', '-')}")


def show(widget: w.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"
