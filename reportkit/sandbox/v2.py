"""The v2 reporting handlers (private preview) on the API host: create/retrieve report runs, reports.

Each handler is ``handler(backend, request, caller, **route_args) -> Response`` and talks to the
backend only; this module owns the v2 wire side. JSON both ways, Bearer auth only, and a
``Stripe-Version`` ending in ``.preview``. Times are RFC 3339 with milliseconds (nanoseconds on
``download_url.expires_at``, as in Stripe's examples), int64 sizes are
strings, absent optional fields are ``null``. A report is named by its id for the key's mode (the
sandbox's own ids, reportids.py; clients resolve names through ``/v2/data/reports``); a report
*name* is refused with 404 ``not_found`` as Stripe does. Results carry a pre-signed download URL on
the downloads host (signed by the backend).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox.limits import json_depth
from reportkit.sandbox.responses import json_response
from reportkit.sandbox.wire import MAX_DEPTH, ApiError, decode_form, parse_rfc3339, rfc3339, shorten

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller, Run

__all__ = ["create_run", "get_report", "get_run", "run_json"]

_DESCRIPTIONS = {
    "interval_start": "Starting timestamp of data to be included in the report run (inclusive).",
    "interval_end": "Ending timestamp of data to be included in the report run (exclusive).",
    "timezone": "Time zone used to display timestamps in the report (IANA name; default Etc/UTC).",
    "currency": "Only include transactions in this currency.",
    "reporting_category": "Only include transactions of this reporting category.",
    "columns": "The columns to include in the report, in order.",
    "payout": "The automatic payout whose transactions the report lists.",
}
_V2_PARAMS = tuple(_DESCRIPTIONS)


def _bad(message: str) -> ApiError:
    """A v2 400: code ``invalid_fields``, the one 400 code the preview spec documents for this API."""
    return ApiError(400, message, code="invalid_fields", api="v2")


def _check_version(request: Request) -> None:
    version = request.headers.get("Stripe-Version", "")
    if not version.endswith(".preview"):
        raise _bad(
            "The v2 reporting API is in preview: send a Stripe-Version header ending in "
            f"'.preview' (for example '2026-07-08.preview'); got {shorten(version) or 'none'!r}."
        )


def _v2_params(spec: catalog.ReportSpec) -> list[str]:
    return [p for p in spec.parameters if p in _V2_PARAMS]


def _param_json(backend: Backend, spec: catalog.ReportSpec, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "array_details": None,
        "description": _DESCRIPTIONS[name],
        "enum_details": None,
        "required": name in spec.required,
        "timestamp_details": None,
        "type": "string",
    }
    if name in ("interval_start", "interval_end"):
        lo, hi = backend.window
        out.update(type="timestamp", timestamp_details={"min": rfc3339(lo), "max": rfc3339(hi)})
    elif name == "currency":
        out.update(type="enum", enum_details={"allowed_values": list(backend.config.currencies)})
    elif name == "reporting_category":
        out.update(type="enum", enum_details={"allowed_values": catalog.reporting_categories()})
    elif name == "columns":
        cols = [c for c in spec.column_names if not c.endswith("[key]")]
        out.update(
            type="array", array_details={"element_type": "enum", "enum_details": {"allowed_values": cols}}
        )
    return out


def get_report(backend: Backend, request: Request, caller: Caller, report_id: str) -> Response:
    _check_version(request)
    rep = backend.v2_report(report_id, caller.livemode)
    spec = catalog.report_spec(rep.v1)
    return json_response(
        {
            "id": backend.report_ids.id(rep.name, caller.livemode),
            "object": "v2.reporting.report",
            "livemode": caller.livemode,
            "name": rep.name,
            "parameters": {p: _param_json(backend, spec, p) for p in _v2_params(spec)},
        }
    )


def _epoch(name: str, value: Any) -> int:
    try:
        return math.floor(parse_rfc3339(value))
    except (ValueError, TypeError):
        shown = shorten(value) if isinstance(value, str) else shorten(json.dumps(value))
        raise _bad(
            f"Invalid timestamp for report_parameters.{name}: {shown!r}; expected an RFC 3339 "
            "date-time such as '2025-01-01T00:00:00.000Z'."
        ) from None


def _pname(name: str) -> str:
    return f"report_parameters.{name}"


def _body(request: Request) -> dict[str, Any]:
    """The JSON object of a POST, refused (400 ``invalid_fields``) when it is not one, or nested
    deeper than ``limits.MAX_DEPTH``."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    if json_depth(body) > MAX_DEPTH:
        raise _bad(f"The request body is nested more than {MAX_DEPTH} levels deep.")
    return body


def create_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    body = _body(request)
    for name in body:
        if name not in ("report", "report_parameters", "result_options"):
            raise _bad(f"Received unknown parameter: {shorten(name)}")
    for name in ("report", "report_parameters"):
        if body.get(name) in (None, ""):
            raise _bad(f"Missing required param: {name}.")
    rep = backend.v2_report(body["report"], caller.livemode)
    try:
        spec = catalog.report_spec(rep.v1)  # v2 has sandbox ids for every report: no live-only types
        raw = body["report_parameters"]
        if not isinstance(raw, dict):
            raise _bad("report_parameters must be an object.")
        for name in raw:
            if name not in _v2_params(spec):
                raise _bad(f"Received unknown parameter: report_parameters.{shorten(name)}")
        if "currency" in raw and raw["currency"] not in backend.config.currencies:
            raise _bad(
                f"Invalid report_parameters.currency: must be one of {', '.join(backend.config.currencies)}."
            )
        params = backend.normalise(spec, raw, pname=_pname, epoch=_epoch)
        options = body.get("result_options") or {}
        if (
            not isinstance(options, dict)
            or set(options) - {"compress_file"}
            or not isinstance(options.get("compress_file", False), bool)
        ):
            raise _bad("result_options takes only compress_file (a boolean).")
    except ApiError as e:
        raise _v2_error(e, rep) from None
    run = backend.create_run(
        caller,
        "v2",
        spec.id,
        params,
        raw,
        pname=_pname,
        v2_report=rep,
        compress=bool(options.get("compress_file", False)),
    )
    return json_response(run_json(backend, run, include_schema=False))


def _v2_error(e: ApiError, rep: catalog.V2Report) -> ApiError:
    """A refusal from the shared checks in v2's words: ``invalid_fields``, the v2 report's name
    (never the v1 report type id behind it), and no v1 ``param``."""
    message = e.message.replace(f"report type {rep.v1}", f"report {rep.name}")
    return ApiError(e.status, message, code="invalid_fields" if e.status == 400 else e.code, api="v2")


def run_json(backend: Backend, run: Run, *, include_schema: bool) -> dict[str, Any]:
    """The ``v2.reporting.report_run`` object as it stands now (a fresh download URL when done)."""
    status, error = backend.outcome(run)
    status = "running" if status == "pending" else status
    result = None
    details: dict[str, Any] = {}
    if status == "succeeded":
        data = backend.result_bytes(run)
        url, expires = backend.signed_url(run)
        file: dict[str, Any] = {
            "content_type": "zip" if run.compress else "csv",
            "size": str(len(data)),
            "download_url": {"url": url, "expires_at": rfc3339(expires, digits=9)},
        }
        if include_schema:
            file["schema"] = backend.schema(run)
        result = {"type": "file", "file": file}
    elif status == "failed":
        code = run.failure.error_code if run.failure is not None else "internal_error"
        details = {"failed": {"error_code": code, "error_message": error}}
    return {
        "id": run.id,
        "object": "v2.reporting.report_run",
        "created": rfc3339(run.created),
        "livemode": run.livemode,
        "report": backend.report_ids.id(run.v2_report.name, run.livemode),
        "report_name": run.v2_report.name,
        "report_parameters": run.echo,
        "result": result,
        "result_options": {"compress_file": run.compress},
        "status": status,
        "status_details": details,
    }


def get_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    q = decode_form(request.query_string)
    include = q.get("include", [])
    include = [include] if isinstance(include, str) else include
    for name in q:
        if name != "include":
            raise _bad(f"Received unknown parameter: {shorten(name)}")
    bad = [i for i in include if i != "result.file.schema"]
    if bad:
        raise _bad(f"Invalid include value(s): {', '.join(shorten(str(b)) for b in bad[:5])}; "
                   "allowed: result.file.schema.")
    run, _ = backend.find_run(caller, run_id, "v2")
    if run is None:
        raise ApiError(404, f"No such report run: '{shorten(run_id)}'", code="not_found", api="v2")
    return json_response(run_json(backend, run, include_schema=bool(include)))
