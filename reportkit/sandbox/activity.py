"""Activity generators for the synthetic ledger: charges and what follows them, fees, transfers, adjustments.

Functions of a :class:`~reportkit.sandbox.ledger.Ledger` under construction (its seed-derived random
streams, span and scale); each appends whole arrays of balance transactions to a :class:`Parts`.
The model (rates, ticket sizes, fees, delays) is documented in docs/sandbox-ledger.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from reportkit.catalog import currency_exponent
from reportkit.sandbox import synth
from reportkit.sandbox.codes import (
    ADJUSTMENT,
    CARD_BRANDS,
    CHARGE,
    DAY,
    DISPUTE,
    DISPUTE_REASONS,
    DISPUTE_REVERSAL,
    FEE,
    REFUND,
    REFUND_REASONS,
    TRANSFER,
    Parts,
    business_midnight,
    off_midnight,
    rounded,
)

if TYPE_CHECKING:
    from reportkit.sandbox.ledger import Ledger

_BRAND_P = {
    "us": [0.55, 0.30, 0.12, 0.03, 0],
    "eu": [0.50, 0.45, 0.05, 0, 0],
    "jp": [0.40, 0.25, 0.05, 0, 0.30],
}
_LOCAL_PM = {"us": 2, "eu": 3, "jp": 4, "gb": 0}


def charges(led: Ledger, ci: int, cur: str, cus_offset: int) -> tuple[dict, dict]:
    """The charges of one currency (one row per charge) and the customers who made them."""
    rng, prof = led.stream("charges", cur), synth.profile(cur)
    exp = currency_exponent(cur)
    days = np.arange(led.start_ts // DAY, -(-led.end_ts // DAY), dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    growth = 1.0 + 0.6 * (days - days[0]) / len(days)
    counts = rng.poisson(prof.charges_per_day * led.scale * np.where(weekday >= 5, 0.7, 1.0) * growth)
    created = np.repeat(days * DAY, counts) + rng.integers(1, DAY, int(counts.sum()))
    created = np.sort(created[(created >= led.start_ts) & (created < led.end_ts)])
    n = len(created)
    unit = 10**exp
    minor = np.exp(rng.normal(np.log(prof.median_major * unit), 0.8, n))
    whole = rng.random(n) < 0.35
    amount = np.where(
        whole,
        rounded(minor, max(unit, prof.round_to_minor), unit),
        rounded(minor, prof.round_to_minor, 50),
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
        "available_on": business_midnight(created, 2),
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


def charge_activity(led: Ledger, ci: int, cur: str, ch: dict, offset: int, parts: Parts) -> None:
    """Charges and what follows them (refunds, disputes, reversals), fees, transfers, adjustments."""
    rng, prof = led.stream("activity", cur), synth.profile(cur)
    end, n = led.end_ts, len(ch["created"])
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
    rc = off_midnight(ch["created"][ri] + (rng.exponential(3 * DAY, len(ri)) + 600).astype(np.int64))
    part = rng.random(len(ri)) < 0.3
    step = prof.round_to_minor
    ramt = np.where(
        part, rounded(ch["amount"][ri] * rng.uniform(0.2, 0.8, len(ri)), step, step), ch["amount"][ri]
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
    dc = off_midnight(ch["created"][di] + rng.integers(5 * DAY, 60 * DAY, len(di)))
    reason = rng.choice(len(DISPUTE_REASONS), size=len(di), p=[0.5, 0.2, 0.1, 0.1, 0.1])
    dp_ids = synth.random_ids(rng, "dp_", len(di))
    won = rng.random(len(di)) < 0.4
    wc = off_midnight(dc + rng.integers(20 * DAY, 75 * DAY, len(di)))
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
    other_activity(led, ci, cur, rng, parts)


def other_activity(led: Ledger, ci: int, cur: str, rng: np.random.Generator, parts: Parts) -> None:
    """Monthly Stripe fees, transfers to connected accounts and manual adjustments of one currency."""
    prof, exp = synth.profile(cur), currency_exponent(cur)
    unit, ticket = 10**exp, prof.median_major * 10**exp
    # monthly Stripe fees (Radar, Billing), early in each month
    months = np.arange(np.datetime64(led.start.date(), "M"), np.datetime64(led.end.date(), "M") + 1)
    mc = off_midnight(
        months.astype("datetime64[D]").astype(np.int64) * DAY + rng.integers(DAY, 3 * DAY, len(months))
    )
    keep = (mc >= led.start_ts) & (mc < led.end_ts)
    k = int(keep.sum())
    famt = rounded(
        ticket * prof.charges_per_day * led.scale * 30 * 0.004 * rng.uniform(0.7, 1.3, k),
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
        description=synth.concat(["Radar, Billing usage fees (", pa.array(months[keep].astype(str)), ")"]),
    )
    # transfers to connected accounts, and occasional manual adjustments (either sign)
    for cat, per_day, size in ((TRANSFER, 0.02, 15.0), (ADJUSTMENT, 0.004, 0.8)):
        if cat == TRANSFER and not led.transfers:
            continue  # a connected account's own ledger: it has no connected accounts to pay
        t = poisson_times(led, rng, prof.charges_per_day * led.scale * per_day)
        k = len(t)
        amt = rounded(np.exp(rng.normal(np.log(ticket * size), 0.6, k)), prof.round_to_minor, unit)
        if cat == TRANSFER:
            na = len(led.accounts["id"])
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


def poisson_times(led: Ledger, rng: np.random.Generator, per_day: float) -> np.ndarray:
    """Times of a Poisson process with ``per_day`` events a day over the ledger's span (never a midnight)."""
    n = int(rng.poisson(per_day * (led.end_ts - led.start_ts) / DAY))
    t = np.sort(off_midnight(rng.integers(led.start_ts, led.end_ts, n)))
    return t[t < led.end_ts]
