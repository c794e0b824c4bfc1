"""QueryForm: type SQL, run it as a /v2/data query run, watch it, and get the typed DataFrame.

The query goes to ``client.query(sql, cancel=, observer=)`` (``POST /v2/data/query_runs`` on Stripe's
analytical dataset, the Sigma tables; :mod:`reportkit.queries`), on the lifecycle every form shares
(:mod:`reportkit.widgets._runner`: worker thread, Run/Cancel, status, progress). The result is the
frame typed by the columns the run declares, shown with the same preview, totals and CSV / XLSX /
Parquet downloads as the report form (:mod:`reportkit.widgets._result`, through ``FrameForm``). SQL
the server refuses (``query_run_invalid_sql``) is shown as the server's message and the form stays
usable. Cancel stops
creating (while the key waits at its cap of running queries) and waiting: Stripe's API has no call that
cancels a query run, so one already created carries on at Stripe and is simply not downloaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit.progress import Observer
from reportkit.widgets import _common as c
from reportkit.widgets._code import query_code
from reportkit.widgets._runner import FrameForm

__all__ = ["EXAMPLE_SQL", "QueryForm"]

#: What the SQL box holds at first: a query every account can run.
EXAMPLE_SQL = """select currency, reporting_category, count(*) as count, sum(net) as net
from balance_transactions
group by currency, reporting_category
order by currency, reporting_category"""

_HINT = (
    "SQL over Stripe's analytical dataset (the Sigma tables, e.g. <code>balance_transactions</code>, "
    "<code>payouts</code>): one <code>SELECT</code>; amounts are whole numbers in the currency's minor "
    "unit (cents), times are UTC. Results are never cached: Run asks again."
)


class QueryForm(FrameForm):
    """A form that runs one SQL query and keeps the result in ``.df``.

    ``QueryForm(client)`` displays itself as the last expression of a cell. ``form.sql.value`` is the
    query; after a run ``.df`` is the typed DataFrame (``None`` after a failure or a cancel), ``.run`` the
    query run and ``.error_message`` the text shown for a failure. ``wait()`` blocks until the run is over.
    ``api="reporting"`` uses the older ``/v2/data/reporting/query_runs``.
    """

    run_noun = "query run"
    cap_noun = "cap of running query runs"

    def __init__(
        self,
        client: Any,
        *,
        sql: str = EXAMPLE_SQL,
        api: str = "data",
        timeout: float = 600.0,
        preview_rows: int = 10,
    ) -> None:
        self.client = client
        self.query_api = api
        self.timeout = timeout
        self.preview_rows = preview_rows
        self.df: pd.DataFrame | None = None
        self.run: Any = None
        self.error_message: str | None = None
        self._build(sql)

    def _build(self, sql: str) -> None:
        self.account = c.account_banner(self.client)
        self.hint = w.HTML(f"<div style='color:#555;max-width:640px;line-height:1.4'>{_HINT}</div>")
        self.sql = w.Textarea(value=sql, placeholder="select ... from balance_transactions ...", rows=8,
                              layout=w.Layout(width="640px"))  # fmt: skip (monospace: _common.FORM_CSS)
        buttons = self.build_controls()
        tabs = self.build_result_tabs()
        self.widget = w.VBox(
            [
                self.account,
                self.hint,
                self.sql,
                buttons,
                self.status,
                self.error,
                tabs,
            ],
            layout=w.Layout(padding="6px"),
        )
        self.widget.add_class("rk-query-form")
        c.css_hooks(self, ("sql", "run_button", "cancel_button", "status", "progress", "error", "preview",
                           "totals", "downloads", "code"))  # fmt: skip
        self.sql.observe(self._refresh_code, names="value")
        self._init_run("reportkit-query-form")
        self._clear()
        self._refresh_code()

    @property
    def code_text(self) -> str:
        """The Python that does what Run does."""
        text = query_code(self.sql.value or "")
        if self.query_api != "data":
            text = text.replace("client.query(sql)", f"client.query(sql, api={self.query_api!r})")
        return text

    # ---------------------------------------------------------------- running (widgets._runner.FrameForm)
    def _prepare_job(self) -> Callable[[threading.Event, Observer], pd.DataFrame]:
        sql = (self.sql.value or "").strip()
        if not sql:
            raise c.FormInputError("type a SQL query first")
        client, timeout, api = self.client, self.timeout, self.query_api

        def job(cancel: threading.Event, observer: Observer) -> pd.DataFrame:
            return client.query(sql, api=api, timeout=timeout, cancel=cancel, observer=observer,
                                progress=False)  # fmt: skip

        return job

    def _show_result(self, df: pd.DataFrame, t0: float) -> None:
        self.df = df
        run_id = df.attrs.get("reportkit", {}).get("run_id") or "query"
        rows = f"{len(df):,} row{'s' if len(df) != 1 else ''}"
        self.show_frame(df, None, run_id, f"Done: {rows} (query run {run_id}) in {c.elapsed(t0)}.")
