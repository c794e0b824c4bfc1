"""The official ``stripe`` SDK (v1 reporting), pointed at the sandbox, works unchanged."""

from __future__ import annotations

import time

import pytest
import requests
import stripe
from sbhttp import FEB, JAN

from reportkit.sandbox import connectreports, reports


def _client(sb, key=None, **kw):
    return stripe.StripeClient(key or sb.api_key, base_addresses={"api": sb.url, "files": sb.files_url}, **kw)


def _wait(client, run_id):
    for _ in range(300):
        run = client.v1.reporting.report_runs.retrieve(run_id)
        if run.status != "pending":
            return run
        time.sleep(0.03)
    raise AssertionError("run did not finish")


def test_sdk_types_runs_and_documented_download(sandbox):
    client = _client(sandbox)
    types = client.v1.reporting.report_types.list()
    served = reports.SUPPORTED | connectreports.SUPPORTED
    assert {t.id for t in types.data} == served - {"balance_change_from_activity.itemized.3"}
    t = client.v1.reporting.report_types.retrieve("balance.summary.1")
    assert isinstance(t, stripe.reporting.ReportType) and t.default_columns == [
        "category",
        "description",
        "net_amount",
        "currency",
    ]
    run = client.v1.reporting.report_runs.create(
        params={
            "report_type": "balance_change_from_activity.summary.1",
            "parameters": {
                "interval_start": JAN,
                "interval_end": FEB,
                "currency": "usd",
                "columns": ["reporting_category", "currency", "count", "net"],
            },
        }
    )
    assert isinstance(run, stripe.reporting.ReportRun) and run.status == "pending"
    assert run.parameters.columns == ["reporting_category", "currency", "count", "net"]
    run = _wait(client, run.id)
    assert run.status == "succeeded" and isinstance(run.result, stripe.File)
    # Stripe's documented download: GET result.url with the secret key as Basic auth
    body = requests.get(run.result.url, auth=(sandbox.api_key, ""), timeout=10)
    assert body.status_code == 200 and len(body.content) == run.result.size
    assert body.content == reports.render(
        sandbox.ledger,
        "balance_change_from_activity.summary.1",
        {
            "interval_start": JAN,
            "interval_end": FEB,
            "timezone": "Etc/UTC",
            "currency": "usd",
            "columns": ["reporting_category", "currency", "count", "net"],
            "reporting_category": None,
            "payout": None,
        },
    )
    assert body.content.splitlines()[0] == b"reporting_category,currency,count,net"
    f = client.v1.files.retrieve(run.result.id)
    assert f.id == run.result.id and f.purpose == "finance_report_run"
    # the SDK sent its own Idempotency-Key and Stripe-Version on the POST
    post = [
        q
        for q in sandbox.requests
        if q.method == "POST" and q.headers.get("User-Agent", "").startswith("Stripe")
    ]
    assert post and "Idempotency-Key" in post[-1].headers and "Stripe-Version" in post[-1].headers


def test_sdk_auto_pagination(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=None, request_rate=None)
    client = _client(sb)
    made = [
        client.v1.reporting.report_runs.create(
            params={
                "report_type": "payouts.summary.1",
                "parameters": {"interval_start": JAN + i * 3600, "interval_end": FEB},
            }
        ).id
        for i in range(7)
    ]
    page = client.v1.reporting.report_runs.list(params={"limit": 3})
    assert len(page.data) == 3 and page.has_more
    seen = [r.id for r in page.auto_paging_iter()]
    assert seen == made[::-1]
    lists = [q for q in sb.requests if q.path == "/v1/reporting/report_runs" and q.method == "GET"]
    assert len(lists) == 3 and "starting_after" in lists[-1].query


def test_sdk_module_level_api_base(sandbox, monkeypatch):
    monkeypatch.setattr(stripe, "api_key", sandbox.api_key)
    monkeypatch.setattr(stripe, "api_base", sandbox.url)
    monkeypatch.setattr(stripe, "upload_api_base", sandbox.files_url)
    run = stripe.reporting.ReportRun.create(
        report_type="balance.summary.1", parameters={"interval_start": JAN, "interval_end": FEB}
    )
    assert stripe.reporting.ReportRun.retrieve(run.id).id == run.id
    assert any(r.id == run.id for r in stripe.reporting.ReportRun.list(limit=100).data)


def test_sdk_error_mapping(sandbox_factory):
    sb = sandbox_factory(concurrent_run_cap=1, request_rate=None)
    client = _client(sb, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.reporting.report_runs.create(
            params={
                "report_type": "balance.summary.1",
                "parameters": {"interval_start": 1, "interval_end": FEB},
            }
        )
    assert (
        e.value.param == "parameters.interval_start" and "only available starting at" in e.value.user_message
    )
    assert e.value.request_id.startswith("req_")
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.reporting.report_types.retrieve("nope.summary.1")
    assert e.value.http_status == 404 and e.value.code == "resource_missing"
    with pytest.raises(stripe.AuthenticationError):
        _client(sb, key="sk_test_").v1.reporting.report_types.list()
    params = {"report_type": "balance.summary.1", "parameters": {"interval_start": JAN, "interval_end": FEB}}
    client.v1.reporting.report_runs.create(params=params, options={"idempotency_key": "sdk-1"})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.reporting.report_runs.create(
            params={**params, "parameters": {"interval_start": JAN, "interval_end": FEB + 1}},
            options={"idempotency_key": "sdk-1"},
        )
    with pytest.raises(stripe.RateLimitError) as e:  # the concurrent-run cap of 1
        client.v1.reporting.report_runs.create(params=params)
    assert (
        e.value.http_status == 429 and e.value.json_body["error"]["code"] == "report_run_rate_limit_exceeded"
    )
