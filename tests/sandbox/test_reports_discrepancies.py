"""Planted discrepancies: each breaks exactly the identity it is meant to, in one interval and currency."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest

from reportkit.sandbox.discrepancies import Discrepancy, coerce
from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.reports import render

CURRENCIES = ("usd", "eur", "jpy")
MONTHS = [int(dt.datetime(2025, m, 1, tzinfo=dt.UTC).timestamp()) for m in range(1, 6)]  # 4 intervals
FEB_10 = int(dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(5, start="2024-06-01", end=dt.datetime(2025, 7, 1, tzinfo=dt.UTC))


def rows(ledger: Ledger, report_type: str, planted: list, **params: object) -> list[dict[str, str]]:
    p = RunParams(**params)  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(render(ledger, report_type, p, discrepancies=planted).decode())))


def by_category(items: list[dict[str, str]]) -> dict[str, tuple]:
    acc: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0), Decimal(0)])
    for r in items:
        a = acc[r["reporting_category"]]
        a[0] += 1
        for i, f in enumerate(("gross", "fee", "net"), 1):
            a[i] += Decimal(r[f])
    return {k: tuple(v) for k, v in acc.items()}


def summary(items: list[dict[str, str]]) -> dict[str, tuple]:
    return {
        r["reporting_category"]: (int(r["count"]), Decimal(r["gross"]), Decimal(r["fee"]), Decimal(r["net"]))
        for r in items
    }


def net(items: dict[str, tuple]) -> Decimal:
    return sum((v[3] for v in items.values()), Decimal(0))


def failures(ledger: Ledger, planted: list) -> set[tuple[str, int, str]]:
    """Every identity over the intervals and currencies; the (identity, interval, currency) that fail."""
    failed = set()
    for cur in CURRENCIES:
        previous = None
        for i, (s, e) in enumerate(zip(MONTHS, MONTHS[1:], strict=False)):
            iv = {"interval_start": s, "interval_end": e, "currency": cur}
            bal = {
                r["category"]: Decimal(r["net_amount"])
                for r in rows(ledger, "balance.summary.1", planted, **iv)
            }
            act = summary(rows(ledger, "balance_change_from_activity.summary.1", planted, **iv))
            pay = summary(rows(ledger, "payouts.summary.1", planted, **iv))
            pay_items = rows(ledger, "payouts.itemized.3", planted, **iv)
            rec_items = rows(ledger, "payout_reconciliation.itemized.5", planted, **iv)
            settled: dict[str, Decimal] = defaultdict(Decimal)
            for r in rec_items:
                settled[r["automatic_payout_id"]] += Decimal(r["net"])
            automatic = {
                r["payout_id"]: Decimal(r["net"])  # positive in the payouts report
                for r in pay_items
                if r["reporting_category"] == "payout" and r["description"] == "STRIPE PAYOUT"
            }
            ebr = {"interval_end": e, "currency": cur}
            ebr_sum = summary(rows(ledger, "ending_balance_reconciliation.summary.1", planted, **ebr))
            checks = {
                "rollforward": bal["starting_balance"] + bal["activity"] + bal["payouts"]
                == bal["ending_balance"],
                "continuity": previous is None or previous == bal["starting_balance"],
                "activity.itemized": by_category(
                    rows(ledger, "balance_change_from_activity.itemized.2", planted, **iv)
                )
                == act,
                "activity.balance": net(act) == bal["activity"],
                "payouts.itemized": by_category(pay_items) == pay,
                "payouts.balance": -net(pay) == bal["payouts"],  # negative in the balance summary
                "reconciliation.itemized": by_category(rec_items)
                == summary(rows(ledger, "payout_reconciliation.summary.1", planted, **iv)),
                "payout.settled": settled == automatic,
                "ending.itemized": by_category(
                    rows(ledger, "ending_balance_reconciliation.itemized.4", planted, **ebr)
                )
                == ebr_sum,
                "ending.balance": net(ebr_sum) == bal["ending_balance"],
            }
            previous = bal["ending_balance"]
            failed |= {(name, i, cur) for name, ok in checks.items() if not ok}
    return failed


def test_untouched_ledger_has_no_failures(ledger: Ledger) -> None:
    assert failures(ledger, []) == set()


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        (Discrepancy("drop_transaction", "eur", FEB_10), {("activity.itemized", 1, "eur")}),
        (Discrepancy("duplicate_row", "jpy", FEB_10), {("activity.itemized", 1, "jpy")}),
        (Discrepancy("alter_amount", "usd", FEB_10, amount=-250), {("activity.itemized", 1, "usd")}),
        (Discrepancy("shift_boundary", "usd", MONTHS[2], shift=86_400), {("activity.itemized", 2, "usd")}),
        (Discrepancy("shift_boundary", "eur", MONTHS[3], shift=-86_400), {("activity.itemized", 3, "eur")}),
        (
            Discrepancy("missing_payout", "jpy", FEB_10),
            {("payout.settled", 1, "jpy"), ("payouts.balance", 1, "jpy")},
        ),
    ],
    ids=lambda x: x.kind if isinstance(x, Discrepancy) else "",
)
def test_each_discrepancy_breaks_exactly_its_identity(
    ledger: Ledger, planted: Discrepancy, expected: set
) -> None:
    assert failures(ledger, [planted]) == expected


def test_what_the_rows_look_like(ledger: Ledger) -> None:
    iv = {"interval_start": MONTHS[1], "interval_end": MONTHS[2], "currency": "usd"}
    rt = "balance_change_from_activity.itemized.3"
    clean = rows(ledger, rt, [], **iv)
    target = Discrepancy("drop_transaction", "usd", FEB_10)
    txn = str(ledger.bt["id"][target.target(ledger)])
    assert target.when(ledger) >= FEB_10 and [r["balance_transaction_id"] for r in clean].count(txn) == 1
    dropped = rows(ledger, rt, [target], **iv)
    assert [r for r in clean if r["balance_transaction_id"] != txn] == dropped
    duplicated = rows(ledger, rt, [{"kind": "duplicate_row", "currency": "usd", "at": FEB_10}], **iv)
    assert (
        len(duplicated) == len(clean) + 1
        and [r["balance_transaction_id"] for r in duplicated].count(txn) == 2
    )
    altered = rows(ledger, rt, [Discrepancy("alter_amount", "usd", FEB_10, amount=100)], **iv)
    changed = [(a, b) for a, b in zip(clean, altered, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0]["balance_transaction_id"] == txn
    ((a, b),) = changed
    assert (
        Decimal(b["gross"]) - Decimal(a["gross"]) == Decimal("1.00") == Decimal(b["net"]) - Decimal(a["net"])
    )
    assert a["fee"] == b["fee"]
    # other reports, currencies and versions outside report_type are untouched
    p = RunParams(**iv)
    for rt2, d in (
        ("payout_reconciliation.itemized.5", target),
        ("balance_change_from_activity.itemized.3", Discrepancy("drop_transaction", "eur", FEB_10)),
        (
            "balance_change_from_activity.itemized.3",
            Discrepancy(
                "drop_transaction", "usd", FEB_10, report_type="balance_change_from_activity.itemized.1"
            ),
        ),
    ):
        assert render(ledger, rt2, p, discrepancies=[d]) == render(ledger, rt2, p)


def test_discrepancy_arguments() -> None:
    with pytest.raises(ValueError):
        Discrepancy("explode", "usd", 0)
    with pytest.raises(ValueError):
        Discrepancy("shift_boundary", "usd", 0, shift=0)
    (d,) = coerce({"kind": "missing_payout", "currency": "EUR", "at": "1738000000"})
    assert d == Discrepancy("missing_payout", "eur", 1_738_000_000)
    assert coerce(None) == () and coerce(d) == (d,)
