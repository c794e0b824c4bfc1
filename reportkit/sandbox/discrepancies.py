"""Planted discrepancies: deliberate faults in what the sandbox serves, each breaking one identity.

Owns the :class:`Discrepancy` switch the HTTP layer passes to ``reports.render(..., discrepancies=...)``
(``sb.faults.plant_discrepancies([...])``) and how each kind alters the rows of the reports it targets.
The ledger itself is never changed, so every other report stays true and exactly one reconciliation
identity fails, for exactly one interval (the one holding the affected row) and one currency:

- ``drop_transaction``: the first activity row of ``currency`` created at/after ``at`` is missing from
  balance_change_from_activity.itemized.* -> *activity itemized = summary* (count, gross, fee, net of
  its category) fails.
- ``duplicate_row``: that row appears twice there -> the same identity.
- ``alter_amount``: that row's gross and net are off by ``amount`` minor units there -> the same
  (gross and net).
- ``shift_boundary``: the itemized activity run whose interval starts at ``at`` starts ``shift``
  seconds later (earlier if negative) for ``currency`` -> the same, for the interval starting at ``at``.
- ``missing_payout``: the first automatic payout of ``currency`` created at/after ``at`` is missing
  from payouts.itemized.* and payouts.summary.1 -> *automatic payout = Σ net it settled* fails (its
  payout_reconciliation rows name a payout the payouts report lacks).

``missing_payout`` necessarily also parts payouts.summary from balance.summary's ``payouts`` row (the
balance report is computed independently and still counts it); reportkit.reconcile does not compare
those two, so exactly one of its checks fails. ``report_type`` narrows a discrepancy to one version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from reportkit.sandbox import ledger as lg
from reportkit.sandbox.params import RunParams

__all__ = ["KINDS", "Discrepancy", "adjust", "coerce"]

KINDS = ("drop_transaction", "duplicate_row", "alter_amount", "shift_boundary", "missing_payout")
_ACTIVITY = "balance_change_from_activity.itemized."
_PAYOUTS = ("payouts.itemized.", "payouts.summary.")


@dataclass(frozen=True)
class Discrepancy:
    """One planted fault; see the module docstring for what each ``kind`` does."""

    kind: str
    currency: str
    at: int  # UTC epoch seconds
    report_type: str | None = None
    amount: int = 100  # alter_amount: minor units added to gross and net
    shift: int = 6 * 3600  # shift_boundary: seconds

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown discrepancy kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "currency", self.currency.lower())
        object.__setattr__(self, "at", int(self.at))
        if self.kind == "shift_boundary" and self.shift == 0:
            raise ValueError("shift_boundary needs a non-zero shift")

    def target(self, ledger: lg.Ledger) -> int | None:
        """Position in ``ledger.bt`` of the row hit (None for shift_boundary, or when there is none)."""
        if self.kind == "shift_boundary" or self.currency not in ledger.currencies:
            return None
        bt = ledger.bt
        lo = int(np.searchsorted(bt["created"], self.at, side="left"))
        mine = bt["cur"][lo:] == ledger.currencies.index(self.currency)
        if self.kind == "missing_payout":
            auto = ledger.payout_values("automatic", bt["payout"][lo:], False)
            hit = mine & (bt["cat"][lo:] == lg.PAYOUT) & auto
        else:
            hit = mine & (bt["cat"][lo:] < lg.PAYOUT)
        found = np.flatnonzero(hit)
        return lo + int(found[0]) if len(found) else None

    def when(self, ledger: lg.Ledger) -> int | None:
        """``created`` of the affected row (``at`` for shift_boundary): which interval breaks."""
        if self.kind == "shift_boundary":
            return self.at
        row = self.target(ledger)
        return None if row is None else int(ledger.bt["created"][row])

    def applies_to(self, report_type: str) -> bool:
        if self.report_type is not None:
            return report_type == self.report_type
        if self.kind == "missing_payout":
            return report_type.startswith(_PAYOUTS)
        return report_type.startswith(_ACTIVITY)


def coerce(items: Iterable | None) -> tuple[Discrepancy, ...]:
    """Discrepancy objects from Discrepancy instances or mappings of their fields (None -> none)."""
    if items is None:
        return ()
    if isinstance(items, Discrepancy | Mapping):
        items = [items]
    return tuple(d if isinstance(d, Discrepancy) else Discrepancy(**d) for d in items)


def adjust(
    ledger: lg.Ledger, report_type: str, params: RunParams, idx: np.ndarray, planted: tuple[Discrepancy, ...]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows to serve after the planted faults, and per-row deltas for gross/net (None: none)."""
    delta = None
    for d in sorted(planted, key=lambda d: d.kind != "shift_boundary"):  # shifts first: they move rows
        if not d.applies_to(report_type):
            continue
        if d.kind == "shift_boundary":
            idx = _shift(ledger, params, idx, d)
            continue
        row = d.target(ledger)
        if row is None:
            continue
        pos = int(np.searchsorted(idx, row))
        if pos >= len(idx) or idx[pos] != row:
            continue  # the row is not in this report
        if d.kind in ("drop_transaction", "missing_payout"):
            idx = np.delete(idx, pos)
            delta = None if delta is None else np.delete(delta, pos)
        elif d.kind == "duplicate_row":
            idx = np.insert(idx, pos, row)
            delta = None if delta is None else np.insert(delta, pos, delta[pos])
        else:  # alter_amount
            delta = np.zeros(len(idx), np.int64) if delta is None else delta
            delta[pos] += d.amount
    return idx, delta


def _shift(ledger: lg.Ledger, params: RunParams, idx: np.ndarray, d: Discrepancy) -> np.ndarray:
    if params.interval_start != d.at or d.currency not in ledger.currencies:
        return idx
    if params.currency not in (None, d.currency):
        return idx
    bt = ledger.bt
    lo, hi = sorted((d.at, d.at + d.shift))
    a, b = np.searchsorted(bt["created"], [lo, hi], side="left")
    band = np.arange(a, b)
    band = band[(bt["cur"][band] == ledger.currencies.index(d.currency)) & (bt["cat"][band] < lg.PAYOUT)]
    rc = params.reporting_category
    if rc is not None:
        band = band[bt["cat"][band] == (lg.CATEGORIES.index(rc) if rc in lg.CATEGORIES else -2)]
    if d.shift > 0:  # the run starts later: rows in [at, at + shift) go missing
        return np.setdiff1d(idx, band, assume_unique=True)
    return np.union1d(idx, band)  # it starts earlier: rows of [at + shift, at) come in
