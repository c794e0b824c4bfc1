"""The v1 endpoints on the API host: report types, report runs (create, retrieve, list) and files.

Requests are form-encoded with bracket nesting (wire.decode_form); answers are Stripe's JSON objects
``reporting.report_type``, ``reporting.report_run``, ``file`` and ``list``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox import results
from reportkit.sandbox.state import Run
from reportkit.sandbox.validate import normalise
from reportkit.sandbox.wire import ApiError, decode_form, json_response

if TYPE_CHECKING:
    from reportkit.sandbox.app import Caller, SandboxApp

__all__ = ["create_run", "get_file", "get_run", "get_type", "list_runs", "list_types", "type_name"]


def type_name(report_type: str) -> str:
    """A readable name: ``payouts.itemized.3`` -> ``Payouts (itemized), version 3``."""
    spec = catalog.report_spec(report_type)
    parts = spec.base.split(".")
    words = " ".join(p.replace("_", " ") for p in parts[:-1])
    words = words.replace("by id", "by payout ID")
    return f"{words[:1].upper()}{words[1:]} ({parts[-1]}), version {spec.version}"


def _type_json(app: SandboxApp, report_type: str, livemode: bool) -> dict[str, Any]:
    spec = catalog.report_spec(report_type)
    lo, hi = app.window
    return {
        "id": report_type,
        "object": "reporting.report_type",
        "data_available_end": hi,
        "data_available_start": lo,
        "default_columns": list(spec.default_columns or spec.column_names) if spec.takes_columns else None,
        "livemode": livemode,
        "name": type_name(report_type),
        "updated": hi + int(app.config.data_lag.total_seconds()),
        "version": spec.version,
    }


def lookup_type(
    app: SandboxApp, report_type: Any, caller: Caller, *, param: str | None
) -> catalog.ReportSpec:
    """The spec of a type this sandbox serves to this key, or Stripe's 404 / live-only error."""
    if not isinstance(report_type, str) or report_type not in app.report_types():
        raise ApiError(404, f"No such report type: '{report_type}'", code="resource_missing", param=param)
    if report_type in app.config.live_only and not caller.livemode:
        raise ApiError(
            400,
            f"The report type {report_type} is only available in live mode. Use a live "
            "secret key (sk_live_...) to retrieve it or run it.",
            code="livemode_mismatch",
            param=param,
        )
    return catalog.report_spec(report_type)


def list_types(app: SandboxApp, request: Request, caller: Caller) -> Response:
    ids = sorted(t for t in app.report_types() if caller.livemode or t not in app.config.live_only)
    return json_response(
        {
            "object": "list",
            "data": [_type_json(app, t, caller.livemode) for t in ids],
            "has_more": False,
            "url": "/v1/reporting/report_types",
        }
    )


def get_type(app: SandboxApp, request: Request, caller: Caller, type_id: str) -> Response:
    lookup_type(app, type_id, caller, param=None)
    return json_response(_type_json(app, type_id, caller.livemode))


def file_json(app: SandboxApp, run: Run) -> dict[str, Any]:
    data = results.csv_bytes(app, run) or b""
    created = int(run.succeeded_at())
    return {
        "id": run.file_id,
        "object": "file",
        "created": created,
        "expires_at": created + int(app.config.file_ttl),
        "filename": f"{run.id}.csv",
        "links": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/file_links?file={run.file_id}",
        },
        "purpose": "finance_report_run",
        "size": len(data),
        "title": f"FinanceReportRun {run.id}",
        "type": "csv",
        "url": f"{app.urls.files}/v1/files/{run.file_id}/contents",
    }


def run_json(app: SandboxApp, run: Run) -> dict[str, Any]:
    status, error = results.outcome(app, run)
    return {
        "id": run.id,
        "object": "reporting.report_run",
        "created": int(run.created),
        "error": error,
        "livemode": run.livemode,
        "parameters": run.echo,
        "report_type": run.report_type,
        "result": file_json(app, run) if status == "succeeded" else None,
        "status": status,
        "succeeded_at": int(run.succeeded_at()) if status == "succeeded" else None,
    }


def _pname(name: str) -> str:
    return f"parameters[{name}]"


def create_run(app: SandboxApp, request: Request, caller: Caller) -> Response:
    form = decode_form(request.get_data())
    for name in form:
        if name not in ("report_type", "parameters", "expand"):
            raise ApiError(400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown")
    if form.get("report_type") in (None, ""):
        raise ApiError(
            400, "Missing required param: report_type.", param="report_type", code="parameter_missing"
        )
    spec = lookup_type(app, form["report_type"], caller, param="report_type")
    raw = form.get("parameters") or {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="parameters", code="parameter_invalid")
    params = normalise(spec, raw, window=app.window, pname=_pname, window_pname=lambda n: f"parameters.{n}")
    echo = {k: (params[k] if k in ("interval_start", "interval_end") else v) for k, v in raw.items()}
    if "currency" in echo:
        echo["currency"] = params["currency"]
    run = make_run(app, caller, "v1", spec.id, params, echo, prefix="frr_")
    if "payout" in spec.required:
        results.check_parameters(app, run, _pname, "v1")
    app.admit(caller, run)
    return json_response(run_json(app, run))


def make_run(
    app: SandboxApp,
    caller: Caller,
    api: str,
    report_type: str,
    params: dict[str, Any],
    echo: dict[str, Any],
    *,
    prefix: str,
    **extra: Any,
) -> Run:
    """A new run, not yet admitted (``app.admit`` checks the cap, picks failure faults and stores it)."""
    mono = time.monotonic()
    created = app.wall()
    run = Run(
        id=app.new_id(prefix),
        api=api,
        owner=caller.owner,
        livemode=caller.livemode,
        seq=app.runs.next_seq(),
        created=created,
        done_at=mono + app.duration(),
        report_type=report_type,
        params=params,
        echo=echo,
        discrepancies=app.faults.discrepancies,
        created_mono=mono,
        **extra,
    )
    run.file_id = app.new_id("file_") if api == "v1" else None
    return run


def _own_run(app: SandboxApp, caller: Caller, run_id: str) -> Run:
    run = app.runs.get(run_id)
    if run is None or run.api != "v1":
        raise ApiError(404, f"No such report run: '{run_id}'", code="resource_missing", param="id")
    if run.livemode != caller.livemode:
        have, used = ("live", "test") if run.livemode else ("test", "live")
        raise ApiError(
            404,
            f"No such report run: '{run_id}'; a similar object exists in {have} mode, but a "
            f"{used} mode key was used to make this request.",
            code="resource_missing",
            param="id",
        )
    return run


def get_run(app: SandboxApp, request: Request, caller: Caller, run_id: str) -> Response:
    return json_response(run_json(app, _own_run(app, caller, run_id)))


def get_file(app: SandboxApp, request: Request, caller: Caller, file_id: str) -> Response:
    run = app.runs.by_file(file_id)
    if run is None or run.livemode != caller.livemode or results.outcome(app, run)[0] != "succeeded":
        raise ApiError(404, f"No such file upload: '{file_id}'", code="resource_missing", param="file")
    return json_response(file_json(app, run))


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
        ) from None


def list_runs(app: SandboxApp, request: Request, caller: Caller) -> Response:
    q = decode_form(request.query_string)
    for name in q:
        if name not in ("limit", "starting_after", "ending_before", "created", "expand"):
            raise ApiError(400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown")
    limit = _int(q.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise ApiError(
            400, "Invalid limit: must be between 1 and 100", param="limit", code="parameter_invalid_integer"
        )
    if "starting_after" in q and "ending_before" in q:
        raise ApiError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    runs = app.runs.listing("v1", caller.livemode)
    created = q.get("created")
    if created is not None:
        runs = [r for r in runs if _created_ok(int(r.created), created)]
    ids = [r.id for r in runs]
    if q.get("starting_after"):
        cursor = q["starting_after"]
        if cursor not in ids:
            raise ApiError(
                404, f"No such report run: '{cursor}'", code="resource_missing", param="starting_after"
            )
        rest = runs[ids.index(cursor) + 1 :]
        page, has_more = rest[:limit], len(rest) > limit
    elif q.get("ending_before"):
        cursor = q["ending_before"]
        if cursor not in ids:
            raise ApiError(
                404, f"No such report run: '{cursor}'", code="resource_missing", param="ending_before"
            )
        before = runs[: ids.index(cursor)]
        page, has_more = before[-limit:], len(before) > limit
    else:
        page, has_more = runs[:limit], len(runs) > limit
    return json_response(
        {
            "object": "list",
            "data": [run_json(app, r) for r in page],
            "has_more": has_more,
            "url": "/v1/reporting/report_runs",
        }
    )


def _created_ok(created: int, spec: Any) -> bool:
    if isinstance(spec, dict):
        ops = {"gt": created.__gt__, "gte": created.__ge__, "lt": created.__lt__, "lte": created.__le__}
        for op, value in spec.items():
            if op not in ops:
                raise ApiError(
                    400,
                    f"Received unknown parameter: created[{op}]",
                    param=f"created[{op}]",
                    code="parameter_unknown",
                )
            if not ops[op](_int(value, f"created[{op}]")):
                return False
        return True
    return created == _int(spec, "created")
