"""``Sandbox``: the local Stripe-compatible server, started on three loopback ports in threads.

::

    with Sandbox(seed=7, processing_time=0.1, now=datetime(2025, 6, 15, tzinfo=UTC)) as sb:
        sb.url, sb.files_url, sb.downloads_url   # API host, v1 files host, v2 downloads host
        sb.api_key, sb.live_api_key              # sk_test_..., sk_live_...
        sb.faults.server_errors(2)               # see faults.py
        sb.requests, sb.runs_created, sb.ledger
        client = sb.client()                     # reportkit.Client pointed at the sandbox

Each host runs werkzeug's threaded WSGI server (``make_server(..., threaded=True)``) on 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from reportkit.sandbox.app import Config, SandboxApp
from reportkit.sandbox.faults import Faults
from reportkit.sandbox.state import RequestLog

__all__ = ["Sandbox"]

ROLES = ("api", "files", "downloads")


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines on stderr (the sandbox keeps its own log in ``sb.requests``)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class Sandbox:
    """A local Stripe reporting API: v1 and v2 endpoints, files and downloads, seeded data, faults.

    Keyword arguments (all optional):

    - ``seed`` (7): seeds the ledger and ids. ``scale`` (1.0), ``ledger_start`` ("2024-01-01") and
      ``currencies`` (usd, eur, jpy) are passed to the Ledger.
    - ``now``: a fixed aware datetime the sandbox clock starts from (data availability and the ledger
      then depend only on it); ``None`` uses the real clock.
    - ``data_lag`` (12 h, timedelta or seconds): ``data_available_end`` is the last UTC midnight at or
      before ``now - data_lag``; ``data_available_start`` is ``ledger_start``.
    - ``processing_time`` (1.0 s) and ``jitter`` (0.2 s): a run finishes ``processing_time`` +/- a
      uniform jitter after creation, on the monotonic clock.
    - ``concurrent_run_cap`` (5): runs of one key still in progress (v1 and v2) before a create gets 429
      ``report_run_rate_limit_exceeded``; ``None`` disables.
    - ``request_rate`` (25) / ``live_request_rate`` (100): requests per second per key on the API host,
      test / live keys; ``files_rate`` (20) on the files host. ``None`` disables.
    - ``download_url_ttl`` (600 s): lifetime of v2 pre-signed download URLs.
    - ``live_only``: v1 report types that need a live key (default
      ``{"balance_change_from_activity.itemized.3"}``).
    - ``report_types``: the v1 types served (default ``reports.SUPPORTED``).
    - ``ports``: ``{"api": p, "files": p, "downloads": p}`` (0 or missing = a free port).
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        processing_time: float = 1.0,
        jitter: float = 0.2,
        concurrent_run_cap: int | None = 5,
        request_rate: int | None = 25,
        live_request_rate: int | None = 100,
        files_rate: int | None = 20,
        now: datetime | None = None,
        data_lag: timedelta | float = timedelta(hours=12),
        ledger_start: str = "2024-01-01",
        scale: float = 1.0,
        currencies: Iterable[str] = ("usd", "eur", "jpy"),
        download_url_ttl: float = 600.0,
        live_only: Iterable[str] | None = None,
        report_types: Iterable[str] | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        if now is not None and now.tzinfo is None:
            raise ValueError("now must be an aware datetime (for example datetime(2025, 6, 15, tzinfo=UTC))")
        lag = data_lag if isinstance(data_lag, timedelta) else timedelta(seconds=float(data_lag))
        config = Config(
            seed=seed,
            processing_time=processing_time,
            jitter=jitter,
            concurrent_run_cap=concurrent_run_cap,
            request_rate=request_rate,
            live_request_rate=live_request_rate,
            files_rate=files_rate,
            now=now,
            data_lag=lag,
            ledger_start=ledger_start,
            scale=scale,
            currencies=tuple(c.lower() for c in currencies),
            download_url_ttl=download_url_ttl,
        )
        if live_only is not None:
            config.live_only = frozenset(live_only)
        if report_types is not None:
            config.report_types = frozenset(report_types)
        self._ports = {role: int((ports or {}).get(role, 0)) for role in ROLES}
        self._app = SandboxApp(config=config, ledger_factory=self._make_ledger)
        self.api_key = f"sk_test_sandbox{seed}{self._app.new_id('', 20)}"
        self.live_api_key = f"sk_live_sandbox{seed}{self._app.new_id('', 20)}"
        self._servers: dict[str, BaseWSGIServer] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _make_ledger(self) -> Any:
        from datetime import UTC

        from reportkit.sandbox.ledger import Ledger

        c = self._app.config
        end = datetime.fromtimestamp(self._app.window[1], UTC)
        return Ledger(seed=c.seed, start=c.ledger_start, end=end, currencies=c.currencies, scale=c.scale)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind the three ports and serve in background threads; returns ``self``."""
        with self._lock:
            if self._servers:
                return self
            try:
                for role in ROLES:
                    srv = make_server(
                        "127.0.0.1",
                        self._ports[role],
                        self._app.wsgi(role),
                        threaded=True,
                        request_handler=_QuietHandler,
                    )
                    self._servers[role] = srv
            except BaseException:
                for srv in self._servers.values():
                    srv.server_close()
                self._servers.clear()
                raise
            urls = {role: f"http://127.0.0.1:{srv.server_port}" for role, srv in self._servers.items()}
            self._app.urls.api, self._app.urls.files, self._app.urls.downloads = (
                urls["api"],
                urls["files"],
                urls["downloads"],
            )
            for role, srv in self._servers.items():
                t = threading.Thread(
                    target=srv.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"reportkit-sandbox-{role}",
                    daemon=True,
                )
                t.start()
                self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop serving and release the ports (idempotent)."""
        with self._lock:
            for srv in self._servers.values():
                srv.shutdown()
            for t in self._threads:
                t.join(timeout=5)
            self._servers.clear()
            self._threads.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return bool(self._servers)

    # -- what tests and clients use ---------------------------------------------------------------
    def _url(self, role: str) -> str:
        if not self._servers:
            raise RuntimeError("the sandbox is not running; call start() first")
        return getattr(self._app.urls, role)

    @property
    def url(self) -> str:
        """The API host (v1 and v2 endpoints), ``http://127.0.0.1:PORT``."""
        return self._url("api")

    @property
    def files_url(self) -> str:
        """The v1 files host (``/v1/files/{id}/contents``; key required)."""
        return self._url("files")

    @property
    def downloads_url(self) -> str:
        """The v2 pre-signed download host (no key)."""
        return self._url("downloads")

    @property
    def faults(self) -> Faults:
        return self._app.faults

    @property
    def requests(self) -> RequestLog:
        return self._app.requests

    @property
    def runs_created(self) -> int:
        return self._app.runs.created

    @property
    def cap_rejections(self) -> int:
        """How many creates were refused with 429 ``report_run_rate_limit_exceeded``."""
        return self._app.cap_rejections

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected server-side exceptions (should stay empty)."""
        return self._app.errors

    @property
    def ledger(self) -> Any:
        """The seeded Ledger every report is computed from (built on first use)."""
        return self._app.ledger

    @property
    def data_available(self) -> tuple[int, int]:
        """``(data_available_start, data_available_end)`` as epoch seconds, the same for every type."""
        return self._app.window

    @property
    def config(self) -> Config:
        return self._app.config

    def now(self) -> datetime:
        """The sandbox clock as an aware UTC datetime."""
        from datetime import UTC

        return datetime.fromtimestamp(self._app.wall(), UTC)

    def client(self, **kw: Any) -> Any:
        """A ``reportkit.Client`` pointed at this sandbox with its test key (``api_key=`` to override)."""
        from reportkit.client import Client

        kw.setdefault("api_key", self.api_key)
        return Client(api_base=self.url, files_base=self.files_url, **kw)

    def __repr__(self) -> str:
        where = self._app.urls.api if self._servers else "stopped"
        return f"<Sandbox seed={self._app.config.seed} {where}>"
