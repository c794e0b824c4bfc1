"""What a run produced: its status over time, its CSV (rendered once, cached), zip and v2 schema.

A run is pending (v1) / running (v2) until its ``done_at`` on the monotonic clock. Then it is
``failed`` when a fault chose it (or when ``reports.render`` refused its parameters), else
``succeeded``, and its CSV bytes are rendered from the ledger on first need and kept on the run.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reportkit import catalog
from reportkit.sandbox.wire import ApiError

if TYPE_CHECKING:
    from reportkit.sandbox.app import SandboxApp
    from reportkit.sandbox.state import Run

__all__ = ["check_parameters", "csv_bytes", "outcome", "schema", "zip_bytes"]

INTERNAL = "An internal error occurred while generating this report. Please try again."

# catalogue column kinds -> v2 result schema types
_V2_TYPES = {
    "money": "double",
    "rate": "double",
    "count": "bigint",
    "timestamp_utc": "timestamp",
    "timestamp_local": "timestamp",
    "bool": "boolean",
}


def outcome(app: SandboxApp, run: Run) -> tuple[str, str | None]:
    """``("pending", None)``, ``("succeeded", None)`` or ``("failed", message)`` right now."""
    if not run.finished(time.monotonic()):
        return "pending", None
    if run.failure is not None:
        return "failed", run.failure.message
    csv_bytes(app, run)
    if run.render_error is not None:
        return "failed", run.render_error
    return "succeeded", None


def csv_bytes(app: SandboxApp, run: Run) -> bytes | None:
    """The run's CSV, rendered on first call (``None`` if rendering failed; see ``run.render_error``)."""
    with run.lock:
        if run.csv is None and run.render_error is None:
            run.csv, run.render_error = _render(app, run)
        return run.csv


def _render(app: SandboxApp, run: Run) -> tuple[bytes | None, str | None]:
    from reportkit.sandbox import reports

    kwargs: dict[str, Any] = {}
    if run.discrepancies is not None:
        kwargs["discrepancies"] = run.discrepancies
    try:
        return reports.render(app.ledger, run.report_type, dict(run.params), **kwargs), None
    except reports.ReportParameterError as e:
        return None, e.message
    except Exception:
        app.record_error()
        return None, INTERNAL


def check_parameters(app: SandboxApp, run: Run, pname: Callable[[str], str], api: str) -> None:
    """Ask ``reports.check`` about what only the ledger knows (an unknown or manual payout)."""
    from reportkit.sandbox import reports

    try:
        reports.check(app.ledger, run.report_type, dict(run.params))
    except reports.ReportParameterError as e:
        code = "not_found" if api == "v2" and e.http_status == 404 else e.code
        raise ApiError(e.http_status, e.message, code=code, param=pname(e.param), api=api) from None


def zip_bytes(app: SandboxApp, run: Run) -> bytes | None:
    """The run's CSV inside a zip archive, as one member named ``<run id>.csv``."""
    data = csv_bytes(app, run)
    if data is None:
        return None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(f"{run.id}.csv", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
    return buf.getvalue()


def columns_of(run: Run) -> list[str]:
    spec = catalog.report_spec(run.report_type)
    if run.params.get("columns"):
        return list(run.params["columns"])
    return list(spec.default_columns or spec.column_names)


def schema(run: Run) -> list[dict[str, str]]:
    """The v2 ``result.file.schema``: one ``{name, type}`` per CSV column."""
    out = []
    for name in columns_of(run):
        kind = catalog.column_kind(run.report_type, name) or "text"
        out.append({"name": name, "type": _V2_TYPES.get(kind, "varchar")})
    return out
