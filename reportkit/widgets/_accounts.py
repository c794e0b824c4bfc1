"""The accounts picker of :class:`~reportkit.widgets.ReportForm` (Stripe Connect).

A platform's key can run a v1 report as each of its connected accounts (``Stripe-Account``):
``client.reports(report, intervals, accounts=[...])`` runs every account x interval in one batch and
returns one frame with an ``account`` column first. The picker lists ``client.accounts()`` (fetched
once, when the form is built) and is shown only when there is at least one connected account; its
default is the key's own account alone (no ``accounts=``: the request is what it is without Connect).
Picking connected accounts gives ``accounts=[ids]`` in the listing's order. The platform's own report
and its connected accounts' are different requests (with and without the header), so picking both
is refused with a message rather than run as two batches behind the user's back.

An account list that cannot be fetched (a key without Connect access) hides the picker; the reason
is kept in :attr:`AccountPicker.error` (the form works as without Connect).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from reportkit.widgets import _common as c

__all__ = ["SELF", "AccountPicker"]

#: The option that stands for the key's own account (no ``Stripe-Account`` header).
SELF = ""


class AccountPicker:
    """``select`` (a SelectMultiple: this account, then each connected account), ``box`` to lay out,
    ``available`` (the platform has connected accounts), :meth:`chosen` (the ``accounts=`` to send)."""

    def __init__(self, client: Any, style: dict[str, str]) -> None:
        self.error: str | None = None
        self.ids: list[str] = []
        rows: list[dict[str, Any]] = []
        try:
            df = client.accounts()
        except Exception as exc:  # e.g. a restricted key without Connect read access
            self.error = c.error_text(exc)
        else:
            rows = df.to_dict("records")
            self.ids = [str(r["id"]) for r in rows]
        options = [("This account (no connected account)", SELF), *((_label(r), str(r["id"])) for r in rows)]
        self.select = w.SelectMultiple(options=options, value=(SELF,), rows=min(len(options), 6),
                                       description="Accounts", style=style,
                                       layout=w.Layout(width="640px"))  # fmt: skip
        self.note = w.HTML(
            "<div class='rk-accounts-note' style='margin-left:114px;color:#555'>Connect: pick connected "
            "accounts to run the report as each of them (one batch, an <code>account</code> column first); "
            "Ctrl/Shift-click picks several.</div>"
        )
        self.box = w.VBox([self.select, self.note])
        self.select.add_class("rk-accounts")
        self.box.add_class("rk-accounts-picker")

    @property
    def available(self) -> bool:
        """Whether the key's account has connected accounts to pick."""
        return bool(self.ids)

    def on_change(self, fn: Callable[..., Any]) -> None:
        self.select.observe(fn, names="value")

    def pick(self, accounts: list[str] | None) -> None:
        """Pick these connected accounts (None: this account alone)."""
        self.select.value = (SELF,) if accounts is None else tuple(accounts)

    def chosen(self) -> list[str] | None:
        """The ``accounts=`` of the picked accounts (None: this account alone); raises
        :class:`FormInputError` for nothing picked, or this account together with connected ones."""
        picked = list(self.select.value)
        if not picked:
            raise c.FormInputError("pick an account: this account, or one or more connected accounts")
        if picked == [SELF]:
            return None
        if SELF in picked:
            raise c.FormInputError(
                "pick either this account or connected accounts: the platform's own report and its "
                "connected accounts' are separate runs (run them one after the other)"
            )
        return [i for i in self.ids if i in picked]


def _label(row: dict[str, Any]) -> str:
    def text(key: str) -> str:
        value = row.get(key)
        return "" if value is None or value is pd.NA else str(value)

    where = ", ".join(v for v in (text("country"), text("default_currency")) if v)
    name = text("name")
    return f"{name + ' — ' if name else ''}{row['id']}{f' ({where})' if where else ''}"
