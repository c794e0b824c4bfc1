"""The client's Connect calls (issue 18) against the sandbox's platform: ``client.accounts()``,
``report(account=)``, ``reports(accounts=[...] | "all")``, ``check_period(accounts=)`` and the CLI.

Every expected value is computed from the sandbox's ledgers directly (``sb.backend.connected.ledger``:
balances and balance transactions in minor units), never through the client or the HTTP answers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit import frames
from reportkit.catalog import currency_exponent
from reportkit.cli import EXIT_API, EXIT_OK, EXIT_USAGE, main
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
SOLO = "sk_test_soloaccount00000001"  # an account that is no platform
GB = "acct_1GbShopLondon0001"
JAN, APR = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
PAYOUT_CATEGORIES = ("payout", "payout_reversal")


@pytest.fixture(scope="module")
def sb():
    from reportkit.sandbox.connected import normalise

    accounts = [*normalise(3, seed=7, ledger_start="2024-01-01"), {"id": GB, "country": "GB"}]
    with Sandbox(
        seed=7,
        processing_time=0.05,
        jitter=0.0,
        now=NOW,
        keys={SOLO: "solo"},
        connected_accounts=accounts,
        concurrent_run_cap=3,
        request_rate=None,
        live_request_rate=None,
        files_rate=None,
    ) as box:
        yield box


@pytest.fixture
def client(sb, tmp_path):
    return sb.client(cache=tmp_path / "cache", progress=False)


def ids(sb) -> list[str]:
    return [a.id for a in sb.backend.connected.of("default")]


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


def balances(ledger, s: datetime, e: datetime) -> dict[tuple[str, str], Decimal]:
    """(currency, starting_balance | activity | payouts | ending_balance) -> amount, from the ledger."""
    tx = ledger.transactions
    lo, hi = int(s.timestamp()), int(e.timestamp())
    out = {}
    for cur in ledger.currencies:
        mine = tx[(tx["currency"] == cur) & (tx["created"] >= lo) & (tx["created"] < hi)]
        paid = mine["reporting_category"].isin(PAYOUT_CATEGORIES)
        out[(cur, "starting_balance")] = major(ledger.balance(cur, lo), cur)
        out[(cur, "activity")] = major(int(mine.loc[~paid, "net"].sum()), cur)
        out[(cur, "payouts")] = major(int(mine.loc[paid, "net"].sum()), cur)
        out[(cur, "ending_balance")] = major(ledger.balance(cur, hi), cur)
    return out


def balance_rows(df: pd.DataFrame) -> dict[tuple[str, str], Decimal]:
    keep = df[df["category"].isin(["starting_balance", "activity", "payouts", "ending_balance"])]
    keep = keep[keep["currency"].notna()]
    return {(c, k): v for c, k, v in zip(keep["currency"], keep["category"], keep["net_amount"], strict=True)}


def activity_rows(ledger, s: datetime, e: datetime) -> pd.DataFrame:
    tx = ledger.transactions
    lo, hi = int(s.timestamp()), int(e.timestamp())
    mine = tx[
        (tx["created"] >= lo) & (tx["created"] < hi) & ~tx["reporting_category"].isin(PAYOUT_CATEGORIES)
    ]
    return mine


# -- client.accounts() ---------------------------------------------------------------------------------
def test_accounts_lists_the_platforms_connected_accounts(sb, client):
    df = client.accounts()
    assert list(df.columns) == [
        "id", "country", "default_currency", "name", "email", "type", "charges_enabled", "payouts_enabled",
        "created",
    ]  # fmt: skip
    roster = sb.backend.connected.of("default")
    assert list(df["id"]) == [a.id for a in roster] and GB in set(df["id"])
    assert list(df["country"]) == [a.country for a in roster]
    assert list(df["default_currency"]) == [a.default_currency for a in roster]
    assert str(df["id"].dtype) == str(frames.STRING_DTYPE) and str(df["created"].dt.tz) == "UTC"
    assert df["charges_enabled"].dtype == "boolean"
    solo = sb.client(api_key=SOLO, cache=False, progress=False).accounts()
    assert solo.empty and list(solo.columns) == list(df.columns)


# -- one account: report(account=) ---------------------------------------------------------------------
def test_report_as_a_connected_account_equals_its_ledger_exactly(sb, client):
    for acct in ids(sb):
        ledger = sb.backend.connected.ledger(acct)
        df = client.report("balance.summary.1", JAN, APR, account=acct)
        assert balance_rows(df) == balances(ledger, JAN, APR)
        assert all(type(v) is Decimal for v in df["net_amount"])
        assert df.attrs["reportkit"]["account"] == acct
        items = client.report("balance_change_from_activity.itemized.1", JAN, APR, account=acct)
        want = activity_rows(ledger, JAN, APR)
        assert list(items["balance_transaction_id"]) == list(want["id"])
        assert list(items["net"]) == [major(n, c) for n, c in zip(want["net"], want["currency"], strict=True)]
    gbp = client.report("balance.summary.1", JAN, APR, account=GB)
    assert set(gbp["currency"].dropna()) == {"gbp"}
    # the platform's own report is still the platform ledger's
    assert balance_rows(client.report("balance.summary.1", JAN, APR)) == balances(sb.ledger, JAN, APR)


def test_the_header_goes_to_the_api_and_files_hosts_only_and_the_key_nowhere(sb, client):
    acct = ids(sb)[0]
    sb.requests.clear()
    client.report("payouts.itemized.3", JAN, APR, account=acct)
    seen = list(sb.requests)
    with_header = [r for r in seen if r.headers.get("Stripe-Account")]
    assert {r.host for r in with_header} == {"api", "files"}
    assert all(r.headers["Stripe-Account"] == acct for r in with_header)
    assert all(r.host != "downloads" for r in with_header)
    assert {r.path for r in with_header} >= {"/v1/reporting/report_runs"}
    for r in seen:
        assert sb.api_key not in r.path + r.query


# -- many accounts: reports(accounts=) -------------------------------------------------------------------
def test_reports_fan_out_accounts_x_intervals_in_one_long_frame(sb, client):
    ivs = rk.intervals(JAN, APR, freq="month")
    chosen = ids(sb)[:3]
    before = sb.runs_created
    sb.requests.clear()
    df = client.reports("balance.summary.1", ivs, accounts=chosen, max_concurrent=3)
    assert sb.runs_created - before == len(chosen) * len(ivs)
    # the batch poller lists each account's pending runs as that account (one page for many runs)
    lists = [r for r in sb.requests if r.method == "GET" and r.path == "/v1/reporting/report_runs"]
    assert {r.headers.get("Stripe-Account") for r in lists} & set(chosen)
    assert sb.cap_rejections == 0  # within the one cap (the sandbox's is 3 too)
    assert list(df.columns[:3]) == ["account", "interval_start", "interval_end"]
    assert str(df["account"].dtype) == str(frames.STRING_DTYPE)
    assert list(dict.fromkeys(df["account"])) == chosen
    for acct in chosen:
        ledger = sb.backend.connected.ledger(acct)
        own = df[df["account"] == acct]
        for iv in ivs:
            part = own[own["interval_start"] == iv.start]
            assert balance_rows(part) == balances(ledger, iv.start, iv.end), (acct, iv.label)
    prov = df.attrs["reportkit"]
    assert prov["accounts"] == [a for a in chosen for _ in ivs] and len(prov["run_ids"]) == 9
    again = client.reports("balance.summary.1", ivs, accounts=chosen)  # the cache is keyed per account
    assert sb.runs_created - before == 9
    pd.testing.assert_frame_equal(again, df)


def test_reports_all_lists_the_accounts_through_v1_accounts(sb, client):
    sb.requests.clear()
    ivs = rk.intervals(JAN, datetime(2025, 2, 1, tzinfo=UTC), freq="month")
    df = client.reports("balance_change_from_activity.summary.1", ivs, accounts="all")
    assert any(r.path == "/v1/accounts" and r.method == "GET" for r in sb.requests)
    assert set(df["account"]) == set(ids(sb))
    for acct in ids(sb):
        want = activity_rows(sb.backend.connected.ledger(acct), JAN, datetime(2025, 2, 1, tzinfo=UTC))
        own = df[df["account"] == acct]
        assert int(own["count"].sum()) == len(want)
        for cur in set(want["currency"]):
            assert own.loc[own["currency"] == cur, "net"].sum() == major(
                int(want.loc[want["currency"] == cur, "net"].sum()), cur
            )


def test_the_cache_is_keyed_per_account(sb, client):
    a, b = ids(sb)[:2]
    first = client.report("balance.summary.1", JAN, APR, account=a)
    other = client.report("balance.summary.1", JAN, APR, account=b)
    assert balance_rows(first) != balance_rows(other)
    before = sb.runs_created
    hit = client.report("balance.summary.1", JAN, APR, account=a)
    assert sb.runs_created == before and hit.attrs["reportkit"]["cache_hit"] is True
    assert balance_rows(hit) == balance_rows(first)
    req_a = client.prepare("balance.summary.1", JAN, APR, account=a)
    req_p = client.prepare("balance.summary.1", JAN, APR)
    key_a, key_p = client.runner.cache_key(req_a), client.runner.cache_key(req_p)
    assert key_a["stripe_account"] == a and "stripe_account" not in key_p
    assert key_a["digest"] != key_p["digest"]


# -- errors ----------------------------------------------------------------------------------------------
def test_a_key_without_access_gets_permission_denied(sb, client):
    with pytest.raises(rk.PermissionDeniedError) as e:
        client.report("balance.summary.1", JAN, APR, account="acct_1NotConnected00")
    assert e.value.http_status == 403 and e.value.code == "account_invalid"
    assert "does not have access to account 'acct_1NotConnected00'" in str(e.value)
    assert sb.api_key not in str(e.value) and sb.api_key not in repr(e.value)
    solo = sb.client(api_key=SOLO, cache=False, progress=False)
    with pytest.raises(rk.PermissionDeniedError, match="Only Stripe Connect platforms"):
        solo.report("balance.summary.1", JAN, APR, account=ids(sb)[0])
    # in a batch the refusal comes with the window check, before any run of any account is created
    ivs = rk.intervals(JAN, APR, freq="month")
    before = sb.runs_created
    with pytest.raises(rk.PermissionDeniedError):
        client.reports("balance.summary.1", ivs, accounts=[ids(sb)[0], "acct_1NotConnected00"])
    assert sb.runs_created == before


@pytest.mark.parametrize(
    "call",
    [
        lambda c, ivs: c.report("balance.summary.1", JAN, APR, account="acct-1"),
        lambda c, ivs: c.report("balance.summary.1", JAN, APR, account="1234"),
        lambda c, ivs: c.report("balance.summary", JAN, APR, account="acct_1A", api="v2"),
        lambda c, ivs: c.reports("balance.summary.1", ivs, accounts="acct_1A"),
        lambda c, ivs: c.reports("balance.summary.1", ivs, accounts=["acct_1A", "bad id"]),
        lambda c, ivs: c.reports("balance.summary.1", ivs, accounts=["acct_1A", "acct_1A"]),
        lambda c, ivs: c.reports("balance.summary.1", ivs, accounts=[]),
        lambda c, ivs: c.reports("balance.summary.1", ivs, accounts=["acct_1A"], account="acct_1B"),
        lambda c, ivs: c.retrieve_run("frr_x", account="nope"),
    ],
)
def test_a_bad_account_is_a_configuration_error_before_any_request(sb, client, call):
    ivs = rk.intervals(JAN, APR, freq="month")
    sb.requests.clear()
    with pytest.raises(rk.ConfigurationError):
        call(client, ivs)
    assert len(sb.requests) == 0


def test_runs_of_an_account_are_retrieved_and_listed_as_it(sb, client):
    acct = ids(sb)[1]
    run = client.create_run("balance.summary.1", JAN, APR, account=acct)
    assert client.wait(run, progress=False).succeeded
    fresh = sb.client(cache=False, progress=False)  # a client that never saw the run needs account=
    with pytest.raises(rk.NotFoundError):
        fresh.retrieve_run(run.id)
    assert fresh.retrieve_run(run.id, account=acct).id == run.id
    listed = [r.id for r in fresh.list_runs(account=acct)]
    assert run.id in listed and run.id not in [r.id for r in fresh.list_runs()]
    df = fresh.download(fresh.retrieve_run(run.id, account=acct))
    assert balance_rows(df) == balances(sb.backend.connected.ledger(acct), JAN, APR)


# -- check_period ----------------------------------------------------------------------------------------
def test_check_period_reconciles_each_account(sb, client):
    checks = rk.reconcile.check_period(client, "2025-01-01", "2025-04-01", accounts="all", progress=False)
    assert list(checks.columns[:2]) == ["account", "check"]
    assert set(checks["account"]) == set(ids(sb))
    assert checks["ok"].all(), checks.failures()
    per = checks.per_account()
    assert set(per) == set(ids(sb)) and all(line.startswith("PASS") for line in per.values())
    assert f"over {len(ids(sb))} accounts" in checks.summary()
    for acct in ids(sb):  # every account has its own rollforward rows, per its own currencies
        own = checks[(checks["account"] == acct) & (checks["check"] == "balance.rollforward")]
        assert set(own["currency"]) == set(sb.backend.connected.ledger(acct).currencies)
        assert len(own) == 3 * len(set(own["currency"]))


# -- the CLI ---------------------------------------------------------------------------------------------
@pytest.fixture
def pointed(sb, monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "cache"))
    return sb


def test_cli_run_as_an_account_and_for_all_accounts(pointed, capsys):
    sb = pointed
    acct = ids(sb)[2]
    base = ["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-04-01", "--no-progress"]
    assert main([*base, "--account", acct]) == EXIT_OK
    one = frames.parse(capsys.readouterr().out.encode(), report="balance.summary.1")
    assert balance_rows(one) == balances(sb.backend.connected.ledger(acct), JAN, APR)
    assert main([*base, "--accounts", "all"]) == EXIT_OK
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("account,interval_start,interval_end,category")
    assert {line.split(",")[0] for line in text.splitlines()[1:]} == set(ids(sb))
    two = ",".join(ids(sb)[:2])
    assert main([*base, "--accounts", two]) == EXIT_OK
    assert {line.split(",")[0] for line in capsys.readouterr().out.splitlines()[1:]} == set(ids(sb)[:2])


def test_cli_refuses_bad_accounts_and_reports_no_access(pointed, capsys):
    base = ["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-04-01", "--no-progress"]
    assert main([*base, "--account", "not-an-id"]) == EXIT_USAGE
    assert "acct_" in capsys.readouterr().err
    assert main([*base, "--accounts", "acct_1A,oops"]) == EXIT_USAGE
    assert main([*base, "--account", "acct_1A", "--api", "v2"]) == EXIT_USAGE
    assert main(["run", "balance.summary.1", "--accounts", "all", "--no-progress"]) == EXIT_USAGE
    capsys.readouterr()
    assert main([*base, "--account", "acct_1NotConnected00"]) == EXIT_API
    err = capsys.readouterr().err
    assert "does not have access to account" in err and pointed.api_key not in err
