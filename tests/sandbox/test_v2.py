"""v2 reporting endpoints of the sandbox over real HTTP: runs, reports, pre-signed downloads, errors."""

from __future__ import annotations

import io
import re
import time
import zipfile
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sbhttp import JAN, V1, V2, error_of

from reportkit import catalog
from reportkit.sandbox import reportids, reports

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# download_url.expires_at carries nanoseconds, as in Stripe's examples (2025-08-26T21:53:30.446396574Z)
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
#: The sandbox's own id of balance.summary in test mode (reportids.py; the same in every sandbox).
BALANCE_ID = reportids.default_id("balance.summary", False)


def rid(sb, name: str, live: bool = False) -> str:
    """The id the sandbox gives report ``name`` in a mode."""
    return sb.backend.report_ids.id(name, live)


def _render(sb, report_type, **params):
    full = {
        "interval_start": None,
        "interval_end": None,
        "timezone": "Etc/UTC",
        "columns": None,
        "currency": None,
        "reporting_category": None,
        "payout": None,
    }
    full.update(params)
    return reports.render(sb.ledger, report_type, full)


def test_run_lifecycle_and_csv_download(sandbox, v2):
    before = sandbox.runs_created
    run = v2.create("balance.summary", currency="eur")
    assert sandbox.runs_created == before + 1
    assert run["id"].startswith("reprun_test_") and run["object"] == "v2.reporting.report_run"
    assert run["status"] == "running" and run["result"] is None and run["status_details"] == {}
    assert run["report"] == rid(sandbox, "balance.summary") == BALANCE_ID
    assert run["report_name"] == "balance.summary" and run["livemode"] is False
    assert RFC3339_MS.match(run["created"])
    assert run["report_parameters"] == {
        "interval_start": "2025-01-01T00:00:00.000Z",
        "interval_end": "2025-02-01T00:00:00.000Z",
        "currency": "eur",
    }
    assert run["result_options"] == {"compress_file": False}
    done = v2.wait(run["id"])
    assert done["status"] == "succeeded" and done["status_details"] == {}
    f = done["result"]["file"]
    assert done["result"]["type"] == "file" and f["content_type"] == "csv" and "schema" not in f
    assert isinstance(f["size"], str) and RFC3339_NS.match(f["download_url"]["expires_at"])
    url = f["download_url"]["url"]
    assert url.startswith(sandbox.downloads_url + "/files/") and "signature=" in url and "expires=" in url
    body = requests.get(url, timeout=10)
    assert body.status_code == 200 and body.headers["Content-Type"].startswith("text/csv")
    assert int(f["size"]) == len(body.content) == int(body.headers["Content-Length"])
    assert body.content == _render(
        sandbox, "balance.summary.1", interval_start=JAN, interval_end=1738368000, currency="eur"
    )


def test_no_key_reaches_the_downloads_host(sandbox, v2):
    done = v2.wait(v2.create()["id"])
    url = done["result"]["file"]["download_url"]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    r = requests.get(url, headers={"Authorization": f"Bearer {sandbox.api_key}"}, timeout=10)
    assert r.status_code == 400 and b"Only one auth mechanism" in r.content
    downloads = [q for q in sandbox.requests if q.host == "downloads" and done["id"] in q.path]
    assert len(downloads) == 2
    assert "Authorization" not in downloads[0].headers
    assert all(sandbox.api_key not in q.query and sandbox.api_key not in q.path for q in downloads)


def test_schema_include(sandbox, v2):
    run = v2.create(
        "payouts.itemized", columns=["payout_id", "net", "effective_at_utc", "payout_expected_arrival_date"]
    )
    done = v2.wait(run["id"], schema=True)
    assert done["result"]["file"]["schema"] == [
        {"name": "payout_id", "type": "varchar"},
        {"name": "net", "type": "double"},
        {"name": "effective_at_utc", "type": "timestamp"},
        {"name": "payout_expected_arrival_date", "type": "varchar"},
    ]
    indexed = v2.get(f"/v2/reporting/report_runs/{run['id']}", params={"include[0]": "result.file.schema"})
    assert indexed.json()["result"]["file"]["schema"] == done["result"]["file"]["schema"]
    summary = v2.wait(v2.create("balance_change_from_activity.summary")["id"], schema=True)
    types = {c["name"]: c["type"] for c in summary["result"]["file"]["schema"]}
    assert types["count"] == "bigint" and types["gross"] == "double" and types["currency"] == "varchar"


def test_compressed_result_is_a_zip_with_one_csv(sandbox, v2):
    run = v2.create("payouts.summary", compress=True)
    assert run["result_options"] == {"compress_file": True}
    done = v2.wait(run["id"])
    f = done["result"]["file"]
    assert f["content_type"] == "zip" and f["download_url"]["url"].endswith(
        "&signature=" + parse_qs(urlsplit(f["download_url"]["url"]).query)["signature"][0]
    )
    body = requests.get(f["download_url"]["url"], timeout=10)
    assert body.headers["Content-Type"] == "application/zip" and len(body.content) == int(f["size"])
    with zipfile.ZipFile(io.BytesIO(body.content)) as zf:
        assert zf.namelist() == [f"{run['id']}.csv"]
        assert zf.read(f"{run['id']}.csv") == _render(
            sandbox, "payouts.summary.1", interval_start=JAN, interval_end=1738368000
        )


def test_tampered_and_expired_urls_are_refused(sandbox_factory):
    sb = sandbox_factory(download_url_ttl=0.3)
    api = V2(sb)
    done = api.wait(api.create()["id"])
    url = done["result"]["file"]["download_url"]["url"]
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    later = str(int(q["expires"][0]) + 3_600_000)
    forged = f"{parts.scheme}://{parts.netloc}{parts.path}?" + urlencode(
        {"expires": later, "signature": q["signature"][0]}
    )
    r = requests.get(forged, timeout=10)
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    other_run = url.replace(done["id"], done["id"][:-1] + ("A" if done["id"][-1] != "A" else "B"))
    assert requests.get(other_run, timeout=10).status_code == 403
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403
    assert requests.get(url, timeout=10).status_code == 200
    time.sleep(0.4)
    r = requests.get(url, timeout=10)
    assert (
        r.status_code == 403
        and b"Request has expired" in r.content
        and r.headers["Request-Id"].startswith("req_")
    )
    fresh = api.run(done["id"])["result"]["file"]["download_url"]["url"]
    assert fresh != url and requests.get(fresh, timeout=10).status_code == 200


def test_report_retrieve(sandbox, v2):
    rep_id = rid(sandbox, "payouts.itemized")
    r = v2.get(f"/v2/reporting/reports/{rep_id}")
    assert r.status_code == 200
    rep = r.json()
    assert (
        rep["id"] == rep_id and rep["object"] == "v2.reporting.report" and rep["name"] == "payouts.itemized"
    )
    assert rep["livemode"] is False
    p = rep["parameters"]
    assert p["interval_start"]["type"] == "timestamp" and p["interval_start"]["required"] is True
    assert p["interval_start"]["timestamp_details"] == {
        "min": "2024-01-01T00:00:00.000Z",
        "max": "2025-06-14T00:00:00.000Z",
    }
    assert p["currency"]["type"] == "enum" and p["currency"]["enum_details"]["allowed_values"] == [
        "usd",
        "eur",
        "jpy",
    ]
    assert p["reporting_category"]["enum_details"]["allowed_values"] == catalog.reporting_categories()
    cols = p["columns"]["array_details"]
    assert p["columns"]["type"] == "array" and cols["element_type"] == "enum"
    assert "payout_id" in cols["enum_details"]["allowed_values"]
    assert p["columns"]["enum_details"] is None and p["timezone"]["timestamp_details"] is None
    by_id = v2.get(f"/v2/reporting/reports/{rid(sandbox, 'payout_reconciliation.by_id.itemized')}")
    assert by_id.json()["parameters"]["payout"]["required"] is True
    live = V2(sandbox, sandbox.live_api_key).get(
        f"/v2/reporting/reports/{rid(sandbox, 'payouts.itemized', True)}"
    )
    assert live.status_code == 200 and live.json()["livemode"] is True


@pytest.mark.parametrize("report", ["balance.summary", "report_61Sud3n5oAGVCWiSr5", "report_test_nope"])
def test_report_must_be_an_id_of_the_keys_mode(v2, report):
    r = v2.get(f"/v2/reporting/reports/{report}")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = v2.post(
        "/v2/reporting/report_runs",
        {
            "report": report,
            "report_parameters": {
                "interval_start": "2025-01-01T00:00:00Z",
                "interval_end": "2025-02-01T00:00:00Z",
            },
        },
    )
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "not_found" and "type" not in err and report in err["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval_start": "2025-01-01"}, "interval_start"),
        ({"interval_start": 1735689600}, "interval_start"),
        ({"interval_end": None}, "interval_end"),
        ({"interval_start": "2023-01-01T00:00:00Z"}, "interval_start"),
        ({"interval_end": "2025-07-01T00:00:00Z"}, "interval_end"),
        (
            {"interval_start": "2025-02-01T00:00:00Z", "interval_end": "2025-01-01T00:00:00Z"},
            "interval_start",
        ),
        ({"columns": ["category", "no_such_column"]}, "columns"),
        ({"timezone": "Nowhere/Special"}, "timezone"),
        ({"currency": "gbp"}, "currency"),
        ({"payout": "po_1"}, "payout"),
    ],
)
def test_create_validation_errors(sandbox, v2, params, field):
    """v2 refuses bad fields with 400 invalid_fields, the code the preview spec documents for this
    create; the body has only code and message (no v1 type, param or doc_url)."""
    before = sandbox.runs_created
    r = v2.create_raw("balance.summary", **params)
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert set(err) == {"code", "message"} and err["code"] == "invalid_fields"
    assert field in err["message"] and "balance.summary.1" not in err["message"]
    assert sandbox.runs_created == before


def test_by_id_report_needs_a_known_payout(sandbox, v2):
    r = v2.create_raw(
        "payout_reconciliation.by_id.itemized", interval_start=None, interval_end=None, payout="po_nope"
    )
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "not_found" and "po_nope" in err["message"] and "param" not in err
    payouts = sandbox.ledger.payouts
    po = str(payouts[payouts["automatic"].astype(bool)]["id"].iloc[3])
    run = v2.wait(
        v2.create("payout_reconciliation.by_id.itemized", interval_start=None, interval_end=None, payout=po)[
            "id"
        ]
    )
    assert run["status"] == "succeeded" and run["report_parameters"] == {"payout": po}
    csv = requests.get(run["result"]["file"]["download_url"]["url"], timeout=10).content
    assert csv == _render(sandbox, "payout_reconciliation.by_id.itemized.4", payout=po)


def test_window_message_names_the_window(v2):
    err = error_of(v2.create_raw(interval_end="2025-07-01T00:00:00.000Z"))
    assert err["message"] == (
        "Data for the report balance.summary is only available through 2025-06-14 00:00:00 UTC; "
        "you requested `interval_end` = 2025-07-01 00:00:00 UTC."
    )  # the v2 report's name, never the v1 report type behind it


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"report_parameters": {}}, "Missing required param: report."),
        ({"report": BALANCE_ID}, "Missing required param: report_parameters."),
        (
            {"report": BALANCE_ID, "report_parameters": {}, "colour": "red"},
            "Received unknown parameter: colour",
        ),
        (
            {
                "report": BALANCE_ID,
                "report_parameters": {
                    "interval_start": "2025-01-01T00:00:00Z",
                    "interval_end": "2025-02-01T00:00:00Z",
                },
                "result_options": {"compress_file": "yes"},
            },
            "compress_file",
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_create_body_errors(v2, body, words):
    r = v2.post("/v2/reporting/report_runs", body)
    assert (
        r.status_code == 400 and error_of(r)["code"] == "invalid_fields" and words in error_of(r)["message"]
    )


def test_body_that_is_not_json(sandbox, v2):
    r = requests.post(
        sandbox.url + "/v2/reporting/report_runs", data="report=x", headers=v2.headers(), timeout=10
    )
    assert r.status_code == 400 and error_of(r) == {
        "code": "invalid_fields",
        "message": "The request body is not valid JSON.",
    }


@pytest.mark.parametrize("version", [None, "2026-10-28.endive", "2025-07-03.private"])
def test_v2_needs_a_preview_version(sandbox, version):
    api = V2(sandbox, version=version or "")
    headers = api.headers()
    if version is None:
        del headers["Stripe-Version"]
    for r in (
        api.get(f"/v2/reporting/reports/{BALANCE_ID}", headers=headers),
        api.post("/v2/reporting/report_runs", {}, headers=headers),
    ):
        assert r.status_code == 400
        # no source gives the code: invalid_api_version is not a Stripe code, so the one documented
        # v2 400 code (a choice, docs/fidelity.md)
        assert error_of(r)["code"] == "invalid_fields" and ".preview" in error_of(r)["message"]


def test_v2_takes_bearer_only(sandbox):
    r = requests.get(
        sandbox.url + f"/v2/reporting/reports/{BALANCE_ID}",
        auth=(sandbox.api_key, ""),
        headers={"Stripe-Version": "2026-07-08.preview"},
        timeout=10,
    )
    assert r.status_code == 401 and set(error_of(r)) == {"type", "message"}  # the v1 401 body (a choice)


def test_run_retrieve_errors(sandbox, v1, v2):
    assert v2.get("/v2/reporting/report_runs/reprun_test_nope").status_code == 404
    frr = v1.create()["id"]
    assert error_of(v2.get(f"/v2/reporting/report_runs/{frr}"))["code"] == "not_found"
    run = v2.create()["id"]
    assert v1.get(f"/v1/reporting/report_runs/{run}").status_code == 404
    assert V2(sandbox, sandbox.live_api_key).get(f"/v2/reporting/report_runs/{run}").status_code == 404
    r = v2.get(f"/v2/reporting/report_runs/{run}", params={"include[]": "result.file.sql"})
    assert (
        r.status_code == 400
        and error_of(r)["code"] == "invalid_fields"
        and "include" in error_of(r)["message"]
    )


def test_live_runs(sandbox):
    api = V2(sandbox, sandbox.live_api_key)
    run = api.create("balance_change_from_activity.itemized")
    assert run["id"].startswith("reprun_live_") and run["livemode"] is True
    assert run["report"] == rid(sandbox, "balance_change_from_activity.itemized", True)
    # v1's live-only rule (bcfa.itemized.3) does not carry over: v2 has a sandbox id for the report
    test_run = V2(sandbox).wait(V2(sandbox).create("balance_change_from_activity.itemized")["id"])
    assert test_run["status"] == "succeeded" and test_run["livemode"] is False
    assert V2(sandbox).get(f"/v2/reporting/report_runs/{run['id']}").status_code == 404


def test_idempotency_v2(sandbox, v2):
    before = sandbox.runs_created
    h = v2.headers(**{"Idempotency-Key": "v2-idem"})
    first = v2.create_raw(headers=h)
    again = v2.create_raw(headers=h)
    assert first.status_code == again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true" and sandbox.runs_created == before + 1
    other = v2.create_raw(headers=h, currency="usd")
    # v2: 409 idempotency_error (/work/shared/research/stripe-v2-data.md §10: other v2 POSTs in the spec)
    assert (
        other.status_code == 409 and error_of(other)["type"] == error_of(other)["code"] == "idempotency_error"
    )
    assert sandbox.runs_created == before + 1


def test_concurrent_run_cap_v2_counts_v1_runs_too(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=2, processing_time=0.4)
    V1(sb).create()
    api = V2(sb)
    api.create()
    r = api.create_raw()
    assert r.status_code == 429
    err = error_of(r)
    assert err == {"type": "rate_limit", "code": "report_run_rate_limit_exceeded", "message": err["message"]}
    assert V1(sb).create_raw().status_code == 429
    time.sleep(0.45)
    assert api.create_raw().status_code == 200
