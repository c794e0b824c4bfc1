"""What the widget tests share: a client on the session sandbox, and fixtures that drive a form.

``client``: ``sandbox.client(cache=False, progress=False)`` (a test file that needs another sandbox
defines its own ``client``). ``click_run(form)``: click Run and wait for the worker to finish.
``wait_for(predicate)``: poll until true (for what a worker thread does while a run is under way).
``visible(widget)``: whether the form shows the widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def client(sandbox: Any) -> Any:
    return sandbox.client(cache=False, progress=False)


def _click_run(form: Any, timeout: float = 60) -> None:
    form.run_button.click()
    assert form.wait(timeout), "the form's worker did not finish"


def _wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(predicate())


def _visible(widget: Any) -> bool:
    return widget.layout.display != "none"


@pytest.fixture
def click_run() -> Callable[..., None]:
    """Click the form's Run button and wait (60 s at most) for its worker to finish."""
    return _click_run


@pytest.fixture
def wait_for() -> Callable[..., bool]:
    """Poll ``predicate`` every 50 ms for up to ``timeout`` seconds; its last value."""
    return _wait_for


@pytest.fixture
def visible() -> Callable[[Any], bool]:
    """Whether a form's widget is shown (its layout is not ``display: none``)."""
    return _visible


@pytest.fixture
def run_code(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Any], dict[str, Any]]:
    """Run a form's Code tab text as a script would, against sandbox ``sb`` (its key and URLs in the
    environment ``rk.Client()`` reads; no cache, no progress bar); the script's namespace."""

    def run(code: str, sb: Any) -> dict[str, Any]:
        for name, value in (("STRIPE_API_KEY", sb.api_key), ("REPORTKIT_API_BASE", sb.url),
                            ("REPORTKIT_FILES_BASE", sb.files_url)):  # fmt: skip
            monkeypatch.setenv(name, value)
        namespace: dict[str, Any] = {}
        exec(code.replace("rk.Client()", "rk.Client(cache=False, progress=False)"), namespace)
        return namespace

    return run
