"""Behaviours the sandbox copies from a public source, each pinned here and cited in docs/fidelity.md:
report type names, v2 nanosecond times, a data window that need not end at midnight, and the shape of
real Stripe report files (tests/fixtures/stripe_files/FINDINGS.md)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sbhttp import V1, V2

from reportkit import frames
from reportkit.sandbox.ledger import Ledger
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.reports import SUMMARY_ROWS, render
from reportkit.sandbox.v1 import TYPE_NAMES, type_name
from reportkit.sandbox.wire import parse_rfc3339, rfc3339

FIXTURES = "tests/fixtures/stripe_files"


def test_report_type_names(sandbox):
    """ "Balance summary" is Stripe's own (openapi fixtures3.json); the rest are the docs headings."""
    t = V1(sandbox).get("/v1/reporting/report_types/balance.summary.1").json()
    assert t["name"] == "Balance summary"
    assert type_name("payouts.itemized.3") == type_name("payouts.itemized.1") == "Itemized payouts"
    assert type_name("payout_reconciliation.summary.1") == "Payouts reconciliation summary"  # sic, the docs
    listed = V1(sandbox, sandbox.live_api_key).get("/v1/reporting/report_types").json()["data"]
    assert {t["name"] for t in listed} == set(TYPE_NAMES.values())


def test_v2_download_expiry_has_nanoseconds_and_reads_back(sandbox):
    run = V2(sandbox).wait(V2(sandbox).create()["id"])
    expires = run["result"]["file"]["download_url"]["expires_at"]
    assert len(expires.rsplit(".", 1)[1]) == 10 and expires.endswith("Z")  # 9 digits and Z
    assert abs(parse_rfc3339(expires) - (sandbox.backend.wall() + sandbox.config.download_url_ttl)) < 5
    assert rfc3339(1756245210.446396574, digits=9).startswith("2025-08-26T21:53:30.446396")
    from reportkit.objects import parse_time  # the client reads Stripe's 9-digit form

    assert parse_time("2025-08-26T21:53:30.446396574Z") == datetime(2025, 8, 26, 21, 53, 30, 446396, UTC)


def test_a_data_window_that_ends_on_the_hour(sandbox_factory):
    now = datetime(2025, 8, 26, 21, 53, tzinfo=UTC)
    sb = sandbox_factory(now=now, data_lag=timedelta(hours=7), data_end_step=timedelta(hours=1))
    end = int(datetime(2025, 8, 26, 14, tzinfo=UTC).timestamp())  # Stripe's v2 example: max 14:00
    assert sb.data_available[1] == end
    rep = V2(sb).get(f"/v2/reporting/reports/{sb.backend.report_ids.id('balance.summary', False)}").json()
    assert rep["parameters"]["interval_end"]["timestamp_details"]["max"] == "2025-08-26T14:00:00.000Z"
    day = int(datetime(2025, 8, 26, tzinfo=UTC).timestamp())
    run = V1(sb).wait(V1(sb).create(interval_start=day, interval_end=end)["id"])
    assert run["status"] == "succeeded"
    late = V1(sb).create_raw(interval_start=day, interval_end=end + 3600).json()["error"]
    assert late["message"].endswith(
        "only available through 2025-08-26 14:00:00 UTC; you requested "
        "`interval_end` = 2025-08-26 15:00:00 UTC."
    )
    with pytest.raises(ValueError):
        sandbox_factory(data_end_step=0.5)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(7, start="2024-01-01", end=datetime(2025, 6, 14, tzinfo=UTC), scale=0.2)


def summary(ledger: Ledger, **params: object) -> list[dict[str, str]]:
    return list(
        csv.DictReader(io.StringIO(render(ledger, "balance.summary.1", RunParams(**params)).decode()))
    )


def test_balance_summary_rows_are_those_of_real_files(ledger):
    real = f"{FIXTURES}/balance_summary/wongivan__cgge_Balance_Summary_HKD_2025-11-01_to_2025-11-29_UTC.csv"
    with open(real, encoding="utf-8") as f:
        stripe_rows = list(csv.DictReader(f))
    jan, feb = (
        int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2025, 2, 1, tzinfo=UTC).timestamp()),
    )
    ours = summary(ledger, interval_start=jan, interval_end=feb, currency="usd")
    assert [(r["category"], r["description"]) for r in ours][1:-1] == [
        (r["category"], r["description"]) for r in stripe_rows
    ][1:-1]
    assert [c for c, _ in SUMMARY_ROWS] == [r["category"] for r in stripe_rows]
    # labels carry dates: the first day, and the last day of the half-open interval
    assert ours[0]["description"] == "Starting balance (2025-01-01)"
    assert ours[-1]["description"] == "Ending balance (2025-01-31)"
    # a date, never a time, even off midnight and in another timezone
    hk = summary(
        ledger, interval_start=jan + 5 * 3600, interval_end=feb, currency="usd", timezone="Asia/Hong_Kong"
    )
    assert (hk[0]["description"], hk[-1]["description"]) == (
        "Starting balance (2025-01-01)",
        "Ending balance (2025-02-01)",
    )


def test_empty_currency_where_no_transaction_underlies_the_row(ledger):
    first = summary(
        ledger, interval_start=ledger.start_ts, interval_end=ledger.start_ts + 86400, currency="usd"
    )
    by = {r["category"]: (r["net_amount"], r["currency"]) for r in first}
    assert by["starting_balance"] == ("0.00", "")  # a brand-new account (W-C)
    assert by["payouts"] == by["payouts_gross"] == by["payouts_fee"] == ("0.00", "")  # no payouts yet
    assert by["activity"][1] == "usd" and by["ending_balance"][1] == "usd"
    df = frames.parse(
        render(
            ledger,
            "balance.summary.1",
            RunParams(interval_start=ledger.start_ts, interval_end=ledger.start_ts + 86400),
        ),
        report="balance.summary.1",
    )
    assert df["currency"].isna().sum() == 2 * 4  # the client reads the empty cells as missing


def test_payouts_are_positive_in_the_payouts_report_negative_in_the_summary(sandbox):
    s, e = (
        int(datetime(2025, 3, 1, tzinfo=UTC).timestamp()),
        int(datetime(2025, 4, 1, tzinfo=UTC).timestamp()),
    )
    p = RunParams(interval_start=s, interval_end=e, currency="usd")
    items = list(csv.DictReader(io.StringIO(render(sandbox.ledger, "payouts.itemized.3", p).decode())))
    paid = [r for r in items if r["reporting_category"] == "payout"]
    assert paid and all(not r["gross"].startswith("-") and r["gross"] != "0.00" for r in paid)
    bal = {
        r["category"]: r["net_amount"]
        for r in summary(sandbox.ledger, interval_start=s, interval_end=e, currency="usd")
    }
    total = sum(int(r["net"].replace(".", "")) for r in items)
    assert int(bal["payouts"].replace(".", "")) == -total < 0


def test_failed_payout_rows_as_real_files_write_them(sandbox):
    led = sandbox.ledger
    failed = led.payouts[led.payouts["status"] == "failed"].iloc[0]
    p = RunParams(
        interval_start=int(failed["created"]),
        interval_end=led.end_ts,
        currency=str(failed["currency"]),
        columns=(
            "payout_id",
            "gross",
            "net",
            "reporting_category",
            "payout_expected_arrival_date",
            "payout_status",
        ),
    )
    rows = [
        r
        for r in csv.DictReader(io.StringIO(render(led, "payouts.itemized.3", p).decode()))
        if r["payout_id"] == failed["id"]
    ]
    payout, reversal = rows  # FINDINGS.md §6: two rows, the reversal with null arrival date and status
    assert payout["reporting_category"] == "payout" and payout["payout_status"] == "failed"
    assert payout["payout_expected_arrival_date"].endswith(" 00:00:00")  # a date with a midnight time
    assert (
        reversal["reporting_category"],
        reversal["payout_expected_arrival_date"],
        reversal["payout_status"],
    ) == ("payout_reversal", "", "")
    assert payout["net"] == reversal["net"].removeprefix("-") and reversal["net"].startswith("-")


def test_the_client_reads_the_midnight_dates(sandbox):
    cols = ["payout_id", "net", "reporting_category", "payout_expected_arrival_date"]
    df = sandbox.client(cache=False, progress=False).report(
        "payouts.itemized.3", "2025-03-01", "2025-04-01", columns=cols
    )
    paid = df[df["reporting_category"] == "payout"]
    assert len(paid) and paid["payout_expected_arrival_date"].notna().all() and (paid["net"] > 0).all()
    assert df[df["reporting_category"] == "payout_reversal"]["payout_expected_arrival_date"].isna().all()
