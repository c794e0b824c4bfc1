"""Every reconciliation identity between the sandbox's reports holds exactly, month by month.

Parsed with the csv module and Decimal (independent of reportkit.frames) over 12 consecutive monthly
intervals of 2025 in USD, EUR and JPY.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest

from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.reports import render

CURRENCIES = ("usd", "eur", "jpy")
MONTHS = [int(dt.datetime(2025 + m // 12, m % 12 + 1, 1, tzinfo=dt.UTC).timestamp()) for m in range(13)]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(11, start="2024-01-01", end=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))


def rows(ledger: Ledger, report_type: str, **params: object) -> list[dict[str, str]]:
    p = RunParams(timezone="America/Los_Angeles").with_(**params)
    return list(csv.DictReader(io.StringIO(render(ledger, report_type, p).decode("utf-8"))))


def by_category(items: list[dict[str, str]]) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
    acc: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), Decimal(0)])
    for r in items:
        a = acc[r["reporting_category"]]
        a[0] += 1
        a[1] += Decimal(r["gross"])
        a[2] += Decimal(r["fee"])
        a[3] += Decimal(r["net"])
    return {k: tuple(v) for k, v in acc.items()}


def summary(items: list[dict[str, str]]) -> dict[str, tuple[int, Decimal, Decimal, Decimal]]:
    return {
        r["reporting_category"]: (int(r["count"]), Decimal(r["gross"]), Decimal(r["fee"]), Decimal(r["net"]))
        for r in items
    }


def total_net(items: list[dict[str, str]]) -> Decimal:
    return sum((Decimal(r["net"]) for r in items), Decimal(0))


@pytest.mark.parametrize("currency", CURRENCIES)
def test_identities_hold_every_month(ledger: Ledger, currency: str) -> None:
    exp = Decimal(1) if currency == "jpy" else Decimal("0.01")
    previous_ending = None
    checked_payouts = 0
    for s, e in zip(MONTHS, MONTHS[1:], strict=False):
        iv = {"interval_start": s, "interval_end": e, "currency": currency}
        bal = {r["category"]: Decimal(r["net_amount"]) for r in rows(ledger, "balance.summary.1", **iv)}
        start, activity, payouts, ending = (
            bal[k] for k in ("starting_balance", "activity", "payouts", "ending_balance")
        )
        # the balance rolls forward exactly, and chains from one interval to the next; the sub-rows
        # add up as in every real summary (tests/fixtures/stripe_files/FINDINGS.md §4)
        assert start + activity + payouts == ending
        assert bal["activity_gross"] + bal["activity_fee"] == activity
        assert bal["payouts_gross"] + bal["payouts_fee"] == payouts
        if previous_ending is not None:
            assert start == previous_ending
        previous_ending = ending
        assert start == Decimal(ledger.balance(currency, s)) * exp
        assert ending == Decimal(ledger.balance(currency, e)) * exp

        # activity: itemized sums = summary per category; the summary's net = the balance's activity row
        act_sum = summary(rows(ledger, "balance_change_from_activity.summary.1", **iv))
        act_items = rows(ledger, "balance_change_from_activity.itemized.3", **iv)
        assert by_category(act_items) == act_sum and len(act_sum) >= 3
        assert sum(v[3] for v in act_sum.values()) == activity
        # FINDINGS.md §8: activity_gross = Σ gross of the non-fee rows; activity_fee = Σ gross of the
        # Stripe fee rows - Σ fee (fees are positive in the itemized report, negative in the summary)
        fee_rows = [r for r in act_items if r["reporting_category"] == "fee"]
        assert bal["activity_gross"] == sum(v[1] for k, v in act_sum.items() if k != "fee")
        assert bal["activity_fee"] == sum((Decimal(r["gross"]) for r in fee_rows), Decimal(0)) - sum(
            v[2] for v in act_sum.values()
        )
        assert bal["activity_fee"] < 0
        assert by_category(rows(ledger, "balance_change_from_activity.itemized.1", **iv)) == act_sum

        # payouts: the same, against the balance's payouts rows. The payouts reports count a paid-out
        # payout positive, the balance summary negative (FINDINGS.md §6, §8)
        pay_sum = summary(rows(ledger, "payouts.summary.1", **iv))
        pay_items = rows(ledger, "payouts.itemized.3", **iv)
        assert by_category(pay_items) == pay_sum
        assert -sum(v[3] for v in pay_sum.values()) == payouts < 0
        assert -sum(v[1] for v in pay_sum.values()) == bal["payouts_gross"]
        assert all(Decimal(r["net"]) > 0 for r in pay_items if r["reporting_category"] == "payout")
        assert all(Decimal(r["net"]) < 0 for r in pay_items if r["reporting_category"] == "payout_reversal")

        # payout reconciliation: each automatic payout effective in the interval = Σ net it settled
        rec_sum = summary(rows(ledger, "payout_reconciliation.summary.1", **iv))
        rec_items = rows(ledger, "payout_reconciliation.itemized.5", **iv)
        assert by_category(rec_items) == rec_sum
        assert by_category(rows(ledger, "payout_reconciliation.itemized.2", **iv)) == rec_sum
        settled: dict[str, Decimal] = defaultdict(Decimal)
        for r in rec_items:
            settled[r["automatic_payout_id"]] += Decimal(r["net"])
        automatic = {
            r["payout_id"]: Decimal(r["net"])
            for r in pay_items
            if r["reporting_category"] == "payout" and r["description"] == "STRIPE PAYOUT"
        }
        assert settled == automatic and len(automatic) >= 8
        assert all(v > 0 for v in automatic.values())
        # by_id for the first and last payout of the month
        for po in (min(automatic), max(automatic)):
            by_id = rows(ledger, "payout_reconciliation.by_id.itemized.4", payout=po)
            assert total_net(by_id) == automatic[po] and {r["automatic_payout_id"] for r in by_id} == {po}
            assert by_category(by_id) == summary(
                rows(ledger, "payout_reconciliation.by_id.summary.1", payout=po)
            )
            checked_payouts += 1

        # ending balance reconciliation: what is unsettled at e adds up to the ending balance
        ebr = {"interval_end": e, "currency": currency}
        ebr_sum = summary(rows(ledger, "ending_balance_reconciliation.summary.1", **ebr))
        assert by_category(rows(ledger, "ending_balance_reconciliation.itemized.4", **ebr)) == ebr_sum
        assert by_category(rows(ledger, "ending_balance_reconciliation.itemized.1", **ebr)) == ebr_sum
        assert sum(v[3] for v in ebr_sum.values()) == ending
    assert checked_payouts == 24


def test_all_currencies_at_once_agree_with_one_at_a_time(ledger: Ledger) -> None:
    iv = {"interval_start": MONTHS[5], "interval_end": MONTHS[6]}
    together = rows(ledger, "balance_change_from_activity.summary.1", **iv)
    apart = [
        r
        for c in sorted(CURRENCIES)
        for r in rows(ledger, "balance_change_from_activity.summary.1", currency=c, **iv)
    ]
    assert together == apart  # sorted by (currency, reporting_category)
    bal = rows(ledger, "balance.summary.1", **iv)
    assert [r["currency"] for r in bal] == [c for c in sorted(CURRENCIES) for _ in range(8)]
    assert [r["category"] for r in bal[:8]] == [
        "starting_balance",
        "activity_gross",
        "activity_fee",
        "activity",
        "payouts_gross",
        "payouts_fee",
        "payouts",
        "ending_balance",
    ]
