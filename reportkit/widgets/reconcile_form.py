"""ReconcileForm: a period and a frequency in; reportkit's reconciliation checks and charts out.

Run calls :func:`reportkit.reconcile.check_period` (every balance, activity and payout report of the
period, split by day/week/month, checked against each other exactly) on a worker thread, then draws
:func:`reportkit.plot.differences` of the checks and :func:`reportkit.plot.balance` of one currency's
roll-forward. Figures are rendered to PNG and set on ``Image`` widgets (no pyplot state, nothing
captured from threads). Cancel stops waiting; runs already created finish at Stripe and are cached.
"""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit.intervals import iana_names, intervals
from reportkit.progress import Observer
from reportkit.widgets import _common as c
from reportkit.widgets._runner import FormRun

__all__ = ["ReconcileForm"]

BALANCE = "balance.summary.1"
FREQS = ("day", "week", "month")


class ReconcileForm(FormRun):
    """Check a period: ``.checks`` is the :class:`~reportkit.reconcile.Checks` frame after a run.

    ``.balance`` is the ``balance.summary.1`` frame per interval behind the roll-forward chart,
    ``.error_message`` the text of a failure, ``wait()`` blocks until the run is over and
    ``on_result(callback)`` calls ``callback(checks)`` after each successful run.
    """

    def __init__(self, client: Any, *, freq: str = "month", timezone: str = "Etc/UTC") -> None:
        self.client = client
        self.checks: pd.DataFrame | None = None
        self.balance: pd.DataFrame | None = None
        self.error_message: str | None = None
        style = {"description_width": "110px"}
        self.start = w.DatePicker(description="Start", style=style)
        self.end = w.DatePicker(description="End (exclusive)", style=style)
        self.freq = w.ToggleButtons(options=list(FREQS), value=freq, style={"button_width": "70px"})
        self.timezone = w.Combobox(
            value=timezone,
            options=sorted(iana_names()),
            ensure_option=False,
            description="Timezone",
            style=style,
            layout=w.Layout(width="420px"),
        )
        self.currency = w.Text(description="Currency", placeholder="all, or e.g. usd", style=style)
        self.run_button = w.Button(description="Check", button_style="primary", icon="check")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True)
        self.status = w.Label("Ready.")
        self.error = w.HTML()
        self.summary = w.HTML()
        self.table = w.HTML()
        self.chart_currency = w.Dropdown(description="Chart currency", style=style)
        self.differences_chart = w.Image(format="png")
        self.balance_chart = w.Image(format="png")
        self.window = w.HTML()
        self.account = c.account_banner(client)
        self.widget = w.VBox([
            self.account,
            self.window,
            w.HBox([self.start, self.end]),
            w.HBox([w.HTML("<div style='width:110px;text-align:right;padding-right:6px'>Every</div>"),
                    self.freq]),
            self.timezone,
            self.currency,
            w.HBox([self.run_button, self.cancel_button]),
            self.status,
            self.error,
            self.summary,
            self.differences_chart,
            self.chart_currency,
            self.balance_chart,
            self.table,
        ], layout=w.Layout(padding="6px"))  # fmt: skip
        self.widget.add_class("rk-reconcile-form")
        for name in (
            "start",
            "end",
            "freq",
            "timezone",
            "currency",
            "run_button",
            "cancel_button",
            "status",
            "error",
            "summary",
            "table",
            "chart_currency",
            "differences_chart",
            "balance_chart",
        ):
            getattr(self, name).add_class(f"rk-{name.replace('_', '-')}")  # fmt: skip
        self._init_run("reportkit-reconcile")
        self.chart_currency.observe(lambda _: self._draw_balance(), names="value")
        self._set_window()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _set_window(self) -> None:
        try:
            t = self.client.report_type(BALANCE)
        except Exception as exc:
            self._show_error(c.error_text(exc))
            return
        lo, hi = t.data_available_start, t.data_available_end
        first = lo.date() if lo else None
        if lo is not None and lo != datetime.combine(lo.date(), datetime.min.time(), UTC):
            first = lo.date() + timedelta(days=1)
        last = hi.date() if hi else None
        if last is not None:
            end = last.replace(day=1)
            start = end
            for _ in range(3):  # the last three whole months
                start = (start - timedelta(days=1)).replace(day=1)
            self.start.value, self.end.value = max(start, first) if first else start, end
        self.start.min = self.end.min = first
        self.start.max = self.end.max = last
        self.window.value = (
            f"<div class='rk-window' style='margin-left:114px;color:#555'>Data available "
            f"{lo:%Y-%m-%d %H:%M} &rarr; {hi:%Y-%m-%d %H:%M} UTC</div>"
            if lo and hi
            else ""
        )

    def parameters(self) -> dict[str, Any]:
        """What Run passes to ``check_period`` besides the dates and ``freq``."""
        params: dict[str, Any] = {"timezone": (self.timezone.value or "").strip() or "Etc/UTC"}
        if self.currency.value.strip():
            params["currency"] = self.currency.value.strip()
        return params

    @property
    def code_text(self) -> str:
        """The Python that does what Check does."""
        args = [repr(_iso(self.start.value)), repr(_iso(self.end.value)), f"freq={self.freq.value!r}"]
        args += [f"{k}={v!r}" for k, v in self.parameters().items()]
        return (
            "import reportkit as rk\n\nclient = rk.Client()\n"
            f"checks = rk.reconcile.check_period(client, {', '.join(args)})\nprint(checks.summary())\n"
        )

    # -- running (widgets._runner.FormRun) ---------------------------------------------------------
    def _clear(self) -> None:
        self.checks = self.balance = None
        for wid in (self.summary, self.table):
            wid.value = ""
        self.differences_chart.value = self.balance_chart.value = b""

    def _prepare_job(self) -> Callable[[threading.Event, Observer], Any]:
        if self.start.value is None or self.end.value is None:
            raise c.FormInputError("pick a start and an end date")
        from reportkit import reconcile

        start, end, freq, params = self.start.value, self.end.value, self.freq.value, self.parameters()
        parts = intervals(start, end, freq=freq, tz=params["timezone"])
        client = self.client

        def job(cancel: threading.Event, observer: Observer) -> tuple[Any, pd.DataFrame]:
            checks = reconcile.check_period(client, start, end, freq, cancel=cancel, observer=observer,
                                            progress=False, **params)  # fmt: skip
            return checks, client.reports(BALANCE, parts, cancel=cancel, progress=False, **params)

        return job

    def _callback_value(self, result: tuple[Any, pd.DataFrame]) -> Any:
        return result[0]  # on_result callbacks get the checks

    def _show_result(self, result: tuple[Any, pd.DataFrame], t0: float) -> None:
        from reportkit import plot

        self.checks, self.balance = result
        checks = self.checks
        failed = int((~checks["ok"].astype(bool)).sum())
        colour = "#8a1c12" if failed else "#1f5f2a"
        self.summary.value = (
            f"<div class='rk-summary-line' data-failed='{failed}' data-checks='{len(checks)}' "
            f"style='font-weight:700;color:{colour}'>{html.escape(checks.summary())}</div>"
        )
        self.table.value = f"<div style='max-height:420px;overflow:auto'>{checks._repr_html_()}</div>"
        self.differences_chart.value = _png(plot.differences(checks))
        currencies = sorted(set(self.balance["currency"].astype(str)))
        self.chart_currency.options = currencies
        if currencies:  # setting the value draws the chart (observer)
            self.chart_currency.value = "usd" if "usd" in currencies else currencies[0]
        self.status.value = f"Done: {len(checks):,} checks, {failed} failed, in {c.elapsed(t0)}."

    def _draw_balance(self) -> None:
        from reportkit import plot

        if self.balance is None or not self.chart_currency.value:
            return
        self.balance_chart.value = _png(plot.balance(self.balance, currency=self.chart_currency.value))


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _png(ax: Any) -> bytes:
    fig = ax.figure
    fig.set_size_inches(9, max(3.5, fig.get_size_inches()[1]))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()
