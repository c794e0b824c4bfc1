"""v1 endpoints of the sandbox over real HTTP: report types, runs, files, validation, auth, idempotency."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from sbhttp import FEB, JAN, MAR, V1, error_of

from reportkit import catalog
from reportkit.sandbox import connectreports, reports


def test_report_types_list_is_full_and_mode_aware(sandbox, v1):
    r = v1.get("/v1/reporting/report_types")
    assert r.status_code == 200
    body = r.json()
    assert (
        body["object"] == "list" and body["has_more"] is False and body["url"] == "/v1/reporting/report_types"
    )
    ids = {t["id"] for t in body["data"]}
    # test mode: every supported type except the live-only one
    assert ids == (reports.SUPPORTED | connectreports.SUPPORTED) - {"balance_change_from_activity.itemized.3"}
    for fam in (
        "balance.summary.1",
        "payout_reconciliation.by_id.itemized.4",
        "payouts.itemized.3",
        "ending_balance_reconciliation.itemized.4",
        "balance_change_from_activity.summary.1",
    ):
        assert fam in ids
    live = V1(sandbox, sandbox.live_api_key).get("/v1/reporting/report_types").json()
    assert {t["id"] for t in live["data"]} == reports.SUPPORTED | connectreports.SUPPORTED
    assert all(t["livemode"] for t in live["data"]) and not any(t["livemode"] for t in body["data"])


def test_report_type_retrieve_has_window_and_columns(sandbox, v1):
    t = v1.get("/v1/reporting/report_types/payouts.itemized.3").json()
    lo, hi = sandbox.data_available
    assert t["object"] == "reporting.report_type" and t["id"] == "payouts.itemized.3"
    assert (t["data_available_start"], t["data_available_end"]) == (lo, hi)
    assert lo == 1704067200  # 2024-01-01, the ledger start
    assert hi == 1749859200  # 2025-06-14 00:00 UTC: last midnight before now (06-15 10:00) - 12 h
    assert t["default_columns"] == list(catalog.report_spec("payouts.itemized.3").default_columns)
    assert t["version"] == 3 and isinstance(t["name"], str) and t["livemode"] is False
    assert isinstance(t["updated"], int)


def test_unknown_report_type_is_404(v1):
    r = v1.get("/v1/reporting/report_types/nope.summary.1")
    assert r.status_code == 404
    assert error_of(r)["code"] == "resource_missing"


def test_live_only_type_needs_a_live_key(sandbox, v1):
    r = v1.get("/v1/reporting/report_types/balance_change_from_activity.itemized.3")
    assert r.status_code == 400 and "live mode" in error_of(r)["message"]
    r = v1.create_raw("balance_change_from_activity.itemized.3")
    assert r.status_code == 400 and error_of(r)["param"] == "report_type"
    live = V1(sandbox, sandbox.live_api_key)
    assert live.get("/v1/reporting/report_types/balance_change_from_activity.itemized.3").status_code == 200
    run = live.create("balance_change_from_activity.itemized.3")
    assert run["livemode"] is True


def test_run_lifecycle_and_file_download(sandbox, v1):
    before = sandbox.runs_created
    run = v1.create("balance.summary.1", interval_start=JAN, interval_end=FEB, currency="USD")
    assert sandbox.runs_created == before + 1
    assert run["id"].startswith("frr_") and run["object"] == "reporting.report_run"
    assert run["status"] == "pending" and run["result"] is None and run["succeeded_at"] is None
    assert run["error"] is None and run["livemode"] is False and isinstance(run["created"], int)
    assert run["parameters"] == {"interval_start": JAN, "interval_end": FEB, "currency": "usd"}
    done = v1.wait(run["id"])
    assert done["status"] == "succeeded" and done["succeeded_at"] >= done["created"]
    f = done["result"]
    assert f["id"].startswith("file_") and f["object"] == "file" and f["purpose"] == "finance_report_run"
    assert (
        f["type"] == "csv"
        and f["filename"] == f"{run['id']}.csv"
        and f["title"] == f"FinanceReportRun {run['id']}"
    )
    assert f["url"] == f"{sandbox.files_url}/v1/files/{f['id']}/contents"
    assert f["links"] == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/file_links?file={f['id']}",
    }
    assert f["expires_at"] > f["created"]
    # the File object on the API host, the contents on the files host
    assert v1.get(f"/v1/files/{f['id']}").json() == f
    body = requests.get(f["url"], auth=(sandbox.api_key, ""), timeout=10)
    assert body.status_code == 200 and body.headers["Content-Type"].startswith("text/csv")
    assert int(body.headers["Content-Length"]) == f["size"] == len(body.content)
    expected = reports.render(
        sandbox.ledger,
        "balance.summary.1",
        {
            "interval_start": JAN,
            "interval_end": FEB,
            "timezone": "Etc/UTC",
            "columns": None,
            "currency": "usd",
            "reporting_category": None,
            "payout": None,
        },
    )
    assert body.content == expected
    assert body.content.splitlines()[0] == b"category,description,net_amount,currency"


def test_bearer_auth_and_indexed_or_repeated_columns(sandbox, v1):
    h = {"Authorization": f"Bearer {sandbox.api_key}"}
    indexed = requests.post(
        sandbox.url + "/v1/reporting/report_runs",
        headers=h,
        timeout=10,
        data={
            "report_type": "payouts.itemized.3",
            "parameters[interval_start]": JAN,
            "parameters[interval_end]": FEB,
            "parameters[columns][0]": "payout_id",
            "parameters[columns][1]": "net",
            "expand[]": "result",
        },
    )
    assert indexed.status_code == 200, indexed.text
    repeated = v1.create("payouts.itemized.3", columns=["payout_id", "net"], timezone="America/New_York")
    assert (
        indexed.json()["parameters"]["columns"] == repeated["parameters"]["columns"] == ["payout_id", "net"]
    )
    assert repeated["parameters"]["timezone"] == "America/New_York"
    done = v1.wait(repeated["id"])
    csv = requests.get(done["result"]["url"], headers=h, timeout=10).content
    assert csv.splitlines()[0] == b"payout_id,net"


def test_file_contents_need_the_key_of_the_runs_mode(sandbox, v1):
    done = v1.wait(v1.create()["id"])
    url = done["result"]["url"]
    r = requests.get(url, timeout=10)
    assert r.status_code == 401 and "did not provide an API key" in error_of(r)["message"]
    r = requests.get(url, auth=(sandbox.live_api_key, ""), timeout=10)
    assert r.status_code == 404 and error_of(r)["code"] == "resource_missing"
    assert v1.get(f"/v1/files/{done['result']['id']}/contents").status_code == 404  # not on the API host
    r = V1(sandbox, sandbox.live_api_key).get(f"/v1/reporting/report_runs/{done['id']}")
    assert r.status_code == 404 and "exists in test mode" in error_of(r)["message"]


def test_unknown_run_and_file_are_404(v1):
    for path in ("/v1/reporting/report_runs/frr_nope", "/v1/files/file_nope"):
        r = v1.get(path)
        assert r.status_code == 404 and error_of(r)["code"] == "resource_missing"


LO, HI = 1704067200, 1749859200


@pytest.mark.parametrize(
    ("report_type", "params", "status", "code", "param", "words"),
    [
        ("nope.summary.1", {}, 404, "resource_missing", "report_type", "No such report type"),
        (
            "balance.summary.1",
            {"interval_start": None},
            400,
            "parameter_missing",
            "parameters[interval_start]",
            "Missing required param",
        ),
        (
            "ending_balance_reconciliation.summary.1",
            {"interval_end": None, "interval_start": None},
            400,
            "parameter_missing",
            "parameters[interval_end]",
            "Missing required param",
        ),
        (
            "balance.summary.1",
            {"interval_start": "yesterday"},
            400,
            "parameter_invalid_integer",
            "parameters[interval_start]",
            "Invalid integer",
        ),
        (
            "balance.summary.1",
            {"interval_end": "1.5e9"},
            400,
            "parameter_invalid_integer",
            "parameters[interval_end]",
            "Invalid integer",
        ),
        (
            "balance.summary.1",
            {"interval_start": LO - 86400},
            400,
            None,
            "parameters.interval_start",
            "Data for the report type balance.summary.1 is only available starting at "
            "2024-01-01 00:00:00 UTC; you requested `interval_start` = 2023-12-31 00:00:00 UTC.",
        ),
        (
            "balance.summary.1",
            {"interval_end": HI + 1},
            400,
            None,
            "parameters.interval_end",
            "Data for the report type balance.summary.1 is only available through 2025-06-14 00:00:00 UTC; "
            "you requested `interval_end` = 2025-06-14 00:00:01 UTC.",
        ),
        (
            "balance.summary.1",
            {"interval_start": FEB, "interval_end": JAN},
            400,
            None,
            "parameters[interval_start]",
            "must be before",
        ),
        (
            "balance.summary.1",
            {"interval_start": JAN, "interval_end": JAN},
            400,
            None,
            "parameters[interval_start]",
            "must be before",
        ),
        (
            "balance.summary.1",
            {"columns": ["category", "gross"]},
            400,
            None,
            "parameters[columns]",
            "Invalid column",
        ),
        (
            "balance.summary.1",
            {"payout": "po_123"},
            400,
            "parameter_unknown",
            "parameters[payout]",
            "Received unknown parameter",
        ),
        (
            "balance.summary.1",
            {"reporting_category": "charge"},
            400,
            "parameter_unknown",
            "parameters[reporting_category]",
            "Received unknown parameter",
        ),
        (
            "balance.summary.1",
            {"timezone": "Mars/Olympus_Mons"},
            400,
            None,
            "parameters[timezone]",
            "Invalid timezone",
        ),
        (
            "balance.summary.1",
            {"currency": "xyz"},
            400,
            None,
            "parameters[currency]",
            "Invalid currency",
        ),
        (
            "payouts.itemized.3",
            {"reporting_category": "lunch"},
            400,
            None,
            "parameters[reporting_category]",
            "Invalid reporting_category",
        ),
        (
            "payouts.itemized.3",
            {"decimal_separator": ";"},
            400,
            None,
            "parameters[decimal_separator]",
            "decimal_separator",
        ),
        (
            "payout_reconciliation.by_id.itemized.4",
            {"interval_start": None, "interval_end": None},
            400,
            "parameter_missing",
            "parameters[payout]",
            "Missing required param",
        ),
        (
            "payout_reconciliation.by_id.itemized.4",
            {"interval_start": None, "interval_end": None, "payout": "po_doesnotexist"},
            404,
            "resource_missing",
            "parameters[payout]",
            "No such payout",
        ),
    ],
)
def test_create_validation_errors(sandbox, v1, report_type, params, status, code, param, words):
    before = sandbox.runs_created
    r = v1.create_raw(report_type, **params)
    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["type"] == "invalid_request_error"
    assert (err.get("code"), err["param"]) == (code, param)
    assert words in err["message"]
    if code is None:  # Stripe sends no code (and so no doc_url) for these; parameter_invalid is not one
        assert "doc_url" not in err
    else:  # the doc_url spells the code with hyphens: .../error-codes/parameter-missing
        assert err["doc_url"] == "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    assert sandbox.runs_created == before


def test_missing_report_type_and_unknown_top_level_param(v1):
    r = v1.post("/v1/reporting/report_runs", {"parameters[interval_start]": JAN})
    assert (
        r.status_code == 400
        and error_of(r)["code"] == "parameter_missing"
        and error_of(r)["param"] == "report_type"
    )
    r = v1.post("/v1/reporting/report_runs", {"report_type": "balance.summary.1", "colour": "blue"})
    assert (
        r.status_code == 400
        and error_of(r)["code"] == "parameter_unknown"
        and error_of(r)["param"] == "colour"
    )


def test_by_id_report_for_a_real_payout(sandbox, v1):
    payouts = sandbox.ledger.payouts
    auto = payouts[payouts["automatic"].astype(bool)]
    payout_id = str(auto["id"].iloc[0])
    run = v1.wait(
        v1.create(
            "payout_reconciliation.by_id.summary.1", interval_start=None, interval_end=None, payout=payout_id
        )["id"]
    )
    assert run["status"] == "succeeded", run
    assert run["parameters"] == {"payout": payout_id}


def test_auth_errors(sandbox):
    url = sandbox.url + "/v1/reporting/report_types"
    r = requests.get(url, timeout=10)
    assert r.status_code == 401 and "You did not provide an API key" in error_of(r)["message"]
    for bad in ("Bearer pk_test_abcdefghijkl", "Bearer sk_test_", "Token sk_test_abcdefghijkl", "Basic !!!"):
        r = requests.get(url, headers={"Authorization": bad}, timeout=10)
        assert r.status_code == 401, bad
        assert error_of(r)["type"] == "invalid_request_error"
    basic = base64.b64encode(f"{sandbox.api_key}:".encode()).decode()
    assert requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=10).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {sandbox.live_api_key}"}, timeout=10).ok


@pytest.mark.parametrize(
    ("key", "masked"),
    [
        # Stripe keeps the mode prefix and the last 4 characters, one * per hidden character
        # (docs/fidelity-sources.md §2: sk_test_your_secret_key_here -> sk_test_****************here)
        ("sk_test_your_secret_key_here", "sk_test_****************here"),
        ("sk_test_abcdefghijkl1234", "sk_test_************1234"),
        ("sk_live_0123456789abcdefAso0", "sk_live_****************Aso0"),
        ("rk_test_restrictedkey9876", "rk_test_*************9876"),
        ("pk_test_abcdefghijkl", "pk_*************ijkl"),  # a choice: other prefixes keep 3 characters
    ],
)
def test_a_key_the_sandbox_was_not_started_with_is_refused_like_stripe(sandbox, key, masked):
    url = sandbox.url + "/v1/reporting/report_types"
    for auth in ({"headers": {"Authorization": f"Bearer {key}"}}, {"auth": (key, "")}):
        r = requests.get(url, timeout=10, **auth)
        assert r.status_code == 401
        assert r.json() == {
            "error": {"message": f"Invalid API Key provided: {masked}", "type": "invalid_request_error"}
        }
        assert key[8:-4] not in r.text


def test_idempotency_replays_and_conflicts(sandbox, v1):
    before = sandbox.runs_created
    h = {"Idempotency-Key": "idem-1"}
    first = v1.create_raw(headers=h, columns=["category", "currency"])
    again = v1.create_raw(headers=h, columns=["category", "currency"])
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert sandbox.runs_created == before + 1
    # the same parameters in stripe-python's indexed form are the same request
    indexed = v1.post(
        "/v1/reporting/report_runs",
        {
            "report_type": "balance.summary.1",
            "parameters[interval_start]": JAN,
            "parameters[interval_end]": FEB,
            "parameters[columns][0]": "category",
            "parameters[columns][1]": "currency",
        },
        headers=h,
    )
    assert indexed.json()["id"] == first.json()["id"]
    other = v1.create_raw(headers=h, interval_end=MAR)
    assert other.status_code == 400
    err = error_of(other)
    assert err["type"] == "idempotency_error" and "idem-1" in err["message"]
    assert sandbox.runs_created == before + 1


def test_idempotency_keys_are_scoped_to_the_account_and_mode(sandbox_factory):
    sb = sandbox_factory(
        keys={"sk_test_sameaccount12345678": "default", "sk_test_otheraccount1234567": "acme"}
    )
    h = {"Idempotency-Key": "shared-idem"}
    first = V1(sb).create_raw(headers=h)
    assert first.status_code == 200
    # another key of the same account and mode replays (or refuses another body), as one account
    assert V1(sb, "sk_test_sameaccount12345678").create_raw(headers=h).json()["id"] == first.json()["id"]
    assert V1(sb, "sk_test_sameaccount12345678").create_raw(headers=h, interval_end=MAR).status_code == 400
    # another account, and the other mode, have keys of their own
    other = V1(sb, "sk_test_otheraccount1234567").create_raw(headers=h, interval_end=MAR)
    live = V1(sb, sb.live_api_key).create_raw(headers=h, interval_end=MAR)
    assert other.status_code == live.status_code == 200
    assert len({first.json()["id"], other.json()["id"], live.json()["id"]}) == 3 and sb.runs_created == 3


def test_failed_validation_is_not_saved_under_the_idempotency_key(sandbox, v1):
    h = {"Idempotency-Key": "idem-bad-then-good"}
    assert v1.create_raw(headers=h, interval_start="x").status_code == 400
    assert v1.create_raw(headers=h).status_code == 200


def test_list_runs_pagination_over_more_than_ten(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=None, request_rate=None)
    api = V1(sb)
    ids = [api.create(interval_start=JAN + i * 86400, interval_end=FEB)["id"] for i in range(13)]
    newest_first = ids[::-1]
    page = api.get("/v1/reporting/report_runs").json()
    assert page["object"] == "list" and page["url"] == "/v1/reporting/report_runs"
    assert [r["id"] for r in page["data"]] == newest_first[:10] and page["has_more"] is True
    rest = api.get("/v1/reporting/report_runs", params={"starting_after": newest_first[9]}).json()
    assert [r["id"] for r in rest["data"]] == newest_first[10:] and rest["has_more"] is False
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"starting_after": cursor} if cursor else {})}
        p = api.get("/v1/reporting/report_runs", params=params).json()
        seen += [r["id"] for r in p["data"]]
        if not p["has_more"]:
            break
        cursor = p["data"][-1]["id"]
    assert seen == newest_first
    back = api.get("/v1/reporting/report_runs", params={"ending_before": newest_first[5], "limit": 3}).json()
    assert [r["id"] for r in back["data"]] == newest_first[2:5] and back["has_more"] is True
    created = [r["created"] for r in page["data"]]
    assert created == sorted(created, reverse=True)
    t0 = api.run(ids[0])["created"]
    assert (
        len(api.get("/v1/reporting/report_runs", params={"created[gte]": t0, "limit": 100}).json()["data"])
        == 13
    )
    assert api.get("/v1/reporting/report_runs", params={"created[lt]": t0}).json()["data"] == []
    exact = api.get("/v1/reporting/report_runs", params={"created": t0, "limit": 100}).json()["data"]
    assert ids[0] in {r["id"] for r in exact}
    # the live key sees none of the test runs
    assert V1(sb, sb.live_api_key).get("/v1/reporting/report_runs").json()["data"] == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"starting_after": "frr_nope"}, "starting_after"),
        ({"created[between]": 1}, "created[between]"),
        ({"sort": "asc"}, "sort"),
    ],
)
def test_list_runs_bad_parameters(v1, params, param):
    r = v1.get("/v1/reporting/report_runs", params=params)
    assert r.status_code in (400, 404) and error_of(r)["param"] == param


def test_concurrent_run_cap_v1(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=2, processing_time=0.4, keys=["sk_test_anotherkey123456789"])
    api = V1(sb)
    api.create()
    api.create()
    r = api.create_raw()
    assert r.status_code == 429
    err = error_of(r)
    assert err["code"] == "report_run_rate_limit_exceeded" and err["type"] == "invalid_request_error"
    assert sb.runs_created == 2
    # another key has its own allowance; the first key gets room once its runs finish
    assert V1(sb, "sk_test_anotherkey123456789").create_raw().status_code == 200
    time.sleep(0.45)
    assert api.create_raw().status_code == 200


def test_request_rate_limit(sandbox_factory):
    sb = sandbox_factory(request_rate=5)
    api = V1(sb)
    answers = [api.get("/v1/reporting/report_types/balance.summary.1") for _ in range(8)]
    codes = [r.status_code for r in answers]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    err = error_of(next(r for r in answers if r.status_code == 429))
    assert (err["type"], err["code"]) == ("invalid_request_error", "rate_limit")
    assert err["message"] == (
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits."
    )
    # the live key's limit is separate (and higher)
    live = [V1(sb, sb.live_api_key).get("/v1/reporting/report_types").status_code for _ in range(8)]
    assert live == [200] * 8
    time.sleep(1.05)
    assert api.get("/v1/reporting/report_types/balance.summary.1").status_code == 200


def test_files_rate_limit(sandbox_factory):
    sb = sandbox_factory(files_rate=3, request_rate=None)
    api = V1(sb)
    url = api.wait(api.create()["id"])["result"]["url"]
    codes = [requests.get(url, auth=(sb.api_key, ""), timeout=10).status_code for _ in range(5)]
    assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]
    assert error_of(requests.get(url, auth=(sb.api_key, ""), timeout=10))["code"] == "rate_limit"


def test_concurrent_run_cap_holds_under_parallel_creates(sandbox_factory):
    from concurrent.futures import ThreadPoolExecutor

    sb = sandbox_factory(concurrent_run_cap=3, processing_time=2.0, request_rate=None)
    api = V1(sb)
    sb.faults.fail_runs(1)
    with ThreadPoolExecutor(12) as pool:
        codes = sorted(pool.map(lambda _: api.create_raw().status_code, range(12)))
    assert codes == [200] * 3 + [429] * 9
    assert sb.runs_created == 3
    assert sb.faults.fired["fail_run"] == 1  # refused creates consume no run-failure fault


def test_metadata_columns_are_literal_names(sandbox, v1):
    cols = ["balance_transaction_id", "payment_metadata[order_id]"]
    run = v1.create(
        "payout_reconciliation.itemized.5", interval_start=JAN, interval_end=JAN + 86400, columns=cols
    )
    assert run["parameters"]["columns"] == cols
    done = v1.wait(run["id"])
    csv = requests.get(done["result"]["url"], auth=(sandbox.api_key, ""), timeout=10).content
    assert csv.splitlines()[0] == b"balance_transaction_id,payment_metadata[order_id]"
    r = v1.create_raw("payout_reconciliation.itemized.5", columns=["payment_metadata[key]"])
    assert r.status_code == 400 and error_of(r)["param"] == "parameters[columns]"
