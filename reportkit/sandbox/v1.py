"""The v1 handlers on the API host: report types, report runs (create, retrieve, list), files, and the
platform's connected accounts (``GET /v1/accounts``).

Each handler is ``handler(backend, request, caller, **route_args) -> Response`` and talks to the
backend only (backend.py holds the runs and the rules). This module owns the v1 wire side: requests
are form-encoded with bracket nesting (wire.decode_form), parameters are named ``parameters[x]``,
and answers are Stripe's JSON objects ``reporting.report_type``, ``reporting.report_run``, ``file``
and ``list`` (cursor pagination and ``created`` filters included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox.connected import account_json
from reportkit.sandbox.limits import check_string, parse_int
from reportkit.sandbox.responses import json_response
from reportkit.sandbox.wire import ApiError, decode_form

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller, Run

__all__ = [
    "create_run",
    "file_json",
    "get_file",
    "get_run",
    "get_type",
    "list_accounts",
    "list_runs",
    "list_types",
    "run_json",
    "TYPE_NAMES",
    "type_name",
]


#: The ``name`` of each report type family. "Balance summary" is what Stripe's API sends (openapi
#: fixtures3.json, the docs); the others are the headings of the report-type docs pages, the only
#: candidate source (docs/fidelity.md, "Choices"). Every version of a family has the same name.
TYPE_NAMES = {
    "balance.summary": "Balance summary",
    "balance_change_from_activity.itemized": "Itemized balance change from activity",
    "balance_change_from_activity.summary": "Balance change from activity summary",
    "payouts.itemized": "Itemized payouts",
    "payouts.summary": "Payouts summary",
    "payout_reconciliation.itemized": "Itemized payout reconciliation",
    "payout_reconciliation.summary": "Payouts reconciliation summary",
    "payout_reconciliation.by_id.itemized": "Itemized reconciliation for a single payout",
    "payout_reconciliation.by_id.summary": "Payouts reconciliation summary for a single payout",
    "ending_balance_reconciliation.itemized": "Itemized ending balance reconciliation",
    "ending_balance_reconciliation.summary": "Ending balance reconciliation summary",
}


#: The Connect twins: "Connected account " and the platform name (the docs' headings, e.g. "Connected
#: account itemized balance change from activity", docs.stripe.com/reports/report-types/connect).
TYPE_NAMES.update(
    {
        f"connected_account_{base}": f"Connected account {name[0].lower()}{name[1:]}"
        for base, name in TYPE_NAMES.items()
    }
)


def type_name(report_type: str) -> str:
    """The report type's ``name``: ``payouts.itemized.3`` -> ``Itemized payouts``."""
    spec = catalog.report_spec(report_type)
    if spec.base in TYPE_NAMES:
        return TYPE_NAMES[spec.base]
    words = spec.base.replace(".", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def _type_json(backend: Backend, report_type: str, livemode: bool) -> dict[str, Any]:
    spec = catalog.report_spec(report_type)
    lo, hi = backend.window
    return {
        "id": report_type,
        "object": "reporting.report_type",
        "data_available_end": hi,
        "data_available_start": lo,
        "default_columns": list(spec.default_columns or spec.column_names) if spec.takes_columns else None,
        "livemode": livemode,
        "name": type_name(report_type),
        "updated": backend.data_updated,
        "version": spec.version,
    }


def list_types(backend: Backend, request: Request, caller: Caller) -> Response:
    types = backend.visible_types(caller.livemode)
    return json_response(
        {
            "object": "list",
            "data": [_type_json(backend, t, caller.livemode) for t in types],
            "has_more": False,
            "url": "/v1/reporting/report_types",
        }
    )


def get_type(backend: Backend, request: Request, caller: Caller, type_id: str) -> Response:
    backend.report_spec(type_id, caller.livemode, param=None)
    return json_response(_type_json(backend, type_id, caller.livemode))


def file_json(backend: Backend, run: Run) -> dict[str, Any]:
    """The v1 ``file`` object of a succeeded run."""
    info = backend.file_info(run)
    return {
        "id": info.id,
        "object": "file",
        "created": info.created,
        "expires_at": info.expires_at,
        "filename": info.filename,
        "links": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/file_links?file={info.id}",
        },
        "purpose": "finance_report_run",
        "size": info.size,
        "title": info.title,
        "type": "csv",
        "url": info.url,
    }


def run_json(backend: Backend, run: Run) -> dict[str, Any]:
    """The ``reporting.report_run`` object as it stands now."""
    status, error = backend.outcome(run)
    return {
        "id": run.id,
        "object": "reporting.report_run",
        "created": int(run.created),
        "error": error,
        "livemode": run.livemode,
        "parameters": run.echo,
        "report_type": run.report_type,
        "result": file_json(backend, run) if status == "succeeded" else None,
        "status": status,
        "succeeded_at": int(run.succeeded_at()) if status == "succeeded" else None,
    }


def _pname(name: str) -> str:
    return f"parameters[{name}]"


def create_run(backend: Backend, request: Request, caller: Caller) -> Response:
    form = decode_form(request.get_data())
    for name in form:
        if name not in ("report_type", "parameters", "expand"):
            raise ApiError(400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown")
    if form.get("report_type") in (None, ""):
        raise ApiError(
            400, "Missing required param: report_type.", param="report_type", code="parameter_missing"
        )
    check_string(form["report_type"], "report_type")
    spec = backend.report_spec(form["report_type"], caller.livemode, param="report_type")
    raw = form.get("parameters") or {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="parameters")
    params = backend.normalise(spec, raw, pname=_pname, window_pname=lambda n: f"parameters.{n}")
    # echoed as sent, except the times (integers) and the currency (lower-cased)
    echo = {k: (getattr(params, k) if k in ("interval_start", "interval_end") else v) for k, v in raw.items()}
    if "currency" in echo:
        echo["currency"] = params.currency
    run = backend.create_run(caller, "v1", spec.id, params, echo, pname=_pname)
    return json_response(run_json(backend, run))


def _own_run(backend: Backend, caller: Caller, run_id: str) -> Run:
    run, other_mode = backend.find_run(caller, run_id, "v1")
    if run is not None:
        return run
    if other_mode:
        have, used = ("test", "live") if caller.livemode else ("live", "test")
        raise ApiError(
            404,
            f"No such report run: '{run_id}'; a similar object exists in {have} mode, but a "
            f"{used} mode key was used to make this request.",
            code="resource_missing",
            param="id",
        )
    raise ApiError(404, f"No such report run: '{run_id}'", code="resource_missing", param="id")


def get_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    return json_response(run_json(backend, _own_run(backend, caller, run_id)))


def get_file(backend: Backend, request: Request, caller: Caller, file_id: str) -> Response:
    return json_response(file_json(backend, backend.file_run(file_id, caller)))


def _list_query(request: Request) -> tuple[dict[str, Any], int, dict[str, int]]:
    """A list endpoint's query: unknown names refused, ``limit`` (1-100, default 10), one cursor at
    most, and the ``created`` filter; returns (query, limit, created ops)."""
    q = decode_form(request.query_string)
    for name in q:
        if name not in ("limit", "starting_after", "ending_before", "created", "expand"):
            raise ApiError(400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown")
    limit = parse_int(q.get("limit", "10"), "limit")
    if not 1 <= limit <= 100:
        bound = "greater than or equal to 1" if limit < 1 else "less than or equal to 100"
        raise ApiError(400, f"This value must be {bound}.", param="limit", code="parameter_invalid_integer")
    for name in ("starting_after", "ending_before"):
        if name in q:
            check_string(q[name], name)
    if "starting_after" in q and "ending_before" in q:
        raise ApiError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return q, limit, _created_filter(q["created"]) if "created" in q else {}


def _page(items: list[Any], ids: list[str], q: dict[str, Any], limit: int, noun: str) -> tuple[list, bool]:
    """One page of a newest-first list by Stripe's cursors (an unknown cursor is the noun's 404)."""
    if q.get("starting_after"):
        cursor = q["starting_after"]
        if cursor not in ids:
            raise ApiError(
                404, f"No such {noun}: '{cursor}'", code="resource_missing", param="starting_after"
            )
        rest = items[ids.index(cursor) + 1 :]
        return rest[:limit], len(rest) > limit
    if q.get("ending_before"):
        cursor = q["ending_before"]
        if cursor not in ids:
            raise ApiError(404, f"No such {noun}: '{cursor}'", code="resource_missing", param="ending_before")
        before = items[: ids.index(cursor)]
        return before[-limit:], len(before) > limit
    return items[:limit], len(items) > limit


def list_runs(backend: Backend, request: Request, caller: Caller) -> Response:
    q, limit, ops = _list_query(request)
    runs = [r for r in backend.listing("v1", caller) if _created_ok(int(r.created), ops)]
    page, has_more = _page(runs, [r.id for r in runs], q, limit, "report run")
    return json_response(
        {
            "object": "list",
            "data": [run_json(backend, r) for r in page],
            "has_more": has_more,
            "url": "/v1/reporting/report_runs",
        }
    )


def list_accounts(backend: Backend, request: Request, caller: Caller) -> Response:
    """``GET /v1/accounts``: the connected accounts of the caller's platform, newest first (empty for
    an account that is no platform, as Stripe's spec says); a connected account has none to list."""
    if backend.connected.get(caller.account) is not None:
        raise ApiError(400, "You cannot access the connected accounts of your platform's connected accounts.")
    q, limit, ops = _list_query(request)
    accounts = [a for a in backend.connected.of(caller.account) if _created_ok(a.created, ops)]
    page, has_more = _page(accounts, [a.id for a in accounts], q, limit, "account")
    return json_response(
        {
            "object": "list",
            "data": [account_json(a) for a in page],
            "has_more": has_more,
            "url": "/v1/accounts",
        }
    )


def _created_filter(spec: Any) -> dict[str, int]:
    """``created`` (an integer, or ``created[gt|gte|lt|lte]``) as ``{op: epoch}``, checked up front
    (so a bad value is a 400 even when there are no runs to filter)."""
    if not isinstance(spec, dict):
        return {"eq": parse_int(spec, "created")}
    out = {}
    for op, value in spec.items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise ApiError(
                400,
                f"Received unknown parameter: created[{op}]",
                param=f"created[{op}]",
                code="parameter_unknown",
            )
        out[op] = parse_int(value, f"created[{op}]")
    return out


def _created_ok(created: int, ops: dict[str, int]) -> bool:
    tests = {
        "eq": created.__eq__,
        "gt": created.__gt__,
        "gte": created.__ge__,
        "lt": created.__lt__,
        "lte": created.__le__,
    }
    return all(tests[op](value) for op, value in ops.items())
