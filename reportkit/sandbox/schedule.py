"""The payout schedule of the synthetic ledger: automatic payouts of settled funds, and manual ones.

Automatic payouts run on business days at 00:00 UTC and settle every activity transaction available by
then (when the sum is positive), so each payout equals the net of what it settled by construction.
Manual payouts settle nothing; some fail or are reversed and come back as ``payout_reversal``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reportkit.catalog import currency_exponent
from reportkit.sandbox import synth
from reportkit.sandbox.codes import (
    CHARGE,
    DAY,
    PAYOUT,
    PAYOUT_REVERSAL,
    Parts,
    business_midnight,
    off_midnight,
    rounded,
)

if TYPE_CHECKING:
    from reportkit.sandbox.ledger import Ledger


def payouts(led: Ledger, ci: int, cur: str, num: dict, ap: np.ndarray, parts: Parts, offset: int) -> dict:
    """Automatic payouts (business days 00:00 UTC) of all funds available by then, when the sum is
    positive; plus a few manual payouts, some failed or reversed. Adds their transactions to ``parts``
    and marks the activity each one settled in ``ap``."""
    rng, exp = led.stream("payouts", cur), currency_exponent(cur)
    mine = np.flatnonzero(num["cur"] == ci)
    avail, net = num["available_on"][mine], (num["amount"] - num["fee"])[mine]
    order = np.argsort(avail, kind="stable")
    csum = np.concatenate([[0], np.cumsum(net[order])])
    days = np.arange(led.start_ts // DAY + 1, -(-led.end_ts // DAY), dtype=np.int64)
    when = days[np.is_busday(days.astype("datetime64[D]"))] * DAY
    when = when[when < led.end_ts]
    total = csum[np.searchsorted(avail[order], when, side="right")]
    high = np.maximum.accumulate(np.concatenate([[0], total[:-1]]))
    paid = total > high  # pay out only when something positive accrued since the last payout
    auto_at, auto_total = when[paid], total[paid]
    auto_amt = np.diff(np.concatenate([[0], auto_total]))
    slot = np.searchsorted(auto_at, avail, side="left")  # the first payout at/after availability
    settled = np.where(slot < len(auto_at), slot + offset, -1)
    ap[mine] = settled
    # manual payouts: about every 80 days, a quarter of a typical day's net
    span_days = (led.end_ts - led.start_ts) / DAY
    n_man = max(2, int(span_days / 80)) if span_days >= 30 else 0  # none in a ledger under a month
    mat = np.sort(off_midnight(rng.integers(led.start_ts + 5 * DAY, led.end_ts - 12 * DAY, n_man)))
    day_net = max(1, int(net[num["cat"][mine] == CHARGE].sum() * DAY / (led.end_ts - led.start_ts)))
    step = 10 ** max(exp, 2)
    mamt = rounded(day_net * 0.25 * rng.uniform(0.5, 1.5, n_man), step, step)
    fate = np.r_[
        np.full(len(auto_at), -1), rng.permutation(np.resize([1, 2, 0, 0, 0], n_man))
    ]  # 0 paid, 1 failed, 2 reversed: at least one of each failure per currency
    back = np.r_[np.full(len(auto_at), -1), off_midnight(mat + rng.integers(DAY, 5 * DAY, n_man))]
    n = len(auto_at) + n_man
    created = np.concatenate([auto_at, mat])
    arrival = business_midnight(created, 2)
    automatic = fate < 0
    status = np.where(
        automatic,
        np.where(arrival <= led.end_ts, "paid", "in_transit"),
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
    trace = pc.if_else(pa.array(status == "paid"), synth.random_ids(rng, "", n, 15), pa.nulls(n, pa.string()))
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
        "destination": pa.array([f"ba_{zlib.crc32(f'{led.seed}{cur}'.encode()):010d}RK{cur.upper()}"] * n),
    }
