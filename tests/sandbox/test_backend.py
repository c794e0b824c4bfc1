"""The sandbox backend's rules without HTTP: clock and data window, ids, cap admission, outcomes, signed
URLs, idempotency and rate windows, run parameters and the Sandbox options.

Time is a fake monotonic clock (``Clock``) the tests move by hand, so nothing here sleeps."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from reportkit import catalog
from reportkit.sandbox import Sandbox, connectreports, reports
from reportkit.sandbox.backend import Backend
from reportkit.sandbox.config import Config
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.state import Caller, IdempotencyStore, RateWindow, key_id
from reportkit.sandbox.wire import ApiError

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
JAN = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
FEB = int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())
TEST_KEY = "sk_test_backendunit0001"
LIVE_KEY = "sk_live_backendunit0001"


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def caller(key: str = TEST_KEY, account: str = "default") -> Caller:
    return Caller(key=key, owner=key_id(key), livemode=key.startswith("sk_live_"), account=account)


def make(clock: Clock | None = None, **options: object) -> Backend:
    base: dict[str, object] = {"now": NOW, "processing_time": 2.0, "jitter": 0.0, "scale": 0.1}
    return Backend(Config(**{**base, **options}), monotonic=clock or Clock())  # type: ignore[arg-type]


def v1_run(b: Backend, who: Caller | None = None, report_type: str = "balance.summary.1", **params: object):
    p = RunParams(interval_start=JAN, interval_end=FEB).with_(**params)
    return b.create_run(who or caller(), "v1", report_type, p, {}, pname=lambda n: f"parameters[{n}]")


def v2_run(b: Backend, *, compress: bool = False, **params: object):
    rep = catalog.v2_report("balance_change_from_activity.itemized")
    p = RunParams(interval_start=JAN, interval_end=FEB).with_(**params)
    return b.create_run(
        caller(),
        "v2",
        rep.v1,
        p,
        {},
        pname=lambda n: f"report_parameters.{n}",
        v2_report=rep,
        compress=compress,
    )


# -- clock and data window ---------------------------------------------------------------------------
def test_wall_clock_starts_at_now_and_follows_the_monotonic_clock() -> None:
    clock = Clock()
    b = make(clock)
    assert b.wall() == NOW.timestamp() and b.now() == NOW and b.now().tzinfo is UTC
    clock.advance(90.5)
    assert b.wall() == NOW.timestamp() + 90.5
    real = Backend(Config(now=None))
    assert abs(real.wall() - datetime.now(UTC).timestamp()) < 5


def test_data_window_is_ledger_start_to_the_midnight_before_now_minus_lag() -> None:
    b = make(now=datetime(2025, 6, 15, 0, 30, tzinfo=UTC), data_lag=3600, ledger_start="2024-03-01")
    lo, hi = b.window
    assert datetime.fromtimestamp(lo, UTC) == datetime(2024, 3, 1, tzinfo=UTC)
    assert datetime.fromtimestamp(hi, UTC) == datetime(2025, 6, 14, tzinfo=UTC)
    assert b.data_updated == hi + 3600
    later = make(now=datetime(2025, 6, 15, 13, tzinfo=UTC), data_lag=timedelta(hours=12))
    assert datetime.fromtimestamp(later.window[1], UTC) == datetime(2025, 6, 15, tzinfo=UTC)


# -- ids and processing time ---------------------------------------------------------------------------
def test_ids_are_deterministic_per_seed() -> None:
    a, b, c = make(seed=7), make(seed=7), make(seed=8)
    ids_a = [a.new_id("frr_") for _ in range(5)]
    assert ids_a == [b.new_id("frr_") for _ in range(5)]
    assert ids_a != [c.new_id("frr_") for _ in range(5)]
    assert len(set(ids_a)) == 5
    assert all(i.startswith("frr_") and len(i) == 4 + 24 and i[4:].isalnum() for i in ids_a)
    assert len(a.new_id("req_", 14)) == 4 + 14


def test_duration_is_processing_time_plus_bounded_jitter() -> None:
    assert {make(processing_time=1.5, jitter=0.0).duration() for _ in range(3)} == {1.5}
    b = make(processing_time=1.0, jitter=0.25)
    ds = [b.duration() for _ in range(200)]
    assert all(0.75 <= d <= 1.25 for d in ds) and len(set(ds)) > 100
    again = make(processing_time=1.0, jitter=0.25)
    assert ds[:10] == [again.duration() for _ in range(10)]  # the same seed draws the same durations
    assert min(make(processing_time=0.1, jitter=5.0).duration() for _ in range(50)) == 0.0


# -- cap admission -------------------------------------------------------------------------------------
def test_concurrent_run_cap_refuses_the_run_over_it_until_one_finishes() -> None:
    clock = Clock()
    b = make(clock, concurrent_run_cap=2, processing_time=10.0)
    v1_run(b)
    v1_run(b)
    with pytest.raises(ApiError) as e:
        v1_run(b)
    err = e.value
    assert (err.status, err.code, err.type, err.api) == (
        429,
        "report_run_rate_limit_exceeded",
        "invalid_request_error",
        "v1",
    )
    assert "maximum of 2 concurrently running report runs" in err.message
    with pytest.raises(ApiError) as e2:
        v2_run(b)  # the cap counts v1 and v2 runs of the key together; v2's 429 has type rate_limit
    assert (e2.value.status, e2.value.type, e2.value.api) == (429, "rate_limit", "v2")
    assert b.cap_rejections == 2 and b.runs.created == 2
    v1_run(b, caller(LIVE_KEY))  # another key has its own count
    clock.advance(10.0)
    v1_run(b)  # the first two have finished
    assert b.runs.created == 4 and b.cap_rejections == 2


def test_no_cap_admits_any_number() -> None:
    b = make(concurrent_run_cap=None)
    for _ in range(12):
        v1_run(b)
    assert b.runs.created == 12 and b.cap_rejections == 0


def test_refused_payout_is_checked_before_admission() -> None:
    b = make()
    with pytest.raises(ApiError) as e:
        v1_run(b, report_type="payout_reconciliation.by_id.itemized.4", payout="po_nope")
    assert (e.value.status, e.value.code, e.value.param) == (404, "resource_missing", "parameters[payout]")
    assert b.runs.created == 0


# -- outcomes and bytes --------------------------------------------------------------------------------
def test_a_run_is_pending_until_its_processing_time_then_succeeds_with_the_report() -> None:
    clock = Clock()
    b = make(clock, processing_time=2.0)
    run = v1_run(b, currency="usd")
    assert run.id.startswith("frr_") and run.file_id and run.file_id.startswith("file_")
    assert b.outcome(run) == ("pending", None) and run.csv is None  # nothing rendered yet
    clock.advance(1.99)
    assert b.outcome(run) == ("pending", None)
    clock.advance(0.01)
    assert b.outcome(run) == ("succeeded", None)
    assert run.succeeded_at() == run.created + 2.0
    expected = reports.render(b.ledger, "balance.summary.1", run.params)
    assert b.csv_bytes(run) == expected and expected.startswith(b"category,description,net_amount,currency")
    with zipfile.ZipFile(io.BytesIO(b.zip_bytes(run) or b"")) as zf:
        assert zf.namelist() == [f"{run.id}.csv"] and zf.read(f"{run.id}.csv") == expected
    assert b.zip_bytes(run) == b.zip_bytes(run)  # fixed member timestamp: equal bytes


def test_failure_faults_pick_runs_by_count_and_by_parameters() -> None:
    clock = Clock()
    b = make(clock)
    b.faults.fail_runs(1, message="boom")
    first, second = v1_run(b), v1_run(b)
    b.faults.fail_runs(None, where={"currency": "eur"}, error_code="file_size_above_limit")
    seen = []
    b.faults.fail_runs(None, where=lambda p: seen.append(dict(p)) or p["report_type"].startswith("payouts."))
    usd, eur = v1_run(b, currency="usd"), v1_run(b, currency="eur")
    clock.advance(2.0)
    assert b.outcome(first) == ("failed", "boom") and first.csv is None
    assert b.outcome(second) == ("succeeded", None)
    assert b.outcome(usd)[0] == "succeeded"
    assert b.outcome(eur)[0] == "failed" and eur.failure.error_code == "file_size_above_limit"
    # a predicate sees the run's parameters as a dict, with report_type and api
    usd_params = RunParams(JAN, FEB, currency="usd").as_dict()
    assert seen[0] == {"report_type": "balance.summary.1", "api": "v1", **usd_params}
    assert b.faults.fired["fail_run"] == 2


def test_v1_file_and_its_lookup_by_mode() -> None:
    clock = Clock()
    b = make(clock, file_ttl=1000.0)
    b.urls.files = "http://files.example"
    run = v1_run(b)
    with pytest.raises(ApiError) as e:
        b.file_run(run.file_id or "", caller())  # not finished yet
    assert (e.value.status, e.value.param) == (404, "file")
    clock.advance(2.0)
    assert b.file_run(run.file_id or "", caller()) is run
    for other in (caller(LIVE_KEY), caller("sk_test_otheraccount0001", "acme")):
        with pytest.raises(ApiError):
            b.file_run(run.file_id or "", other)  # a live key, or another account, does not see it
    info = b.file_info(run)
    assert info.size == len(b.csv_bytes(run) or b"") > 0
    assert info.expires_at == info.created + 1000 and info.created == int(run.succeeded_at())
    assert info.url == f"http://files.example/v1/files/{run.file_id}/contents"


def test_v2_runs_ids_schema_and_result_bytes() -> None:
    clock = Clock()
    b = make(clock)
    run = v2_run(b, compress=True, columns=["balance_transaction_id", "net", "created_utc"])
    assert run.id.startswith("reprun_test_") and run.file_id is None and run.download_name == f"{run.id}.zip"
    clock.advance(2.0)
    assert b.schema(run) == [
        {"name": "balance_transaction_id", "type": "varchar"},
        {"name": "net", "type": "double"},
        {"name": "created_utc", "type": "timestamp"},
    ]
    assert b.result_bytes(run) == b.zip_bytes(run)
    b.faults.corrupt_zips(1)
    broken = b.download_bytes(run)
    assert len(broken) == len(b.zip_bytes(run) or b"") and not zipfile.is_zipfile(io.BytesIO(broken))
    assert b.download_bytes(run) == b.zip_bytes(run)  # the fault fired once


# -- signed download URLs ------------------------------------------------------------------------------
def test_signed_urls_verify_and_expire() -> None:
    clock = Clock()
    b = make(clock, download_url_ttl=600.0)
    b.urls.downloads = "http://dl.example"
    run = v2_run(b)
    clock.advance(2.0)
    url, expires = b.signed_url(run)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"http://dl.example/files/{run.id}/{run.id}.csv"
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert int(q["expires"]) == int(expires * 1000) and expires == pytest.approx(b.wall() + 600.0, abs=0.001)
    assert b.verify_download(run.id, f"{run.id}.csv", q["expires"], q["signature"]) == "ok"
    bad = "0" * len(q["signature"])
    assert b.verify_download(run.id, f"{run.id}.csv", q["expires"], bad) == "bad_signature"
    assert b.verify_download(run.id, f"{run.id}.zip", q["expires"], q["signature"]) == "bad_signature"
    later = str(int(q["expires"]) + 1000)
    assert b.verify_download(run.id, f"{run.id}.csv", later, q["signature"]) == "bad_signature"
    assert b.verify_download(run.id, f"{run.id}.csv", "soon", q["signature"]) == "bad_signature"
    other = make(clock)  # another sandbox has another signing key
    assert other.verify_download(run.id, f"{run.id}.csv", q["expires"], q["signature"]) == "bad_signature"
    clock.advance(601.0)
    assert b.verify_download(run.id, f"{run.id}.csv", q["expires"], q["signature"]) == "expired"
    b.faults.expire_download_urls(1)
    _, gone = b.signed_url(run)
    assert gone == pytest.approx(b.wall() - 60.0, abs=0.001)


# -- idempotency store and rate windows ----------------------------------------------------------------
def test_idempotency_store_keeps_the_first_answer_per_key_and_idempotency_key() -> None:
    store = IdempotencyStore()
    scope, other = ("owner", "k1"), ("owner", "k2")
    assert store.get(scope) is None and len(store) == 0
    assert store.lock_for(scope) is store.lock_for(scope)
    assert store.lock_for(scope) is not store.lock_for(other)
    store.put(scope, "fp", 200, b"{}", [("Content-Type", "application/json")])
    saved = store.get(scope)
    assert saved is not None and (saved.fingerprint, saved.status, saved.body) == ("fp", 200, b"{}")
    assert store.get(other) is None and store.get(("another owner", "k1")) is None and len(store) == 1


def test_rate_window_is_a_sliding_second_per_key() -> None:
    w = RateWindow()
    assert [w.allow("a", 2, now=t) for t in (10.0, 10.5, 10.9)] == [True, True, False]
    assert w.allow("b", 2, now=10.9)  # per key
    assert w.allow("a", 2, now=11.0)  # the request at 10.0 has left the window
    assert not w.allow("a", 2, now=11.2)
    assert all(w.allow("a", None, now=11.2) for _ in range(100))


def test_check_rate_picks_the_limit_by_host_and_mode() -> None:
    clock = Clock()
    b = make(clock, request_rate=1, live_request_rate=2, files_rate=3)
    b.check_rate(caller(), "api", "v1")
    with pytest.raises(ApiError) as e:
        b.check_rate(caller(), "api", "v1")
    assert (e.value.status, e.value.code, e.value.type) == (429, "rate_limit", "invalid_request_error")
    with pytest.raises(ApiError) as e2:
        b.check_rate(caller(), "api", "v2")
    assert e2.value.type == "rate_limit"
    for _ in range(2):
        b.check_rate(caller(LIVE_KEY), "api", "v1")
    with pytest.raises(ApiError):
        b.check_rate(caller(LIVE_KEY), "api", "v1")
    for _ in range(3):
        b.check_rate(caller(), "files", "v1")  # its own window and limit
    with pytest.raises(ApiError):
        b.check_rate(caller(), "files", "v1")
    clock.advance(1.0)
    b.check_rate(caller(), "api", "v1")


# -- report types served -------------------------------------------------------------------------------
def test_report_types_per_mode_and_v2_ids() -> None:
    b = make()
    live_only = "balance_change_from_activity.itemized.3"
    assert live_only in b.visible_types(True) and live_only not in b.visible_types(False)
    assert b.visible_types(True) == sorted(reports.SUPPORTED | connectreports.SUPPORTED)
    with pytest.raises(ApiError) as e:
        b.report_spec(live_only, False, param="report_type")
    assert (e.value.status, e.value.code) == (400, "livemode_mismatch")
    assert b.report_spec(live_only, True, param=None).id == live_only
    with pytest.raises(ApiError) as e2:
        b.report_spec("nope.summary.1", True, param="report_type")
    assert (e2.value.status, e2.value.code, e2.value.param) == (404, "resource_missing", "report_type")
    rep = catalog.v2_report("balance.summary")
    assert b.v2_report(b.report_ids.id(rep.name, False), False) == rep
    for wrong in (rep.name, b.report_ids.id(rep.name, True)):
        with pytest.raises(ApiError) as e3:
            b.v2_report(wrong, False)
        assert (e3.value.status, e3.value.code, e3.value.api) == (404, "not_found", "v2")
    narrow = make(report_types={"payouts.summary.1"})
    assert narrow.visible_types(True) == ["payouts.summary.1"]


# -- run parameters ------------------------------------------------------------------------------------
def test_normalise_gives_run_params() -> None:
    b = make()
    spec = catalog.report_spec("balance_change_from_activity.itemized.2")
    raw = {"interval_start": str(JAN), "interval_end": str(FEB), "currency": "USD", "columns": ["net", "fee"]}
    p = b.normalise(spec, raw, pname=lambda n: f"parameters[{n}]")
    assert p == RunParams(interval_start=JAN, interval_end=FEB, currency="usd", columns=("net", "fee"))
    assert p.timezone == "Etc/UTC" and p.payout is None and p.decimal_separator is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.currency = "eur"  # type: ignore[misc]
    hi = b.window[1]
    too_late = {"interval_start": str(hi + 86400), "interval_end": str(hi + 2 * 86400)}
    with pytest.raises(ApiError) as e:
        b.normalise(
            spec, too_late, pname=lambda n: f"parameters[{n}]", window_pname=lambda n: f"parameters.{n}"
        )
    assert (e.value.param, e.value.code) == ("parameters.interval_start", None)  # no code, as #957
    assert "only available through" in e.value.message


def test_run_params_from_mappings_and_as_dict() -> None:
    p = RunParams.of({"interval_start": JAN, "columns": ["net"]})
    assert p == RunParams(interval_start=JAN, columns=("net",)) and p.interval_end is None
    assert RunParams.of(p) is p and RunParams.of(None) == RunParams()
    assert p.as_dict()["columns"] == ["net"] and set(p.as_dict()) == set(RunParams.field_names())
    assert p.with_(currency="eur").currency == "eur" and p.currency is None
    with pytest.raises(TypeError, match="interval_begin"):
        RunParams.of({"interval_begin": JAN})
    with pytest.raises(TypeError):
        RunParams(columns="net")  # type: ignore[arg-type]


# -- Sandbox options -----------------------------------------------------------------------------------
def test_sandbox_options_are_config_fields() -> None:
    with pytest.raises(TypeError) as e:
        Sandbox(procesing_time=0.1)
    assert "'procesing_time'" in str(e.value) and "processing_time" in str(e.value)
    assert all(name in str(e.value) for name in Config.option_names())
    with pytest.raises(ValueError, match="aware"):
        Sandbox(now=datetime(2025, 6, 15))
    sb = Sandbox(
        3, now=NOW, data_lag=7200, currencies=["USD", "Eur"], live_only=[], report_types=["payouts.summary.1"]
    )
    c = sb.config
    assert (c.seed, c.data_lag, c.currencies) == (3, timedelta(hours=2), ("usd", "eur"))
    assert c.live_only == frozenset() and c.report_types == frozenset({"payouts.summary.1"})
    assert Sandbox(now=NOW, live_only=None).config.live_only == Config().live_only
    assert not sb.running and sb.backend.config is c
    doc = Sandbox.__doc__ or ""
    assert all(f"``{name}``" in doc for name in Config.option_names())
