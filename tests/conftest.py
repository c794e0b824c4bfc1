"""Shared fixtures. Add yours with small targeted edits (this file is shared between parts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

#: The fixed "now" of test sandboxes: data is available from 2024-01-01 through 2025-06-14 00:00 UTC.
SANDBOX_NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One sandbox for the session: fast runs (0.1 s, no jitter), fixed clock, no rate limits or run cap.

    Safe to share only for tests that switch no faults on; use ``sandbox_factory`` for those.
    """
    from reportkit.sandbox import Sandbox

    with Sandbox(
        seed=7,
        processing_time=0.1,
        jitter=0.0,
        now=SANDBOX_NOW,
        request_rate=None,
        live_request_rate=None,
        files_rate=None,
        concurrent_run_cap=None,
    ) as sb:
        yield sb


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Any]]:
    """Start function-scoped sandboxes: ``sandbox_factory(**kw)`` (defaults: fast runs, fixed clock)."""
    from reportkit.sandbox import Sandbox

    started: list[Any] = []

    def make(**kw: Any) -> Any:
        kw.setdefault("processing_time", 0.1)
        kw.setdefault("jitter", 0.0)
        kw.setdefault("now", SANDBOX_NOW)
        sb = Sandbox(**kw).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture(autouse=True)
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made with the default ``cache=True`` write to a fresh directory per test, never to the
    user's cache (sandbox keys are seeded and ports get reused, so a shared cache could answer a later
    test from an earlier one). Tests about caching pass ``cache=tmp_path`` explicitly."""
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path_factory.mktemp("rk-cache")))


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The same for clients made by module- or session-scoped fixtures (before the per-test directory)."""
    import os

    old = os.environ.get("REPORTKIT_CACHE_DIR")
    os.environ["REPORTKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("rk-session-cache"))
    yield
    if old is None:
        os.environ.pop("REPORTKIT_CACHE_DIR", None)
    else:
        os.environ["REPORTKIT_CACHE_DIR"] = old
