"""The column picker of :class:`~reportkit.widgets.ReportForm`: search, count, reset, and the picked order.

``SelectMultiple`` alone forgets what a filter hides and knows no order, so the picked columns are kept
here as a list (:attr:`ColumnPicker.picked`), in the order they were picked: the request's ``columns``
(and so the result's column order) is that list. The list box shows the columns matching the search;
selecting or unselecting there changes only those; columns hidden by the search stay picked.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w

__all__ = ["ColumnPicker"]


class ColumnPicker:
    """Widgets: ``search`` (Text), ``select`` (SelectMultiple of the matching columns), ``reset``
    (back to the report's defaults), ``count`` (how many are picked, in which order); ``box`` lays them
    out. ``on_change(fn)`` calls ``fn()`` after every change of the picked list."""

    def __init__(self, style: dict[str, str]) -> None:
        self.search = w.Text(description="Columns", placeholder="search columns", style=style,
                             continuous_update=True, layout=w.Layout(width="420px"))  # fmt: skip
        self.reset = w.Button(description="Reset", icon="undo", tooltip="the report's default columns",
                              layout=w.Layout(width="90px"))  # fmt: skip
        self.select = w.SelectMultiple(rows=8, layout=w.Layout(width="526px", margin="0 0 0 114px"))
        self.count = w.HTML()
        self.box = w.VBox([w.HBox([self.search, self.reset]), self.select, self.count])
        self.names: list[str] = []
        self.defaults: list[str] = []
        self.picked: list[str] = []
        self._syncing = False
        self._callbacks: list[Callable[[], Any]] = []
        for name, wid in (("search", self.search), ("reset", self.reset), ("select", self.select),
                          ("count", self.count), ("picker", self.box)):  # fmt: skip
            wid.add_class(f"rk-columns-{name}")
        self.select.observe(self._on_select, names="value")
        self.search.observe(lambda _: self._show(), names="value")
        self.reset.on_click(lambda _: self.pick(self.defaults))

    def on_change(self, fn: Callable[[], Any]) -> None:
        self._callbacks.append(fn)

    def set_columns(self, names: Iterable[str], defaults: Iterable[str]) -> None:
        """A new report: its columns, with its defaults picked and the search cleared."""
        self.names = list(names)
        self.defaults = [n for n in defaults if n in self.names]
        self.picked = list(self.defaults)
        self._syncing = True
        try:
            self.search.value = ""
        finally:
            self._syncing = False
        self._show()
        self._changed()

    def pick(self, names: Iterable[str]) -> None:
        """Pick exactly ``names``, in this order (unknown names are refused with a ValueError)."""
        names = list(names)
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValueError(f"no such column(s): {', '.join(unknown)}")
        self.picked = list(dict.fromkeys(names))
        self._show()
        self._changed()

    def matching(self) -> list[str]:
        """The columns the search shows (all of them for an empty search)."""
        query = self.search.value.strip().lower()
        return [n for n in self.names if query in n.lower()] if query else list(self.names)

    def _show(self) -> None:
        shown = self.matching()
        self._syncing = True
        try:
            self.select.options = shown
            self.select.value = tuple(n for n in self.picked if n in shown)
        finally:
            self._syncing = False
        self._count()

    def _count(self) -> None:
        query = self.search.value.strip()
        shown = len(self.matching())
        found = f" · {shown} match &lsquo;{html.escape(query)}&rsquo;" if query else ""
        order = ", ".join(html.escape(n) for n in self.picked[:12]) + (" …" if len(self.picked) > 12 else "")
        self.count.value = (
            f"<div class='rk-columns-count-text' data-picked='{len(self.picked)}' "
            f"data-total='{len(self.names)}'"
            f" style='margin-left:114px;color:#555'>{len(self.picked)} of {len(self.names)} columns picked"
            f"{found}{': ' + order if order else ''}</div>"
        )

    def _on_select(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        shown = set(self.select.options)
        chosen = list(change["new"])
        kept = [n for n in self.picked if n not in shown or n in chosen]
        self.picked = kept + [n for n in chosen if n not in kept]  # newly picked go last, in click order
        self._count()
        self._changed()

    def _changed(self) -> None:
        for fn in self._callbacks:
            fn()
