"""reportkit: Stripe financial reports into exact, typed pandas DataFrames.

The public face: explicit re-exports and a sorted ``__all__`` (a test keeps it sorted and complete).
Notebook-only parts (``reportkit.widgets``, ``reportkit.plot``) are imported on demand.
"""

from __future__ import annotations

from reportkit import catalog, errors
from reportkit.client import Client, connect
from reportkit.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BatchError,
    ConfigurationError,
    DataNotAvailableError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReportkitError,
    ReportkitWarning,
    ResultParseError,
    RunError,
    RunFailedError,
    RunTimeoutError,
    ServerError,
)
from reportkit.intervals import Interval, intervals  # rk.intervals is the function
from reportkit.objects import ReportRun, ReportType, ResultFile

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BatchError",
    "Client",
    "ConfigurationError",
    "DataNotAvailableError",
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
    "RunError",
    "RunFailedError",
    "RunTimeoutError",
    "ServerError",
    "__version__",
    "catalog",
    "connect",
    "errors",
    "intervals",
]
