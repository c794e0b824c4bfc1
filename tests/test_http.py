"""The transport: form encoding, error mapping, retries with one idempotency key, headers, logging."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

import reportkit as rk
from reportkit import config
from reportkit._http import Transport, encode_form, error_from_response
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, tzinfo=UTC)


def test_form_encoding_nests_brackets_and_indexes_arrays():
    body = encode_form(
        {
            "report_type": "payouts.itemized.3",
            "parameters": {
                "interval_start": 1735689600,
                "columns": ["payout_id", "payment_metadata[order_id]"],
                "currency": None,
                "flag": True,
            },
            "expand": ["result"],
            "created": {"gte": datetime(2025, 1, 1, tzinfo=UTC)},
        }
    )
    assert body == [
        ("report_type", "payouts.itemized.3"),
        ("parameters[interval_start]", "1735689600"),
        ("parameters[columns][0]", "payout_id"),
        ("parameters[columns][1]", "payment_metadata[order_id]"),
        ("parameters[flag]", "true"),
        ("expand[0]", "result"),
        ("created[gte]", "1735689600"),
    ]


@pytest.mark.parametrize(
    "status,body,cls,code",
    [
        (
            400,
            {"error": {"type": "invalid_request_error", "message": "Bad", "param": "parameters[x]"}},
            rk.InvalidRequestError,
            None,
        ),
        (
            400,
            {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow"}},
            rk.RateLimitError,
            "rate_limit",
        ),
        (
            401,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: sk_test_****abcd",
                }
            },
            rk.AuthenticationError,
            None,
        ),
        (
            403,
            {"error": {"code": "report_inaccessible", "message": "no"}},
            rk.PermissionDeniedError,
            "report_inaccessible",
        ),
        (404, {"error": {"code": "not_found", "message": "gone"}}, rk.NotFoundError, "not_found"),
        (409, {"error": {"type": "idempotency_error", "message": "reused"}}, rk.InvalidRequestError, None),
        (
            429,
            {"error": {"type": "rate_limit", "code": "report_run_rate_limit_exceeded", "message": "cap"}},
            rk.RateLimitError,
            "report_run_rate_limit_exceeded",
        ),
        (502, b"<html>bad gateway</html>", rk.ServerError, None),
        (418, {"error": {"message": "teapot"}}, rk.APIError, None),
    ],
)
def test_error_bodies_map_to_the_tree(status, body, cls, code):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    err = error_from_response(status, raw, {"Request-Id": "req_123", "Stripe-Should-Retry": "false"})
    assert type(err) is cls and err.http_status == status and err.code == code
    assert err.request_id == "req_123" and err.should_retry is False
    assert "req_123" in str(err) and f"HTTP {status}" in str(err)
    if isinstance(body, dict):
        assert err.message == body["error"]["message"] and err.param == body["error"].get("param")
        assert err.type == body["error"].get("type")


def test_a_key_in_an_error_message_is_masked():
    raw = json.dumps(
        {"error": {"message": "Invalid API Key provided: sk_live_abcdefghijklmnop1234"}}
    ).encode()
    err = error_from_response(401, raw, {})
    assert "abcdefghijklmnop" not in str(err) and "sk_live_...1234" in str(err)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=3, now=NOW, processing_time=0.05, jitter=0.0) as box:
        yield box
        assert box.errors == []


@pytest.fixture()
def client(sb):
    sb.faults.reset()
    yield sb.client(cache=False, progress=False)
    sb.faults.reset()


def _new(sb, before):
    return sb.requests.snapshot()[before:]


def test_5xx_on_create_is_retried_with_the_same_idempotency_key(sb, client):
    created, before = sb.runs_created, len(sb.requests)
    sb.faults.server_errors(2, status=503, method="POST")
    run = client.create_run("balance.summary.1", "2025-01-01", "2025-02-01")
    posts = [r for r in _new(sb, before) if r.method == "POST"]
    assert len(posts) == 3 and sb.faults.fired["error"] >= 2
    keys = {r.headers.get("Idempotency-Key") for r in posts}
    assert len(keys) == 1 and None not in keys
    assert sb.runs_created == created + 1 and run.status == "pending"


def test_dropped_connection_on_create_is_retried_once_created(sb, client):
    created, before = sb.runs_created, len(sb.requests)
    sb.faults.drop_connections(1, method="POST")
    client.create_run("balance.summary", "2025-01-01", "2025-02-01", api="v2")
    posts = [r for r in _new(sb, before) if r.method == "POST"]
    assert len(posts) == 2 and len({r.headers["Idempotency-Key"] for r in posts}) == 1
    assert sb.runs_created == created + 1


def test_request_rate_429_is_backed_off_and_retried(sb, client):
    before = len(sb.requests)
    sb.faults.rate_limit_burst(2, method="GET")
    assert client.report_type("balance.summary.1").id == "balance.summary.1"
    gets = [r for r in _new(sb, before) if r.path.endswith("/balance.summary.1")]
    assert len(gets) == 3 and sb.faults.fired["rate_limit"] >= 2


def test_persistent_5xx_is_a_server_error_with_request_id(sb):
    client = sb.client(cache=False, progress=False, max_retries=1)
    sb.faults.server_errors(None, status=500, method="GET")
    try:
        with pytest.raises(rk.ServerError) as info:
            client.report_type("balance.summary.1")
    finally:
        sb.faults.reset()
    assert info.value.http_status == 500 and info.value.request_id.startswith("req_")


def test_idempotency_key_reuse(sb, client):
    created = sb.runs_created
    a = client.create_run("payouts.summary.1", "2025-01-01", "2025-02-01", idempotency_key="rk-test-key-1")
    b = client.create_run("payouts.summary.1", "2025-01-01", "2025-02-01", idempotency_key="rk-test-key-1")
    assert a.id == b.id and sb.runs_created == created + 1
    with pytest.raises(rk.InvalidRequestError) as info:
        client.create_run("payouts.summary.1", "2025-01-01", "2025-03-01", idempotency_key="rk-test-key-1")
    assert info.value.code == "idempotency_error" or info.value.type == "idempotency_error"


def test_headers_auth_and_versions(sb, client):
    before = len(sb.requests)
    df = client.report("payouts.summary.1", "2025-01-01", "2025-02-01", columns=["currency", "net"])
    assert list(df.columns) == ["currency", "net"]  # indexed columns[] arrived intact
    client.report("payouts.summary", "2025-01-01", "2025-02-01", api="v2")
    seen = _new(sb, before)
    api = [r for r in seen if r.host == "api"]
    assert api and all(r.headers.get("Authorization") == f"Bearer {sb.api_key}" for r in api)
    for r in api:
        want = config.V2_STRIPE_VERSION if r.path.startswith("/v2/") else config.STRIPE_VERSION
        assert r.headers.get("Stripe-Version") == want
        assert r.headers.get("User-Agent", "").startswith("reportkit/")
    v2_posts = [r for r in api if r.method == "POST" and r.path.startswith("/v2/")]
    assert v2_posts and v2_posts[0].headers.get("Content-Type") == "application/json"


def test_debug_log_has_method_path_status_request_id(sb, client, caplog):
    with caplog.at_level(logging.DEBUG, logger="reportkit"):
        client.report_type("payouts.summary.1")
    rec = [r.getMessage() for r in caplog.records if r.name == "reportkit"]
    assert any("GET /v1/reporting/report_types/payouts.summary.1 -> 200 (request_id=req_" in m for m in rec)


def test_the_key_goes_only_to_the_configured_hosts(sb):
    t = Transport(
        sb.api_key,
        api_base=sb.url,
        files_base=sb.files_url,
        timeout=(2, 5),
        stripe_version="x",
        v2_stripe_version="y.preview",
    )
    with pytest.raises(rk.ConfigurationError, match="files host"):
        t.download(sb.downloads_url + "/v1/files/file_x/contents", io.BytesIO(), keyed=True, label="x")
    with pytest.raises(rk.ConfigurationError, match="refusing"):
        t._auth_headers("http://127.0.0.1:9/v1/x")
    assert sb.api_key not in repr(t)


@pytest.fixture()
def stub_server():
    """A tiny server answering 503 + ``Stripe-Should-Retry: false`` (the sandbox never says false)."""
    hits = []

    def app(environ, start_response):
        hits.append(environ["REQUEST_METHOD"])
        body = json.dumps({"error": {"type": "api_error", "message": "do not retry"}})
        resp = Response(
            body,
            status=503,
            headers={"Stripe-Should-Retry": "false", "Request-Id": "req_stub"},
            content_type="application/json",
        )
        return resp(environ, start_response)

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}", hits
    srv.shutdown()


def test_stripe_should_retry_false_is_obeyed(stub_server):
    url, hits = stub_server
    t = Transport(
        "sk_test_abcdefghijklmnop",
        api_base=url,
        files_base=url,
        timeout=(2, 5),
        stripe_version="x",
        v2_stripe_version="y.preview",
        max_retries=3,
    )
    with pytest.raises(rk.ServerError) as info:
        t.request("POST", "/v1/reporting/report_runs", params={"report_type": "x"})
    assert hits == ["POST"] and info.value.should_retry is False and info.value.request_id == "req_stub"


def test_connection_refused_is_an_api_connection_error():
    t = Transport(
        "sk_test_abcdefghijklmnop",
        api_base="http://127.0.0.1:9",
        files_base="http://127.0.0.1:9",
        timeout=(0.5, 1),
        stripe_version="x",
        v2_stripe_version="y.preview",
        max_retries=1,
    )
    with pytest.raises(rk.APIConnectionError, match="no answer"):
        t.request("GET", "/v1/reporting/report_types")
