"""The sandbox's one seeded synthetic Stripe account: balance transactions and payouts.

Owns *what happened* on the account; :mod:`reportkit.sandbox.reports` owns how it is reported.
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
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportkit.catalog import currency_exponent
from reportkit.sandbox import synth

__all__ = ["CATEGORIES", "PAYOUT_CATEGORIES", "Ledger"]

DAY = 86_400
#: Reporting categories the ledger produces, by code (the ``cat`` array holds indices into this).
CATEGORIES = (
    "charge",
    "refund",
    "dispute",
    "dispute_reversal",
    "fee",
    "transfer",
    "other_adjustment",
    "payout",
    "payout_reversal",
)
PAYOUT_CATEGORIES = frozenset({"payout", "payout_reversal"})
_BT_TYPES = (
    "charge",
    "refund",
    "adjustment",
    "adjustment",
    "stripe_fee",
    "transfer",
    "adjustment",
    "payout",
    "payout_failure",
)
(CHARGE, REFUND, DISPUTE, DISPUTE_REVERSAL, FEE, TRANSFER, ADJUSTMENT, PAYOUT, PAYOUT_REVERSAL) = range(9)
DISPUTE_REASONS = ("fraudulent", "product_not_received", "duplicate", "subscription_canceled", "general")
REFUND_REASONS = ("customer_request", "damaged_goods", "duplicate_order")
CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb")
CARD_FUNDING = ("credit", "debit", "prepaid")
PM_TYPES = ("card", "link", "us_bank_account", "sepa_debit", "konbini")
CHANNELS = ("web", "mobile", "pos")
_BRAND_P = {
    "us": [0.55, 0.30, 0.12, 0.03, 0],
    "eu": [0.50, 0.45, 0.05, 0, 0],
    "jp": [0.40, 0.25, 0.05, 0, 0.30],
}
_LOCAL_PM = {"us": 2, "eu": 3, "jp": 4, "gb": 0}

_NUM = (
    "created",
    "available_on",
    "amount",
    "fee",
    "cat",
    "charge",
    "acct",
    "payout",
    "dispute_reason",
    "refund_reason",
    "partner_ref",
    "cur",
)
_STR = ("source_id", "description", "destination_payment_id")
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


def _off_midnight(t: np.ndarray) -> np.ndarray:
    """Nudge times that fall exactly on a UTC midnight by one second (payouts own the midnights)."""
    return t + (t % DAY == 0)


def _business_midnight(t: np.ndarray, days: int) -> np.ndarray:
    """UTC midnight ``days`` business days after the day of ``t`` (weekends roll forward first)."""
    d = (t // DAY).astype("datetime64[D]")
    return np.busday_offset(d, days, roll="forward").astype(np.int64) * DAY


def _rounded(minor: np.ndarray, step: int, floor: int) -> np.ndarray:
    return np.maximum(np.round(minor / step).astype(np.int64) * step, floor)


@dataclass
class _Parts:
    """Column pieces gathered per transaction kind, concatenated once at the end."""

    num: dict
    txt: dict

    @classmethod
    def empty(cls) -> _Parts:
        return cls({k: [] for k in _NUM}, {k: [] for k in _STR})

    def add(self, n: int, **cols: object) -> None:
        for k in _NUM:
            self.num[k].append(np.asarray(cols[k], dtype=np.int64) if k in cols else np.full(n, -1, np.int64))
        for k in _STR:
            self.txt[k].append(cols[k] if k in cols else pa.nulls(n, pa.string()))

    def concat(self) -> tuple[dict, dict]:
        num = {k: np.concatenate(v) for k, v in self.num.items()}
        txt = {k: pa.concat_arrays([a.cast(pa.string()) for a in v]) for k, v in self.txt.items()}
        return num, txt


class Ledger:
    """A seeded synthetic account. ``scale`` multiplies volume (1 -> ~40k rows over 2024-01-01..2026-11);
    ``rows`` picks the scale that gives about that many balance transactions (``Ledger(rows=1_000_000)``)."""

    def __init__(
        self,
        seed: int = 7,
        *,
        start: object = "2024-01-01",
        end: object = None,
        currencies: tuple[str, ...] = ("usd", "eur", "jpy"),
        scale: float = 1.0,
        rows: int | None = None,
    ) -> None:
        self.seed = int(seed)
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
    def _rng(self, *salt: object) -> np.random.Generator:
        return np.random.default_rng([self.seed, *(zlib.crc32(str(s).encode()) for s in salt)])

    def _build(self) -> None:
        rng = self._rng("shared")
        self.accounts = synth.accounts_table(rng)
        parts, payout_parts, charges, customers = _Parts.empty(), [], [], []
        n_charges = n_customers = n_payouts = 0
        for ci, cur in enumerate(self.currencies):
            ch, cus = self._charges(ci, cur, n_customers)
            self._activity(ci, cur, ch, n_charges, parts)
            charges.append(ch)
            customers.append(cus)
            n_charges += len(ch["created"])
            n_customers += len(cus["id"])
        activity, _ = parts.concat()
        ap = np.full(len(activity["cur"]), -1, np.int64)  # the automatic payout that settled each row
        for ci, cur in enumerate(self.currencies):
            po = self._payouts(ci, cur, activity, ap, parts, n_payouts)
            payout_parts.append(po)
            n_payouts += len(po["created"])
        num, txt = parts.concat()  # again, now with the payout transactions (appended after activity)
        num["ap"] = np.concatenate([ap, np.full(len(num["cur"]) - len(ap), -1, np.int64)])
        self.charges = {k: _cat([c[k] for c in charges]) for k in charges[0]}
        self.customers = {k: pa.concat_arrays([c[k] for c in customers]) for k in customers[0]}
        self._finish(num, txt, {k: _cat([p[k] for p in payout_parts]) for k in payout_parts[0]})

    def _charges(self, ci: int, cur: str, cus_offset: int) -> tuple[dict, dict]:
        """The charges of one currency (one row per charge) and the customers who made them."""
        rng, prof = self._rng("charges", cur), synth.profile(cur)
        exp = currency_exponent(cur)
        days = np.arange(self.start_ts // DAY, -(-self.end_ts // DAY), dtype=np.int64)
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        growth = 1.0 + 0.6 * (days - days[0]) / len(days)
        counts = rng.poisson(prof.charges_per_day * self.scale * np.where(weekday >= 5, 0.7, 1.0) * growth)
        created = np.repeat(days * DAY, counts) + rng.integers(1, DAY, int(counts.sum()))
        created = np.sort(created[(created >= self.start_ts) & (created < self.end_ts)])
        n = len(created)
        unit = 10**exp
        minor = np.exp(rng.normal(np.log(prof.median_major * unit), 0.8, n))
        whole = rng.random(n) < 0.35
        amount = np.where(
            whole,
            _rounded(minor, max(unit, prof.round_to_minor), unit),
            _rounded(minor, prof.round_to_minor, 50),
        )
        n_cus = max(20, n // 6)
        cus = synth.customers_table(rng, prof.region, n_cus)
        customer = np.where(rng.random(n) < 0.85, rng.integers(0, n_cus, n), -1)
        pm = rng.choice(3, size=n, p=[0.90, 0.05, 0.05])
        pm = np.where(pm == 2, _LOCAL_PM.get(prof.region, 0), pm)
        brand = synth.pick(rng, list(CARD_BRANDS), n, _BRAND_P.get(prof.region, _BRAND_P["us"]))
        invoiced = (customer >= 0) & (rng.random(n) < 0.3)
        ch = {
            "id": synth.random_ids(rng, "ch_", n),
            "payment_intent_id": synth.random_ids(rng, "pi_", n),
            "created": created,
            "available_on": _business_midnight(created, 2),
            "amount": amount,
            "fee": (amount * prof.fee_per_mille + 500) // 1000 + prof.fee_fixed_minor,
            "cur": np.full(n, ci),
            "customer": np.where(customer >= 0, customer + cus_offset, -1),
            "pm_type": pm,
            "card_brand": np.where(pm <= 1, brand, -1),
            "card_funding": np.where(pm <= 1, rng.choice(3, size=n, p=[0.6, 0.37, 0.03]), -1),
            "channel": rng.choice(3, size=n, p=[0.6, 0.3, 0.1]),
            "invoiced": invoiced,
            "invoice_id": pc.if_else(
                pa.array(invoiced), synth.random_ids(rng, "in_", n), pa.nulls(n, pa.string())
            ),
            "dispute_fee": np.full(n, prof.dispute_fee_minor * (unit // 100 if exp >= 2 else 1)),
        }
        # subscriptions belong to customers: one sub_ id per customer
        cus["subscription_id"] = synth.random_ids(rng, "sub_", n_cus)
        return ch, cus

    def _activity(self, ci: int, cur: str, ch: dict, offset: int, parts: _Parts) -> None:
        """Charges and what follows them (refunds, disputes, reversals), fees, transfers, adjustments."""
        rng, prof = self._rng("activity", cur), synth.profile(cur)
        end, n = self.end_ts, len(ch["created"])
        idx = np.arange(n)
        parts.add(
            n,
            created=ch["created"],
            available_on=ch["available_on"],
            amount=ch["amount"],
            fee=ch["fee"],
            cat=np.full(n, CHARGE),
            charge=idx + offset,
            cur=np.full(n, ci),
            source_id=ch["id"],
        )
        u = rng.random(n)
        # refunds: 6 % of charges, a third of them partial, mostly within days
        ri = idx[u < 0.06]
        rc = _off_midnight(ch["created"][ri] + (rng.exponential(3 * DAY, len(ri)) + 600).astype(np.int64))
        part = rng.random(len(ri)) < 0.3
        step = prof.round_to_minor
        ramt = np.where(
            part, _rounded(ch["amount"][ri] * rng.uniform(0.2, 0.8, len(ri)), step, step), ch["amount"][ri]
        )
        keep = rc < end
        k = int(keep.sum())
        parts.add(
            k,
            created=rc[keep],
            available_on=rc[keep],
            amount=-ramt[keep],
            fee=np.zeros(k),
            cat=np.full(k, REFUND),
            charge=ri[keep] + offset,
            cur=np.full(k, ci),
            refund_reason=rng.integers(0, len(REFUND_REASONS), k),
            source_id=synth.random_ids(rng, "re_", k),
        )
        # disputes: 0.6 % of charges; 40 % of them won later (dispute_reversal gives money and fee back)
        di = idx[(u >= 0.06) & (u < 0.066)]
        dc = _off_midnight(ch["created"][di] + rng.integers(5 * DAY, 60 * DAY, len(di)))
        reason = rng.choice(len(DISPUTE_REASONS), size=len(di), p=[0.5, 0.2, 0.1, 0.1, 0.1])
        dp_ids = synth.random_ids(rng, "dp_", len(di))
        won = rng.random(len(di)) < 0.4
        wc = _off_midnight(dc + rng.integers(20 * DAY, 75 * DAY, len(di)))
        dfee = ch["dispute_fee"][di]
        for cat, when, sign, mask in (
            (DISPUTE, dc, -1, dc < end),
            (DISPUTE_REVERSAL, wc, 1, won & (wc < end)),
        ):
            k = int(mask.sum())
            parts.add(
                k,
                created=when[mask],
                available_on=when[mask],
                amount=sign * ch["amount"][di][mask],
                fee=-sign * dfee[mask],
                cat=np.full(k, cat),
                charge=di[mask] + offset,
                cur=np.full(k, ci),
                dispute_reason=reason[mask],
                source_id=dp_ids.filter(pa.array(mask)),
            )
        self._other_activity(ci, cur, rng, parts)

    def _other_activity(self, ci: int, cur: str, rng: np.random.Generator, parts: _Parts) -> None:
        prof, exp = synth.profile(cur), currency_exponent(cur)
        unit, ticket = 10**exp, prof.median_major * 10**exp
        # monthly Stripe fees (Radar, Billing), early in each month
        months = np.arange(np.datetime64(self.start.date(), "M"), np.datetime64(self.end.date(), "M") + 1)
        mc = months.astype("datetime64[D]").astype(np.int64) * DAY + rng.integers(DAY, 3 * DAY, len(months))
        keep = (mc >= self.start_ts) & (mc < self.end_ts)
        k = int(keep.sum())
        famt = _rounded(
            ticket * prof.charges_per_day * self.scale * 30 * 0.004 * rng.uniform(0.7, 1.3, k),
            prof.round_to_minor,
            unit,
        )
        parts.add(
            k,
            created=mc[keep],
            available_on=mc[keep],
            amount=-famt,
            fee=np.zeros(k),
            cat=np.full(k, FEE),
            cur=np.full(k, ci),
            description=synth._strings(
                ["Radar, Billing usage fees (", pa.array(months[keep].astype(str)), ")"]
            ),
        )
        # transfers to connected accounts, and occasional manual adjustments (either sign)
        for cat, per_day, size in ((TRANSFER, 0.02, 15.0), (ADJUSTMENT, 0.004, 0.8)):
            t = self._poisson_times(rng, prof.charges_per_day * self.scale * per_day)
            k = len(t)
            amt = _rounded(np.exp(rng.normal(np.log(ticket * size), 0.6, k)), prof.round_to_minor, unit)
            if cat == TRANSFER:
                na = len(self.accounts["id"])
                parts.add(
                    k,
                    created=t,
                    available_on=t,
                    amount=-amt,
                    fee=np.zeros(k),
                    cat=np.full(k, cat),
                    cur=np.full(k, ci),
                    acct=rng.integers(0, na, k),
                    partner_ref=rng.integers(1000, 99999, k),
                    source_id=synth.random_ids(rng, "tr_", k),
                    destination_payment_id=synth.random_ids(rng, "py_", k),
                )
            else:
                sign = np.where(rng.random(k) < 0.5, -1, 1)
                desc = pa.array(["Adjustment for reconciliation", "Adjustment: network cost credit"]).take(
                    pa.array((sign > 0).astype(np.int64))
                )
                parts.add(
                    k,
                    created=t,
                    available_on=t,
                    amount=sign * amt,
                    fee=np.zeros(k),
                    cat=np.full(k, cat),
                    cur=np.full(k, ci),
                    description=desc,
                )

    def _poisson_times(self, rng: np.random.Generator, per_day: float) -> np.ndarray:
        n = int(rng.poisson(per_day * (self.end_ts - self.start_ts) / DAY))
        return np.sort(_off_midnight(rng.integers(self.start_ts, self.end_ts, n)))

    def _payouts(self, ci: int, cur: str, num: dict, ap: np.ndarray, parts: _Parts, offset: int) -> dict:
        """Automatic payouts (business days 00:00 UTC) of all funds available by then, when the sum is
        positive; plus a few manual payouts, some failed or reversed. Adds their transactions to ``parts``
        and marks the activity each one settled in ``ap``."""
        rng, exp = self._rng("payouts", cur), currency_exponent(cur)
        mine = np.flatnonzero(num["cur"] == ci)
        avail, net = num["available_on"][mine], (num["amount"] - num["fee"])[mine]
        order = np.argsort(avail, kind="stable")
        csum = np.concatenate([[0], np.cumsum(net[order])])
        days = np.arange(self.start_ts // DAY + 1, -(-self.end_ts // DAY), dtype=np.int64)
        when = days[np.is_busday(days.astype("datetime64[D]"))] * DAY
        when = when[when < self.end_ts]
        total = csum[np.searchsorted(avail[order], when, side="right")]
        high = np.maximum.accumulate(np.concatenate([[0], total[:-1]]))
        paid = total > high  # pay out only when something positive accrued since the last payout
        auto_at, auto_total = when[paid], total[paid]
        auto_amt = np.diff(np.concatenate([[0], auto_total]))
        slot = np.searchsorted(auto_at, avail, side="left")  # the first payout at/after availability
        settled = np.where(slot < len(auto_at), slot + offset, -1)
        ap[mine] = settled
        # manual payouts: about every 80 days, a quarter of a typical day's net
        n_man = max(2, int((self.end_ts - self.start_ts) / DAY / 80))
        mat = np.sort(_off_midnight(rng.integers(self.start_ts + 5 * DAY, self.end_ts - 12 * DAY, n_man)))
        day_net = max(1, int(net[num["cat"][mine] == CHARGE].sum() * DAY / (self.end_ts - self.start_ts)))
        step = 10 ** max(exp, 2)
        mamt = _rounded(day_net * 0.25 * rng.uniform(0.5, 1.5, n_man), step, step)
        fate = np.r_[
            np.full(len(auto_at), -1), rng.permutation(np.resize([1, 2, 0, 0, 0], n_man))
        ]  # 0 paid, 1 failed, 2 reversed: at least one of each failure per currency
        back = np.r_[np.full(len(auto_at), -1), _off_midnight(mat + rng.integers(DAY, 5 * DAY, n_man))]
        n = len(auto_at) + n_man
        created = np.concatenate([auto_at, mat])
        arrival = _business_midnight(created, 2)
        automatic = fate < 0
        status = np.where(
            automatic,
            np.where(arrival <= self.end_ts, "paid", "in_transit"),
            np.array(["paid", "failed", "paid"])[np.maximum(fate, 0)],
        )
        returned_at = np.where(fate > 0, back, -1)  # when a payout_reversal gave the money back
        amount = np.concatenate([auto_amt, mamt])
        ids = synth.random_ids(rng, "po_", n)
        pidx = np.arange(n) + offset
        parts.add(
            n,
            created=created,
            available_on=created,
            amount=-amount,
            fee=np.zeros(n),
            cat=np.full(n, PAYOUT),
            cur=np.full(n, ci),
            payout=pidx,
            source_id=ids,
            description=pa.array(np.where(automatic, "STRIPE PAYOUT", "Manual payout")),
        )
        rev = returned_at >= 0
        k = int(rev.sum())
        parts.add(
            k,
            created=returned_at[rev],
            available_on=returned_at[rev],
            amount=amount[rev],
            fee=np.zeros(k),
            cat=np.full(k, PAYOUT_REVERSAL),
            cur=np.full(k, ci),
            payout=pidx[rev],
            source_id=ids.filter(pa.array(rev)),
            description=pa.array(np.where(status[rev] == "failed", "Payout failure", "Payout reversal")),
        )
        trace = pc.if_else(
            pa.array(status == "paid"), synth.random_ids(rng, "", n, 15), pa.nulls(n, pa.string())
        )
        return {
            "id": ids,
            "cur": np.full(n, ci),
            "amount": amount,
            "automatic": automatic,
            "status": status,
            "created": created,
            "arrival_date": arrival,
            "returned_at": returned_at,
            "reversed_at": np.where(fate == 2, back, -1),
            "failed_at": np.where(fate == 1, back, -1),
            "trace_id": trace,
            "destination": pa.array(
                [f"ba_{zlib.crc32(f'{self.seed}{cur}'.encode()):010d}RK{cur.upper()}"] * n
            ),
        }

    def _finish(self, num: dict, txt: dict, po: dict) -> None:
        """Give transactions their ids, sort them by (created, id), and index what reports need."""
        n = len(num["created"])
        ids = synth.random_ids(self._rng("txn"), "txn_", n)
        id_bytes = np.frombuffer(ids.buffers()[2], dtype="S28", count=n)
        order = np.lexsort((id_bytes, num["created"]))
        bt = {k: v[order] for k, v in num.items()}
        bt["net"] = bt["amount"] - bt["fee"]
        take = pa.array(order)
        bt.update({k: v.take(take) for k, v in txt.items()})
        bt["id"] = ids.take(take)
        bt["description"] = pc.coalesce(bt["description"], self._charge_descriptions(bt))
        self.bt = bt
        self._payout_table = po
        self.payout_index = {pid: i for i, pid in enumerate(po["id"].to_pylist())}
        self.automatic_payout_effective_at = np.where(bt["ap"] >= 0, po["created"][bt["ap"]], -1)
        self._balance = {}
        for ci, cur in enumerate(self.currencies):
            m = bt["cur"] == ci
            self._balance[cur] = (bt["created"][m], np.concatenate([[0], np.cumsum(bt["net"][m])]))

    def order_ids(self, charge: np.ndarray) -> pa.Array:
        """``payment_metadata[order_id]`` of charge rows ``charge`` (-1 -> null): ``ORD-1000123``."""
        return synth._strings(["ORD-", pa.array(charge + 1_000_000, mask=charge < 0).cast(pa.string())])

    def invoice_numbers(self, charge: np.ndarray) -> pa.Array:
        """Invoice numbers of charge rows ``charge`` (null when not invoiced)."""
        inv = self.charges["invoiced"][np.maximum(charge, 0)] & (charge >= 0)
        return synth._strings(["RK-", pa.array(charge + 100_000, mask=~inv).cast(pa.string())])

    def _charge_descriptions(self, bt: dict) -> pa.Array:
        charge = bt["charge"]
        inv = self.invoice_numbers(charge)
        desc = pc.coalesce(
            synth._strings(["Invoice ", inv]), synth._strings(["Order ", self.order_ids(charge)])
        )
        chid = self.charges["id"].take(pa.array(charge, mask=charge < 0))
        cat = bt["cat"]
        return pc.case_when(
            pc.make_struct(
                pa.array(cat == REFUND), pa.array(cat == DISPUTE), pa.array(cat == DISPUTE_REVERSAL)
            ),
            synth._strings(["REFUND FOR CHARGE (", desc, ")"]),
            synth._strings(["Chargeback withdrawal for ", chid]),
            synth._strings(["Chargeback reversal for ", chid]),
            desc,
        )

    # -- public view ----------------------------------------------------------------------------
    def balance(self, currency: str, at: int) -> int:
        """Balance in minor units at ``at`` (epoch s): Σ net of transactions created strictly before it."""
        created, csum = self._balance[currency.lower()]
        return int(csum[np.searchsorted(created, at, side="left")])

    def payout_ids(self, *, automatic: bool | None = None) -> frozenset[str]:
        """Ids of every payout (``automatic=True``/``False`` for one kind)."""
        po = self._payout_table
        ids = po["id"].to_pylist()
        return frozenset(i for i, a in zip(ids, po["automatic"], strict=True) if automatic in (None, bool(a)))

    @cached_property
    def payouts(self) -> pd.DataFrame:
        """One row per payout, sorted by (created, id): id, currency, amount (minor, positive), automatic,
        status, created, effective_at (= created: when its transaction debits the balance), arrival_date
        (UTC midnight), reversed_at / failed_at (nullable), type, destination, trace_id."""
        po = self._payout_table

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
        po_ids = self._payout_table["id"]
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
                "type": pa.array(_BT_TYPES).take(pa.array(bt["cat"])),
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
