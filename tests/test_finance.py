"""rk.finance: the close table, the fees view and the payouts table, on sandbox frames and by hand.

The sandbox writes Stripe's real sign convention (FINDINGS.md §4, §6): the balance summary's payouts
row is negative, payouts.itemized rows are positive for money sent to the bank. The expected numbers
come from the sandbox's ledger (the oracle), not from reportkit.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit import finance

TZ = "Europe/Berlin"
PLACES = {"usd": 2, "eur": 2, "jpy": 0}


@pytest.fixture(scope="module")
def q1(sandbox):
    client = sandbox.client(cache=False, progress=False)
    months = rk.intervals("2025-Q1", freq="month", tz=TZ)
    got = {name: client.reports(report, months, timezone=TZ) for name, report in [
        ("balance", "balance.summary.1"), ("activity", "balance_change_from_activity.summary.1"),
        ("itemized", "balance_change_from_activity.itemized.2"), ("payouts", "payouts.itemized.3"),
        ("reconciliation", "payout_reconciliation.itemized.5")]}
    return sandbox.ledger, months, got


def _major(minor: int, cur: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-PLACES[cur])


def test_close_rolls_forward_to_the_ledgers_balances(q1):
    ledger, months, f = q1
    table = finance.close(f["balance"], f["activity"])
    assert list(table["period"].unique()) == ["2025-01", "2025-02", "2025-03"]
    assert set(table["currency"]) == set(PLACES)
    for row in table.itertuples():
        start = int(row.interval_start.timestamp())
        end = int(row.interval_end.timestamp())
        assert row.starting_balance == _major(ledger.balance(row.currency, start), row.currency)
        assert row.ending_balance == _major(ledger.balance(row.currency, end), row.currency)
        assert row.check == 0 and row.activity_check == 0 and row.ok
        assert row.payouts < 0  # money left for the bank: negative on the balance's side
        assert row.charge > 0 and row.refund < 0
    assert table["charge"].dtype == "decimal" and table["check"].dtype == "decimal"
    assert str(table.loc[table["currency"] == "jpy", "charge"].iloc[0]).isdigit()  # whole yen
    runs = table.attrs["reportkit"]["parts"]
    assert [p["report"] for p in runs] == ["balance.summary.1", "balance_change_from_activity.summary.1"]
    # the January ending is February's starting balance
    usd = table[table["currency"] == "usd"]
    assert usd["ending_balance"].iloc[0] == usd["starting_balance"].iloc[1]
    alone = finance.close(f["balance"])  # without the activity report: no categories, no activity check
    assert alone["activity_check"].isna().all() and alone["check"].eq(0).all() and "charge" not in alone


def test_fees_agree_with_the_balance_summary_and_the_itemized_rows(q1):
    _, _, f = q1
    table = finance.fees(f["itemized"], f["balance"])
    assert len(table) == 9 and table["check"].eq(0).all()
    it = f["itemized"]
    for row in table.itertuples():
        mine = it[(it["currency"] == row.currency) & (it["interval_start"] == row.interval_start)]
        charges = mine[mine["reporting_category"] == "charge"]
        assert row.processing_fees == charges["fee"].sum() > 0
        fee_rows = mine[mine["reporting_category"] == "fee"]
        assert row.stripe_fees == -fee_rows["net"].sum()
        assert row.total_fees == mine["fee"].sum() - fee_rows["gross"].sum()
        assert row.rows == len(mine)
    assert (table["dispute_fees"] != 0).any()


def test_fees_by_hand_signs_and_categories():
    rows = [("charge", "100.00", "3.20"), ("charge", "50.00", "1.75"), ("refund", "-20.00", "0.00"),
            ("refund", "-525.19", "10.50"), ("dispute", "-50.00", "15.00"),
            ("dispute_reversal", "50.00", "-15.00"),
            ("fee", "-0.02", "0.00"), ("fee", "-1.00", "0.00"), ("transfer", "-10.00", "0.00"),
            ("other_adjustment", "1.00", "0.25")]
    df = pd.DataFrame({"currency": "usd", "reporting_category": [r[0] for r in rows],
                       "gross": pd.array([r[1] for r in rows], dtype="decimal"),
                       "fee": pd.array([r[2] for r in rows], dtype="decimal")})
    df["net"] = df["gross"] - df["fee"]
    df.attrs["reportkit"] = {"report": "balance_change_from_activity.itemized.3",
                             "interval_start": "2025-01-01T00:00:00+00:00",
                             "interval_end": "2025-02-01T00:00:00+00:00"}
    balance = pd.DataFrame({"category": ["activity_fee", "activity"], "currency": "usd",
                            "net_amount": pd.array(["-31.72", "0"], dtype="decimal")})
    balance.attrs["reportkit"] = dict(df.attrs["reportkit"], report="balance.summary.1")
    row = finance.fees(df, balance).iloc[0]
    assert row["period"] == "2025-01"
    assert (row["processing_fees"], row["refund_fees"], row["dispute_fees"]) == (
        Decimal("4.95"), Decimal("10.50"), Decimal("0.00"))
    assert (row["stripe_fees"], row["other_fees"], row["total_fees"]) == (
        Decimal("1.02"), Decimal("0.25"), Decimal("16.72"))
    assert row["balance_fees"] == Decimal("31.72") and row["check"] == Decimal("-15.00")  # a planted gap


def test_payouts_table_amounts_are_the_ledgers_and_settle_exactly(q1):
    ledger, months, f = q1
    table = finance.payouts_table(f["payouts"], f["reconciliation"])
    po = ledger.payouts.set_index("id")
    lo, hi = (int(months[0].start.timestamp()), int(months[-1].end.timestamp()))
    want = po[(po["created"] >= lo) & (po["created"] < hi)]
    assert set(table["payout_id"]) == set(want.index) and table["payout_id"].is_unique
    auto = 0
    for row in table.itertuples():
        ours = po.loc[row.payout_id]
        if ours["status"] == "failed":  # its reversal cancels it (when both fall in the quarter)
            assert row.amount in (0, _major(ours["amount"], row.currency)) and row.status == "failed"
        else:
            assert row.amount == _major(ours["amount"], row.currency) > 0  # positive: sent to the bank
        assert row.arrival_date.date() == pd.Timestamp(int(ours["arrival_date"]), unit="s").date()
        if ours["automatic"]:
            auto += 1
            assert row.check == 0 and row.net == row.amount and row.count > 0 and row.ok
            drill = finance.payout_transactions(f["reconciliation"], row.payout_id)
            assert len(drill) == row.count and drill["net"].sum() == row.amount
            assert drill["gross"].sum() == row.gross and drill["fee"].sum() == row.fee
        else:
            assert row.count == 0 and pd.isna(row.check)
    assert auto > 100 and table["arrival_date"].is_monotonic_increasing
    assert table["amount"].dtype == "decimal" and str(table["arrival_date"].dtype) == "datetime64[ns]"


def test_payouts_table_by_hand_failed_payout_and_manual_payout():
    df = pd.DataFrame({
        "payout_id": ["po_a", "po_a", "po_b"], "currency": "hkd",
        "net": pd.array(["45.95", "-45.95", "100.00"], dtype="decimal"),
        "reporting_category": ["payout", "payout_reversal", "payout"],
        "payout_expected_arrival_date": pd.to_datetime(["2024-03-20", None, "2024-03-22"]),
        "payout_status": ["failed", None, "paid"],
    })
    rec = pd.DataFrame({"automatic_payout_id": ["po_b", "po_b"], "currency": "hkd",
                        "gross": pd.array(["103.00", "1.00"], dtype="decimal"),
                        "fee": pd.array(["3.50", "0.50"], dtype="decimal"),
                        "net": pd.array(["99.50", "0.50"], dtype="decimal")})
    table = finance.payouts_table(df, rec).set_index("payout_id")
    assert table.loc["po_a", "amount"] == 0 and table.loc["po_a", "status"] == "failed"  # reversal cancels
    assert table.loc["po_a", "arrival_date"] == pd.Timestamp("2024-03-20") and table.loc["po_a", "count"] == 0
    assert table.loc["po_b", "amount"] == Decimal("100.00") and table.loc["po_b", "count"] == 2
    assert table.loc["po_b", "gross"] == Decimal("104.00") and table.loc["po_b", "check"] == 0
    with pytest.raises(ValueError, match="needs the columns payout_id"):
        finance.payouts_table(rec)


def test_the_tables_export_to_excel(q1, tmp_path):
    import openpyxl

    _, _, f = q1
    close = finance.close(f["balance"], f["activity"])
    path = rk.to_excel({"close": close, "payouts": finance.payouts_table(f["payouts"], f["reconciliation"])},
                       tmp_path / "close.xlsx")
    wb = openpyxl.load_workbook(path)
    header = [c.value for c in wb["close"][1]]
    col = header.index("ending_balance")
    got = [Decimal(repr(r[col].value)) if isinstance(r[col].value, float) else Decimal(r[col].value)
           for r in wb["close"].iter_rows(min_row=2)]
    assert got == list(close["ending_balance"])
    prov = {c for row in wb["provenance"].iter_rows(values_only=True) for c in row if c}
    for part in close.attrs["reportkit"]["parts"]:
        for run in part["parts"]:
            assert run["run_id"] in prov and run["sha256"] in prov
