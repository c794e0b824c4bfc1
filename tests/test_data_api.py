"""The client on /v2/data (issue 16): frames equal to v1 for every report the sandbox serves, inline
pages equal to the file, declared types over the catalogue, names resolved through the server
(issue 14), query runs equal to the ledger, and each failure as its typed error."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import unquote

import pandas as pd
import pytest

import reportkit as rk
from reportkit import catalog
from reportkit._names import Names
from reportkit.errors import NotFoundError
from reportkit.sandbox import Sandbox, reports
from reportkit.sandbox.databackend import DataBackend

NOW = datetime(2025, 6, 15, tzinfo=UTC)
START, END = "2025-01-01", "2025-02-01"
SERVED = sorted(n for n, r in catalog.v2_reports().items() if r.v1 in reports.SUPPORTED)
FAST = {"processing_time": 0.05, "jitter": 0.0, "now": NOW, "request_rate": None, "files_rate": None}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, concurrent_run_cap=None, **FAST) as box:
        yield box


@pytest.fixture(scope="module")
def client(sb):
    return sb.client(cache=False, progress=False)


def _args(sb, name):
    spec = catalog.v2_report(name).spec
    params = {}
    if "payout" in spec.required:
        po = sb.ledger.payouts
        params["payout"] = po[po.automatic].id.iloc[5]
    interval = (
        START if "interval_start" in spec.parameters else None,
        END if "interval_end" in spec.parameters else None,
    )
    live = spec.id in sb.config.live_only
    return interval, params, live


@pytest.mark.parametrize("name", SERVED)
def test_every_report_through_data_equals_v1_exactly(sb, client, name):
    (start, end), params, live = _args(sb, name)
    who = sb.client(cache=False, progress=False, api_key=sb.live_api_key) if live else client
    v1 = who.report(catalog.v2_report(name).v1, start, end, **params)
    from_file = who.report(name, start, end, api="data", inline=False, **params)
    inline = who.report(name, start, end, api="data", inline=True, **params)
    pd.testing.assert_frame_equal(from_file, v1, check_exact=True)
    pd.testing.assert_frame_equal(inline, v1, check_exact=True)
    meta, imeta = from_file.attrs["reportkit"], inline.attrs["reportkit"]
    assert (meta["api"], meta["source"], imeta["source"]) == ("data", "file", "inline")
    assert meta["report_id"] == sb.backend.report_ids.id(name, live) and meta["run_id"].startswith("rrun_")
    assert meta["columns"] and imeta["size"] is None and meta["size"] > 0
    money = [c for c, k in meta["columns"] if k == "decimal"]
    assert all(str(v1[c].dtype) == "decimal" for c in money)


def test_inline_pages_equal_the_file_over_many_pages(sb, client):
    # more rows than one inline page (1000), so the client follows next_page_url
    file = client.report("payout_reconciliation.itemized", START, "2025-03-01", api="data", inline=False)
    assert len(file) > 1000
    inline = client.report("payout_reconciliation.itemized", START, "2025-03-01", api="data", inline=True)
    pd.testing.assert_frame_equal(inline, file, check_exact=True)
    pages = [r for r in sb.requests if r.path.startswith("/v2/data/report_runs/") and "page=" in r.query]
    assert pages, "the second page was fetched by its page URL"


def test_small_results_are_read_inline_by_default(sb, client):
    df = client.report("balance.summary", START, END, api="data")
    assert df.attrs["reportkit"]["source"] == "inline"
    assert "include[0]=sql" in unquote(next(r.query for r in reversed(list(sb.requests)) if "sql" in r.query))
    sql = client.report("balance_change_from_activity.summary", START, END, api="data").attrs["reportkit"][
        "sql"
    ]
    assert "FROM balance_transactions" in sql


def test_declared_types_override_the_catalogue(sb, client, monkeypatch):
    declared = DataBackend.columns

    def retyped(self, run):
        cols = declared(self, run)
        for c in cols:
            if c["name"] == "net":
                c["type"] = "varchar"  # the catalogue says money
            if c["name"] == "count":
                c["type"] = "double"  # the catalogue says count
        return cols

    monkeypatch.setattr(DataBackend, "columns", retyped)
    for inline in (True, False):
        df = client.report("balance_change_from_activity.summary", START, END, api="data", inline=inline)
        assert str(df["net"].dtype) == "string" and df["count"].dtype == "float64"
        assert str(df["gross"].dtype) == "decimal"  # still declared decimal
    v1 = client.report("balance_change_from_activity.summary.1", START, END)
    assert list(df["net"]) == [str(v) for v in v1["net"]]


def test_names_resolve_through_the_server_to_ids_it_made_up_and_ids_pass_through():
    ids = {"balance.summary": "report_test_neverseen0001", "payouts.summary": {"test": "report_test_x42"}}
    with Sandbox(seed=3, report_ids=ids, concurrent_run_cap=None, **FAST) as box:
        c = box.client(cache=False, progress=False)
        for api in ("data", "v2"):
            df = c.report("balance.summary", START, END, api=api)
            assert df.attrs["reportkit"]["report_id"] == "report_test_neverseen0001"
        assert c.runner.names.lookups == 1  # cached between the two calls
        by_id = c.report("report_test_x42", START, END, api="data")  # an id the catalogue never saw
        pd.testing.assert_frame_equal(by_id, c.report("payouts.summary.1", START, END), check_exact=True)
        assert (
            c.report("report_test_x42", START, END, api="v2").attrs["reportkit"]["report_id"]
            == "report_test_x42"
        )
        with pytest.raises(rk.NotFoundError):
            c.report("report_test_unknown", START, END, api="data")
        assert c.data_reports().set_index("name").loc["balance.summary", "id"] == "report_test_neverseen0001"


def test_the_catalogue_ships_only_documented_ids():
    documented = {
        ("balance.summary", "live"): "report_61Sud3n5oAGVCWiSr5",
        ("balance.summary", "test"): "report_test_61Sud3nd37HpUFYD75",
        ("balance_change_from_activity.summary", "live"): "report_61SucxGjCGSg88wJ35",
        ("balance_change_from_activity.itemized", "live"): "report_61SucuXxBYxjgGS9S5",
        ("payouts.itemized", "live"): "report_61Sud0tJaM66vrZ2H5",
    }
    shipped = {(n, m): r.id(m == "live") for n, r in catalog.v2_reports().items() for m in ("live", "test")}
    assert {k: v for k, v in shipped.items() if v} == documented


class _NoData:
    """An Api whose account has no /v2/data (GET /v2/data/reports is a 404)."""

    class data:
        @staticmethod
        def reports(**_):
            raise NotFoundError("Unrecognized request URL (GET: /v2/data/reports)", http_status=404)


def test_without_data_a_documented_id_is_used_else_the_error_says_how_to_pass_one():
    live, test = Names(_NoData(), livemode=True), Names(_NoData(), livemode=False)
    assert live.report_id("payouts.itemized") == "report_61Sud0tJaM66vrZ2H5"
    assert test.report_id("balance.summary") == "report_test_61Sud3nd37HpUFYD75"
    assert test.report_id("report_test_whatever") == "report_test_whatever"  # never looked up
    with pytest.raises(rk.ConfigurationError, match=r"Pass the report id instead: client.report\('report_"):
        test.report_id("payouts.itemized")
    with pytest.raises(NotFoundError, match="api='data' cannot run"):
        Names(_NoData(), livemode=True).report_id("payouts.itemized", api="data")


def test_reports_through_data_over_months(sb, client):
    ivs = rk.intervals("2025-01-01", "2025-04-01", freq="month")
    data = client.reports("balance_change_from_activity.summary", ivs, api="data")
    v1 = client.reports("balance_change_from_activity.summary.1", ivs)
    pd.testing.assert_frame_equal(data, v1, check_exact=True)


def test_a_query_equals_the_ledger(sb, client):
    sql = (
        "select currency, reporting_category, count(*) as n, sum(amount) as gross, sum(net) as net, "
        "min(created) as first from balance_transactions where created >= timestamp '2025-01-01' "
        "and created < timestamp '2025-02-01' group by 1, 2 order by 1, 2"
    )
    for inline in (True, False):
        df = client.query(sql, inline=inline)
        assert {c: str(t) for c, t in df.dtypes.items()} == {
            "currency": "string",
            "reporting_category": "string",
            "n": "Int64",
            "gross": "Int64",
            "net": "Int64",
            "first": "datetime64[ns, UTC]",
        }
        bt = sb.ledger.transactions
        jan = bt[(bt.created >= 1735689600) & (bt.created < 1738368000)]
        want = jan.groupby(["currency", "reporting_category"]).agg(n=("id", "size"), net=("net", "sum"))
        got = df.set_index(["currency", "reporting_category"])
        assert got["n"].to_dict() == want["n"].to_dict() and got["net"].to_dict() == want["net"].to_dict()
        assert df.attrs["reportkit"]["sql"] == sql and df.attrs["reportkit"]["run_id"].startswith("qrun_")
    older = client.query(sql, api="reporting")
    pd.testing.assert_frame_equal(older.drop(columns="first"), df.drop(columns="first"), check_exact=True)


def test_the_report_sql_reproduces_the_report_totals(client):
    df = client.report("balance_change_from_activity.summary", START, END, api="data")
    got = client.query(df.attrs["reportkit"]["sql"].split("\n", 1)[1])  # minus the comment line
    for row in df.itertuples():
        q = got[(got.currency == row.currency) & (got.reporting_category == row.reporting_category)].iloc[0]
        exp = catalog.currency_exponent(row.currency)
        assert int(q["count"]) == row.count
        assert (
            Decimal(int(q["net"])).scaleb(-exp) == row.net and Decimal(int(q["fee"])).scaleb(-exp) == row.fee
        )


def test_bad_sql_is_a_typed_error(client):
    failed = r"^query run qrun_\w+ failed \(query_run_invalid_sql\)"
    with pytest.raises(rk.RunFailedError, match=failed) as info:
        client.query("selec 1")
    assert info.value.run.error_code == "query_run_invalid_sql" and "running it again will not help" in str(
        info.value
    )
    with pytest.raises(rk.InvalidRequestError) as older:
        client.query("selec 1", api="reporting")
    assert older.value.code == "query_run_invalid_sql" and older.value.http_status == 400
    with pytest.raises(rk.RunFailedError, match="query_run_invalid_sql"):
        client.query("select * from read_csv('/etc/passwd')")
    with pytest.raises(rk.ConfigurationError):
        client.query("  ")


def test_canceled_and_unknown_statuses(sb, client):
    sb.backend.data.faults.cancel_runs(1)
    with pytest.raises(rk.RunFailedError, match="canceled at Stripe") as info:
        client.report("balance.summary", START, "2025-01-02", api="data")
    assert info.value.run.status == "canceled" and info.value.run.canceled_at is not None
    sb.backend.data.faults.odd_status("paused", 1)
    with pytest.raises(rk.RunTimeoutError, match="'paused'.*does not know") as odd:
        client.report("balance.summary", START, "2025-01-03", api="data", timeout=1.0)
    assert odd.value.run.status == "paused" and not odd.value.run.known_status
    sb.backend.data.faults.cancel_runs(1)
    with pytest.raises(rk.RunFailedError, match="canceled"):
        client.query("select 1")


def test_a_refused_url_is_fetched_again_and_always_refused_is_typed(sb, client):
    sb.faults.expire_download_urls(1)
    try:
        df = client.report("payouts.summary", START, END, api="data", inline=False)
    finally:
        sb.faults.reset()
    assert sb.faults.fired["expire_url"] >= 0 and len(df) > 0
    sb.faults.expire_download_urls(None)
    try:
        with pytest.raises(rk.PermissionDeniedError, match="refused 3 times"):
            client.report("payouts.summary", START, "2025-01-15", api="data", inline=False)
    finally:
        sb.faults.reset()


def test_a_failed_run_keeps_its_code(sb, client):
    sb.faults.fail_runs(1, error_code="file_size_above_limit", message="The file exceeds the 5 GB limit.")
    try:
        with pytest.raises(rk.RunFailedError, match="file_size_above_limit") as info:
            client.report("balance.summary", START, "2025-01-04", api="data")
    finally:
        sb.faults.reset()
    assert info.value.run.error_code == "file_size_above_limit" and "5 GB" in info.value.run.error


def test_the_run_cap_429_is_waited_out_then_typed():
    with Sandbox(
        seed=5, concurrent_run_cap=1, concurrent_query_cap=1, **{**FAST, "processing_time": 1.0}
    ) as box:
        c = box.client(cache=False, progress=False)
        c.create_run("balance.summary", START, END, api="data")  # holds the key's only slot for 1 s
        df = c.report("balance.summary", START, "2025-01-10", api="data", timeout=30)  # waits, then runs
        assert len(df) > 0 and box.cap_rejections >= 1
        c.create_run("balance.summary", START, END, api="data")
        with pytest.raises(rk.RateLimitError) as info:
            c.report("balance.summary", START, "2025-01-11", api="data", timeout=0.2)
        assert info.value.code == "report_run_rate_limit_exceeded"
    with Sandbox(seed=5, concurrent_query_cap=1, **{**FAST, "processing_time": 10.0}) as box:
        c = box.client(cache=False, progress=False)
        box.backend.data.create_query(_caller(box), "select 1", api="data")  # the key's only query slot
        with pytest.raises(rk.RateLimitError) as q:
            c.query("select 2", timeout=0.3)
        assert q.value.code == "query_run_rate_limit_exceeded" and box.backend.data.query_rejections >= 1


def _caller(box):
    from reportkit.sandbox.state import Caller, key_id

    return Caller(key=box.api_key, owner=key_id(box.api_key), livemode=False)


def test_cancel_stops_a_query_wait(client):
    ev = threading.Event()
    ev.set()
    with pytest.raises(rk.RunCancelledError):
        client.query("select 1", cancel=ev)


def test_bad_arguments_are_refused_before_sending(sb, client):
    before = sb.runs_created
    with pytest.raises(rk.ConfigurationError, match="inline"):
        client.report("balance.summary.1", START, END, inline=True)
    with pytest.raises(rk.ConfigurationError, match="inline"):
        client.query("select 1", api="reporting", inline=True)
    with pytest.raises(rk.ConfigurationError, match="unknown v2 report"):
        client.report("balance.summry", START, END, api="data")
    assert sb.runs_created == before
