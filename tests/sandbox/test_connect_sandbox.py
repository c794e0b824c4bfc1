"""Stripe Connect in the sandbox (issue 18): a platform with connected accounts, each with its own
seeded ledger; the ``Stripe-Account`` header (acting as the account), ``GET /v1/accounts``, the
``connected_account_*`` report types and Stripe's 403s for a key that may not act on an account.

Expected CSVs are computed from the ledgers directly (reports.render / connectreports.render), never
from the HTTP answers under test. Sources: docs/fidelity.md, "Connect"."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import stripe
import test_openapi as oa
from sbhttp import FEB, JAN, MAR, V2, error_of

from reportkit import catalog
from reportkit.sandbox import Sandbox, connectreports, reports
from reportkit.sandbox.backend import Backend
from reportkit.sandbox.config import Config
from reportkit.sandbox.connected import ConnectedAccount, normalise
from reportkit.sandbox.ledger import Ledger, accounts_table
from reportkit.sandbox.params import RunParams

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
ACME = "sk_test_acmeplatform0000001"  # another platform, with one connected account of its own
SOLO = "sk_test_soloaccount00000001"  # an account that is no platform
ACME_ACCT = "acct_1AcmeConnected01"
GB = "acct_1GbShopLondon0001"


@pytest.fixture(scope="module")
def sb():
    accounts = [*normalise(3, seed=7, ledger_start="2024-01-01")]
    accounts.append({"id": GB, "country": "GB", "name": "Thames Tea", "created": 1704067200 - 10 * 86400})
    accounts.append({"id": ACME_ACCT, "platform": "acme", "country": "DE"})
    with Sandbox(
        seed=7,
        processing_time=0.05,
        jitter=0.0,
        now=NOW,
        keys={ACME: "acme", SOLO: "solo"},
        connected_accounts=accounts,
        request_rate=None,
        live_request_rate=None,
        files_rate=None,
        concurrent_run_cap=None,
    ) as box:
        box.add_key = box.backend.add_key  # for the connected account's own key (below)
        yield box


def ids(sb) -> list[str]:
    return [a.id for a in sb.backend.connected.of("default")]


def get(sb, path, *, key=None, account=None, host="api", **kw):
    headers = {"Stripe-Account": account} if account else {}
    base = {"api": sb.url, "files": sb.files_url}[host]
    return requests.get(base + path, auth=(key or sb.api_key, ""), headers=headers, timeout=10, **kw)


def create(sb, report_type="balance.summary.1", *, key=None, account=None, headers=None, **params):
    params.setdefault("interval_start", JAN)
    params.setdefault("interval_end", FEB)
    data = [("report_type", report_type)]
    for k, v in params.items():
        if isinstance(v, list):
            data += [(f"parameters[{k}][{i}]", x) for i, x in enumerate(v)]
        elif v is not None:
            data.append((f"parameters[{k}]", v))
    h = dict(headers or {})
    if account:
        h["Stripe-Account"] = account
    return requests.post(
        sb.url + "/v1/reporting/report_runs", data=data, auth=(key or sb.api_key, ""), headers=h, timeout=10
    )


def finished(sb, run_id, *, key=None, account=None) -> dict:
    deadline = time.monotonic() + 20
    while True:
        r = get(sb, f"/v1/reporting/report_runs/{run_id}", key=key, account=account)
        assert r.status_code == 200, r.text
        run = r.json()
        if run["status"] != "pending" or time.monotonic() > deadline:
            assert run["status"] == "succeeded", run
            return run
        time.sleep(0.03)


def csv_of(sb, report_type="balance.summary.1", *, key=None, account=None, **params) -> bytes:
    r = create(sb, report_type, key=key, account=account, **params)
    assert r.status_code == 200, r.text
    run = finished(sb, r.json()["id"], key=key, account=account)
    path = "/v1/files/" + run["result"]["id"] + "/contents"
    f = get(sb, path, key=key, account=account, host="files")
    assert f.status_code == 200, f.text
    return f.content


# -- the roster and the ledgers (no HTTP) ------------------------------------------------------------
def test_the_default_roster_is_the_platforms_transfer_destinations_one_currency_each():
    accounts = Config(seed=7).connected_accounts
    assert len(accounts) == 3
    table = accounts_table(7)
    assert [a.id for a in accounts] == [table["id"][i].as_py() for i in (0, 2, 4)]
    assert [(a.country, a.default_currency, a.currencies) for a in accounts] == [
        ("US", "usd", ("usd",)),
        ("FR", "eur", ("eur",)),
        ("JP", "jpy", ("jpy",)),
    ]
    # the platform's own ledger transfers to exactly those accounts (its connected_account_id column)
    assert Ledger(seed=7, end="2024-03-01").accounts["id"].to_pylist() == table["id"].to_pylist()
    assert Config(seed=7, connected_accounts=0).connected_accounts == ()
    assert len(Config(seed=7, connected_accounts=10).connected_accounts) == 10


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"id": "nope"}], "not an account id"),
        (["acct_1A", "acct_1A"], "duplicate"),
        ([{"id": "acct_1A", "colour": "red"}], "unknown field"),
        ([{"id": "acct_1A", "country": "USA"}], "two letters"),
        ([{"id": "acct_1A", "type": "other"}], "custom, express or standard"),
        (-1, ">= 0"),
        ("acct_1A", "a count or a list"),
    ],
)
def test_bad_connected_account_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        Config(connected_accounts=spec)


def test_each_account_has_its_own_lazily_built_seeded_ledger():
    b = Backend(Config(now=NOW, processing_time=0.0, jitter=0.0))
    assert b.connected._ledgers == {}  # nothing built at start
    first, second = (a.id for a in b.connected.accounts[:2])
    led = b.connected.ledger(first)
    assert b.connected.ledger(first) is led and list(b.connected._ledgers) == [first]
    assert led.currencies == ("usd",) and led.end_ts == b.horizon_end
    # a connected account pays no connected accounts of its own; the platform does
    assert "transfer" not in set(led.transactions["reporting_category"])
    assert "transfer" in set(b.ledger.transactions["reporting_category"])
    assert led.seed == b.connected.get(first).seed(7) != b.connected.get(second).seed(7)
    again = Backend(Config(now=NOW)).connected.ledger(first)
    assert again.transactions.equals(led.transactions)  # same sandbox seed, same account: same ledger
    other_seed = Backend(Config(seed=8, now=NOW, connected_accounts=[first])).connected.ledger(first)
    assert not other_seed.transactions.equals(led.transactions)


def test_ledgers_follow_the_moving_window():
    b = Backend(Config(now=NOW, horizon=timedelta(days=10), processing_time=0.0, jitter=0.0))
    acct = b.connected.accounts[0].id
    led = b.connected.ledger(acct)
    assert led.end_ts == b.horizon_end > b.window[1]
    before = b.window[1]
    b.advance(timedelta(days=3))
    assert b.window[1] == before + 3 * 86400
    params = RunParams(interval_start=before, interval_end=b.window[1])
    assert reports.render(b.connected.ledger(acct), "balance.summary.1", params) == reports.render(
        led, "balance.summary.1", params
    )


# -- GET /v1/accounts ------------------------------------------------------------------------------------
def test_accounts_list_is_the_platforms_and_validates_against_stripes_spec(sb):
    spec = oa._load("accounts-v1.json", v2=False)
    r = get(sb, "/v1/accounts", params={"limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    oa._validate({"a": spec}, "a", oa._response("/v1/accounts"), body)
    assert body["object"] == "list" and body["url"] == "/v1/accounts" and body["has_more"] is False
    got = [(a["id"], a["country"], a["default_currency"]) for a in body["data"]]
    assert got == [(a.id, a.country, a.default_currency) for a in sb.backend.connected.of("default")]
    assert ACME_ACCT not in [a["id"] for a in body["data"]] and GB in [a["id"] for a in body["data"]]
    assert [a["created"] for a in body["data"]] == sorted((a["created"] for a in body["data"]), reverse=True)
    assert {a["object"] for a in body["data"]} == {"account"}
    invented = {**body, "data": [{**body["data"][0], "invented": 1}]}
    with pytest.raises(AssertionError):  # the schema is strict: the passes above mean something
        oa._validate({"a": spec}, "a", oa._response("/v1/accounts"), invented)


def test_accounts_list_pages_with_stripes_cursors(sb):
    every = ids(sb)
    page = get(sb, "/v1/accounts", params={"limit": 2}).json()
    assert [a["id"] for a in page["data"]] == every[:2] and page["has_more"] is True
    rest = get(sb, "/v1/accounts", params={"limit": 2, "starting_after": every[1]}).json()
    assert [a["id"] for a in rest["data"]] == every[2:4] and rest["has_more"] is False
    back = get(sb, "/v1/accounts", params={"limit": 1, "ending_before": every[2]}).json()
    assert [a["id"] for a in back["data"]] == [every[1]] and back["has_more"] is True
    missing = get(sb, "/v1/accounts", params={"starting_after": "acct_1Missing"})
    assert missing.status_code == 404
    assert error_of(missing) == {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such account: 'acct_1Missing'",
        "param": "starting_after",
        "type": "invalid_request_error",
    }
    bad = get(sb, "/v1/accounts", params={"limit": 0})
    assert bad.status_code == 400 and error_of(bad)["code"] == "parameter_invalid_integer"
    assert error_of(get(sb, "/v1/accounts", params={"email": "x"}))["code"] == "parameter_unknown"


def test_an_account_that_is_no_platform_lists_none_and_a_connected_account_may_not_list(sb):
    solo = get(sb, "/v1/accounts", key=SOLO)
    assert solo.status_code == 200 and solo.json()["data"] == []
    acme = get(sb, "/v1/accounts", key=ACME).json()
    assert [a["id"] for a in acme["data"]] == [ACME_ACCT]
    nested = get(sb, "/v1/accounts", account=ids(sb)[0])
    assert nested.status_code == 400
    assert error_of(nested) == {
        "message": "You cannot access the connected accounts of your platform's connected accounts.",
        "type": "invalid_request_error",
    }


# -- Stripe-Account: acting as the connected account -----------------------------------------------------
def test_stripe_account_runs_report_the_accounts_own_ledger_exactly(sb):
    for acct in ids(sb):
        ledger = sb.backend.connected.ledger(acct)
        want = reports.render(ledger, "balance.summary.1", RunParams(interval_start=JAN, interval_end=FEB))
        assert csv_of(sb, account=acct) == want
        cols = [
            "balance_transaction_id",
            "created_utc",
            "currency",
            "gross",
            "fee",
            "net",
            "reporting_category",
        ]
        params = RunParams(interval_start=JAN, interval_end=MAR, columns=tuple(cols))
        want = reports.render(ledger, "balance_change_from_activity.itemized.1", params)
        got = csv_of(
            sb, "balance_change_from_activity.itemized.1", account=acct, interval_end=MAR, columns=cols
        )
        assert got == want and got.count(b"\n") > 2
    gbp = sb.backend.connected.ledger(GB)
    assert gbp.currencies == ("gbp",) and b",gbp\n" in csv_of(sb, account=GB)
    # the platform's own report is its own ledger's, unchanged by having connected accounts
    platform = reports.render(sb.ledger, "balance.summary.1", RunParams(interval_start=JAN, interval_end=FEB))
    assert csv_of(sb) == platform != csv_of(sb, account=ids(sb)[0])


def test_the_accounts_runs_files_and_lists_are_its_own(sb):
    acct = ids(sb)[1]
    run = create(sb, account=acct).json()
    finished(sb, run["id"], account=acct)
    assert get(sb, f"/v1/reporting/report_runs/{run['id']}").status_code == 404  # not the platform's
    assert get(sb, f"/v1/reporting/report_runs/{run['id']}", account=ids(sb)[0]).status_code == 404
    mine = [r["id"] for r in get(sb, "/v1/reporting/report_runs", account=acct).json()["data"]]
    platform = [r["id"] for r in get(sb, "/v1/reporting/report_runs", params={"limit": 100}).json()["data"]]
    assert run["id"] in mine and run["id"] not in platform
    file_id = get(sb, f"/v1/reporting/report_runs/{run['id']}", account=acct).json()["result"]["id"]
    contents = f"/v1/files/{file_id}/contents"
    assert get(sb, contents, host="files").status_code == 404
    assert get(sb, contents, host="files", account=acct).status_code == 200
    assert get(sb, f"/v1/files/{file_id}").status_code == 404
    assert get(sb, f"/v1/files/{file_id}", account=acct).status_code == 200
    # the connected account's own key sees the same objects without the header
    own = "sk_test_ownkeyofaccount0001"
    sb.backend.add_key(own, acct)
    assert get(sb, f"/v1/reporting/report_runs/{run['id']}", key=own).status_code == 200
    want = reports.render(
        sb.backend.connected.ledger(acct),
        "balance.summary.1",
        RunParams(interval_start=JAN, interval_end=FEB),
    )
    assert csv_of(sb, key=own) == want


def test_idempotency_keys_are_the_accounts_own(sb):
    acct = ids(sb)[2]
    h = {"Idempotency-Key": "connect-idem-1"}
    first = create(sb, headers=h, account=acct)
    again = create(sb, headers=h, account=acct)
    platform = create(sb, headers=h)
    assert first.status_code == again.status_code == platform.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == first.json()["id"]
    assert platform.headers.get("Idempotent-Replayed") is None and platform.json()["id"] != first.json()["id"]


def no_access(key: str, account: str) -> dict:
    from reportkit.sandbox.wire import mask

    return {
        "code": "account_invalid",
        "doc_url": "https://stripe.com/docs/error-codes/account-invalid",
        "message": f"The provided key '{mask(key)}' does not have access to account '{account}' (or that "
        "account does not exist). Application access may have been revoked.",
        "type": "invalid_request_error",
    }


def test_a_key_that_may_not_act_on_the_account_gets_stripes_403(sb):
    spec = oa._load("reporting-v1.json", v2=False)
    cases = [
        (sb.api_key, "acct_1NotConnected00", no_access(sb.api_key, "acct_1NotConnected00")),
        (sb.api_key, ACME_ACCT, no_access(sb.api_key, ACME_ACCT)),  # another platform's account
        (ACME, ids(sb)[0], no_access(ACME, ids(sb)[0])),  # a key of another platform
    ]
    for key, acct, want in cases:
        for r in (
            create(sb, key=key, account=acct),
            get(sb, "/v1/reporting/report_types", key=key, account=acct),
        ):
            assert r.status_code == 403, r.text
            assert error_of(r) == want
            oa._validate({"v1": spec}, "v1", "/components/schemas/error", r.json())
            assert key not in r.text
    not_platform = {
        "message": "Only Stripe Connect platforms can work with other accounts. If you specified a "
        "client_id parameter, make sure it's correct. If you need to setup a Stripe Connect platform, "
        "you can do so at https://dashboard.stripe.com/account/applications/settings.",
        "type": "invalid_request_error",
    }
    solo = create(sb, key=SOLO, account=ids(sb)[0])
    assert solo.status_code == 403 and error_of(solo) == not_platform
    own = "sk_test_ownkeyofaccount0002"
    sb.backend.add_key(own, ids(sb)[0])  # a connected account's own key naming a sibling
    sibling = create(sb, key=own, account=ids(sb)[1])
    assert sibling.status_code == 403 and error_of(sibling) == not_platform
    assert sb.errors == []
    # acme acts as its own connected account
    assert create(sb, key=ACME, account=ACME_ACCT).status_code == 200


def test_the_official_sdk_acts_as_the_account_and_raises_permission_error(sb):
    client = stripe.StripeClient(sb.api_key, base_addresses={"api": sb.url, "files": sb.files_url})
    acct = ids(sb)[0]
    run = client.v1.reporting.report_runs.create(
        params={
            "report_type": "balance.summary.1",
            "parameters": {"interval_start": JAN, "interval_end": FEB},
        },
        options={"stripe_account": acct},
    )
    assert [r for r in sb.requests if r.path == "/v1/reporting/report_runs"][-1].headers[
        "Stripe-Account"
    ] == acct
    assert finished(sb, run.id, account=acct)["status"] == "succeeded"
    listed = client.v1.accounts.list(params={"limit": 2})
    assert [a.id for a in listed.data] == ids(sb)[:2]
    with pytest.raises(stripe.PermissionError) as e:
        client.v1.reporting.report_runs.create(
            params={
                "report_type": "balance.summary.1",
                "parameters": {"interval_start": JAN, "interval_end": FEB},
            },
            options={"stripe_account": "acct_1NotConnected00"},
        )
    assert e.value.http_status == 403 and e.value.json_body["error"]["code"] == "account_invalid"


# -- the connected_account_* report types ----------------------------------------------------------------
def expected(sb, report_type, accounts=None, **params) -> bytes:
    params.setdefault("interval_start", JAN)
    params.setdefault("interval_end", FEB)
    chosen = sb.backend.connected.ledgers("default", accounts)
    return connectreports.render(chosen, report_type, RunParams(**params))


def test_connect_types_are_served_with_the_twins_columns_and_the_account_first(sb):
    served = {t["id"] for t in get(sb, "/v1/reporting/report_types").json()["data"]}
    assert connectreports.SUPPORTED <= served
    assert {
        "connected_account_balance.summary.1",
        "connected_account_balance_change_from_activity.itemized.3",
        "connected_account_payouts.itemized.3",
        "connected_account_payout_reconciliation.by_id.itemized.4",
    } <= connectreports.SUPPORTED
    assert not {t for t in served if t.startswith(("connected_account_tax", "connect."))}
    t = get(sb, "/v1/reporting/report_types/connected_account_payouts.itemized.3").json()
    assert t["default_columns"][0] == "connected_account" and "payout_id" in t["default_columns"]


@pytest.mark.parametrize(
    "report_type",
    [
        "connected_account_balance.summary.1",
        "connected_account_balance_change_from_activity.itemized.3",
        "connected_account_balance_change_from_activity.summary.1",
        "connected_account_payouts.itemized.3",
        "connected_account_payouts.summary.1",
        "connected_account_payout_reconciliation.itemized.5",
    ],
)
def test_connect_reports_cover_every_account_or_the_one_asked_for(sb, report_type):
    every = csv_of(sb, report_type)
    assert every == expected(sb, report_type)
    one = ids(sb)[1]
    alone = csv_of(sb, report_type, connected_account=one)
    assert alone == expected(sb, report_type, [one]) != every
    two = ids(sb)[:2]
    if "connected_accounts" in catalog.report_spec(report_type).optional:
        assert csv_of(sb, report_type, connected_accounts=two) == expected(sb, report_type, two)


def test_an_itemized_connect_report_is_the_union_of_the_accounts_twin_rows():
    b = Backend(Config(now=NOW, processing_time=0.0, jitter=0.0))
    params = RunParams(
        interval_start=JAN, interval_end=FEB, columns=("connected_account", "balance_transaction_id", "net")
    )
    text = connectreports.render(
        b.connected.ledgers("default", None), "connected_account_payouts.itemized.3", params
    )
    lines = text.decode().splitlines()[1:]
    for acct in (a.id for a in b.connected.accounts):
        twin = (
            reports.render(
                b.connected.ledger(acct),
                "payouts.itemized.3",
                params.with_(columns=("balance_transaction_id", "net")),
            )
            .decode()
            .splitlines()[1:]
        )
        assert sorted(line.split(",", 1)[1] for line in lines if line.startswith(acct + ",")) == sorted(twin)
        assert twin  # every account was paid out in January
    # the balance summary adds the accounts up per currency: here one currency per account
    summary = connectreports.render(
        b.connected.ledgers("default", None),
        "connected_account_balance.summary.1",
        RunParams(interval_start=JAN, interval_end=FEB),
    ).decode()
    for acct in b.connected.accounts:
        own = reports.render(
            b.connected.ledger(acct.id), "balance.summary.1", RunParams(interval_start=JAN, interval_end=FEB)
        )
        assert set(own.decode().splitlines()[1:]) <= set(summary.splitlines()[1:])


def test_connect_parameters_are_checked_at_create(sb):
    bad = create(sb, "connected_account_balance.summary.1", connected_account="acct_1NotConnected00")
    assert bad.status_code == 404
    assert error_of(bad) == {
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such account: 'acct_1NotConnected00'",
        "param": "parameters[connected_account]",
        "type": "invalid_request_error",
    }
    other = create(
        sb,
        "connected_account_balance_change_from_activity.itemized.3",
        connected_accounts=[ids(sb)[0], ACME_ACCT],
    )
    assert other.status_code == 404 and error_of(other)["param"] == "parameters[connected_accounts]"
    unknown = create(sb, "connected_account_payouts.summary.1", connected_accounts=["x"])  # not a param of it
    assert unknown.status_code == 400 and error_of(unknown)["code"] == "parameter_unknown"
    by_id = "connected_account_payout_reconciliation.by_id.summary.1"
    missing = create(sb, by_id, interval_start=None, interval_end=None, payout="po_x")
    assert missing.status_code == 400 and error_of(missing)["param"] == "parameters[connected_account]"
    acct = ids(sb)[0]
    po = sb.backend.connected.ledger(acct).payouts
    auto = po[po["automatic"]]["id"].iloc[0]
    nope = create(
        sb, by_id, interval_start=None, interval_end=None, connected_account=acct, payout="po_1Nope"
    )
    assert nope.status_code == 404 and error_of(nope)["message"] == "No such payout: 'po_1Nope'"
    got = csv_of(sb, by_id, interval_start=None, interval_end=None, connected_account=acct, payout=auto)
    assert got == expected(
        sb, by_id, [acct], interval_start=None, interval_end=None, connected_account=acct, payout=auto
    )
    assert got.count(b"\n") >= 2


def test_connect_types_for_an_account_that_is_no_platform_are_empty(sb):
    text = csv_of(sb, "connected_account_payouts.itemized.3", key=SOLO)
    assert text.count(b"\n") == 1  # the header alone


# -- v2 and /v2/data ---------------------------------------------------------------------------------------
def test_v2_acts_as_the_account_with_stripe_context_and_data_refuses_it(sb):
    v2 = V2(sb)
    acct = ids(sb)[0]
    h = v2.headers(**{"Stripe-Context": acct})
    r = v2.create_raw("balance.summary", headers=h)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while (run := v2.get(f"/v2/reporting/report_runs/{r.json()['id']}", headers=h).json())[
        "status"
    ] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.03)
    data = requests.get(run["result"]["file"]["download_url"]["url"], timeout=10).content
    params = RunParams(interval_start=JAN, interval_end=FEB)
    v1_twin = catalog_v1(sb, "balance.summary")
    assert data == reports.render(sb.backend.connected.ledger(acct), v1_twin, params)
    assert v2.get(f"/v2/reporting/report_runs/{r.json()['id']}").status_code == 404  # not the platform's
    denied = v2.create_raw(
        "balance.summary", headers=v2.headers(**{"Stripe-Context": "acct_1NotConnected00"})
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "account_invalid"
    both = v2.create_raw(
        "balance.summary", headers=v2.headers(**{"Stripe-Context": acct, "Stripe-Account": ids(sb)[1]})
    )
    assert both.status_code == 400
    data_api = v2.get("/v2/data/reports", headers=v2.headers(**{"Stripe-Account": acct}))
    assert data_api.status_code == 400 and "platform's own account" in data_api.json()["error"]["message"]


def catalog_v1(sb, name: str) -> str:
    return catalog.v2_report(name).v1


def test_connected_account_dataclass_is_frozen_and_seeds_differ_per_sandbox():
    a = ConnectedAccount("acct_1X", "US", "usd", ("usd",), "X", 0)
    with pytest.raises(AttributeError):
        a.id = "acct_2"  # type: ignore[misc]
    assert a.seed(7) != a.seed(8)
