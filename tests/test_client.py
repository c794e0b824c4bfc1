"""Client calls against the sandbox, and every check that must fail before anything is created."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

import reportkit as rk
from reportkit import catalog
from reportkit.sandbox import Sandbox, connectreports
from reportkit.sandbox.reports import SUPPORTED

NOW = datetime(2025, 6, 15, tzinfo=UTC)
WINDOW_END = datetime(2025, 6, 14, tzinfo=UTC)  # last UTC midnight at or before NOW - 12 h


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, now=NOW, processing_time=0.05, jitter=0.01) as box:
        yield box
        assert box.errors == []


@pytest.fixture(scope="module")
def client(sb):
    return sb.client(cache=False, progress=False)


def test_report_types_frame(sb, client):
    df = client.report_types()
    assert list(df.columns) == [
        "id",
        "name",
        "version",
        "data_available_start",
        "data_available_end",
        "default_columns",
        "livemode",
        "updated",
    ]
    assert set(df["id"]) <= SUPPORTED | connectreports.SUPPORTED and "balance.summary.1" in set(df["id"])
    assert str(df["data_available_start"].dt.tz) == "UTC"
    assert df["data_available_end"].max() == WINDOW_END
    row = df.set_index("id").loc["balance.summary.1"]
    assert row["default_columns"] == list(catalog.report_spec("balance.summary.1").default_columns)
    assert row["version"] == 1 and not row["livemode"]


def test_report_type_v1_and_v2(sb, client):
    t = client.report_type("payouts.summary.1")
    assert isinstance(t, rk.ReportType) and t.api == "v1" and t.version == 1
    assert t.data_available_end == WINDOW_END
    v2 = client.report_type("payouts.summary")
    assert v2.api == "v2" and v2.id == sb.backend.report_ids.id("payouts.summary", False)  # by name
    assert v2.data_available_end == WINDOW_END
    assert client.report_type(v2.id).id == v2.id


def test_create_retrieve_and_route_by_id(sb, client):
    run = client.create_run("balance.summary.1", "2025-01-01", "2025-02-01")
    assert run.api == "v1" and run.id.startswith("frr_") and run.status == "pending"
    assert run.interval_start == datetime(2025, 1, 1, tzinfo=UTC)
    v2 = client.create_run("balance.summary", "2025-01-01", "2025-02-01", api="v2")
    assert v2.api == "v2" and v2.id.startswith("reprun_") and v2.status == "running"
    assert v2.report == sb.backend.report_ids.id("balance.summary", False)
    assert client.retrieve_run(run.id).id == run.id
    assert client.retrieve_run(v2.id).api == "v2"
    done = client.wait(v2.id, timeout=30)
    assert done.succeeded and done.result.content_type == "csv"


def test_list_runs_pages(sb, client):
    made = [client.create_run("payouts.summary.1", "2025-01-01", f"2025-0{m}-01").id for m in (2, 3, 4)]
    before = len(sb.requests)
    seen = [r.id for r in client.list_runs(limit=2)]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    pages = [r for r in sb.requests.snapshot()[before:] if r.path == "/v1/reporting/report_runs"]
    assert len(pages) >= 2 and any("starting_after" in r.query for r in pages)
    newer = list(client.list_runs(created={"gte": datetime.now(UTC).replace(year=2000)}))
    assert {r.id for r in newer} >= set(made)


def test_unknown_run_is_not_found_with_request_id(client):
    with pytest.raises(rk.NotFoundError) as info:
        client.retrieve_run("frr_doesnotexist")
    err = info.value
    assert err.http_status == 404 and err.request_id and err.request_id.startswith("req_")
    with pytest.raises(rk.ConfigurationError, match="frr_"):
        client.retrieve_run("po_123")


def _nothing_created(sb, fn):
    """Run ``fn`` and assert it sent no POST (no run was created)."""
    runs, before = sb.runs_created, len(sb.requests)
    fn()
    after = sb.requests.snapshot()[before:]
    assert sb.runs_created == runs
    assert not [r for r in after if r.method == "POST"]
    return after


CHECKS = [
    ("balance.sumary.1", ("2025-01-01", "2025-02-01"), {}, rk.ConfigurationError, "balance.summary.1"),
    ("balance.summary", ("2025-01-01", "2025-02-01"), {}, rk.ConfigurationError, "api='v2'"),
    (
        "balance.summary.1",
        (datetime(2025, 1, 1), "2025-02-01"),
        {},
        rk.ConfigurationError,
        "aware datetime or a date string",
    ),
    ("balance.summary.1", ("2025-02-01", "2025-01-01"), {}, rk.ConfigurationError, "must be before end"),
    ("balance.summary.1", ("2025-01-01", "2025-01-01"), {}, rk.ConfigurationError, "must be before end"),
    (
        "balance.summary.1",
        ("2025-01-01", "2025-02-01"),
        {"timezone": "Europe/Berln"},
        rk.ConfigurationError,
        "Europe/Berlin",
    ),
    (
        "balance.summary.1",
        ("2025-01-01", "2025-02-01"),
        {"columns": ["net_amount", "nett"]},
        rk.ConfigurationError,
        "no column 'nett'",
    ),
    (
        "balance.summary.1",
        ("2025-01-01", "2025-02-01"),
        {"reporting_category": "charge"},
        rk.ConfigurationError,
        "does not take the parameter 'reporting_category'",
    ),
    (
        "payouts.itemized.1",
        ("2025-01-01", "2025-02-01"),
        {"reporting_category": "charges"},
        rk.ConfigurationError,
        "'charge'",
    ),
    (
        "payouts.itemized.1",
        ("2025-01-01", "2025-02-01"),
        {"currency": "dollars"},
        rk.ConfigurationError,
        "currency",
    ),
    (
        "payouts.itemized.1",
        ("2025-01-01", "2025-02-01"),
        {"decimal_separator": ","},
        rk.ConfigurationError,
        "decimal_separator",
    ),
    (
        "balance_change_from_activity.itemized.3",
        ("2025-01-01", "2025-02-01"),
        {},
        rk.ConfigurationError,
        "live mode only",
    ),
    ("payout_reconciliation.by_id.itemized.4", (None, None), {}, rk.ConfigurationError, "needs payout"),
    ("balance.summary.1", ("2023-01-01", "2025-02-01"), {}, rk.DataNotAvailableError, "2024-01-01 00:00:00"),
    ("balance.summary.1", ("2025-06-01", "2025-07-01"), {}, rk.DataNotAvailableError, "clamp=True"),
    ("balance.summary.1", ("2025-01-01", 1.5), {}, rk.ConfigurationError, "interval_end"),
    ("balance.summary.1", ("2025-01-01", "2025-02-01"), {"api": "v3"}, rk.ConfigurationError, "'v1' or 'v2'"),
    (
        "balance.summary.1",
        ("2025-01-01", "2025-02-01"),
        {"compress": True},
        rk.ConfigurationError,
        "api='v2'",
    ),
    (
        "balance.summary.2",
        ("2025-01-01", "2025-02-01"),
        {"api": "v2"},
        rk.ConfigurationError,
        "try 'balance.summary'",
    ),
    (
        "balance.summery",
        ("2025-01-01", "2025-02-01"),
        {"api": "v2"},
        rk.ConfigurationError,
        "'balance.summary'",
    ),
    (
        "balance.summary",
        ("2025-01-01", datetime(2025, 2, 1, 0, 0, 0, 500, tzinfo=UTC)),
        {"api": "v2"},
        rk.ConfigurationError,
        "whole seconds",
    ),
]


@pytest.mark.parametrize("report,bounds,params,exc,text", CHECKS, ids=[f"{c[0]}-{c[4][:20]}" for c in CHECKS])
def test_bad_requests_fail_before_anything_is_created(sb, client, report, bounds, params, exc, text):
    def go():
        with pytest.raises(exc) as info:
            client.report(report, *bounds, **params)
        assert text in str(info.value)

    _nothing_created(sb, go)
    # create_run runs the same checks
    _nothing_created(sb, lambda: pytest.raises(exc, client.create_run, report, *bounds, **params))


def test_window_error_carries_the_window(client):
    with pytest.raises(rk.DataNotAvailableError) as info:
        client.report("balance.summary.1", "2025-06-01", "2025-07-01")
    err = info.value
    assert err.data_available_end == WINDOW_END and err.report_type == "balance.summary.1"
    assert isinstance(err, rk.ConfigurationError)


@pytest.mark.parametrize("api,report", [("v1", "balance.summary.1"), ("v2", "balance.summary")])
def test_clamp_trims_to_the_window_with_a_warning(client, api, report):
    with pytest.warns(rk.ReportkitWarning, match="clamped"):
        df = client.report(report, "2025-06-01", "2025-07-01", api=api, clamp=True)
    assert df.attrs["reportkit"]["interval_end"] == "2025-06-14T00:00:00+00:00"
    assert len(df) > 0


def test_dates_are_read_in_the_timezone_given(client):
    run = client.create_run("payouts.summary.1", date(2025, 1, 1), "2025-01-02", timezone="Asia/Tokyo")
    assert run.interval_start == datetime(2024, 12, 31, 15, tzinfo=UTC)
    assert run.interval_end == datetime(2025, 1, 1, 15, tzinfo=UTC)
    assert run.parameters["timezone"] == "Asia/Tokyo"
    aware = datetime(2025, 1, 1, 3, tzinfo=UTC)
    run = client.create_run("payouts.summary.1", aware, 1735711200)
    assert (run.interval_start, int(run.interval_end.timestamp())) == (aware, 1735711200)


def test_metadata_columns_pass_the_check(sb, client):
    spec = catalog.report_spec("payout_reconciliation.itemized.5")
    meta = [c.name for c in spec.columns if c.kind == "metadata"]
    assert meta, "the catalogue lists metadata columns for this report"
    col = meta[0].replace("[key]", "[order_id]")
    req = client.runner.check(client.prepare(
        "payout_reconciliation.itemized.5",
        "2025-01-01",
        "2025-02-01",
        columns=["balance_transaction_id", col],
    ))
    assert req.parameters["columns"] == ["balance_transaction_id", col]


def test_run_cap_429_is_raised_at_once_with_its_code():
    with Sandbox(seed=7, now=NOW, processing_time=30, concurrent_run_cap=1) as box:
        client = box.client(cache=False, progress=False)
        client.create_run("balance.summary.1", "2025-01-01", "2025-02-01")
        before = len(box.requests)
        with pytest.raises(rk.RateLimitError) as info:
            client.create_run("balance.summary.1", "2025-02-01", "2025-03-01")
        assert info.value.code == "report_run_rate_limit_exceeded" and info.value.http_status == 429
        posts = [r for r in box.requests.snapshot()[before:] if r.method == "POST"]
        assert len(posts) == 1, "the run cap is the fan-out layer's to wait for, not retried here"
        assert box.runs_created == 1


def test_revoked_key_is_an_authentication_error(sb):
    client = rk.Client(sb.live_api_key, api_base=sb.url, files_base=sb.files_url, cache=False)
    client.report_type("payouts.summary.1")
    sb.faults.revoke_key(sb.live_api_key)
    try:
        with pytest.raises(rk.AuthenticationError) as info:
            client.report_type("balance.summary.1")
    finally:
        sb.faults.reset()
    assert info.value.http_status == 401 and info.value.request_id


def test_settings_come_from_the_environment(sb, monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path))
    client = rk.Client(progress=False)
    assert (client.api_base, client.files_base, client.cache_dir) == (sb.url, sb.files_url, tmp_path)
    assert client.report_type("balance.summary.1").id == "balance.summary.1"
    assert rk.Client(cache=False).cache_dir is None
    assert rk.Client(cache=tmp_path / "x").cache_dir == tmp_path / "x"


@pytest.mark.parametrize(
    "kwargs,text",
    [
        ({"api_key": ""}, "STRIPE_API_KEY"),
        ({"api_key": "pk_test_abcdefghijkl"}, "does not look like"),
        ({"api_key": "sk_test_abcdefghijkl", "api_base": "http://api.example.com"}, "clear text"),
        ({"api_key": "sk_test_abcdefghijkl", "files_base": "ftp://files"}, "files_base"),
        ({"api_key": "sk_test_abcdefghijkl", "timeout": -1}, "timeout"),
        ({"api_key": "sk_test_abcdefghijkl", "v2_stripe_version": "2026-01-01"}, ".preview"),
    ],
)
def test_bad_settings(monkeypatch, kwargs, text):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    with pytest.raises(rk.ConfigurationError, match=text.replace(".", r"\.")):
        rk.Client(**kwargs)
