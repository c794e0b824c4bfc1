"""ReconcileForm: a period and a frequency in; reportkit's reconciliation checks and charts out.

Run calls :func:`reportkit.reconcile.check_period` (every balance, activity and payout report of the
period, split by day/week/month, checked against each other exactly) on a worker thread, then draws
:func:`reportkit.plot.differences` of the checks and :func:`reportkit.plot.balance` of one currency's
roll-forward. Progress: every report fetch of ``check_period`` reports to one
:class:`~reportkit.widgets._runner.SeriesObserver`, so the bar follows the current report's intervals
and the counts line adds the runs up. The period fields are the ReportForm's (the data window of
``balance.summary.1`` in the chosen timezone, dates never changed silently, "Trim to available data").
Figures are rendered to PNG and set on ``Image`` widgets that stay hidden until there is a chart (no
broken image, no empty dropdown before the first run). Cancel stops waiting; runs already created
finish at Stripe and are cached.
"""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit.intervals import iana_names, intervals
from reportkit.progress import Observer
from reportkit.widgets import _common as c
from reportkit.widgets._period import PeriodFields, instant, local_days, local_text
from reportkit.widgets._runner import FormObserver, FormRun, SeriesObserver

__all__ = ["ReconcileForm"]

BALANCE = "balance.summary.1"
FREQS = ("day", "week", "month")


class ReconcileForm(FormRun):
    """Check a period: ``.checks`` is the :class:`~reportkit.reconcile.Checks` frame after a run.

    ``.balance`` is the ``balance.summary.1`` frame per interval behind the roll-forward chart,
    ``.error_message`` the text of a failure, ``wait()`` blocks until the run is over and
    ``on_result(callback)`` calls ``callback(checks)`` after each successful run. ``.run_counts`` are
    the last run's counters (report calls, runs done, from the cache, failed).
    """

    def __init__(self, client: Any, *, freq: str = "month", timezone: str = "Etc/UTC") -> None:
        self.client = client
        self.checks: pd.DataFrame | None = None
        self.balance: pd.DataFrame | None = None
        self.error_message: str | None = None
        self.run_counts: dict[str, int] = {}
        self._period_run: tuple[Any, Any] | None = None
        self._trim_note = ""
        style = {"description_width": "110px"}
        self.period = PeriodFields(style)
        self.start, self.end, self.clamp = self.period.start, self.period.end, self.period.clamp
        self.dates_note = self.period.note
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
        buttons = self.build_controls("Check", icon="check")
        self.counts = w.HTML()
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
            w.HBox([self.start, self.end, self.clamp]),
            w.HBox([w.HTML("<div style='width:110px;text-align:right;padding-right:6px'>Every</div>"),
                    self.freq]),
            self.timezone,
            self.dates_note,
            self.currency,
            buttons,
            self.status,
            self.counts,
            self.error,
            self.summary,
            self.differences_chart,
            self.chart_currency,
            self.balance_chart,
            self.table,
        ], layout=w.Layout(padding="6px"))  # fmt: skip
        self.widget.add_class("rk-reconcile-form")
        c.css_hooks(self, (
            "freq",
            "timezone",
            "currency",
            "run_button",
            "cancel_button",
            "progress",
            "status",
            "counts",
            "error",
            "summary",
            "table",
            "chart_currency",
            "differences_chart",
            "balance_chart",
        ))  # fmt: skip
        self._init_run("reportkit-reconcile")
        self.chart_currency.observe(lambda _: self._draw_balance(), names="value")
        for wid in (self.start, self.end, self.timezone, self.clamp):
            wid.observe(self._refresh_dates, names="value")
        self._clear()
        self._set_window()

    def _tz(self) -> str:
        return (self.timezone.value or "").strip() or "Etc/UTC"

    def _set_window(self) -> None:
        try:
            t = self.client.report_type(BALANCE)
        except Exception as exc:
            self._show_error(c.error_text(exc))
            return
        lo, hi = _utc(t.data_available_start), _utc(t.data_available_end)
        try:
            first, last = local_days(lo, hi, self._tz())
        except Exception:  # an unknown timezone: Check says so
            first = last = None
        if last is not None:
            end = last.replace(day=1)
            start = end
            for _ in range(3):  # the last three whole months
                start = date.fromordinal(start.toordinal() - 1).replace(day=1)
            self.start.value, self.end.value = max(start, first) if first else start, end
        self.period.set_window(lo, hi, self._tz())
        self._window_head = (
            f"Data available {lo:%Y-%m-%d %H:%M} &rarr; {hi:%Y-%m-%d %H:%M} UTC" if lo and hi else ""
        )
        self._refresh_dates()

    def _refresh_dates(self, *_: Any) -> None:
        tz = self._tz()
        local = ""
        try:
            first, last = local_days(self.period.lo, self.period.hi, tz)
            if first and last:
                local = f" &middot; as days in {html.escape(tz)}: {first} &rarr; {last} (End)"
        except Exception:
            pass
        head = getattr(self, "_window_head", "")
        self.window.value = (
            f"<div class='rk-window' style='margin-left:114px;color:#555'>{head}{local}</div>" if head else ""
        )
        self.period.refresh_note(tz, what=BALANCE)

    def parameters(self) -> dict[str, Any]:
        """What Run passes to ``check_period`` besides the dates and ``freq``."""
        params: dict[str, Any] = {"timezone": self._tz()}
        if self.currency.value.strip():
            params["currency"] = self.currency.value.strip()
        return params

    @property
    def code_text(self) -> str:
        """The Python that does what Check does (the trimmed period when "Trim" trimmed it)."""
        tz = self._tz()
        start, end = self._period_run or (self.start.day, self.end.day)
        args = [_lit(start, tz), _lit(end, tz), f"freq={self.freq.value!r}"]
        args += [f"{k}={v!r}" for k, v in self.parameters().items()]
        return (
            "import reportkit as rk\n\nclient = rk.Client()\n"
            f"checks = rk.reconcile.check_period(client, {', '.join(args)})\nprint(checks.summary())\n"
        )

    # -- running (widgets._runner.FormRun) ---------------------------------------------------------
    def _clear(self) -> None:
        self.checks = self.balance = None
        self.run_counts = {}
        for wid in (self.summary, self.table, self.counts):
            wid.value = ""
        self.differences_chart.value = self.balance_chart.value = b""
        for wid in (self.differences_chart, self.balance_chart, self.chart_currency):
            c.show(wid, False)  # no broken image and no empty dropdown before there is a chart

    def _observer(self, t0: float) -> FormObserver:
        self._series = SeriesObserver(self, t0)
        return self._series

    def _prepare_job(self) -> Callable[[threading.Event, Observer], Any]:
        from reportkit import reconcile

        tz, freq, params, client = self._tz(), self.freq.value, self.parameters(), self.client
        self.period.check(tz, what=BALANCE)  # refuse bad input at once; the worker checks afresh

        def job(cancel: threading.Event, observer: Observer) -> tuple[Any, pd.DataFrame]:
            t = client.report_type(BALANCE)
            lo, hi = _utc(t.data_available_start), _utc(t.data_available_end)
            self.period.lo, self.period.hi = lo, hi
            period = self.period.check(tz, what=BALANCE, lo=lo, hi=hi)
            start, end = _arg(period.run_start, tz), _arg(period.run_end, tz)
            self._period_run = (period.run_start, period.run_end) if period.trimmed else None
            self._trim_note = period.note
            parts = intervals(start, end, freq=freq, tz=tz)
            checks = reconcile.check_period(client, start, end, freq, cancel=cancel, observer=observer,
                                            progress=False, **params)  # fmt: skip
            return checks, client.reports(BALANCE, parts, cancel=cancel, observer=observer, progress=False,
                                          **params)  # fmt: skip

        return job

    def _callback_value(self, result: tuple[Any, pd.DataFrame]) -> Any:
        return result[0]  # on_result callbacks get the checks

    def _show_result(self, result: tuple[Any, pd.DataFrame], t0: float) -> None:
        from reportkit import plot

        self.checks, self.balance = result
        self.run_counts = self._series.counts()
        checks = self.checks
        failed = int((~checks["ok"].astype(bool)).sum())
        colour = "#8a1c12" if failed else "#1f5f2a"
        self.summary.value = (
            f"<div class='rk-summary-line' data-failed='{failed}' data-checks='{len(checks)}' "
            f"style='font-weight:700;color:{colour}'>{html.escape(checks.summary())}</div>"
        )
        self.table.value = f"<div style='max-height:420px;overflow:auto'>{checks._repr_html_()}</div>"
        self.differences_chart.value = _png(plot.differences(checks))
        c.show(self.differences_chart, True)
        currencies = sorted({str(cur) for cur in self.balance["currency"].dropna()})  # rows without one: none
        self.chart_currency.options = currencies
        if currencies:  # setting the value draws the chart (observer)
            self.chart_currency.value = "usd" if "usd" in currencies else currencies[0]
            self._draw_balance()
        n = self.run_counts
        self.status.value = (
            f"Done: {len(checks):,} checks, {failed} failed, in {c.elapsed(t0)}; {n['calls']} report "
            f"fetches, {n['done']} runs ({n['cached']} from the cache)."
            + (f" {self._trim_note}" if self._period_run else "")
        )

    def _draw_balance(self) -> None:
        from reportkit import plot

        if self.balance is None or not self.chart_currency.value:
            return
        self.balance_chart.value = _png(plot.balance(self.balance, currency=self.chart_currency.value))
        c.show(self.balance_chart, True)
        c.show(self.chart_currency, True)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _arg(value: Any, tz: str) -> Any:
    """A bound for check_period: a date stays a date; a typed wall-clock time is placed in ``tz``."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return instant(value, "start", tz)
    return value


def _lit(value: Any, tz: str) -> str:
    if value is None:
        return "None"
    if isinstance(value, datetime):
        aware = instant(value, "start", tz) if value.tzinfo is None else value
        text = local_text(aware, tz)
        return repr(text if len(text) == 10 else aware.isoformat())
    return repr(value.isoformat())


def _png(ax: Any) -> bytes:
    fig = ax.figure
    fig.set_size_inches(9, max(3.5, fig.get_size_inches()[1]))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()
