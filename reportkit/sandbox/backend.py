"""The sandbox's state and rules, with no HTTP in sight: :class:`Backend`.

One Backend is one synthetic Stripe account as the reporting APIs see it. It owns:

- the settings (:class:`~reportkit.sandbox.config.Config`) and the fault switches;
- the clocks: :meth:`Backend.wall` (the fixed ``now`` plus elapsed time, or real time, plus what
  :meth:`Backend.advance` added) and the monotonic clock runs finish by; the data window
  (``data_available_start``/``_end``, following the wall clock up to ``horizon_end``);
- ids and jitter from one seeded random stream, so a seed gives the same ids in the same order;
- the ledger (built on first use) and the report types this sandbox serves, per mode; the
  platform's connected accounts and their own ledgers (``connected``, connected.py), so a run reads
  its account's ledger (:meth:`Backend.ledger_for`) and a ``connected_account_*`` run its accounts';
- runs: normalising their parameters against the window, creating them, the concurrent-run cap
  (429 ``report_run_rate_limit_exceeded``, counted in ``cap_rejections``) and the choice of a
  run-failure fault, all in one atomic step; their status over time and their CSV / zip bytes,
  rendered once through reports.py;
- v1 file objects (:class:`FileInfo`) and v2 pre-signed download URLs (HMAC signing, verification,
  expiry);
- the stores the HTTP pipeline keeps per key: idempotent answers, request-rate windows, the request
  log, and the tracebacks of unexpected errors.

Refusals are :class:`~reportkit.sandbox.wire.ApiError` (status, message, code, param, type), which the
HTTP layer turns into Stripe's body. app.py and the handler modules hold no state of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import re
import secrets
import string
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from reportkit import catalog
from reportkit.sandbox import connectreports, results, validate
from reportkit.sandbox.config import DEFAULT_ACCOUNT, Config
from reportkit.sandbox.connected import Connected
from reportkit.sandbox.faults import Faults
from reportkit.sandbox.params import RunParams
from reportkit.sandbox.reportids import ReportIds
from reportkit.sandbox.state import (
    Caller,
    FileInfo,
    IdempotencyStore,
    LoggedRequest,
    RateWindow,
    RequestLog,
    Run,
    RunStore,
    Urls,
)
from reportkit.sandbox.wire import KEY_RE, ApiError, rate_limited, shorten

__all__ = ["Backend", "data_window"]


def data_window(config: Config, at: float | None = None) -> tuple[int, int]:
    """``(data_available_start, data_available_end)``: ``ledger_start``, and the last multiple of
    ``data_end_step`` (a UTC midnight by default) at or before ``now - data_lag`` (``now`` = the wall
    clock ``at`` in epoch seconds, else the fixed clock start, else the real time)."""
    base = datetime.fromtimestamp(at, UTC) if at is not None else config.now or datetime.now(UTC)
    lo = datetime.fromisoformat(config.ledger_start).replace(tzinfo=UTC)
    step = int(config.data_end_step.total_seconds())
    hi = int((base - config.data_lag).timestamp()) // step * step
    return int(lo.timestamp()), hi


class Backend:
    """State and rules of one sandbox (see the module docstring).

    ``monotonic`` is the clock runs and rate windows use (default ``time.monotonic``); tests pass a
    fake one to move time. ``ledger_factory(backend)`` builds the ledger (default: a
    :class:`~reportkit.sandbox.ledger.Ledger` from the config, ending at the data window's end).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        faults: Faults | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        ledger_factory: Callable[[Backend], Any] | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        self.faults = faults if faults is not None else Faults()
        self.monotonic = monotonic
        self.urls = Urls()
        self.runs = RunStore()
        self.idempotency = IdempotencyStore()
        self.rates = RateWindow()
        self.requests = RequestLog()
        self.errors: list[str] = []  # tracebacks of unexpected exceptions (tests assert it stays empty)
        self.cap_rejections = 0  # creates refused with 429 report_run_rate_limit_exceeded
        self.signing_key = secrets.token_bytes(32)
        self.accounts: dict[str, str] = dict(self.config.keys)  # API key -> account name
        self._window0 = data_window(self.config)  # the window at start; it only moves forward
        step = int(self.config.data_end_step.total_seconds())
        self.horizon_end = self._window0[1] + int(self.config.horizon.total_seconds()) // step * step
        self._advanced = 0.0  # seconds Backend.advance has moved the wall clock
        self.report_ids = ReportIds(catalog.v2_reports(), self.config.report_ids)
        self.connected = Connected(self)  # the platform's connected accounts, their ledgers, Stripe-Account
        self._data: Any = None  # the /v2/data side (databackend.DataBackend), built on first use
        self._rng = random.Random(self.config.seed)
        self._rng_lock = threading.Lock()
        self._mono0 = monotonic()
        self._ledger: Any = None
        self._ledger_factory = ledger_factory or _default_ledger
        self._ledger_lock = threading.Lock()
        self._admit_lock = threading.Lock()

    # -- clocks, ids, ledger ----------------------------------------------------------------------
    def wall(self) -> float:
        """The sandbox's wall clock: the fixed ``now`` plus the time elapsed since start, or real time."""
        if self.config.now is None:
            return time.time() + self._advanced
        return self.config.now.timestamp() + (self.monotonic() - self._mono0) + self._advanced

    @property
    def window(self) -> tuple[int, int]:
        """``(data_available_start, data_available_end)`` now: :func:`data_window` at the wall clock,
        never before the window at start and never past ``horizon_end`` (where the ledger ends)."""
        lo, hi = data_window(self.config, self.wall())
        return lo, max(self._window0[1], min(hi, self.horizon_end))

    def advance(self, delta: timedelta | float) -> tuple[int, int]:
        """Move the wall clock forward by ``delta`` (a timedelta or seconds), and with it
        ``data_available_end`` (report types, run-window checks, ``refreshed_at``). The ledger is
        built to ``horizon_end`` once, so data already available never changes. Returns the new
        window; a ``ValueError`` for a negative step or one that would need data past the horizon."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"advance() moves the clock forward: want a delta >= 0, got {delta!r}")
        _, hi = data_window(self.config, self.wall() + seconds)
        if hi > self.horizon_end:
            end = datetime.fromtimestamp(self.horizon_end, UTC).isoformat()
            raise ValueError(
                f"advance({delta!r}) would move data_available_end past the ledger's horizon ({end}); "
                "start the sandbox with a larger horizon= (a timedelta or seconds)"
            )
        with self._rng_lock:
            self._advanced += seconds
        return self.window

    def now(self) -> datetime:
        """:meth:`wall` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.wall(), UTC)

    def new_id(self, prefix: str, n: int = 24) -> str:
        """``prefix`` + ``n`` letters and digits from the seeded stream."""
        alphabet = string.ascii_letters + string.digits
        with self._rng_lock:
            return prefix + "".join(self._rng.choice(alphabet) for _ in range(n))

    def duration(self) -> float:
        """How long a new run takes: ``processing_time`` +/- a uniform ``jitter`` (never negative)."""
        with self._rng_lock:
            j = self._rng.uniform(-self.config.jitter, self.config.jitter) if self.config.jitter else 0.0
        return max(0.0, self.config.processing_time + j)

    @property
    def data(self) -> Any:
        """The /v2/data side (:class:`~reportkit.sandbox.databackend.DataBackend`: reports, inline
        pages, query runs, their SQL engine and faults), built on first use."""
        with self._ledger_lock:
            if self._data is None:
                from reportkit.sandbox.databackend import DataBackend

                self._data = DataBackend(self)
            return self._data

    @property
    def ledger(self) -> Any:
        """The seeded ledger every report is computed from (built on first use)."""
        with self._ledger_lock:
            if self._ledger is None:
                self._ledger = self._ledger_factory(self)
            return self._ledger

    @property
    def data_updated(self) -> int:
        """When the data window's end was last moved (a report type's ``updated``)."""
        return self.window[1] + int(self.config.data_lag.total_seconds())

    # -- keys and accounts ------------------------------------------------------------------------
    def add_key(self, key: str, account: str = DEFAULT_ACCOUNT) -> None:
        """Accept ``key`` from now on, for ``account`` (its mode comes from its prefix)."""
        if not KEY_RE.match(key):
            raise ValueError("not a well-formed API key")
        self.accounts[key] = account

    def account_of(self, key: str) -> str | None:
        """The account ``key`` belongs to, or ``None`` for a key this sandbox does not know."""
        return self.accounts.get(key)

    def record_error(self) -> None:
        """Keep the traceback of the exception being handled (``sb.errors``)."""
        self.errors.append(traceback.format_exc())

    def log(self, request: LoggedRequest) -> None:
        self.requests.append(request)

    # -- the report types served ------------------------------------------------------------------
    def report_types(self) -> frozenset[str]:
        """The v1 report type ids this sandbox serves (``config.report_types`` or reports.SUPPORTED)."""
        if self.config.report_types is not None:
            return self.config.report_types
        from reportkit.sandbox import reports

        return frozenset(reports.SUPPORTED) | connectreports.SUPPORTED

    def visible_types(self, livemode: bool) -> list[str]:
        """The served types a key of this mode sees, sorted (live-only ones need a live key)."""
        return sorted(t for t in self.report_types() if livemode or t not in self.config.live_only)

    def report_spec(self, report_type: Any, livemode: bool, *, param: str | None) -> catalog.ReportSpec:
        """The spec of a type served to this mode, or Stripe's 404 / live-only 400."""
        if not isinstance(report_type, str) or report_type not in self.report_types():
            shown = shorten(report_type) if isinstance(report_type, str) else shorten(repr(report_type))
            raise ApiError(404, f"No such report type: '{shown}'", code="resource_missing", param=param)
        if report_type in self.config.live_only and not livemode:
            raise ApiError(
                400,
                f"The report type {report_type} is only available in live mode. Use a live "
                "secret key (sk_live_...) to retrieve it or run it.",
                code="livemode_mismatch",
                param=param,
            )
        return catalog.report_spec(report_type)

    def v2_report(self, report_id: Any, livemode: bool) -> catalog.V2Report:
        """The v2 report with this id for this mode (a report *name* is not an id): else 404."""
        rep = self.report_ids.report(report_id, livemode)  # the sandbox's own ids (reportids.py)
        if rep is None or rep.v1 not in self.report_types():
            shown = shorten(report_id) if isinstance(report_id, str) else shorten(repr(report_id))
            raise ApiError(404, f"No such report: '{shown}'", code="not_found", api="v2")
        return rep

    # -- runs -------------------------------------------------------------------------------------
    def normalise(
        self,
        spec: catalog.ReportSpec,
        raw: Any,
        *,
        pname: Callable[[str], str],
        window_pname: Callable[[str], str] | None = None,
        epoch: Callable[[str, Any], int] | None = None,
    ) -> RunParams:
        """Check a run's raw parameters against ``spec`` and this sandbox's data window."""
        return validate.normalise(
            spec, raw, window=self.window, pname=pname, window_pname=window_pname, epoch=epoch
        )

    def create_run(
        self,
        caller: Caller,
        api: Literal["v1", "v2", "data"],
        report_type: str,
        params: RunParams,
        echo: Mapping[str, Any],
        *,
        pname: Callable[[str], str],
        v2_report: catalog.V2Report | None = None,
        compress: bool = False,
    ) -> Run:
        """Create, check and admit a run: ids, processing time, the payout check (``reports.check``,
        errors named by ``pname``), the concurrent-run cap and the failure faults. Returns it stored."""
        prefix = {
            "v1": "frr_",
            "v2": "reprun_live_" if caller.livemode else "reprun_test_",
            "data": "rrun_" if caller.livemode else "rrun_test_",  # Stripe's live example: rrun_61VW...
        }[api]
        mono = self.monotonic()
        created = self.wall()
        run = Run(
            id=self.new_id(prefix),
            api=api,
            owner=caller.owner,
            livemode=caller.livemode,
            seq=self.runs.next_seq(),
            created=created,
            done_at=mono + self.duration(),
            report_type=report_type,
            params=params,
            echo=dict(echo),
            discrepancies=self.faults.discrepancies,
            created_mono=mono,
            v2_report=v2_report,
            compress=compress,
            account=caller.account,
        )
        run.file_id = self.new_id("file_") if api == "v1" else None
        if connectreports.is_connect(report_type):
            self.check_connect(run, pname)
        elif "payout" in catalog.report_spec(report_type).required:
            self.check_payout(run, pname)
        self.admit(caller, run)
        return run

    def check_connect(self, run: Run, pname: Callable[[str], str]) -> None:
        """A Connect type's ``connected_account(s)`` must be the run's platform's accounts (404
        otherwise); a ``by_id`` type's payout must be one of that account's."""
        wire = "v1" if run.api == "v1" else "v2"
        for name in ("connected_account", "connected_accounts"):
            value = getattr(run.params, name)
            for acct in (value,) if isinstance(value, str) else value or ():
                self.connected.check_param(run.account, acct, pname(name), wire)
        if "payout" in catalog.report_spec(run.report_type).required and run.params.connected_account:
            self.check_payout(run, pname, self.connected.ledger(run.params.connected_account))

    def ledger_for(self, account: str) -> Any:
        """The ledger an account's reports read: a connected account's own, else the platform's."""
        return self.connected.ledger(account) if self.connected.get(account) else self.ledger

    def check_payout(self, run: Run, pname: Callable[[str], str], ledger: Any = None) -> None:
        """Ask ``reports.check`` about what only the ledger knows (an unknown or manual payout)."""
        from reportkit.sandbox import reports

        try:
            if ledger is None:
                reports.check(self.ledger_for(run.account), run.report_type, run.params)
            else:  # a connected account's payout (connectreports checks the Connect type itself)
                reports.check(ledger, connectreports.twin(run.report_type), run.params)
        except reports.ReportParameterError as e:
            code = "not_found" if run.api != "v1" and e.http_status == 404 else e.code
            wire = "v1" if run.api == "v1" else "v2"  # /v2/data answers in the v2 shape
            raise ApiError(e.http_status, e.message, code=code, param=pname(e.param), api=wire) from None

    def admit(self, caller: Caller, run: Run) -> None:
        """Store a new run unless its key is at the concurrent-run cap (one atomic step), and decide
        whether a run-failure fault picks it."""
        cap = self.config.concurrent_run_cap
        with self._admit_lock:
            if cap is not None and self.runs.in_progress(caller.owner, self.monotonic()) >= cap:
                self.cap_rejections += 1
                raise rate_limited(
                    "v1" if run.api == "v1" else "v2",
                    f"You have reached the maximum of {cap} concurrently running report runs "
                    "for this API key. Wait for some of them to finish, then retry.",
                    code="report_run_rate_limit_exceeded",
                )
            chosen = {"report_type": run.report_type, "api": run.api, **run.params.as_dict()}
            run.failure = self.faults.take_run_failure(chosen)
            self.runs.add(run)

    def run(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    def find_run(self, caller: Caller, run_id: str, api: str) -> tuple[Run | None, bool]:
        """``(run, False)`` for a run of ``api`` the caller's account and mode own; ``(None, True)``
        when the caller's account has it in the other mode (Stripe's "a similar object exists in ...
        mode"); ``(None, False)`` when it does not exist for this account (another account's objects
        are invisible, as if they did not exist)."""
        run = self.runs.get(run_id)
        if run is None or run.api != api or run.account != caller.account:
            return None, False
        if run.livemode != caller.livemode:
            return None, True
        return run, False

    def listing(self, api: str, caller: Caller) -> list[Run]:
        """The runs of one API that the caller's account and mode own, newest first."""
        return self.runs.listing(api, caller.livemode, caller.account)

    # -- outcomes and bytes -----------------------------------------------------------------------
    def outcome(self, run: Run) -> tuple[str, str | None]:
        """``("pending", None)``, ``("succeeded", None)`` or ``("failed", message)`` right now.

        Failed when a fault chose the run or when reports.py refused its parameters."""
        if not run.finished(self.monotonic()):
            return "pending", None
        if run.failure is not None:
            return "failed", run.failure.message
        self.csv_bytes(run)
        if run.render_error is not None:
            return "failed", run.render_error
        return "succeeded", None

    def succeeded(self, run: Run | None) -> bool:
        return run is not None and self.outcome(run)[0] == "succeeded"

    def csv_bytes(self, run: Run) -> bytes | None:
        """The run's CSV, rendered on first call (``None`` if rendering failed; see ``run.render_error``)."""
        with run.lock:
            if run.csv is None and run.render_error is None:
                run.csv, run.render_error = self._render(run)
            return run.csv

    def _render(self, run: Run) -> tuple[bytes | None, str | None]:
        from reportkit.sandbox import reports

        kwargs: dict[str, Any] = {}
        if run.discrepancies is not None:
            kwargs["discrepancies"] = run.discrepancies
        try:
            if connectreports.is_connect(run.report_type):
                chosen = self.connected.ledgers(run.account, run.params.accounts())
                return connectreports.render(chosen, run.report_type, run.params), None
            return reports.render(self.ledger_for(run.account), run.report_type, run.params, **kwargs), None
        except reports.ReportParameterError as e:
            return None, e.message
        except Exception:
            self.record_error()
            return None, results.INTERNAL

    def zip_bytes(self, run: Run) -> bytes | None:
        """The run's CSV inside a zip archive, as one member named ``<run id>.csv``."""
        data = self.csv_bytes(run)
        return None if data is None else results.zip_one(f"{run.id}.csv", data)

    def result_bytes(self, run: Run) -> bytes:
        """What a v2 run's result file holds: the zip when compressed, else the CSV."""
        return (self.zip_bytes(run) if run.compress else self.csv_bytes(run)) or b""

    def schema(self, run: Run) -> list[dict[str, str]]:
        """The v2 ``result.file.schema`` of the run's CSV."""
        return results.schema(run.report_type, run.params)

    # -- v1 files ---------------------------------------------------------------------------------
    def file_run(self, file_id: str, caller: Caller) -> Run:
        """The succeeded run behind a v1 file of the caller's account and mode, or Stripe's 404."""
        run = self.runs.by_file(file_id)
        if (
            run is None
            or run.account != caller.account
            or run.livemode != caller.livemode
            or not self.succeeded(run)
        ):
            raise ApiError(404, f"No such file upload: '{file_id}'", code="resource_missing", param="file")
        return run

    def file_info(self, run: Run) -> FileInfo:
        """The v1 ``file`` of a succeeded run: its CSV on the files host, expiring after ``file_ttl``."""
        created = int(run.succeeded_at())
        return FileInfo(
            id=run.file_id or "",
            filename=f"{run.id}.csv",
            title=f"FinanceReportRun {run.id}",
            created=created,
            expires_at=created + int(self.config.file_ttl),
            size=len(self.csv_bytes(run) or b""),
            url=f"{self.urls.files}/v1/files/{run.file_id}/contents",
        )

    # -- v2 pre-signed downloads ------------------------------------------------------------------
    def sign(self, run_id: str, name: str, expires_ms: int) -> str:
        """HMAC-SHA256 (per-sandbox secret) of the run's account and mode, run id, file name and
        expiry, hex: a URL signed for one account's run never opens another account's file."""
        run = self.runs.get(run_id)
        scope = f"{run.account}\n{run.livemode}" if run is not None else "\n"
        msg = f"{scope}\n{run_id}\n{name}\n{expires_ms}".encode()
        return hmac.new(self.signing_key, msg, hashlib.sha256).hexdigest()

    def signed_url(self, run: Run) -> tuple[str, float]:
        """A fresh pre-signed download URL for a succeeded v2 run, and its expiry (epoch seconds).

        Valid ``download_url_ttl`` seconds, or issued already expired when that fault is on."""
        name = run.download_name
        now = self.wall()
        expires = now - 60.0 if self.faults.take_expire_url() else now + self.config.download_url_ttl
        expires_ms = math.ceil(expires * 1000)  # the URL stays valid at least until ``expires``
        sig = self.sign(run.id, name, expires_ms)
        return f"{self.urls.downloads}/files/{run.id}/{name}?expires={expires_ms}&signature={sig}", expires

    def verify_download(
        self, run_id: str, name: str, expires: str, signature: str
    ) -> Literal["ok", "bad_signature", "expired"]:
        """Check a download URL's query (``expires`` in ms and ``signature``, as sent)."""
        if not _EXPIRES_RE.fullmatch(expires) or not hmac.compare_digest(
            signature.encode("utf-8", "replace"), self.sign(run_id, name, int(expires)).encode()
        ):
            return "bad_signature"
        if int(expires) / 1000 < self.wall():
            return "expired"
        return "ok"

    def download_bytes(self, run: Run) -> bytes:
        """A v2 run's result file as served, broken when the corrupt-zip fault picks it."""
        data = self.result_bytes(run)
        if run.compress and self.faults.take_corrupt_zip():
            data = _corrupt(data)
        return data

    # -- request rates ----------------------------------------------------------------------------
    def check_rate(self, caller: Caller, host: str, api: str) -> None:
        """Count one request of this account and mode on ``host`` (Stripe counts "per Stripe account");
        429 ``rate_limit`` when over the per-second limit (``files_rate`` on the files host, else
        ``request_rate`` / ``live_request_rate``)."""
        if host == "files":
            limit = self.config.files_rate
        else:
            limit = self.config.live_request_rate if caller.livemode else self.config.request_rate
        who = f"{host}:{caller.account}:{'live' if caller.livemode else 'test'}"
        if not self.rates.allow(who, limit, now=self.monotonic()):
            raise rate_limited(api)


_EXPIRES_RE = re.compile(r"[0-9]{1,16}")  # epoch milliseconds: ASCII digits, far below int limits


def _default_ledger(backend: Backend) -> Any:
    from reportkit.sandbox.ledger import Ledger

    c = backend.config
    end = datetime.fromtimestamp(backend.horizon_end, UTC)  # past the window by the horizon (advance)
    return Ledger(seed=c.seed, start=c.ledger_start, end=end, currencies=c.currencies, scale=c.scale)


def _corrupt(data: bytes) -> bytes:
    """Same length, but the central directory and its end record are overwritten: not a readable zip."""
    cut = max(0, len(data) - 64)
    return data[:cut] + b"\x00" * (len(data) - cut)
