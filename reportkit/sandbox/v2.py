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

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox.responses import json_response
from reportkit.sandbox.v2wire import (
    DESCRIPTIONS,
    bad,
    check_version,
    compress,
    epoch_reader,
    in_v2_words,
    includes,
    json_body,
    not_found,
    param_json,
    query,
)
from reportkit.sandbox.wire import ApiError, rfc3339, shorten

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller, Run

__all__ = ["create_run", "get_report", "get_run", "run_json"]

_V2_PARAMS = tuple(DESCRIPTIONS)
_epoch = epoch_reader("report_parameters")


def _check_version(request: Request) -> None:
    check_version(request, "v2 reporting", "2026-07-08.preview")


def _v2_params(spec: catalog.ReportSpec) -> list[str]:
    return [p for p in spec.parameters if p in _V2_PARAMS]


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
            "parameters": {p: param_json(backend, spec, p, timestamp_details=True) for p in _v2_params(spec)},
        }
    )


def _pname(name: str) -> str:
    return f"report_parameters.{name}"


def create_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    required = ("report", "report_parameters")
    body = json_body(request, (*required, "result_options"), required)
    rep = backend.v2_report(body["report"], caller.livemode)
    try:
        spec = catalog.report_spec(rep.v1)  # v2 has sandbox ids for every report: no live-only types
        raw = body["report_parameters"]
        if not isinstance(raw, dict):
            raise bad("report_parameters must be an object.")
        for name in raw:
            if name not in _v2_params(spec):
                raise bad(f"Received unknown parameter: report_parameters.{shorten(name)}")
        if "currency" in raw and raw["currency"] not in backend.config.currencies:
            raise bad(
                f"Invalid report_parameters.currency: must be one of {', '.join(backend.config.currencies)}."
            )
        params = backend.normalise(spec, raw, pname=_pname, epoch=_epoch)
        compressed = compress(body)
    except ApiError as e:
        raise in_v2_words(e, rep) from None
    run = backend.create_run(
        caller,
        "v2",
        spec.id,
        params,
        raw,
        pname=_pname,
        v2_report=rep,
        compress=compressed,
    )
    return json_response(run_json(backend, run, include_schema=False))


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
    include = includes(query(request, ("include",)), ("result.file.schema",))
    run, _ = backend.find_run(caller, run_id, "v2")
    if run is None:
        raise not_found("report run", run_id)
    return json_response(run_json(backend, run, include_schema=bool(include)))
