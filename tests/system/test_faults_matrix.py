"""The fault matrix: ``client.report()`` and ``client.reports()`` against a sandbox with one fault on.

Each row of :data:`CASES` is one fault. For each, against a fresh sandbox (same seed and clock, so
the same ledger), :func:`run_case` switches the fault on, makes the call with a caching client, and
records the outcome, the runs the sandbox created, the requests it saw, the faults that fired and
the files left in the cache directory. Then it follows the advice of the error (resume, re-download,
re-run, clamp, ...) when the row says how, and fetches the same thing fault-free for comparison.

The test asserts, per row: the result equals the fault-free one (``pd.testing.assert_frame_equal``)
or the exception is the row's, with a message that says what to do; the runs created (no duplicates:
a retried create reuses its idempotency key); and the cache holds exactly the finished results (no
partial, temporary or wrong entry; a second fetch is a hit equal to the fault-free frame and creates
nothing). ``benchmarks/fault_table.py`` runs the same table and prints docs/reliability.md's table.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import reportkit as rk
from reportkit.cache import Cache
from reportkit.intervals import Interval, intervals
from reportkit.sandbox import Sandbox
from reportkit.sandbox.faults import Faults as F

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
BOX: dict[str, Any] = dict(seed=7, now=NOW, processing_time=0.1, jitter=0.0, scale=0.25)
RUNS = "/v1/reporting/report_runs"
RUN_ID = re.compile(r"\b(frr_[A-Za-z0-9]+|reprun_[A-Za-z0-9_]+)")


@dataclass(frozen=True)
class Spec:
    """What is fetched: one ``report()`` call, or ``reports()`` over day intervals."""

    report: str
    start: str
    end: str
    api: str = "v1"
    kw: dict[str, Any] = field(default_factory=dict)
    batch: bool = False

    @property
    def intervals(self) -> list[Interval]:
        return list(intervals(self.start, self.end, freq="day"))

    def fetch(self, client: Any, **extra: Any) -> pd.DataFrame:
        kw = {"api": self.api, "progress": False, **self.kw, **extra}
        if self.batch:
            return client.reports(self.report, self.intervals, **kw)
        return client.report(self.report, self.start, self.end, **kw)


V1 = Spec("balance_change_from_activity.itemized.1", "2025-03-03", "2025-03-05")
V2 = Spec("payouts.itemized", "2025-03-01", "2025-03-15", api="v2")
V2ZIP = Spec("payouts.itemized", "2025-03-03", "2025-03-10", api="v2", kw={"compress": True})
LIVE = Spec("balance_change_from_activity.itemized.3", "2025-03-03", "2025-03-05")
LATE = Spec("balance.summary.1", "2025-06-01", "2025-06-20")
CLAMPED = Spec("balance.summary.1", "2025-06-01", "2025-06-14")
BATCH = Spec("balance_change_from_activity.summary.1", "2025-03-01", "2025-03-07", batch=True)
BATCH_V2 = Spec("payouts.summary", "2025-03-01", "2025-03-05", api="v2", batch=True)
BATCH_LATE = Spec("balance.summary.1", "2025-06-10", "2025-06-16", batch=True)
MARCH_3 = int(datetime(2025, 3, 3, tzinfo=UTC).timestamp())


# -- ways to recover, as the error messages advise --------------------------------------------------
def _run_id(exc: BaseException) -> str:
    m = RUN_ID.search(str(exc))
    assert m, f"the message names no run: {exc}"
    return m.group(1)


def again(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """Do the same call again (the fault has passed)."""
    return spec.fetch(client)


def download_again(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """``client.download(run id named in the message)``: the run is done, only the file was hurt."""
    return client.download(_run_id(exc))


def resume(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """``client.wait(client.retrieve_run(err.run.id))`` then download: the run went on at Stripe."""
    assert isinstance(exc, rk.RunTimeoutError) and exc.run is not None
    return client.download(client.wait(client.retrieve_run(exc.run.id), timeout=30, progress=False))


def resume_id(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """Resume the run named in the message: ``client.wait(client.retrieve_run('<id>'))``, download."""
    return client.download(client.wait(client.retrieve_run(_run_id(exc)), timeout=30, progress=False))


def after_holder(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """Wait for the run holding the cap to finish, then try again."""
    client.wait(state, timeout=30, progress=False)
    return spec.fetch(client)


def with_live_key(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    live = sb.client(api_key=sb.live_api_key, cache=client.cache_dir, progress=False)
    return spec.fetch(live)


def clamped(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        df = spec.fetch(client, clamp=True)
    assert any(issubclass(w.category, rk.ReportkitWarning) for w in seen), [str(w.message) for w in seen]
    return df


def rerun_batch(sb: Sandbox, client: Any, spec: Spec, exc: BaseException, state: Any) -> pd.DataFrame:
    """Re-run the whole batch: the finished intervals come from the cache, only the failures re-run."""
    return spec.fetch(client)


# -- arming faults (return a state the recovery may need) -------------------------------------------
def hold_a_slot(sb: Sandbox) -> Any:
    """Another notebook of the same key starts a run first and holds one run slot while it lasts."""
    other = sb.client(cache=False, progress=False)
    return other.create_run("balance.summary.1", "2025-01-01", "2025-02-01")


@dataclass(frozen=True)
class Case:
    id: str  # reads like the table: "<where> <fault> -> <outcome>"
    fault: str  # the table's "fault" column
    spec: Spec
    arm: Callable[[Sandbox], Any]
    raises: type[BaseException] | None = None
    advice: str = ""  # regex the message must match: what to do
    runs: int = 1  # runs the faulted call created
    cached: int | None = None  # cache entries right after the call (default: all or nothing)
    recover: Callable[..., pd.DataFrame] | None = None
    extra_runs: int = 0  # runs the recovery may add (a re-run after a failed run)
    reference: Spec | None = None  # what the fault-free fetch is (default: spec)
    box: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    settle: float = 0.0  # seconds for delayed server threads to finish before counting runs

    @property
    def outcome(self) -> str:
        return "recovered, equal" if self.raises is None else self.raises.__name__


def _f(switch: Callable[..., Any], /, *args: Any, **kw: Any) -> Callable[[Sandbox], None]:
    """``sb.faults.<switch>(*args, **kw)`` as an arm function."""
    name = switch.__name__

    def arm(sb: Sandbox) -> None:
        getattr(sb.faults, name)(*args, **kw)

    return arm


NEVER = None  # n=None: every matching request, until reset

CASES: list[Case] = [
    # -- client.report(): transient faults are absorbed -----------------------------------------
    Case("create 500 x2 -> recovered", "5xx burst on create (2 x 500)", V1,
         _f(F.server_errors, 2, status=500, method="POST", path=RUNS)),
    Case("retrieve 503 x3 -> recovered", "5xx burst on retrieve (3 x 503)", V1,
         _f(F.server_errors, 3, status=503, method="GET", path=RUNS + "/")),
    Case("download 502 x2 -> recovered", "5xx burst on v1 download (2 x 502)", V1,
         _f(F.server_errors, 2, status=502, host="files")),
    Case("v2 download 500 x2 -> recovered", "5xx burst on v2 pre-signed download (2 x 500)", V2,
         _f(F.server_errors, 2, status=500, host="downloads")),
    Case("create reset x2 -> recovered", "connection reset on create (2x)", V1,
         _f(F.drop_connections, 2, method="POST", path=RUNS)),
    Case("retrieve reset x2 -> recovered", "connection reset on retrieve (2x)", V1,
         _f(F.drop_connections, 2, method="GET", path=RUNS + "/")),
    Case("download reset x2 -> recovered", "connection reset on download (2x)", V1,
         _f(F.drop_connections, 2, host="files")),
    Case("truncated download -> recovered", "truncated download (half the body, 1x)", V1,
         _f(F.truncate_downloads, 1, keep=0.5)),
    Case("v2 truncated download x2 -> recovered", "truncated v2 download (2x)", V2,
         _f(F.truncate_downloads, 2, keep=0.3)),
    Case("request-rate 429 x3 -> recovered", "429 storm, request rate (3x)", V1,
         _f(F.rate_limit_burst, 3)),
    Case("expired v2 URL -> recovered", "expired download URL (v2)", V2,
         _f(F.expire_download_urls, 1)),
    Case("files-host 429 -> recovered", "429 on the v1 files host (2x)", V1,
         _f(F.rate_limit_burst, 2, host="files")),
    Case("downloads-host 429 -> recovered", "429 on the v2 pre-signed download host (1x)", V2,
         _f(F.rate_limit_burst, 1, host="downloads")),
    Case("slow create past read timeout -> recovered, one run",
         "very slow create (1.0 s > 0.4 s read timeout)", V1, _f(F.slow, 1.0, 1, method="POST", path=RUNS),
         client={"timeout": (2.0, 0.4)}, settle=0.8),
    # -- client.report(): persistent faults end in an error that says what to do -------------------
    Case("create 5xx always -> ServerError", "5xx on every create", V1,
         _f(F.server_errors, NEVER, status=500, method="POST"), raises=rk.ServerError,
         advice=r"try again", runs=0, recover=again),
    Case("reset always -> APIConnectionError", "connection reset on every request", V1,
         _f(F.drop_connections, NEVER), raises=rk.APIConnectionError,
         advice=r"check the network .* try again", runs=0, recover=again),
    Case("truncated always -> APIConnectionError", "truncated download, every time", V1,
         _f(F.truncate_downloads, NEVER, keep=0.5), raises=rk.APIConnectionError,
         advice=r"truncated.*download it again later with client\.download\('frr_", recover=download_again),
    Case("corrupt zip -> ResultParseError", "corrupted ZIP (v2, compressed)", V2ZIP,
         _f(F.corrupt_zips, 1), raises=rk.ResultParseError,
         advice=r"corrupt ZIP.*download it again with client\.download\('reprun_", recover=download_again),
    Case("expired v2 URL always -> PermissionDeniedError", "expired download URL (v2), every fresh one too",
         V2, _f(F.expire_download_urls, NEVER), raises=rk.PermissionDeniedError,
         advice=r"refused 3 times .*expired.*try again later with client\.download\('reprun_",
         recover=download_again),
    Case("v2 download 5xx always -> ServerError", "5xx on every v2 download", V2,
         _f(F.server_errors, NEVER, status=503, host="downloads"), raises=rk.ServerError,
         advice=r"try again in a few minutes.*download it again later with client\.download\('reprun_",
         recover=download_again),
    Case("retrieve 5xx always -> ServerError", "5xx on every retrieve while waiting", V1,
         _f(F.server_errors, NEVER, status=500, method="GET", path=RUNS + "/"), raises=rk.ServerError,
         advice=r"goes on at Stripe: resume with client\.wait\(client\.retrieve_run\('frr_",
         recover=resume_id),
    Case("request-rate 429 always -> RateLimitError", "429 storm, request rate (every request)", V1,
         _f(F.rate_limit_burst, NEVER, method="POST"), raises=rk.RateLimitError,
         advice=r"wait a little, then try again", runs=0, recover=again),
    Case("run cap 429 -> recovered", "429 storm, concurrent runs (cap 1, held by another run for 1 s)", V1,
         hold_a_slot, box={"concurrent_run_cap": 1, "processing_time": 1.0}),
    Case("run cap 429 past deadline -> RateLimitError",
         "429 storm, concurrent runs (cap 1, held 20 s; deadline 1 s)", V1, hold_a_slot,
         raises=rk.RateLimitError, advice=r"[Ww]ait for some of them to finish, then retry", runs=0,
         box={"concurrent_run_cap": 1, "processing_time": 20.0}, client={"timeout_s": 1.0}),
    Case("failed run -> RunFailedError", "failed run", V1, _f(F.fail_runs, 1),
         raises=rk.RunFailedError, advice=r"Re-running it usually helps", recover=again, extra_runs=1),
    Case("run past deadline -> RunTimeoutError", "very slow run (2 s, deadline 0.5 s)", V1,
         lambda sb: None, raises=rk.RunTimeoutError, advice=r"resume with client\.wait\(client\.retrieve_run",
         recover=resume, box={"processing_time": 2.0}, client={"timeout_s": 0.5}),
    Case("slow server always -> APIConnectionError", "very slow server (every create 1.0 s > 0.4 s timeout)",
         V1, _f(F.slow, 1.0, NEVER, method="POST"), raises=rk.APIConnectionError,
         advice=r"larger Client\(timeout=", recover=again, extra_runs=1, client={"timeout": (2.0, 0.4)},
         settle=1.2),
    Case("revoked key -> AuthenticationError", "revoked key", V1, lambda sb: sb.faults.revoke_key(sb.api_key),
         raises=rk.AuthenticationError, advice=r"check the API key", runs=0, recover=again),
    Case("malformed key -> ConfigurationError", "wrong key (not a secret key)", V1, lambda sb: None,
         raises=rk.ConfigurationError, advice=r"does not look like a Stripe secret", runs=0,
         client={"api_key": "pk_test_51wrongKEYpublishable"}),
    Case("live-only with test key -> ConfigurationError", "live-only report, test key", LIVE, lambda sb: None,
         raises=rk.ConfigurationError, advice=r"use a live key", runs=0, recover=with_live_key),
    Case("data not yet available -> DataNotAvailableError", "data not yet available (end past the window)",
         LATE, lambda sb: None, raises=rk.DataNotAvailableError, advice=r"clamp=True", runs=0,
         recover=clamped, reference=CLAMPED),
    # -- client.reports(): the batch absorbs what it can; a failure never loses the other intervals --
    Case("batch create 500 x3 -> recovered", "reports(): 5xx burst on create (3 x 500)", BATCH,
         _f(F.server_errors, 3, status=500, method="POST", path=RUNS)),
    Case("batch retrieve reset x3 -> recovered", "reports(): connection resets on retrieve (3x)", BATCH,
         _f(F.drop_connections, 3, method="GET", path=RUNS + "/")),
    Case("batch truncated downloads x2 -> recovered", "reports(): truncated downloads (2x)", BATCH,
         _f(F.truncate_downloads, 2, keep=0.5)),
    Case("batch request-rate 429 x5 -> recovered", "reports(): 429 storm, request rate (5x)", BATCH,
         _f(F.rate_limit_burst, 5, method="POST")),
    Case("batch run cap 2 -> recovered", "reports(): 429 storm, concurrent runs (cap 2, 5 at once)", BATCH,
         lambda sb: None, box={"concurrent_run_cap": 2, "processing_time": 0.3}),
    Case("batch cap held by another run -> recovered",
         "reports(): concurrent runs, one of 2 slots held elsewhere", BATCH, hold_a_slot,
         box={"concurrent_run_cap": 2, "processing_time": 0.3}),
    Case("batch v2 expired URLs x2 -> recovered", "reports(): expired v2 download URLs (2x)", BATCH_V2,
         _f(F.expire_download_urls, 2)),
    Case("batch one failed run -> BatchError", "reports(): one interval's run fails", BATCH,
         _f(F.fail_runs, 1, where={"interval_start": MARCH_3}), raises=rk.BatchError,
         advice=r"2025-03-03.*re-running repeats only the failures", runs=6, cached=5, recover=rerun_batch,
         extra_runs=1),
    Case("batch data not yet available -> DataNotAvailableError",
         "reports(): last intervals past the data window", BATCH_LATE, lambda sb: None,
         raises=rk.DataNotAvailableError, advice=r"clamp=True", runs=0),
]


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


# -- running one case -------------------------------------------------------------------------------
@dataclass
class Outcome:
    case: Case
    df: pd.DataFrame | None
    error: BaseException | None
    runs: int  # created by the faulted call
    requests: int  # requests the sandbox saw for it
    fired: int  # faults that fired (and creates refused at the concurrent-run cap)
    seconds: float  # time to the result (or the error)
    cache_files: list[str]  # every file in the cache dir right after the call
    cache_entries: int  # cached results right after the call (a batch packs them into one file)
    recovered: pd.DataFrame | None = None
    recover_runs: int = 0
    cache_after: list[str] = field(default_factory=list)
    reference: pd.DataFrame | None = None
    refetch: pd.DataFrame | None = None
    refetch_runs: int = 0
    post_keys: int = 0  # distinct Idempotency-Keys among the call's create POSTs
    server_errors: list[str] = field(default_factory=list)
    batch_stats: dict[str, int] = field(default_factory=dict)

    @property
    def figure(self) -> str:
        bits = [f"{self.seconds:.2f} s", f"{self.fired} faults fired", f"{self.requests} requests"]
        if self.batch_stats.get("throttled"):
            bits.append(f"{self.batch_stats['throttled']} cap 429s absorbed")
        return ", ".join(bits)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _client(sb: Sandbox, case: Case, cache: Path) -> Any:
    kw = {k: v for k, v in case.client.items() if k != "timeout_s"}
    kw.setdefault("api_key", sb.api_key)
    return rk.Client(api_base=sb.url, files_base=sb.files_url, cache=cache, progress=False, **kw)


def run_case(case: Case, cache: Path) -> Outcome:
    """Run one row against a fresh sandbox; everything the test (and the benchmark) looks at."""
    with Sandbox(**{**BOX, **case.box}) as sb:
        state = case.arm(sb)
        runs0, reqs0 = sb.runs_created, len(sb.requests)
        fired0 = sum(sb.faults.fired.values()) + sb.cap_rejections
        df: pd.DataFrame | None = None
        error: BaseException | None = None
        t0 = time.perf_counter()
        client = None
        try:
            client = _client(sb, case, cache)
            extra = {"timeout": case.client["timeout_s"]} if "timeout_s" in case.client else {}
            df = case.spec.fetch(client, **extra)
        except rk.ReportkitError as exc:
            error = exc
        seconds = time.perf_counter() - t0
        time.sleep(case.settle)
        log = sb.requests.snapshot()[reqs0:]
        posts = [r for r in log if r.method == "POST" and r.path.endswith("/reporting/report_runs")]
        out = Outcome(
            case=case,
            df=df,
            error=error,
            runs=sb.runs_created - runs0,
            requests=len(log),
            fired=sum(sb.faults.fired.values()) + sb.cap_rejections - fired0,
            seconds=seconds,
            cache_files=_files(cache),
            cache_entries=len(Cache(cache)) if cache.is_dir() else 0,
            post_keys=len({r.headers.get("Idempotency-Key") for r in posts}),
        )
        if df is not None and case.spec.batch:
            out.batch_stats = dict(df.attrs["reportkit"]["stats"])
        sb.faults.reset()
        if client is None:  # the client itself was refused: recover with the sandbox's own key
            client = sb.client(cache=cache, progress=False)
        if error is not None and case.recover is not None:
            before = sb.runs_created
            out.recovered = case.recover(sb, client, case.spec, error, state)
            out.recover_runs = sb.runs_created - before
        out.cache_after = _files(cache)
        ref_spec = case.reference or case.spec
        ref_key = sb.live_api_key if case.recover is with_live_key else sb.api_key
        if out.df is not None or out.recovered is not None:
            out.reference = ref_spec.fetch(sb.client(api_key=ref_key, cache=False, progress=False))
            # A second fetch through the cache: a hit, equal to the reference, creating nothing.
            again_client = sb.client(api_key=ref_key, cache=cache, progress=False)
            before = sb.runs_created
            out.refetch = ref_spec.fetch(again_client)
            out.refetch_runs = sb.runs_created - before
        out.server_errors = list(sb.errors)
    return out


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df.attrs = {}
    return df


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fault(case: Case, tmp_path: Path) -> None:
    out = run_case(case, tmp_path / "cache")
    assert out.server_errors == [], "the sandbox itself broke"
    expected_entries = 1 if not case.spec.batch else len(case.spec.intervals)
    if case.raises is None:
        assert out.error is None, f"expected a recovered result, got {out.error!r}"
        assert out.fired >= 1 or out.batch_stats.get("throttled"), "the fault never fired: nothing tested"
        pd.testing.assert_frame_equal(_plain(out.df), _plain(out.reference))
        assert out.runs == (len(case.spec.intervals) if case.spec.batch else 1)
    else:
        assert isinstance(out.error, case.raises), f"expected {case.raises.__name__}, got {out.error!r}"
        assert re.search(case.advice, str(out.error)), f"no advice in: {out.error}"
        assert out.runs == case.runs
        if case.recover is not None:
            pd.testing.assert_frame_equal(_plain(out.recovered), _plain(out.reference))
            assert out.recover_runs == case.extra_runs + (case.runs == 0), "the advice cost extra runs"
    # No duplicate runs: a report() call's creates (all its retries) share one idempotency key. A 429
    # for the concurrent-run cap is a definite "nothing created", and Stripe may store that answer under
    # the key, so each later attempt gets a fresh key; the run count above proves no duplicate.
    if not case.spec.batch and not case.id.startswith("run cap 429"):
        assert out.post_keys <= 1
    # Cache: all or nothing right after the call, no temporary or partial files.
    want = case.cached if case.cached is not None else (expected_entries if out.error is None else 0)
    assert [f for f in out.cache_files if not f.endswith(".parquet") or f.startswith(".")] == []
    assert out.cache_entries == want, out.cache_files
    if out.refetch is not None:
        assert out.refetch_runs == 0, "a cached result was fetched again"
        pd.testing.assert_frame_equal(_plain(out.refetch), _plain(out.reference))
