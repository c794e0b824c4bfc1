"""Sandbox report CSVs: columns and their order, filters, timezones, money text, determinism, errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest

from reportkit import catalog
from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.reports import SUPPORTED, ReportParameterError, check, render

END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MAR = int(dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp())
APR = int(dt.datetime(2025, 4, 1, tzinfo=dt.UTC).timestamp())


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(7, start="2024-01-01", end=END)


def params(**kw: object) -> RunParams:
    return RunParams(interval_start=MAR, interval_end=APR).with_(**kw)


def parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    text = data.decode("utf-8")
    assert "\r" not in text and not text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    rows = [dict(zip(header, r, strict=True)) for r in reader]
    return header, rows


def a_payout(ledger: Ledger, currency: str = "usd") -> str:
    po = ledger.payouts
    auto = po[po["automatic"] & (po["currency"] == currency) & (po["created"] >= MAR)]
    return str(auto["id"].iloc[0])


def all_columns(report_type: str) -> list[str]:
    return [c.name.replace("[key]", "[order_id]") for c in catalog.report_spec(report_type).columns]


def test_supported_covers_the_five_families() -> None:
    bases = {r.rsplit(".", 1)[0] for r in SUPPORTED}
    assert bases == {
        "balance.summary",
        "balance_change_from_activity.summary",
        "balance_change_from_activity.itemized",
        "payouts.summary",
        "payouts.itemized",
        "payout_reconciliation.summary",
        "payout_reconciliation.itemized",
        "payout_reconciliation.by_id.itemized",
        "payout_reconciliation.by_id.summary",
        "ending_balance_reconciliation.summary",
        "ending_balance_reconciliation.itemized",
    }
    assert len(SUPPORTED) == 25


@pytest.mark.parametrize("report_type", sorted(SUPPORTED))
def test_default_and_explicit_columns(ledger: Ledger, report_type: str) -> None:
    spec = catalog.report_spec(report_type)
    p = params(payout=a_payout(ledger))
    header, rows = parse(render(ledger, report_type, p))
    assert header == list(spec.default_columns)
    assert rows, report_type
    wanted = all_columns(report_type)[::-1]
    header, rows = parse(render(ledger, report_type, p.with_(columns=wanted)))
    assert header == wanted and rows
    for col in wanted:  # every modelled column has a value somewhere, or is one reportkit leaves empty
        kind = spec.kind(col)
        values = [r[col] for r in rows if r[col]]
        if kind == "money":
            assert all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in values), col
        elif kind in ("timestamp_utc", "timestamp_local"):
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", v) for v in values), col
        elif kind == "date":  # written with a midnight time, as in real files (FINDINGS.md §3)
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d 00:00:00", v) for v in values), col
        elif kind == "bool":
            assert set(values) <= {"true", "false"}, col
        elif kind == "count":
            assert all(v.isdigit() for v in values), col


def test_columns_are_filled_where_modelled(ledger: Ledger) -> None:
    rt = "payout_reconciliation.itemized.5"
    _, rows = parse(render(ledger, rt, params(columns=all_columns(rt))))
    empty = {c for c in all_columns(rt) if not any(r[c] for r in rows)}
    assert empty == {
        "connected_account_direct_charge_id",
        "order_id",
        "regulatory_tag",
        "trace_id",
        "trace_id_status",
        "refund_metadata[order_id]",  # metadata keys nobody set
        "transfer_metadata[order_id]",
    }
    charge = next(r for r in rows if r["reporting_category"] == "charge" and r["customer_id"])
    assert charge["charge_id"].startswith("ch_") and charge["payment_intent_id"].startswith("pi_")
    assert charge["customer_id"].startswith("cus_") and "@" in charge["customer_email"]
    assert charge["customer_facing_amount"] == charge["gross"] and charge["customer_facing_currency"]


def test_metadata_columns(ledger: Ledger) -> None:
    cols = [
        "balance_transaction_id",
        "reporting_category",
        "description",
        "payment_metadata[order_id]",
        "payment_metadata[nope]",
        "refund_metadata[reason]",
        "transfer_metadata[partner_ref]",
    ]
    _, rows = parse(render(ledger, "balance_change_from_activity.itemized.3", params(columns=cols)))
    charges = [r for r in rows if r["reporting_category"] == "charge"]
    assert all(re.fullmatch(r"ORD-\d{7}", r["payment_metadata[order_id]"]) for r in charges)
    orders = [r for r in charges if r["description"].startswith("Order ")]
    assert orders and all(r["description"] == "Order " + r["payment_metadata[order_id]"] for r in orders)
    assert all(r["payment_metadata[nope]"] == "" for r in rows)
    refunds = [r for r in rows if r["reporting_category"] == "refund"]
    assert refunds and all(r["payment_metadata[order_id]"] and r["refund_metadata[reason]"] for r in refunds)
    transfers = [r for r in rows if r["reporting_category"] == "transfer"]
    assert transfers and all(r["transfer_metadata[partner_ref]"].startswith("PR-") for r in transfers)
    assert all(r["refund_metadata[reason]"] == "" for r in charges)


def test_currency_and_category_filters(ledger: Ledger) -> None:
    rt = "balance_change_from_activity.itemized.1"
    _, all_rows = parse(render(ledger, rt, params()))
    _, eur = parse(render(ledger, rt, params(currency="eur")))
    assert eur and {r["currency"] for r in eur} == {"eur"}
    assert [r for r in all_rows if r["currency"] == "eur"] == eur
    _, refunds = parse(render(ledger, rt, params(reporting_category="refund")))
    assert refunds and {r["reporting_category"] for r in refunds} == {"refund"}
    _, none = parse(render(ledger, rt, params(currency="gbp")))
    assert none == []
    _, summary = parse(render(ledger, "balance_change_from_activity.summary.1", params(currency="jpy")))
    assert {r["currency"] for r in summary} == {"jpy"}
    _, bal = parse(render(ledger, "balance.summary.1", params(currency="usd")))
    assert [r["category"] for r in bal] == [
        "starting_balance",
        "activity_gross",
        "activity_fee",
        "activity",
        "payouts_gross",
        "payouts_fee",
        "payouts",
        "ending_balance",
    ]


def test_payout_parameter(ledger: Ledger) -> None:
    po = a_payout(ledger, "eur")
    _, rows = parse(render(ledger, "payout_reconciliation.by_id.itemized.4", params(payout=po)))
    assert (
        rows and {r["automatic_payout_id"] for r in rows} == {po} and {r["currency"] for r in rows} == {"eur"}
    )
    with pytest.raises(ReportParameterError) as missing:
        render(ledger, "payout_reconciliation.by_id.summary.1", params(payout="po_doesnotexist"))
    assert missing.value.http_status == 404 and missing.value.param == "payout"
    manual = str(ledger.payouts.loc[~ledger.payouts["automatic"], "id"].iloc[0])
    with pytest.raises(ReportParameterError) as man:
        check(ledger, "payout_reconciliation.by_id.itemized.1", params(payout=manual))
    assert man.value.http_status == 400 and "manual" in man.value.message
    with pytest.raises(ReportParameterError) as col:
        render(ledger, "payouts.itemized.1", params(columns=["net", "no_such_column"]))
    assert col.value.param == "columns"


def test_timezone_changes_local_columns_not_rows(ledger: Ledger) -> None:
    rt = "balance_change_from_activity.itemized.3"
    _, utc = parse(render(ledger, rt, params()))
    _, tokyo = parse(render(ledger, rt, params(timezone="Asia/Tokyo")))
    assert [r["balance_transaction_id"] for r in utc] == [r["balance_transaction_id"] for r in tokyo]
    fmt = "%Y-%m-%d %H:%M:%S"
    for u, t in zip(utc, tokyo, strict=True):
        assert u["created_utc"] == t["created_utc"] == u["created"]
        shift = dt.datetime.strptime(t["created"], fmt) - dt.datetime.strptime(t["created_utc"], fmt)
        assert shift == dt.timedelta(hours=9)
    # a UTC-only version keeps UTC in its unsuffixed column whatever the timezone
    _, old = parse(render(ledger, "payout_reconciliation.itemized.1", params(timezone="Asia/Tokyo")))
    assert all(r["automatic_payout_effective_at"].endswith("00:00:00") for r in old)
    _, bal = parse(render(ledger, "balance.summary.1", params(timezone="America/New_York")))
    _, bal_utc = parse(render(ledger, "balance.summary.1", params()))
    assert [r["net_amount"] for r in bal] == [r["net_amount"] for r in bal_utc]


def test_money_text_by_currency_exponent(ledger: Ledger) -> None:
    _, rows = parse(render(ledger, "balance_change_from_activity.itemized.1", params()))
    for r in rows:
        pattern = r"-?\d+" if r["currency"] == "jpy" else r"-?\d+\.\d\d"
        for col in ("gross", "fee", "net"):
            assert re.fullmatch(pattern, r[col]), (r["currency"], col, r[col])
        assert Decimal(r["gross"]) - Decimal(r["fee"]) == Decimal(r["net"])
    tx = ledger.transactions.set_index("id")
    jpy = next(r for r in rows if r["currency"] == "jpy")
    assert Decimal(jpy["gross"]) == int(tx.loc[jpy["balance_transaction_id"], "amount"])
    usd = next(r for r in rows if r["currency"] == "usd")
    assert Decimal(usd["gross"]) * 100 == int(tx.loc[usd["balance_transaction_id"], "amount"])


def test_empty_interval_is_header_only(ledger: Ledger) -> None:
    early = params(interval_start=MAR - 10**8, interval_end=MAR - 10**8 + 3600)
    for rt in (
        "balance_change_from_activity.itemized.3",
        "payouts.summary.1",
        "balance.summary.1",
        "payout_reconciliation.itemized.5",
    ):
        out = render(ledger, rt, early)
        assert out == (",".join(catalog.report_spec(rt).default_columns) + "\n").encode()
    out = render(
        ledger,
        "ending_balance_reconciliation.itemized.4",
        params(interval_start=None, interval_end=ledger.start_ts),
    )
    assert out.count(b"\n") == 1


def test_determinism(ledger: Ledger) -> None:
    rt = "payout_reconciliation.itemized.5"
    p = params(columns=all_columns(rt), timezone="Europe/Berlin")
    first = render(ledger, rt, p)
    assert render(Ledger(7, start="2024-01-01", end=END), rt, p) == first
    assert render(Ledger(9, start="2024-01-01", end=END), rt, p) != first


def test_quoting_and_decimal_separator(ledger: Ledger) -> None:
    rt = "balance_change_from_activity.itemized.1"
    jan = params(interval_start=MAR - 59 * 86400, interval_end=MAR, reporting_category="fee")
    raw = render(ledger, rt, jan)
    assert b'"Radar, Billing usage fees (2025-01)"' in raw
    _, rows = parse(raw)
    assert {r["description"] for r in rows} >= {"Radar, Billing usage fees (2025-01)"}
    _, comma = parse(render(ledger, rt, jan.with_(decimal_separator=",")))
    assert [r["net"].replace(",", ".") for r in comma] == [r["net"] for r in rows]


def test_tiny_ledger_without_payouts_renders_every_type() -> None:
    tiny = Ledger(1, start="2025-01-01", end=dt.datetime(2025, 1, 3, tzinfo=dt.UTC), scale=0.05)
    assert len(tiny.payouts) == 0 and len(tiny.transactions) > 0
    p = params(interval_start=tiny.start_ts, interval_end=tiny.end_ts, timezone="Asia/Tokyo")
    for rt in sorted(SUPPORTED - {r for r in SUPPORTED if ".by_id." in r}):
        header, rows = parse(render(tiny, rt, p.with_(columns=all_columns(rt))))
        assert header == all_columns(rt)
        assert all(r["automatic_payout_id"] == "" for r in rows if "automatic_payout_id" in r)
    _, bal = parse(render(tiny, "balance.summary.1", p.with_(currency="usd")))
    # no payout underlies the payouts rows: zero, with an empty currency, as in real files
    assert [(r["net_amount"], r["currency"]) for r in bal if r["category"].startswith("payouts")] == [
        ("0.00", "")
    ] * 3
