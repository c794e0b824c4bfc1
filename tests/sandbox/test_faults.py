"""Every fault switch of the sandbox, driven over real HTTP against function-scoped sandboxes."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
import requests
from sbhttp import FEB, JAN, MAR, V1, V2, error_of


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(request_rate=None, files_rate=None, concurrent_run_cap=None)


def test_server_errors_for_the_next_n_matching_requests(sb):
    api = V1(sb)
    sb.faults.server_errors(2, status=503, method="POST")
    assert api.get("/v1/reporting/report_types").status_code == 200  # GET does not match
    h = {"Idempotency-Key": "retry-me"}
    for _ in range(2):
        r = api.create_raw(headers=h)
        assert r.status_code == 503
        err = error_of(r)
        assert err["type"] == "api_error" and r.headers["Stripe-Should-Retry"] == "true"
    assert sb.runs_created == 0
    ok = api.create_raw(headers=h)  # the 503s were not saved under the key, so the retry runs
    assert ok.status_code == 200 and "Idempotent-Replayed" not in ok.headers
    assert sb.runs_created == 1 and sb.faults.fired["error"] == 2


def test_server_errors_filtered_by_host_and_path_with_v2_shape(sb):
    sb.faults.server_errors(1, path="/v2/", host="api")
    api2 = V2(sb)
    report = f"/v2/reporting/reports/{sb.backend.report_ids.id('balance.summary', False)}"
    r = api2.get(report)
    assert r.status_code == 500 and error_of(r) == {
        "code": "internal_error",
        "message": "An unknown error occurred. Please try again.",
        "type": "api_error",
    }
    assert api2.get(report).status_code == 200
    sb.faults.server_errors(None, status=502, host="files")  # every files-host request until reset
    api = V1(sb)
    url = api.wait(api.create()["id"])["result"]["url"]
    assert [requests.get(url, auth=(sb.api_key, ""), timeout=10).status_code for _ in range(3)] == [502] * 3
    assert api.get("/v1/reporting/report_types").status_code == 200
    sb.faults.reset()
    assert requests.get(url, auth=(sb.api_key, ""), timeout=10).status_code == 200


def test_dropped_connections(sb):
    api = V1(sb)
    sb.faults.drop_connections(2, path="/v1/reporting/report_types")
    for _ in range(2):
        with pytest.raises(requests.exceptions.ConnectionError):
            api.get("/v1/reporting/report_types")
    assert api.get("/v1/reporting/report_types").status_code == 200
    assert sb.faults.fired["drop"] == 2
    logged = [q for q in sb.requests if q.path == "/v1/reporting/report_types"]
    assert len(logged) == 3  # the dropped requests were seen, just never answered


def test_truncated_v1_download(sb):
    api = V1(sb)
    run = api.wait(api.create("payouts.itemized.3", interval_start=JAN, interval_end=MAR)["id"])
    url, size = run["result"]["url"], run["result"]["size"]
    sb.faults.truncate_downloads(1, keep=0.5)
    r = requests.get(url, auth=(sb.api_key, ""), timeout=10, stream=True)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == size
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        r.content  # noqa: B018 - reading the body is the point
    # read raw: the server sent only half of it before closing
    sb.faults.truncate_downloads(1, keep=0.25)
    raw = requests.get(url, auth=(sb.api_key, ""), timeout=10, stream=True).raw
    got = b""
    with pytest.raises(Exception):  # noqa: B017 - urllib3 raises its IncompleteRead/ProtocolError
        while chunk := raw.read(4096, decode_content=False):
            got += chunk
    assert len(got) == int(size * 0.25)
    full = requests.get(url, auth=(sb.api_key, ""), timeout=10)
    assert len(full.content) == size


def test_truncated_v2_download_and_corrupted_zip(sb):
    api = V2(sb)
    run = api.wait(api.create("balance_change_from_activity.summary", compress=True)["id"])
    url, size = run["result"]["file"]["download_url"]["url"], int(run["result"]["file"]["size"])
    sb.faults.truncate_downloads(1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=10)
    sb.faults.corrupt_zips(1)
    bad = requests.get(url, timeout=10)
    assert bad.status_code == 200 and len(bad.content) == size
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bad.content)).read(f"{run['id']}.csv")
    good = requests.get(url, timeout=10)
    assert zipfile.ZipFile(io.BytesIO(good.content)).namelist() == [f"{run['id']}.csv"]
    assert sb.faults.fired["truncate"] == 1 and sb.faults.fired["corrupt_zip"] == 1


def test_slow_responses(sb):
    api = V1(sb)
    sb.faults.slow(0.3, n=1, path="/v1/reporting/report_types")
    t = time.monotonic()
    assert api.get("/v1/reporting/report_types").status_code == 200
    assert time.monotonic() - t >= 0.3
    t = time.monotonic()
    api.get("/v1/reporting/report_types")
    assert time.monotonic() - t < 0.3
    sb.faults.slow(0.5, host="files")
    assert api.get("/v1/reporting/report_types/balance.summary.1", timeout=0.4).status_code == 200
    url = api.wait(api.create()["id"])["result"]["url"]
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, auth=(sb.api_key, ""), timeout=0.2)


def test_failed_runs_next_n(sb):
    api = V1(sb)
    sb.faults.fail_runs(1, message="Boom: the report could not be generated.")
    failed = api.wait(api.create()["id"])
    assert failed["status"] == "failed" and failed["error"] == "Boom: the report could not be generated."
    assert failed["result"] is None and failed["succeeded_at"] is None
    assert api.wait(api.create()["id"])["status"] == "succeeded"
    sb.faults.fail_runs(1, error_code="file_size_above_limit", message="The file exceeds the 5 GB limit.")
    api2 = V2(sb)
    run = api2.wait(api2.create()["id"])
    assert run["status"] == "failed" and run["result"] is None
    assert run["status_details"] == {
        "failed": {"error_code": "file_size_above_limit", "error_message": "The file exceeds the 5 GB limit."}
    }


def test_failed_runs_matching_a_predicate(sb):
    api = V1(sb)
    sb.faults.fail_runs(None, where={"interval_start": FEB})
    sb.faults.fail_runs(1, where=lambda p: p["report_type"] == "payouts.summary.1")
    a = api.create(interval_start=JAN, interval_end=FEB)
    b = api.create(interval_start=FEB, interval_end=MAR)
    c = api.create(interval_start=FEB, interval_end=MAR, currency="usd")
    d = api.create("payouts.summary.1")
    e = api.create("payouts.summary.1")
    status = {k: api.wait(r["id"])["status"] for k, r in zip("abcde", (a, b, c, d, e), strict=True)}
    assert status == {"a": "succeeded", "b": "failed", "c": "failed", "d": "failed", "e": "succeeded"}
    api2 = V2(sb)
    v2run = api2.wait(
        api2.create(interval_start="2025-02-01T00:00:00.000Z", interval_end="2025-03-01T00:00:00.000Z")["id"]
    )
    assert v2run["status_details"]["failed"]["error_code"] == "internal_error"


def test_expired_download_urls(sb):
    api = V2(sb)
    run_id = api.wait(api.create()["id"])["id"]
    sb.faults.expire_download_urls(1)
    expired = api.run(run_id)["result"]["file"]["download_url"]
    r = requests.get(expired["url"], timeout=10)
    assert r.status_code == 403 and b"Request has expired" in r.content
    fresh = api.run(run_id)["result"]["file"]["download_url"]
    assert fresh["expires_at"] > expired["expires_at"]
    assert requests.get(fresh["url"], timeout=10).status_code == 200


def test_rate_limit_bursts(sb):
    api = V1(sb)
    sb.faults.rate_limit_burst(3)
    codes = [api.get("/v1/reporting/report_types").status_code for _ in range(4)]
    assert codes == [429, 429, 429, 200]
    sb.faults.rate_limit_burst(1, path="/v2/")
    r = V2(sb).get("/v2/reporting/reports/report_test_61Sud3nd37HpUFYD75")
    assert r.status_code == 429 and error_of(r) == {
        "type": "rate_limit",
        "code": "rate_limit",
        "message": error_of(r)["message"],
    }
    sb.faults.rate_limit_burst(1, method="POST")
    r = api.create_raw()
    assert r.status_code == 429 and error_of(r)["code"] == "rate_limit" and sb.runs_created == 0


def test_revoked_key(sb):
    api = V1(sb)
    assert api.get("/v1/reporting/report_types").status_code == 200
    sb.faults.revoke_key(sb.api_key)
    r = api.get("/v1/reporting/report_types")
    assert r.status_code == 401
    err = error_of(r)
    assert err["code"] == "api_key_expired" and sb.api_key not in r.text and sb.api_key[-4:] in err["message"]
    assert V2(sb).get("/v2/reporting/reports/report_test_61Sud3nd37HpUFYD75").status_code == 401
    assert V1(sb, sb.live_api_key).get("/v1/reporting/report_types").status_code == 200
    sb.faults.reset()
    assert api.get("/v1/reporting/report_types").status_code == 200


def test_fault_arguments_are_checked(sb):
    with pytest.raises(ValueError):
        sb.faults.server_errors(1, status=404)
    with pytest.raises(ValueError):
        sb.faults.drop_connections(1, host="mail")
    with pytest.raises(ValueError):
        sb.faults.fail_runs(None)
    with pytest.raises(ValueError):
        sb.faults.truncate_downloads(1, keep=1.5)


def test_planted_discrepancies_reach_reports_render(sb):
    from reportkit.sandbox import reports
    from reportkit.sandbox.discrepancies import Discrepancy
    from reportkit.sandbox.params import RunParams

    api = V1(sb)
    params = RunParams(interval_start=JAN, interval_end=FEB, currency="usd")
    clean = reports.render(sb.ledger, "balance_change_from_activity.itemized.2", params)
    before = api.create("balance_change_from_activity.itemized.2", currency="usd")
    planted = [Discrepancy("duplicate_row", "usd", at=JAN + 86400)]
    sb.faults.plant_discrepancies(planted)
    after = api.create("balance_change_from_activity.itemized.2", currency="usd")
    sb.faults.plant_discrepancies(None)
    cleared = api.create("balance_change_from_activity.itemized.2", currency="usd")

    def body(run):
        url = api.wait(run["id"])["result"]["url"]
        return requests.get(url, auth=(sb.api_key, ""), timeout=10).content

    assert body(before) == clean == body(cleared)  # the plant applies to runs created while it is set
    dup = body(after)
    assert dup == reports.render(
        sb.ledger, "balance_change_from_activity.itemized.2", params, discrepancies=planted
    )
    assert len(dup.splitlines()) == len(clean.splitlines()) + 1
