"""ReportForm: pick a report, its period and parameters, run it, watch it, and get the DataFrame.

The form is built from what the account offers (``client.report_types()``: names, ids, data windows,
default columns; for /v2/data ``client.data_reports()``, see :mod:`reportkit.widgets._reports`) and
from the catalogue (which parameters and columns each report takes). Run works
off the kernel's main thread (see :mod:`reportkit.widgets._runner`); Cancel stops waiting and leaves
the run at Stripe, where it finishes on its own. The period is checked against the data window in the
chosen timezone with the dates as typed (:mod:`reportkit.widgets._period`); columns are picked in
order (:mod:`reportkit.widgets._columns`); a Connect platform picks connected accounts
(:mod:`reportkit.widgets._accounts`); a result comes with exact totals per currency and CSV /
Parquet downloads (:mod:`reportkit.widgets._result`). The "Code" tab shows the ``client.report(...)``
call that does the same thing in a script (:mod:`reportkit.widgets._code`).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit import catalog, errors
from reportkit.intervals import Interval, iana_names, intervals
from reportkit.progress import Observer
from reportkit.widgets import _common as c
from reportkit.widgets._accounts import AccountPicker
from reportkit.widgets._code import code_for
from reportkit.widgets._columns import ColumnPicker
from reportkit.widgets._period import Period, PeriodFields, instant, local_days, local_text, typed
from reportkit.widgets._reports import APIS, ReportChoices, utc
from reportkit.widgets._runner import FrameForm

__all__ = ["ReportForm"]

FILTERS = ("currency", "reporting_category", "payout", "connected_account")
SPLITS = ("none", "day", "week", "month")
_NONE = "(any)"


class ReportForm(FrameForm):
    """A form that runs one report (or one report per day/week/month) and keeps the result in ``.df``.

    ``ReportForm(client)`` displays itself as the last expression of a cell. After a run, ``.df`` is
    the DataFrame (``None`` after a failure or a cancel), ``.run`` the :class:`~reportkit.ReportRun`
    (``None`` for split runs: their run ids are in ``.df.attrs["reportkit"]["run_ids"]``) and
    ``.error_message`` the text shown for a failure. ``wait()`` blocks until the current run is over.
    ``api``: ``"v1"``, ``"v2"`` or ``"data"`` (/v2/data: the reports the server lists).
    """

    def __init__(
        self,
        client: Any,
        *,
        report: str | None = None,
        api: str = "v1",
        timeout: float = 600.0,
        preview_rows: int = 10,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.preview_rows = preview_rows
        self.df: pd.DataFrame | None = None
        self.run: Any = None
        self.error_message: str | None = None
        self._last_request: dict[str, Any] = {}
        self._window_head = ""
        self.choices = ReportChoices(client)
        self._shown_api = "v1"  # the API whose reports the dropdown holds
        self._build()
        self.api.value = api
        if report is not None:  # for /v2/data: an id it lists, a name, or the v1 type behind one
            self.report.value = self.choices.find(report, api)

    # ---------------------------------------------------------------- layout
    def _build(self) -> None:
        style = {"description_width": "110px"}

        def wide() -> w.Layout:  # one Layout per widget: showing/hiding one must not touch another
            return w.Layout(width="640px")

        self.account = c.account_banner(self.client)
        self.api = w.ToggleButtons(options=list(APIS), value="v1", style={"button_width": "90px"})
        self.report = w.Dropdown(description="Report", layout=wide(), style=style)
        self.window = w.HTML()
        self.period = PeriodFields(style)
        self.start, self.end, self.clamp = self.period.start, self.period.end, self.period.clamp
        self.dates_note = self.period.note
        self.timezone = w.Combobox(
            value="Etc/UTC",
            options=sorted(iana_names()),
            description="Timezone",
            ensure_option=False,
            style=style,
            layout=wide(),
        )
        self.picker = ColumnPicker(style)
        self.columns = self.picker.select  # the columns matching the search; the order is .picked_columns
        self.column_search, self.columns_reset = self.picker.search, self.picker.reset
        self.currency = w.Text(description="Currency", placeholder="any, or e.g. usd", style=style)
        self.reporting_category = w.Dropdown(
            options=[_NONE, *catalog.reporting_categories()], description="Category", style=style
        )
        self.payout = w.Text(description="Payout", placeholder="po_...", style=style)
        self.connected_account = w.Text(description="Connected acct", placeholder="acct_...", style=style)
        self.split = w.ToggleButtons(options=list(SPLITS), value="none", style={"button_width": "70px"})
        self.account_picker = AccountPicker(self.client, style)
        self.accounts = self.account_picker.select  # shown when the key's account has connected accounts
        buttons = self.build_controls()
        tabs = self.build_result_tabs()
        self._filters = {name: getattr(self, name) for name in FILTERS}
        self._split_row = _labelled("Split by", self.split)
        self._filters_box = c.section("Filters", *self._filters.values())
        self.widget = w.VBox(
            [
                self.account,
                _labelled("API", self.api),
                self.report,
                self.window,
                w.HBox([self.start, self.end, self.clamp]),
                self.timezone,
                self.dates_note,
                self.picker.box,
                self._filters_box,
                self.account_picker.box,
                self._split_row,
                buttons,
                self.status,
                self.error,
                tabs,
            ],
            layout=w.Layout(padding="6px"),
        )
        self.widget.add_class("rk-report-form")
        c.css_hooks(self, (
            "api",
            "report",
            "timezone",
            "columns",
            *FILTERS,
            "split",
            "run_button",
            "cancel_button",
            "status",
            "progress",
            "error",
            "preview",
            "totals",
            "downloads",
            "code",
        ))  # fmt: skip
        self.api.observe(self._on_api, names="value")
        self.report.observe(self._on_report, names="value")
        for wid in (self.start, self.end, self.timezone, self.clamp, self.split, *self._filters.values()):
            wid.observe(self._refresh_code, names="value")
        for wid in (self.start, self.end, self.timezone, self.clamp):
            wid.observe(self._refresh_dates, names="value")
        self.picker.on_change(self._refresh_code)
        self.account_picker.on_change(self._refresh_code)
        self._init_run("reportkit-form")
        self._clear()
        self._on_api()

    # ---------------------------------------------------------------- report choices (widgets._reports)
    def spec(self) -> catalog.ReportSpec | None:
        """The catalogue entry of the selected report (v2 and /v2/data names map to their v1 type)."""
        return self.choices.spec(self.api.value, self.report.value)

    def _type_row(self) -> dict[str, Any]:
        return self.choices.type_row(self.api.value, self.report.value)

    def _on_api(self, *_: Any) -> None:
        old, old_api, api = self.report.value, self._shown_api, self.api.value
        options = self.choices.options(api)
        self._shown_api = api
        self.report.options = options
        ids = [v for _, v in options]
        mapped = self.choices.map(old, old_api, api)
        self.report.value = mapped if mapped in ids else (ids[0] if ids else None)
        if old_api != api:  # a message about the other API's list or run would mislead here
            self.error_message, self.error.value = None, ""
        self._on_report()

    def _on_report(self, *_: Any) -> None:
        spec = self.spec()
        load_error = self.choices.error(self.api.value)
        if load_error:
            self._show_error(load_error)
        c.show(self.report, spec is not None)  # never an empty dropdown: the window line says why
        if spec is None:
            where = "/v2/data lists no reports" if self.api.value == "data" else "No report types available"
            self.window.value = f"<i class='rk-window'>{where}.</i>"
            for wid in (self.start, self.end, self.clamp, self.timezone, self.picker.box, self._filters_box,
                        self._split_row, self.account_picker.box):  # fmt: skip
                c.show(wid, False)
            self._refresh_code()
            return
        row = self._type_row()
        lo, hi = utc(row.get("data_available_start")), utc(row.get("data_available_end"))
        self._window_head = _window_head(self.api.value, self.report.value, spec, row, lo, hi)
        params = set(spec.parameters)
        for name, wid in self._filters.items():
            c.show(wid, name in params)
        c.show(self._filters_box, bool(params & set(FILTERS)))
        c.show(self.timezone, "timezone" in params)
        c.show(self.picker.box, spec.takes_columns)
        c.show(self.start, "interval_start" in params)
        c.show(self.end, "interval_end" in params)
        c.show(self.clamp, spec.takes_interval)
        c.show(self.split, "interval_start" in params)
        c.show(self._split_row, "interval_start" in params)
        if "interval_start" not in params:
            self.split.value = "none"
        c.show(self.account_picker.box, self._takes_accounts())
        names = [n for n in spec.column_names if "[key]" not in n]
        defaults = row.get("default_columns") or spec.default_columns or names
        self.picker.set_columns(names, defaults)
        self.period.set_window(lo, hi, self._tz())
        self._refresh_dates()
        self._refresh_code()

    def _tz(self) -> str:
        """The timezone dates are read in: the form's for reports that take one, else UTC (a report
        without a timezone parameter has UTC columns, so its dates are UTC days)."""
        spec = self.spec()
        if spec is not None and "timezone" not in spec.parameters:
            return "Etc/UTC"
        return (self.timezone.value or "").strip() or "Etc/UTC"

    def _refresh_dates(self, *_: Any) -> None:
        """The pickers' bounds and the dates note, in the current timezone (nothing typed changes)."""
        spec = self.spec()
        if spec is None:
            return
        tz = self._tz()
        local = ""
        try:
            first, last = local_days(self.period.lo, self.period.hi, tz)
            if first and last:
                local = f" &middot; as days in {html.escape(tz)}: {first} &rarr; {last} (End)"
        except errors.ConfigurationError:
            pass  # a timezone still being typed
        self.window.value = (
            f"<div class='rk-window' style='margin-left:114px;color:#555'>{self._window_head}{local}</div>"
        )
        if not spec.takes_interval:
            self.dates_note.value = ""
            return
        params = set(spec.parameters)
        self.period.refresh_note(tz, use_start="interval_start" in params, use_end="interval_end" in params,
                                 what=spec.id)  # fmt: skip

    def _takes_accounts(self) -> bool:
        """Connect: connected accounts to pick, a v1 report (``accounts=`` is v1's) over a period."""
        spec = self.spec()
        return (self.account_picker.available and self.api.value == "v1" and spec is not None
                and "interval_start" in spec.parameters)  # fmt: skip

    @property
    def picked_columns(self) -> list[str]:
        """The picked columns in the order they were picked (what Run asks for, the result's order)."""
        return list(self.picker.picked)

    def pick_columns(self, names: list[str]) -> None:
        """Pick exactly these columns, in this order."""
        self.picker.pick(names)

    # ---------------------------------------------------------------- the request
    def parameters(self) -> dict[str, Any]:
        """The filter parameters set in the form (empty fields left out)."""
        spec = self.spec()
        params: dict[str, Any] = {}
        for name, wid in self._filters.items():
            if spec is None or name not in spec.parameters:
                continue
            value = (wid.value or "").strip()
            if value and value != _NONE:
                params[name] = value
        return params

    def request(self, window: tuple[datetime | None, datetime | None] | None = None) -> dict[str, Any]:
        """What Run sends: ``report, api, start, end`` (as typed), ``run_start, run_end`` (what goes to
        ``client.prepare``: the typed dates, or the data window's edges when trimmed), ``timezone,
        columns, clamp, trimmed, note, split, parameters, accounts`` (``None``: the key's own account).
        ``window``: a (lo, hi) data window fresher than the form's. Raises :class:`FormInputError`
        naming the dates as typed."""
        spec = self.spec()
        if spec is None:
            raise c.FormInputError("pick a report type first")
        params = set(spec.parameters)
        tz = self._tz()
        period = Period(None, None, tz, None, None)
        if spec.takes_interval:
            lo, hi = window if window is not None else (None, None)
            ends = {"use_start": "interval_start" in params, "use_end": "interval_end" in params}
            period = self.period.check(tz, what=spec.id, lo=lo, hi=hi, **ends)
        for name in spec.required:
            if name in self._filters and not self.parameters().get(name):
                raise c.FormInputError(f"{spec.id} needs a {name.replace('_', ' ')}")
        columns = self.picked_columns if spec.takes_columns else None
        if spec.takes_columns and not columns:
            raise c.FormInputError("select at least one column")
        row = self._type_row()
        if columns is not None and tuple(columns) == tuple(
            row.get("default_columns") or spec.default_columns or ()
        ):
            columns = None  # the defaults: leave them to the report
        return {
            "report": self.choices.sent(self.api.value, self.report.value),
            "api": self.api.value,
            "start": period.start,
            "end": period.end,
            "run_start": period.run_start,
            "run_end": period.run_end,
            "timezone": tz,
            "columns": columns,
            "clamp": bool(self.clamp.value) and spec.takes_interval,
            "trimmed": period.trimmed,
            "note": period.note,
            "split": self.split.value,
            "parameters": self.parameters(),
            "accounts": self.account_picker.chosen() if self._takes_accounts() else None,
        }

    @property
    def code_text(self) -> str:
        """The Python that does what Run does, for a script or another notebook."""
        try:
            return code_for(self.request())
        except errors.ConfigurationError as exc:
            return f"# {exc}"

    # ---------------------------------------------------------------- running (widgets._runner.FrameForm)
    def _prepare_job(self) -> Callable[[threading.Event, Observer], pd.DataFrame]:
        self.request()  # refuse bad input at once, nothing sent; the worker checks the window afresh
        client, timeout, spec = self.client, self.timeout, self.spec()
        report, api = self.report.value, self.api.value

        def job(cancel: threading.Event, observer: Observer) -> pd.DataFrame:
            window = None
            if spec.takes_interval:  # the data window now, not when the form was built
                window = self.choices.window(api, report)
                if window is not None:
                    self.period.lo, self.period.hi = window
            req = self._last_request = self.request(window)
            options = {"timezone": req["timezone"], "columns": req["columns"], "api": req["api"]}
            if req["clamp"]:
                options["clamp"] = True
            options.update(req["parameters"])
            tz = req["timezone"]
            start, end = _bound_arg(req["run_start"], tz), _bound_arg(req["run_end"], tz)
            if req["split"] == "none" and req["accounts"] is None:
                prepared = client.prepare(req["report"], start, end, **options)
                return client.run(prepared, timeout=timeout, cancel=cancel, observer=observer, progress=False)
            if req["split"] == "none":  # several accounts over the one period: one interval
                ivs = [Interval(instant(start, "start", tz), instant(end, "end", tz))]
            else:
                ivs = intervals(start, end, freq=req["split"], tz=tz)
            if req["accounts"] is not None:
                options["accounts"] = req["accounts"]
            return client.reports(req["report"], ivs, timeout=timeout, cancel=cancel, observer=observer,
                                  progress=False, **options)  # fmt: skip

        return job

    def _show_result(self, df: pd.DataFrame, t0: float) -> None:
        self.df = df
        req = self._last_request
        self._show_frame(df, _done_text(df, t0) + (f" {_trimmed(req)}" if req.get("trimmed") else ""))

    def _show_frame(self, df: pd.DataFrame, status: str | None = None) -> None:
        spec = self.spec()
        self.show_frame(df, spec.id if spec else None, self._file_stem(), status)

    def _file_stem(self) -> str:
        req = self._last_request
        parts = [str(req.get("report") or self.report.value or "report")]
        for key in ("start", "end"):
            if req.get(key) is not None:
                parts.append(typed(req[key]).replace(" ", "T").replace(":", ""))
        return "_".join(parts)

    def _show_partial(self, exc: BaseException, t0: float) -> None:
        frames = getattr(exc, "frames", None)
        if isinstance(exc, errors.BatchError) and frames is not None and len(frames):
            self.df = frames  # keep the intervals that succeeded, and say which did not
            self._show_frame(frames, f"Partly done after {c.elapsed(t0)}: {len(frames):,} rows kept in .df.")


def _bound_arg(value: Any, tz: str) -> Any:
    """A period bound for client.prepare / rk.intervals: dates stay dates (midnight in the timezone, by
    reportkit's own rule); a typed wall-clock time becomes an aware datetime in ``tz``."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return instant(value, "start", tz)
    return value


def _trimmed(req: dict[str, Any]) -> str:
    """The status line's short form of the trim note (the note under the dates has it all)."""
    tz = req["timezone"]
    start = local_text(instant(req["run_start"], "start", tz), tz) if req.get("run_start") is not None else ""
    end = local_text(instant(req["run_end"], "end", tz), tz)
    return f"Trimmed to the data window: {start + ' → ' if start else 'up to '}{end} ({tz})."


def _labelled(text: str, widget: w.Widget) -> w.HBox:
    """A label in the column of the other widgets' descriptions (ToggleButtons put theirs above)."""
    label = w.HTML(f"<div style='text-align:right;padding-right:6px'>{html.escape(text)}</div>")
    label.layout.width = "114px"
    return w.HBox([label, widget])


def _window_head(api: str, value: str, spec: catalog.ReportSpec, row: dict[str, Any],
                 lo: datetime | None, hi: datetime | None) -> str:  # fmt: skip
    """The line under the dropdown: name, id(s), the data window (UTC)."""
    name = html.escape(str(row.get("name") or spec.id))
    ids = f"<code>{html.escape(spec.id)}</code>"
    if api == "data":  # the server's id; the window is the v1 type's behind the report, where known
        ids = f"<code>{html.escape(value)}</code>" + (f" (window of {ids})" if row else "")
    if not row:
        return f"<b>{name}</b> &middot; {ids} &middot; no data window known: the server judges the period"
    return f"<b>{name}</b> &middot; {ids} &middot; data available {_fmt(lo)} &rarr; {_fmt(hi)} UTC"


def _fmt(dt: datetime | None) -> str:
    return "?" if dt is None else dt.strftime("%Y-%m-%d %H:%M")


def _done_text(df: pd.DataFrame, t0: float) -> str:
    prov = df.attrs.get("reportkit", {})
    rows = f"{len(df):,} row{'s' if len(df) != 1 else ''}"
    if "accounts" in prov:  # Connect: accounts x intervals in one batch
        accounts = len(set(prov["accounts"]))
        per = int(prov.get("intervals") or 0) // max(accounts, 1)
        return (f"Done: {rows} from {accounts} account{'s' if accounts != 1 else ''} × {per} "
                f"interval{'s' if per != 1 else ''} in {c.elapsed(t0)}.")  # fmt: skip
    if "run_ids" in prov:
        return f"Done: {rows} from {prov.get('intervals')} intervals in {c.elapsed(t0)}."
    src = "from the cache" if prov.get("cache_hit") else f"run {prov.get('run_id')}"
    return f"Done: {rows} ({src}) in {c.elapsed(t0)}."
