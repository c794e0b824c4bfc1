"""``Sandbox``: the local Stripe-compatible server, started on three loopback ports in threads.

::

    with Sandbox(seed=7, processing_time=0.1, now=datetime(2025, 6, 15, tzinfo=UTC)) as sb:
        sb.url, sb.files_url, sb.downloads_url   # API host, v1 files host, v2 downloads host
        sb.api_key, sb.live_api_key              # sk_test_..., sk_live_... (the only keys accepted,
                                                 # with those of the keys= option: sb.keys)
        sb.faults.server_errors(2)               # see faults.py
        sb.requests, sb.runs_created, sb.ledger
        sb.advance(timedelta(days=1))            # the clock (and data_available_end) moves on;
                                                 # needs Sandbox(horizon=...) past the window
        client = sb.client()                     # reportkit.Client pointed at the sandbox

Each host runs werkzeug's threaded WSGI server (``make_server(..., threaded=True)``) on 127.0.0.1.
This module owns only the servers and their threads: the state and rules are the
:class:`~reportkit.sandbox.backend.Backend`'s (``sb.backend``), the request pipeline is
:class:`~reportkit.sandbox.app.SandboxApp`'s, and the options are :class:`~reportkit.sandbox.config.Config`'s.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from reportkit.sandbox.app import SandboxApp
from reportkit.sandbox.backend import Backend
from reportkit.sandbox.config import DEFAULT_ACCOUNT, Config, describe_options
from reportkit.sandbox.faults import Faults
from reportkit.sandbox.state import RequestLog
from reportkit.sandbox.urls import HOSTS

__all__ = ["Sandbox"]


class _QuietHandler(WSGIRequestHandler):
    """No per-request log lines on stderr (the sandbox keeps its own log in ``sb.requests``)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class Sandbox:
    """A local Stripe reporting API: v1 and v2 endpoints, files and downloads, seeded data, faults.

    ``Sandbox(seed=7, *, ports=None, **options)``: ``seed`` seeds the ledger and the ids; ``ports``
    maps ``"api"``, ``"files"`` and ``"downloads"`` to fixed ports (0 or missing = a free port);
    ``options`` are the fields of :class:`~reportkit.sandbox.config.Config` (an unknown name is a
    ``TypeError`` listing the valid ones). The options, with their defaults:

    """

    def __init__(self, seed: int = 7, *, ports: Mapping[str, int] | None = None, **options: Any) -> None:
        config = Config.from_options(seed=seed, **options)
        self._ports = {role: int((ports or {}).get(role, 0)) for role in HOSTS}
        self.backend = Backend(config)
        self._app = SandboxApp(self.backend)
        self.api_key = f"sk_test_sandbox{seed}{self.backend.new_id('', 20)}"
        self.live_api_key = f"sk_live_sandbox{seed}{self.backend.new_id('', 20)}"
        self.backend.add_key(self.api_key, DEFAULT_ACCOUNT)
        self.backend.add_key(self.live_api_key, DEFAULT_ACCOUNT)
        self._servers: dict[str, BaseWSGIServer] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind the three ports and serve in background threads; returns ``self``."""
        with self._lock:
            if self._servers:
                return self
            try:
                for role in HOSTS:
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
            self.backend.urls.api, self.backend.urls.files, self.backend.urls.downloads = (
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
        return getattr(self.backend.urls, role)

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
    def keys(self) -> dict[str, str]:
        """Every key the sandbox accepts, with its account: ``api_key`` and ``live_api_key`` (account
        ``"default"``) and the ``keys`` option's. Any other key gets Stripe's 401."""
        return dict(self.backend.accounts)

    @property
    def faults(self) -> Faults:
        return self.backend.faults

    @property
    def requests(self) -> RequestLog:
        return self.backend.requests

    @property
    def runs_created(self) -> int:
        return self.backend.runs.created

    @property
    def cap_rejections(self) -> int:
        """How many creates were refused with 429 ``report_run_rate_limit_exceeded``."""
        return self.backend.cap_rejections

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected server-side exceptions (should stay empty)."""
        return self.backend.errors

    @property
    def ledger(self) -> Any:
        """The seeded Ledger every report is computed from (built on first use)."""
        return self.backend.ledger

    @property
    def data_available(self) -> tuple[int, int]:
        """``(data_available_start, data_available_end)`` as epoch seconds, the same for every type."""
        return self.backend.window

    @property
    def config(self) -> Config:
        """The settings this sandbox was made with (frozen)."""
        return self.backend.config

    def now(self) -> datetime:
        """The sandbox clock as an aware UTC datetime."""
        return self.backend.now()

    def advance(self, delta: timedelta | float) -> tuple[int, int]:
        """Move the sandbox clock forward by ``delta`` (timedelta or seconds) and with it
        ``data_available_end`` (up to the ``horizon`` option); returns the new ``data_available``.
        Data already available never changes (:meth:`Backend.advance`)."""
        return self.backend.advance(delta)

    def client(self, **kw: Any) -> Any:
        """A ``reportkit.Client`` pointed at this sandbox with its test key (``api_key=`` to override)."""
        from reportkit.client import Client

        kw.setdefault("api_key", self.api_key)
        return Client(api_base=self.url, files_base=self.files_url, **kw)

    def __repr__(self) -> str:
        where = self.backend.urls.api if self._servers else "stopped"
        return f"<Sandbox seed={self.backend.config.seed} {where}>"


if Sandbox.__doc__ is not None:  # None under python -OO
    Sandbox.__doc__ = Sandbox.__doc__.rstrip() + "\n\n" + textwrap.indent(describe_options(), "    ") + "\n"
