"""The public face of reportkit: DESIGN.md's names exist, __all__ is sorted and complete."""

from __future__ import annotations

import builtins
import subprocess
import sys

import reportkit as rk


def test_all_is_sorted_and_every_name_resolves():
    assert rk.__all__ == sorted(rk.__all__)
    for name in rk.__all__:
        assert getattr(rk, name) is not None, name


def test_design_contract_names():
    for name in ("Client", "connect", "intervals", "Interval", "ReportRun", "ReportType", "ResultFile"):
        assert name in rk.__all__
    assert callable(rk.sandbox.Sandbox)
    assert callable(rk.reconcile.check_period)
    assert callable(rk.widgets.ReportForm)
    for exc in (
        "ConfigurationError",
        "APIConnectionError",
        "APIError",
        "AuthenticationError",
        "PermissionDeniedError",
        "InvalidRequestError",
        "NotFoundError",
        "RateLimitError",
        "ServerError",
        "RunFailedError",
        "RunTimeoutError",
        "DataNotAvailableError",
        "ResultParseError",
    ):
        assert issubclass(getattr(rk, exc), rk.ReportkitError), exc
    assert not (set(rk.errors.__all__) & set(dir(builtins)))


def test_import_is_light():
    code = (
        "import sys, reportkit; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'werkzeug') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
