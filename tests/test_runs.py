"""client.report() against the real sandbox: every served report type, v1 and v2, csv and zip, sums
checked exactly against the ledger; waiting (timeout and resume, failure); download faults."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit import catalog
from reportkit.sandbox import Sandbox
from reportkit.sandbox.ledger import PAYOUT_CATEGORIES
from reportkit.sandbox.reports import SUPPORTED

NOW = datetime(2025, 6, 15, tzinfo=UTC)
START, END = "2025-01-01", "2025-02-01"
S, E = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, now=NOW, processing_time=0.05, jitter=0.01) as box:
        yield box
        assert box.errors == []


@pytest.fixture(scope="module")
def live(sb):
    return rk.Client(sb.live_api_key, api_base=sb.url, files_base=sb.files_url, cache=False, progress=False)


@pytest.fixture(scope="module")
def client(sb):
    return sb.client(cache=False, progress=False)


def major(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-catalog.currency_exponent(currency))


def settled_payout(sb) -> str:
    po = sb.ledger.payouts
    row = po[po["automatic"] & (po["status"] == "paid") & (po["created"] >= S) & (po["created"] < E)].iloc[0]
    return str(row["id"])


def expected_rows(sb, report: str, payout: str | None = None) -> pd.DataFrame:
    """The ledger's balance transactions a report over [S, E) (or for ``payout``) covers."""
    tx = sb.ledger.transactions
    activity = ~tx["reporting_category"].isin(PAYOUT_CATEGORIES)
    in_period = (tx["created"] >= S) & (tx["created"] < E)
    ape = tx["automatic_payout_effective_at"]
    if report.startswith("balance_change_from_activity."):
        mask = activity & in_period
    elif report.startswith("payouts."):
        mask = ~activity & in_period
    elif report.startswith("payout_reconciliation.by_id."):
        mask = tx["automatic_payout_id"] == payout
    elif report.startswith("payout_reconciliation."):
        mask = activity & (ape >= S).fillna(False) & (ape < E).fillna(False)
    elif report.startswith("ending_balance_reconciliation."):
        settled = tx["automatic_payout_id"].notna() & (ape < E).fillna(False)
        auto_ids = sb.ledger.payout_ids(automatic=True)
        auto = tx["payout_id"].isin(auto_ids) & (tx["reporting_category"] == "payout")
        mask = (tx["created"] < E) & ~settled & ~auto
        assert {c: g["net"].sum() for c, g in tx[mask].groupby("currency")} == {
            c: sb.ledger.balance(c, E) for c in tx["currency"].unique()
        }
    else:
        raise AssertionError(report)
    return tx[mask.astype(bool)]


def by_currency(values: pd.Series, currencies: pd.Series) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for cur, v in zip(currencies, values, strict=True):
        out[cur] = out.get(cur, Decimal(0)) + v
    return out


def check_against_ledger(sb, v1_type: str, df: pd.DataFrame, payout: str | None) -> None:
    if v1_type == "balance.summary.1":
        for cur in sb.ledger.transactions["currency"].unique():
            rows = df[df["currency"] == cur].set_index("category")["net_amount"]
            tx = sb.ledger.transactions
            tx = tx[tx["currency"] == cur]
            period = tx[(tx["created"] >= S) & (tx["created"] < E)]
            pay = period["reporting_category"].isin(PAYOUT_CATEGORIES)
            assert rows["starting_balance"] == major(sb.ledger.balance(cur, S), cur)
            assert rows["ending_balance"] == major(sb.ledger.balance(cur, E), cur)
            assert rows["activity"] == major(period[~pay]["net"].sum(), cur)
            assert rows["payouts"] == major(period[pay]["net"].sum(), cur)
        return
    rows = expected_rows(sb, v1_type, payout)
    assert len(rows) > 0, "the chosen window must exercise the report"
    # Stripe writes a paid-out payout positive in the payouts reports (the money sent to the bank), the
    # negative of its balance transaction (tests/fixtures/stripe_files, docs/fidelity.md)
    sign = -1 if v1_type.startswith("payouts.") else 1
    expected = {c: sign * major(g["net"].sum(), c) for c, g in rows.groupby("currency")}
    assert all(isinstance(v, Decimal) for v in df["net"]), "money must be Decimal, never float"
    assert by_currency(df["net"], df["currency"]) == expected
    if ".summary." in v1_type:
        assert int(df["count"].sum()) == len(rows)
    else:
        assert len(df) == len(rows)
        assert set(df["balance_transaction_id"]) == set(rows["id"])


def run_args(sb, v1_type: str) -> tuple[tuple, dict]:
    spec = catalog.report_spec(v1_type)
    if "payout" in spec.required:
        return (None, None), {"payout": settled_payout(sb)}
    if not spec.takes_interval or "interval_start" not in spec.required:
        return (None, END), {}
    return (START, END), {}


@pytest.mark.parametrize("report", sorted(SUPPORTED))
def test_every_v1_report_matches_the_ledger_exactly(sb, client, live, report):
    (start, end), params = run_args(sb, report)
    who = live if catalog.report_spec(report).livemode_only else client
    df = who.report(report, start, end, **params)
    check_against_ledger(sb, report, df, params.get("payout"))
    meta = df.attrs["reportkit"]
    assert meta["api"] == "v1" and meta["report"] == report and meta["run_id"].startswith("frr_")
    assert meta["file_id"].startswith("file_") and meta["size"] > 0 and len(meta["sha256"]) == 64
    assert meta["verified"] == "size"  # the bytes' size is Stripe's declared size; no checksum exists
    assert meta["cache_hit"] is False and meta["livemode"] is who.livemode
    json.dumps(meta)  # JSON-able


@pytest.mark.parametrize("name", sorted(catalog.v2_reports()))
@pytest.mark.parametrize("compress", [False, True], ids=["csv", "zip"])
def test_every_v2_report_matches_the_ledger_exactly(sb, client, live, name, compress):
    v1_type = catalog.v2_report(name).v1
    (start, end), params = run_args(sb, v1_type)
    who = live if catalog.report_spec(v1_type).livemode_only else client
    df = who.report(name, start, end, api="v2", compress=compress, **params)
    check_against_ledger(sb, v1_type, df, params.get("payout"))
    meta = df.attrs["reportkit"]
    assert (meta["api"], meta["report"], meta["content_type"]) == ("v2", name, "zip" if compress else "csv")
    assert meta["report_id"] == sb.backend.report_ids.id(name, who.livemode)  # resolved by name
    assert meta["run_id"].startswith("reprun_")


def test_v2_by_report_id_passes_through(sb, client):
    rid = sb.backend.report_ids.id("payouts.summary", False)  # an id no catalogue knows
    df = client.report(rid, START, END, api="v2")
    check_against_ledger(sb, "payouts.summary.1", df, None)


def test_empty_result_has_columns_and_dtypes(client):
    df = client.report("balance_change_from_activity.itemized.2", START, END, reporting_category="topup")
    assert len(df) == 0
    assert list(df.columns) == list(
        catalog.report_spec("balance_change_from_activity.itemized.2").default_columns
    )
    assert str(df["created_utc"].dtype).startswith("datetime64") and df.attrs["reportkit"]["size"] > 0


def test_columns_timezone_and_local_times(sb, client):
    cols = ["payout_id", "effective_at", "effective_at_utc", "net", "currency"]
    df = client.report("payouts.itemized.3", START, END, timezone="America/New_York", columns=cols)
    assert list(df.columns) == cols and len(df) > 0
    assert str(df["effective_at"].dt.tz) == "America/New_York"
    assert (df["effective_at"] == df["effective_at_utc"]).all()
    # date strings mean midnight in the timezone given: the interval starts 5 hours later in UTC
    meta = df.attrs["reportkit"]
    assert meta["interval_start"] == "2025-01-01T05:00:00+00:00"
    assert meta["parameters"]["timezone"] == "America/New_York" and meta["parameters"]["columns"] == cols


def test_wait_timeout_keeps_the_run_and_resume_succeeds():
    with Sandbox(seed=7, now=NOW, processing_time=1.5, jitter=0.0) as box:
        client = box.client(cache=False, progress=False)
        run = client.create_run("balance.summary.1", START, END)
        with pytest.raises(rk.RunTimeoutError) as info:
            client.wait(run, timeout=0.3)
        err = info.value
        assert err.run.id == run.id and not err.run.is_done
        assert "client.wait(client.retrieve_run(" in str(err)
        done = client.wait(client.retrieve_run(err.run.id), timeout=30)
        assert done.succeeded and done.result.size > 0
        assert client.download(done)["net_amount"].map(type).eq(Decimal).all()
        assert box.runs_created == 1


@pytest.mark.parametrize("api,report", [("v1", "payouts.summary.1"), ("v2", "payouts.summary")])
def test_failed_run_raises_with_stripes_message(sb, client, api, report):
    sb.faults.fail_runs(1, message="The report could not be generated (boom)")
    try:
        with pytest.raises(rk.RunFailedError, match="boom") as info:
            client.report(report, START, END, api=api)
    finally:
        sb.faults.reset()
    assert info.value.run.failed


def test_wait_reports_progress_with_status(sb, client, capsys):
    run = client.create_run("payouts.summary.1", START, END)
    client.wait(run, progress=True)
    err = capsys.readouterr().err
    assert run.id in err and "payouts.summary.1" in err


def test_truncated_download_is_retried(sb, client):
    sb.faults.truncate_downloads(1, keep=0.5)
    try:
        df = client.report("balance_change_from_activity.summary.1", START, END)
    finally:
        sb.faults.reset()
    assert sb.faults.fired["truncate"] >= 1
    check_against_ledger(sb, "balance_change_from_activity.summary.1", df, None)


def test_persistent_truncation_is_an_error_naming_it(sb, client):
    run = client.wait(client.create_run("payouts.itemized.1", START, END))
    sb.faults.truncate_downloads(None, keep=0.5)
    try:
        with pytest.raises(rk.APIConnectionError, match="truncat|broke off"):
            client.download(run)
    finally:
        sb.faults.reset()


def test_expired_v2_url_is_refreshed(sb, client):
    sb.faults.expire_download_urls(1)
    try:
        df = client.report("payouts.summary", START, END, api="v2")
    finally:
        sb.faults.reset()
    assert sb.faults.fired["expire_url"] >= 1
    check_against_ledger(sb, "payouts.summary.1", df, None)


def test_corrupt_zip_is_a_parse_error(sb, client):
    sb.faults.corrupt_zips(1)
    try:
        with pytest.raises(rk.ResultParseError):
            client.report("payouts.summary", START, END, api="v2", compress=True)
    finally:
        sb.faults.reset()


def test_download_before_done_is_refused(sb):
    with Sandbox(seed=7, now=NOW, processing_time=5, jitter=0.0) as box:
        client = box.client(cache=False, progress=False)
        run = client.create_run("balance.summary.1", START, END)
        with pytest.raises(rk.ConfigurationError, match="client.wait"):
            client.download(run)


def test_cache_seam_is_consulted_and_filled(sb):
    class DictCache:
        def __init__(self):
            self.data = {}

        def get(self, key):
            json.dumps(key)
            hit = self.data.get(key["digest"])
            if hit is not None:
                hit = hit.copy()
                hit.attrs = {"reportkit": {**hit.attrs["reportkit"], "cache_hit": True}}
            return hit

        def put(self, key, df, *, final):
            assert final is True
            assert sb.api_key not in json.dumps(key)
            self.data[key["digest"]] = df

    client = sb.client(cache=DictCache(), progress=False)
    before = sb.runs_created
    first = client.report("payouts.summary.1", START, END)
    second = client.report("payouts.summary.1", START, END)
    assert sb.runs_created == before + 1
    assert second.attrs["reportkit"]["cache_hit"] is True
    pd.testing.assert_frame_equal(first, second)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = client.report("payouts.summary.1", START, END, currency="usd")
    assert sb.runs_created == before + 2 and set(third["currency"]) == {"usd"}


def test_poll_schedule_backs_off_to_a_cap_and_stops_at_the_deadline():
    from reportkit import runs

    with Sandbox(seed=7, now=NOW, processing_time=60, jitter=0.0, request_rate=None) as box:
        client = box.client(cache=False, progress=False, rate_limit=False)
        run = client.create_run("balance.summary.1", START, END)
        t = [0.0]
        sleeps: list[float] = []

        def sleep(s: float) -> None:
            sleeps.append(s)
            t[0] += s

        with pytest.raises(rk.RunTimeoutError):
            client.runner.wait(run, timeout=120, clock=lambda: t[0], sleep=sleep)
        assert sleeps[0] == runs.POLL_FIRST and max(sleeps) <= runs.POLL_MAX
        assert sleeps == sorted(sleeps[:-1]) + sleeps[-1:], "intervals only grow (the last is clipped)"
        assert sum(sleeps) == pytest.approx(120) and t[0] <= 120 + 1e-9
        # finishing just after a poll costs at most ~10 % of the time already waited (after the fast start)
        elapsed = 0.0
        for s in sleeps[:-1]:
            assert s <= max(runs.POLL_FIRST, runs.POLL_RATIO * elapsed, 0) + 1e-9 or s == runs.POLL_MAX
            elapsed += s
        assert len(sleeps) < 60, "a two-minute wait costs few requests"


def test_client_cache_answers_repeats_and_works_offline(tmp_path):
    with Sandbox(seed=7, now=NOW, processing_time=0.05, jitter=0.0) as box:
        client = box.client(cache=tmp_path, progress=False)
        first = client.report("payouts.summary.1", START, END)
        second = client.report("payouts.summary.1", START, END)
        assert box.runs_created == 1
        hits = (first.attrs["reportkit"]["cache_hit"], second.attrs["reportkit"]["cache_hit"])
        assert hits == (False, True)
        pd.testing.assert_frame_equal(first, second, check_exact=True)
        where = {"api_key": box.api_key, "api_base": box.url, "files_base": box.files_url}
    offline = rk.Client(**where, cache=tmp_path, progress=False, max_retries=0)
    third = offline.report("payouts.summary.1", START, END)
    assert third.attrs["reportkit"]["cache_hit"] is True
    pd.testing.assert_frame_equal(first, third, check_exact=True)
    with pytest.raises(rk.APIConnectionError):
        offline.report("payouts.summary.1", START, "2025-03-01")  # not cached: needs the server
