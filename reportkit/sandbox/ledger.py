"""The sandbox's one seeded synthetic Stripe account: balance transactions and payouts.

Owns *what happened* on the account; :mod:`reportkit.sandbox.reports` owns how it is reported.
The generators live in :mod:`~reportkit.sandbox.activity` (charges and what follows them, fees,
transfers, adjustments) and :mod:`~reportkit.sandbox.schedule` (payouts); this module assembles,
sorts and indexes their output and exposes it.
Everything is drawn in whole numpy arrays (no Python loop per transaction; loops run over currencies
only), so ``Ledger(rows=1_000_000)`` builds in seconds, and the same seed gives the same ledger.
Amounts are integers in minor units, times int64 UTC epoch seconds. The model (rates, fees,
settlement delays, the automatic payout schedule) is documented in docs/sandbox-ledger.md.

Coherence is by construction: balance(t) is Σ net created before t, each automatic payout's amount
is Σ net of the activity it settled, and a failed or reversed manual payout returns its money with a
``payout_reversal`` transaction, so every reconciliation identity in docs/internals.md holds exactly.
"""

from __future__ import annotations

import datetime as dt
import zlib
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportkit.sandbox import activity, schedule, synth
from reportkit.sandbox.codes import (  # re-exported: reports and columns read them as ledger.X
    BT_TYPES,
    CARD_BRANDS,
    CARD_FUNDING,
    CATEGORIES,
    CHANNELS,
    CHARGE,
    DAY,
    DISPUTE,
    DISPUTE_REASONS,
    DISPUTE_REVERSAL,
    FEE,
    PAYOUT,
    PAYOUT_CATEGORIES,
    PAYOUT_REVERSAL,
    PM_TYPES,
    REFUND,
    REFUND_REASONS,
    Parts,
)

__all__ = [
    "BT_TYPES",
    "CARD_BRANDS",
    "CARD_FUNDING",
    "CATEGORIES",
    "CHANNELS",
    "CHARGE",
    "DAY",
    "DISPUTE",
    "DISPUTE_REASONS",
    "DISPUTE_REVERSAL",
    "FEE",
    "PAYOUT",
    "PAYOUT_CATEGORIES",
    "PAYOUT_REVERSAL",
    "PM_TYPES",
    "REFUND",
    "REFUND_REASONS",
    "Ledger",
    "accounts_table",
    "seeded_stream",
]

# Expected rows per unit of scale per day per charge/day of profile volume (charges + refunds + disputes ...)
_ROWS_PER_CHARGE = 1.0 + 0.06 + 0.006 * 1.4 + 0.02 + 0.004
_WEEK_GROWTH_MEAN = (5 + 2 * 0.7) / 7 * 1.3


def _epoch(value: object, name: str) -> int:
    """UTC epoch seconds of a date / "YYYY-MM-DD" (UTC midnight) / aware datetime."""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, got a naive datetime")
        return int(value.timestamp())
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
    raise TypeError(f"{name} must be a date, 'YYYY-MM-DD' or an aware datetime, not {type(value).__name__}")


def seeded_stream(seed: int, *salt: object) -> np.random.Generator:
    """A random stream from ``seed`` and ``salt`` (every part of a ledger draws from its own)."""
    return np.random.default_rng([int(seed), *(zlib.crc32(str(s).encode()) for s in salt)])


def accounts_table(seed: int) -> dict[str, pa.Array]:
    """The connected accounts the ledger of ``seed`` transfers to (id, name, country), without
    building the ledger: the sandbox's platform lists them as its connected accounts."""
    return synth.accounts_table(seeded_stream(seed, "shared"))


class Ledger:
    """A seeded synthetic account. ``scale`` multiplies volume (1 -> ~40k rows over 2024-01-01..2026-11);
    ``rows`` picks the scale that gives about that many balance transactions (``Ledger(rows=1_000_000)``).
    ``transfers=False``: no transfers out to connected accounts (a connected account's own ledger).

    Arrays for the report code: ``bt`` (balance transactions by column, sorted by (created, id)) and
    ``payout_table`` (payouts by column; ``payout_index`` maps a payout id to its row)."""

    def __init__(
        self,
        seed: int = 7,
        *,
        start: object = "2024-01-01",
        end: object = None,
        currencies: tuple[str, ...] = ("usd", "eur", "jpy"),
        scale: float = 1.0,
        rows: int | None = None,
        transfers: bool = True,
    ) -> None:
        self.seed = int(seed)
        self.transfers = bool(transfers)  # transfers out to connected accounts (a platform's ledger)
        start_s = _epoch(start, "start") // DAY * DAY
        if end is None:
            end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end_s = _epoch(end, "end")
        if end_s <= start_s + DAY:
            raise ValueError("end must be more than a day after start")
        self.start = dt.datetime.fromtimestamp(start_s, dt.UTC)
        self.end = dt.datetime.fromtimestamp(end_s, dt.UTC)
        self.start_ts, self.end_ts = start_s, end_s
        self.currencies = tuple(c.lower() for c in currencies)
        ndays = (end_s - start_s) / DAY
        if rows is not None:
            per_scale = sum(synth.profile(c).charges_per_day for c in self.currencies) * ndays
            per_scale *= _ROWS_PER_CHARGE * _WEEK_GROWTH_MEAN
            scale = max(0.01, (rows - 0.75 * ndays * len(self.currencies)) / per_scale)
        self.scale = float(scale)
        self._build()

    # -- generation -----------------------------------------------------------------------------
    def stream(self, *salt: object) -> np.random.Generator:
        """A random stream from the seed and ``salt``: each part of the ledger draws independently."""
        return seeded_stream(self.seed, *salt)

    def _build(self) -> None:
        self.accounts = accounts_table(self.seed)
        parts, payout_parts, charges, customers = Parts.empty(), [], [], []
        n_charges = n_customers = n_payouts = 0
        for ci, cur in enumerate(self.currencies):
            ch, cus = activity.charges(self, ci, cur, n_customers)
            activity.charge_activity(self, ci, cur, ch, n_charges, parts)
            charges.append(ch)
            customers.append(cus)
            n_charges += len(ch["created"])
            n_customers += len(cus["id"])
        so_far, _ = parts.concat()
        ap = np.full(len(so_far["cur"]), -1, np.int64)  # the automatic payout that settled each row
        for ci, cur in enumerate(self.currencies):
            po = schedule.payouts(self, ci, cur, so_far, ap, parts, n_payouts)
            payout_parts.append(po)
            n_payouts += len(po["created"])
        num, txt = parts.concat()  # again, now with the payout transactions (appended after activity)
        num["ap"] = np.concatenate([ap, np.full(len(num["cur"]) - len(ap), -1, np.int64)])
        self.charges = {k: _cat([c[k] for c in charges]) for k in charges[0]}
        self.customers = {k: pa.concat_arrays([c[k] for c in customers]) for k in customers[0]}
        self._finish(num, txt, {k: _cat([p[k] for p in payout_parts]) for k in payout_parts[0]})

    def _finish(self, num: dict, txt: dict, po: dict) -> None:
        """Give transactions their ids, sort them by (created, id), and index what reports need."""
        n = len(num["created"])
        ids = synth.random_ids(self.stream("txn"), "txn_", n)
        id_bytes = np.frombuffer(ids.buffers()[2], dtype="S28", count=n)
        order = np.lexsort((id_bytes, num["created"]))
        bt = {k: v[order] for k, v in num.items()}
        bt["net"] = bt["amount"] - bt["fee"]
        take = pa.array(order)
        bt.update({k: v.take(take) for k, v in txt.items()})
        bt["id"] = ids.take(take)
        bt["description"] = pc.coalesce(bt["description"], self._charge_descriptions(bt))
        self.bt = bt
        self.payout_table = po
        self.payout_index = {pid: i for i, pid in enumerate(po["id"].to_pylist())}
        created = np.append(po["created"], -1)  # index -1 (not settled) -> -1
        self.automatic_payout_effective_at = created[bt["ap"]]
        self._balance = {}
        for ci, cur in enumerate(self.currencies):
            m = bt["cur"] == ci
            self._balance[cur] = (bt["created"][m], np.concatenate([[0], np.cumsum(bt["net"][m])]))

    def charge_values(self, key: str, charge: np.ndarray, fill: object) -> np.ndarray:
        """``charges[key]`` at charge rows ``charge`` (numpy), ``fill`` where ``charge`` is -1."""
        return np.append(self.charges[key], np.array([fill], dtype=self.charges[key].dtype))[charge]

    def payout_values(self, key: str, payout: np.ndarray, fill: object) -> np.ndarray:
        """The payout table's ``key`` at payout rows ``payout`` (numpy), ``fill`` where it is -1."""
        values = self.payout_table[key]
        return np.append(values, np.array([fill], dtype=values.dtype))[payout]

    def order_ids(self, charge: np.ndarray) -> pa.Array:
        """``payment_metadata[order_id]`` of charge rows ``charge`` (-1 -> null): ``ORD-1000123``."""
        return synth.concat(["ORD-", pa.array(charge + 1_000_000, mask=charge < 0).cast(pa.string())])

    def invoice_numbers(self, charge: np.ndarray) -> pa.Array:
        """Invoice numbers of charge rows ``charge`` (null when not invoiced)."""
        inv = self.charge_values("invoiced", charge, False)
        return synth.concat(["RK-", pa.array(charge + 100_000, mask=~inv).cast(pa.string())])

    def _charge_descriptions(self, bt: dict) -> pa.Array:
        charge = bt["charge"]
        inv = self.invoice_numbers(charge)
        desc = pc.coalesce(synth.concat(["Invoice ", inv]), synth.concat(["Order ", self.order_ids(charge)]))
        chid = self.charges["id"].take(pa.array(charge, mask=charge < 0))
        cat = bt["cat"]
        return pc.case_when(
            pc.make_struct(
                pa.array(cat == REFUND), pa.array(cat == DISPUTE), pa.array(cat == DISPUTE_REVERSAL)
            ),
            synth.concat(["REFUND FOR CHARGE (", desc, ")"]),
            synth.concat(["Chargeback withdrawal for ", chid]),
            synth.concat(["Chargeback reversal for ", chid]),
            desc,
        )

    # -- public view ----------------------------------------------------------------------------
    def balance(self, currency: str, at: int) -> int:
        """Balance in minor units at ``at`` (epoch s): Σ net of transactions created strictly before it."""
        created, csum = self._balance[currency.lower()]
        return int(csum[np.searchsorted(created, at, side="left")])

    def payout_ids(self, *, automatic: bool | None = None) -> frozenset[str]:
        """Ids of every payout (``automatic=True``/``False`` for one kind)."""
        po = self.payout_table
        ids = po["id"].to_pylist()
        return frozenset(i for i, a in zip(ids, po["automatic"], strict=True) if automatic in (None, bool(a)))

    @cached_property
    def payouts(self) -> pd.DataFrame:
        """One row per payout, sorted by (created, id): id, currency, amount (minor, positive), automatic,
        status, created, effective_at (= created: when its transaction debits the balance), arrival_date
        (UTC midnight), reversed_at / failed_at (nullable), type, destination, trace_id."""
        po = self.payout_table

        def when(a: np.ndarray) -> pd.arrays.IntegerArray:
            return pd.array([int(x) if x >= 0 else None for x in a], dtype="Int64")

        df = pd.DataFrame(
            {
                "id": pd.array(po["id"].to_pylist(), dtype="str"),
                "currency": pd.array(np.array(self.currencies)[po["cur"]], dtype="str"),
                "amount": po["amount"],
                "automatic": po["automatic"],
                "status": pd.array(po["status"], dtype="str"),
                "created": po["created"],
                "effective_at": po["created"],
                "arrival_date": po["arrival_date"],
                "reversed_at": when(po["reversed_at"]),
                "failed_at": when(po["failed_at"]),
                "type": "bank_account",
                "destination": pd.array(po["destination"].to_pylist(), dtype="str"),
                "trace_id": pd.array(po["trace_id"].to_pylist(), dtype="str"),
            }
        )
        return df.sort_values(["created", "id"], kind="stable").reset_index(drop=True)

    @cached_property
    def transactions(self) -> pd.DataFrame:
        """The balance transactions, sorted by (created, id): integer minor units, epoch-second times."""
        bt = self.bt
        ap = bt["ap"]
        if not len(ap):
            ap = np.zeros(0, np.int64)
        po_ids = self.payout_table["id"]
        nullable = pa.array(ap, mask=ap < 0)
        ch = pa.array(bt["charge"], mask=bt["charge"] < 0)
        table = pa.table(
            {
                "id": bt["id"],
                "created": bt["created"],
                "available_on": bt["available_on"],
                "currency": pa.array(self.currencies).take(pa.array(bt["cur"])),
                "amount": bt["amount"],
                "fee": bt["fee"],
                "net": bt["net"],
                "reporting_category": pa.array(CATEGORIES).take(pa.array(bt["cat"])),
                "type": pa.array(BT_TYPES).take(pa.array(bt["cat"])),
                "description": bt["description"],
                "source_id": bt["source_id"],
                "charge_id": self.charges["id"].take(ch),
                "payout_id": po_ids.take(pa.array(bt["payout"], mask=bt["payout"] < 0)),
                "automatic_payout_id": po_ids.take(nullable),
            }
        )
        df = table.to_pandas()
        df["automatic_payout_effective_at"] = pd.arrays.IntegerArray(
            self.automatic_payout_effective_at, ap < 0
        )
        return df


def _cat(pieces: list) -> object:
    if isinstance(pieces[0], pa.Array):
        return pa.concat_arrays(pieces)
    return np.concatenate(pieces)
