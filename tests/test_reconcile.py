"""reconcile's rules on small hand-built frames (exact Decimals, tz-aware intervals), and the Checks frame.

The sandbox-backed tests (24 months, planted discrepancies) live in tests/test_reconcile_sandbox.py.
"""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from reportkit import reconcile
from reportkit._checks import format_amount
from reportkit.reconcile import COLUMNS, Checks

T = [pd.Timestamp(f"2025-{m:02d}-01", tz="Etc/UTC") for m in (1, 2, 3, 4)]


def balance_rows(start, end, currency, starting, activity, payouts, ending):
    return [{"interval_start": start, "interval_end": end, "category": c, "description": c,
             "net_amount": D(v), "currency": currency}
            for c, v in [("starting_balance", starting), ("activity", activity), ("payouts", payouts),
                         ("ending_balance", ending)]]


def balance_frame(*rows_lists):
    return pd.DataFrame([r for rows in rows_lists for r in rows])


def test_rollforward_and_continuity_pass_exactly():
    df = balance_frame(balance_rows(T[0], T[1], "usd", "100.00", "50.25", "-30.00", "120.25"),
                       balance_rows(T[1], T[2], "usd", "120.25", "0.10", "0.00", "120.35"),
                       balance_rows(T[0], T[1], "jpy", "0", "1500", "-1000", "500"))
    checks = reconcile.balance_rollforward(df)
    assert isinstance(checks, Checks)
    assert list(checks.columns) == COLUMNS
    assert checks["ok"].all()
    assert sorted(checks["check"].unique()) == ["balance.continuity", "balance.rollforward"]
    roll = checks[checks["check"] == "balance.rollforward"]
    assert len(roll) == 3 and set(roll["key"]) == {"ending_balance"}
    usd = roll[roll["currency"] == "usd"].iloc[0]
    assert usd["expected"] == D("120.25") and type(usd["expected"]) is D
    assert usd["difference"] == D("0.00") and usd["interval_start"] == T[0]
    cont = checks[checks["check"] == "balance.continuity"]
    # one pair of adjacent usd intervals; jpy has a single interval
    assert list(cont["currency"]) == ["usd"] and cont.iloc[0]["interval_start"] == T[1]


def test_rollforward_finds_the_broken_interval_and_the_broken_chain():
    df = balance_frame(balance_rows(T[0], T[1], "usd", "100.00", "50.25", "-30.00", "120.26"),
                       balance_rows(T[1], T[2], "usd", "120.25", "0.10", "0.00", "120.35"),
                       balance_rows(T[2], T[3], "usd", "120.35", "1.00", "0.00", "121.35"))
    failed = reconcile.balance_rollforward(df).failures()
    assert [(r.check, r.interval_start, r.difference) for r in failed.itertuples()] == [
        ("balance.continuity", T[1], D("-0.01")),
        ("balance.rollforward", T[0], D("0.01")),
    ]


def real_summary(start, end, rows):
    """A balance.summary.1 of Stripe's 8 rows (FINDINGS.md §4): (category, amount, currency) triples."""
    return pd.DataFrame([{"interval_start": start, "interval_end": end, "category": c, "description": c,
                          "net_amount": D(v), "currency": cur} for c, v, cur in rows])


# the real file wongivan__cgge_Balance_Summary_HKD_2025-11-01_to_2025-11-29_UTC.csv (W-A)
W_A = [("starting_balance", "367.38", "hkd"), ("activity_gross", "14674.41", "hkd"),
       ("activity_fee", "-799.46", "hkd"), ("activity", "13874.95", "hkd"),
       ("payouts_gross", "-8356.57", "hkd"), ("payouts_fee", "0.00", "hkd"),
       ("payouts", "-8356.57", "hkd"), ("ending_balance", "5885.76", "hkd")]
# ...and W-C, a brand-new account's first month: empty currencies on the zero rows
W_C = [("starting_balance", "0.00", None), ("activity_gross", "50.00", "hkd"),
       ("activity_fee", "-4.05", "hkd"), ("activity", "45.95", "hkd"), ("payouts_gross", "0.00", None),
       ("payouts_fee", "0.00", None), ("payouts", "0.00", None), ("ending_balance", "45.95", "hkd")]


def test_the_sub_rows_of_a_real_summary_are_identities():
    checks = reconcile.balance_rollforward(real_summary(T[0], T[1], W_A))
    assert checks["ok"].all()
    assert sorted(zip(checks["check"], checks["key"], checks["actual"], strict=True)) == [
        ("balance.activity_parts", "activity", D("13874.95")),
        ("balance.payouts_parts", "payouts", D("-8356.57")),
        ("balance.rollforward", "ending_balance", D("5885.76"))]
    broken = [(c, "-799.47" if c == "activity_fee" else v, cur) for c, v, cur in W_A]
    failed = reconcile.balance_rollforward(real_summary(T[0], T[1], broken)).failures()
    assert list(failed["check"]) == ["balance.activity_parts"] and list(failed["difference"]) == [D("0.01")]
    # a summary of only the four documented rows has no sub-row identities to check
    four = [r for r in W_A if r[0] in ("starting_balance", "activity", "payouts", "ending_balance")]
    only = reconcile.balance_rollforward(real_summary(T[0], T[1], four))
    assert set(only["check"]) == {"balance.rollforward"}


def test_empty_currency_zero_rows_make_no_check_row():
    checks = reconcile.balance_rollforward(real_summary(T[0], T[1], W_C))
    assert checks["ok"].all() and set(checks["currency"]) == {"hkd"}  # nothing for an empty currency
    assert sorted(checks["check"]) == ["balance.activity_parts", "balance.rollforward"]
    # an empty currency with money on it is not zero: it stays, and shows up
    odd = [*W_C[:-1], ("ending_balance", "45.95", None)]
    assert reconcile.balance_rollforward(real_summary(T[0], T[1], odd))["currency"].isna().any()


def test_the_balance_payouts_row_is_minus_the_payouts_summary():
    bal = real_summary(T[0], T[1], W_A)
    paid = summary_frame([summary_row(T[0], T[1], "payout", "hkd", 10, "8356.57", "0.00", "8356.57")])
    checks = reconcile.balance_vs_summary(bal, paid, row="payouts")
    assert checks["ok"].all() and list(checks["actual"]) == [D("-8356.57")]


def test_rollforward_tolerance():
    df = balance_frame(balance_rows(T[0], T[1], "usd", "1.00", "1.00", "0.00", "2.01"))
    assert not reconcile.balance_rollforward(df)["ok"].all()
    assert reconcile.balance_rollforward(df, tolerance=D("0.01"))["ok"].all()


def summary_row(start, end, cat, cur, count, gross, fee, net):
    return {"interval_start": start, "interval_end": end, "reporting_category": cat, "currency": cur,
            "count": count, "gross": D(gross), "fee": D(fee), "net": D(net)}


def item(start, end, n, cat, cur, gross, fee, **extra):
    return {"interval_start": start, "interval_end": end, "balance_transaction_id": f"txn_{n}",
            "currency": cur, "reporting_category": cat, "gross": D(gross), "fee": D(fee),
            "net": D(gross) - D(fee), **extra}


def summary_frame(rows):
    df = pd.DataFrame(rows)
    df["count"] = df["count"].astype("Int64")
    return df


ITEMS = [item(T[0], T[1], 1, "charge", "usd", "10.00", "0.59"),
         item(T[0], T[1], 2, "charge", "usd", "20.00", "0.88"),
         item(T[0], T[1], 3, "refund", "usd", "-5.00", "0.00"),
         item(T[1], T[2], 4, "charge", "eur", "7.00", "0.40")]
SUMMARY = [summary_row(T[0], T[1], "charge", "usd", 2, "30.00", "1.47", "28.53"),
           summary_row(T[0], T[1], "refund", "usd", 1, "-5.00", "0.00", "-5.00"),
           summary_row(T[1], T[2], "charge", "eur", 1, "7.00", "0.40", "6.60")]


def test_summary_vs_itemized_pass():
    checks = reconcile.summary_vs_itemized(summary_frame(SUMMARY), pd.DataFrame(ITEMS))
    assert checks["ok"].all() and len(checks) == 3 * 4
    assert set(checks["check"]) == {"activity.summary_vs_itemized"}
    row = checks[(checks["key"] == "charge.net") & (checks["currency"] == "usd")].iloc[0]
    assert row["expected"] == row["actual"] == D("28.53")
    count = checks[checks["key"] == "charge.count"]
    assert list(count["actual"]) == [D(1), D(2)]  # eur then usd


def test_summary_vs_itemized_dropped_and_duplicated_rows():
    dropped = pd.DataFrame(ITEMS[1:])
    failed = reconcile.summary_vs_itemized(summary_frame(SUMMARY), dropped, name="payouts").failures()
    assert set(failed["check"]) == {"payouts.summary_vs_itemized"}
    assert set(failed["key"]) == {"charge.count", "charge.gross", "charge.fee", "charge.net"}
    assert set(failed["currency"]) == {"usd"} and set(failed["interval_start"]) == {T[0]}
    assert failed.set_index("key").loc["charge.net", "difference"] == D("-9.41")
    duplicated = pd.DataFrame([*ITEMS, ITEMS[3]])
    failed = reconcile.summary_vs_itemized(summary_frame(SUMMARY), duplicated).failures()
    assert set(failed["currency"]) == {"eur"} and set(failed["interval_start"]) == {T[1]}


def test_summary_vs_itemized_category_on_one_side_only():
    extra = pd.DataFrame([*ITEMS, item(T[0], T[1], 9, "dispute", "usd", "-15.00", "15.00")])
    failed = reconcile.summary_vs_itemized(summary_frame(SUMMARY), extra).failures()
    assert set(failed["key"]) == {"dispute.count", "dispute.gross", "dispute.fee", "dispute.net"}
    assert set(failed["expected"]) == {D(0)}


def test_parts_vs_whole_summary():
    whole = summary_frame([summary_row(T[0], T[2], "charge", "usd", 2, "30.00", "1.47", "28.53"),
                           summary_row(T[0], T[2], "refund", "usd", 1, "-5.00", "0.00", "-5.00"),
                           summary_row(T[0], T[2], "charge", "eur", 1, "7.00", "0.40", "6.60")])
    checks = reconcile.parts_vs_whole(summary_frame(SUMMARY), whole)
    assert checks["ok"].all() and len(checks) == 12
    assert set(checks["interval_start"]) == {T[0]} and set(checks["interval_end"]) == {T[2]}
    whole.loc[2, "net"] = D("6.61")
    failed = reconcile.parts_vs_whole(summary_frame(SUMMARY), whole).failures()
    assert list(failed["key"]) == ["charge.net"] and list(failed["difference"]) == [D("-0.01")]


def test_parts_vs_whole_balance_uses_first_start_and_last_end():
    parts = balance_frame(balance_rows(T[1], T[2], "usd", "120.25", "0.10", "0.00", "120.35"),
                          balance_rows(T[0], T[1], "usd", "100.00", "50.25", "-30.00", "120.25"))
    whole = pd.DataFrame(balance_rows(T[0], T[2], "usd", "100.00", "50.35", "-30.00", "120.35"))
    whole = whole.drop(columns=["interval_start", "interval_end"])
    whole.attrs["reportkit"] = {"interval_start": T[0].isoformat(), "interval_end": T[2].isoformat()}
    checks = reconcile.parts_vs_whole(parts, whole, name="balance")
    assert checks["ok"].all()
    assert dict(zip(checks["key"], checks["actual"], strict=True)) == {
        "activity": D("50.35"), "ending_balance": D("120.35"), "payouts": D("-30.00"),
        "starting_balance": D("100.00")}
    assert set(checks["interval_end"]) == {T[2]}


# payouts.itemized as Stripe writes it: a payout to the bank is positive, its reversal negative
# (tests/fixtures/stripe_files/FINDINGS.md §6)
PAYOUTS = [item(T[0], T[1], 10, "payout", "usd", "23.53", "0.00", payout_id="po_1"),
           item(T[0], T[1], 11, "payout_reversal", "usd", "-23.53", "0.00", payout_id="po_1"),
           item(T[0], T[1], 12, "payout", "usd", "100.00", "0.00", payout_id="po_manual"),
           item(T[1], T[2], 13, "payout", "eur", "6.60", "0.00", payout_id="po_2")]
RECON = [{**r, "automatic_payout_id": po} for r, po in
         [(ITEMS[0], "po_1"), (ITEMS[1], "po_1"), (ITEMS[2], "po_1"), (ITEMS[3], "po_2")]]


def test_payouts_settled_exactly():
    checks = reconcile.payouts(pd.DataFrame(PAYOUTS), pd.DataFrame(RECON))
    assert checks["ok"].all()
    assert list(zip(checks["key"], checks["expected"], strict=True)) == [("po_2", D("6.60")),
                                                                         ("po_1", D("23.53"))]
    assert set(checks["check"]) == {"payout.settled"}  # the manual payout settles nothing: not held


def test_payouts_missing_payout_and_altered_rows():
    no_po2 = pd.DataFrame([p for p in PAYOUTS if p["payout_id"] != "po_2"])
    failed = reconcile.payouts(no_po2, pd.DataFrame(RECON)).failures()
    assert [(r.check, r.key, r.currency, r.expected, r.actual) for r in failed.itertuples()] == [
        ("payout.unmatched_rows", "po_2", "eur", D(0), D("6.60"))]
    altered = pd.DataFrame(RECON)
    altered.loc[0, "net"] = D("9.42")
    failed = reconcile.payouts(pd.DataFrame(PAYOUTS), altered).failures()
    assert list(failed["key"]) == ["po_1"] and list(failed["difference"]) == [D("0.01")]


def test_payout_rows_in_another_interval_are_unmatched():
    moved = pd.DataFrame(RECON)
    moved.loc[3, ["interval_start", "interval_end"]] = [T[2], T[3]]
    failed = reconcile.payouts(pd.DataFrame(PAYOUTS), moved).failures()
    assert sorted(zip(failed["check"], failed["interval_start"], strict=True)) == [
        ("payout.unmatched_payout", T[1]), ("payout.unmatched_rows", T[2])]


def test_checks_frame_summary_html_and_subclassing():
    ok = reconcile.summary_vs_itemized(summary_frame(SUMMARY), pd.DataFrame(ITEMS))
    assert ok.summary() == "PASS: all 12 checks agree (activity.summary_vs_itemized)"
    bad = Checks.concat([ok, reconcile.summary_vs_itemized(summary_frame(SUMMARY),
                                                           pd.DataFrame(ITEMS[1:]), name="payouts")])
    assert bad.summary() == ("FAIL: 4 of 24 checks failed: payouts.summary_vs_itemized ×4 "
                             "(usd 2025-01-01 +3)")
    assert isinstance(bad[bad["currency"] == "usd"], Checks)
    assert isinstance(bad.sort_values("key"), Checks)
    page = bad._repr_html_()
    tally, rows = page.split("<th>check</th>")
    assert tally.index("FAIL: 4 of 24") < tally.index("passed / run")
    # the tally: EUR passed 4/4 in both checks, USD 8/8 in activity and 4/8 (red) in payouts
    assert tally.count(">4/4<") == 2 and tally.count(">8/8<") == 1 and tally.count(">4/8<") == 1
    assert tally.count("#fde2e1") == 1
    assert rows.index("✗ FAIL") < rows.index("✓")  # failures first
    assert rows.count("✗ FAIL") == 4 and rows.count("#fde2e1") == 4
    assert "-9.41" in rows and "2025-01-01 → 2025-02-01" in rows
    assert rows.split("<tbody>")[1].count("<tr") == 10 and "14 more passing rows not shown" in rows
    with pd.option_context("display.max_rows", 3):
        rows = bad._repr_html_().split("<th>check</th>")[1]
    assert rows.split("<tbody>")[1].count("<tr") == 3 and "1 more failed rows not shown" in rows
    plain = bad[["check", "ok"]]
    assert "<table" in plain._repr_html_()  # not a full checks frame: plain pandas repr


def test_checks_from_no_rows_is_typed_and_empty():
    empty = Checks.from_rows([])
    assert list(empty.columns) == COLUMNS and len(empty) == 0
    assert isinstance(empty["interval_start"].dtype, pd.DatetimeTZDtype)
    assert empty.summary() == "PASS: all 0 checks agree ()"


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo"])
def test_checks_keep_the_run_timezone(tz):
    start, end = pd.Timestamp("2025-03-01", tz=tz), pd.Timestamp("2025-04-01", tz=tz)
    df = balance_frame(balance_rows(start, end, "usd", "1", "1", "0", "2"))
    checks = reconcile.balance_rollforward(df)
    assert str(checks["interval_start"].dt.tz) == tz and checks.iloc[0]["interval_end"] == end


def test_whole_run_interval_from_provenance_takes_the_parts_timezone():
    tz = "America/New_York"
    t = [pd.Timestamp(f"2025-{m:02d}-01", tz=tz) for m in (2, 3, 4)]  # DST starts in March
    parts = balance_frame(balance_rows(t[0], t[1], "usd", "1", "1", "0", "2"),
                          balance_rows(t[1], t[2], "usd", "2", "1", "0", "3"))
    whole = pd.DataFrame(balance_rows(t[0], t[2], "usd", "1", "2", "0", "3")).drop(
        columns=["interval_start", "interval_end"])
    whole.attrs["reportkit"] = {"interval_start": t[0].isoformat(), "interval_end": t[2].isoformat()}
    checks = Checks.concat([reconcile.balance_rollforward(parts),
                            reconcile.parts_vs_whole(parts, whole, name="balance")])
    assert checks["ok"].all() and str(checks["interval_start"].dt.tz) == tz
    pvw = checks[checks["check"] == "balance.parts_vs_whole"]
    assert set(pvw["interval_start"]) == {t[0]} and set(pvw["interval_end"]) == {t[2]}


def test_checks_survive_a_parquet_round_trip(tmp_path):
    checks = Checks.concat([reconcile.summary_vs_itemized(summary_frame(SUMMARY), pd.DataFrame(ITEMS[1:])),
                            reconcile.payouts(pd.DataFrame(PAYOUTS), pd.DataFrame(RECON))])
    checks.to_parquet(tmp_path / "checks.parquet")
    back = Checks(pd.read_parquet(tmp_path / "checks.parquet"))
    assert back.summary() == checks.summary() and back.equals(checks)
    assert all(type(v) is D for v in back["difference"])


def test_floats_and_negative_tolerances_are_refused():
    floats = pd.DataFrame(ITEMS).assign(net=lambda d: [float(v) for v in d["net"]])
    with pytest.raises(TypeError, match="'net' holds floats"):
        reconcile.summary_vs_itemized(summary_frame(SUMMARY), floats)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        reconcile.payouts(pd.DataFrame(PAYOUTS), pd.DataFrame(RECON), tolerance=-1)
    loose = reconcile.summary_vs_itemized(summary_frame(SUMMARY), pd.DataFrame(ITEMS), tolerance=0.01)
    assert loose["ok"].all()


@pytest.mark.parametrize(("value", "currency", "key", "text"), [
    (D("7.00"), "jpy", "charge.gross", "7"), (D("1500.00"), "jpy", "ending_balance", "1,500"),
    (D("7"), "usd", "charge.net", "7.00"), (D("3.00"), "usd", "charge.count", "3"),
    (D("0.005"), "usd", "fee.net", "0.005"), (D("-1234.5"), "eur", "po_1", "-1,234.50"),
    (None, "usd", "x", ""),
])
def test_format_amount_uses_the_currency_decimals(value, currency, key, text):
    assert format_amount(value, currency, key) == text


def test_format_amount_sign():
    assert format_amount(D("7.00"), "jpy", "charge.gross", sign=True) == "+7"
