"""reportkit: Stripe financial reports into exact, typed pandas DataFrames.

The public face: explicit re-exports and a sorted ``__all__`` (a test keeps it sorted and complete).
The submodules ``sandbox``, ``reconcile``, ``plot`` and ``widgets`` are imported on first use
(``rk.sandbox.Sandbox``, ``rk.reconcile.check_period``, ...), so ``import reportkit`` stays light and
needs neither matplotlib nor ipywidgets.
"""

from __future__ import annotations

from reportkit import catalog, errors
from reportkit.client import Client
from reportkit.connect import connect
from reportkit.dtype import DecimalDtype  # pandas dtype "decimal": exact money columns
from reportkit.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BatchError,
    ConfigurationError,
    DataNotAvailableError,
    DownloadError,
    FormInputError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReportkitError,
    ReportkitWarning,
    ResultParseError,
    RunCancelledError,
    RunError,
    RunFailedError,
    RunTimeoutError,
    ServerError,
)
from reportkit.export import to_excel  # Excel workbooks with a provenance sheet
from reportkit.intervals import Interval, intervals  # rk.intervals is the function
from reportkit.objects import ReportRun, ReportType, ResultFile

__version__ = "0.1.0"

_LAZY = ("finance", "plot", "reconcile", "sandbox", "widgets")


def __getattr__(name: str):  # PEP 562: rk.sandbox, rk.reconcile, rk.plot, rk.finance, rk.widgets on demand
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"reportkit.{name}")
    raise AttributeError(f"module 'reportkit' has no attribute {name!r}")

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BatchError",
    "Client",
    "ConfigurationError",
    "DataNotAvailableError",
    "DecimalDtype",
    "DownloadError",
    "FormInputError",
    "Interval",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ReportRun",
    "ReportType",
    "ReportkitError",
    "ReportkitWarning",
    "ResultFile",
    "ResultParseError",
    "RunCancelledError",
    "RunError",
    "RunFailedError",
    "RunTimeoutError",
    "ServerError",
    "__version__",
    "catalog",
    "connect",
    "errors",
    "finance",
    "intervals",
    "plot",
    "reconcile",
    "sandbox",
    "to_excel",
    "widgets",
]
