"""The /v2/data handlers (Queries and Reports API, private preview) on the API and downloads hosts.

Each handler is ``handler(backend, request, caller, **route_args) -> Response`` and talks to the
backend only (``backend.data`` is the /v2/data side, databackend.py); this module owns the wire:

- ``GET /v2/data/reports`` (``name`` exact filter, ``limit`` 1-1000 default 10, ``include[]`` of
  ``default_sql``/``parameters``; the v2 list envelope ``{data, next_page_url, previous_page_url}``
  with page URLs the SDK follows) and ``GET /v2/data/reports/{id}``;
- ``POST /v2/data/report_runs`` (``report {id | name}``, ``format: csv``, ``parameters``,
  ``result_options.compress_file``) and ``GET /v2/data/report_runs/{id}`` (``include[]`` of
  ``result.inline``/``sql``, ``limit`` 1-1000 default 10 and ``page`` for the inline rows);
- ``POST /v2/data/query_runs`` (``dataset: analytical``, ``format: csv``, ``query {sql}``) and its
  retrieve; the older ``POST /v2/data/reporting/query_runs`` (``sql``) and its retrieve
  (``include[]=result.file.schema``);
- ``GET /query-files/{id}/{name}`` on the downloads host: a query run's pre-signed file.

JSON both ways, Bearer auth, a ``Stripe-Version`` ending in ``.preview``; times RFC 3339 with
milliseconds (Stripe's /v2/data examples show nanoseconds; both are RFC 3339), int64 counts and
sizes as strings, absent optional fields ``null``. A 400 is ``invalid_fields``; a missing object
404 ``not_found``. Sources and departures: docs/data-api.md and docs/fidelity.md ("/v2/data").
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox.responses import file_response, json_response, presigned_refusal, xml_error
from reportkit.sandbox.wire import ApiError, decode_form, parse_rfc3339, rfc3339

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.databackend import QueryRun
    from reportkit.sandbox.state import Caller, Run

__all__ = [
    "create_query_run",
    "create_report_run",
    "create_reporting_query_run",
    "download_query",
    "get_query_run",
    "get_report",
    "get_report_run",
    "get_reporting_query_run",
    "list_reports",
]

_DESCRIPTIONS = {
    "interval_start": "Starting timestamp of data to be included in the report run (inclusive).",
    "interval_end": "Ending timestamp of data to be included in the report run (exclusive).",
    "timezone": "Time zone used to display timestamps in the report (IANA name; default Etc/UTC).",
    "currency": "Only include transactions in this currency.",
    "reporting_category": "Only include transactions of this reporting category.",
    "columns": "The columns to include in the report, in order.",
    "payout": "The automatic payout whose transactions the report lists.",
}
_REPORT_INCLUDES = ("default_sql", "parameters")
_RUN_INCLUDES = ("result.inline", "sql")
_MAX_LIMIT = 1000
_MAX_DEPTH = 16  # JSON nesting refused beyond this (no source gives Stripe's limit)


def _shorten(value: str) -> str:
    """A long value the way Stripe quotes one back: its first 10 and last 10 characters."""
    return value if len(value) <= 40 else f"{value[:10]}...{value[-10:]}"


def _depth(value: Any) -> int:
    """The nesting depth of a decoded JSON value, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, d = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            todo.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _bad(message: str) -> ApiError:
    return ApiError(400, message, code="invalid_fields", api="v2")


def _not_found(what: str, ident: Any) -> ApiError:
    shown = _shorten(ident) if isinstance(ident, str) else _shorten(repr(ident))
    return ApiError(404, f"No such {what}: '{shown}'", code="not_found", api="v2")


def _check_version(request: Request) -> None:
    version = request.headers.get("Stripe-Version", "")
    if not version.endswith(".preview"):
        raise _bad(
            "The /v2/data API is in preview: send a Stripe-Version header ending in '.preview' "
            f"(for example '2026-10-14.preview'); got {_shorten(version) or 'none'!r}."
        )


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    q = decode_form(request.query_string)
    for name in q:
        if name not in allowed:
            raise _bad(f"Received unknown parameter: {_shorten(name)}")
    return q


def _includes(q: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    include = q.get("include", [])
    include = [include] if isinstance(include, str) else include
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise _bad("include must be a list of strings.")
    bad = [i for i in include if i not in allowed]
    if bad:
        raise _bad(
            f"Invalid include value(s): {', '.join(_shorten(b) for b in bad[:5])}; "
            f"allowed: {', '.join(allowed)}."
        )
    return include


def _limit(q: dict[str, Any], name: str = "limit") -> int:
    raw = q.get(name, "10")
    if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise _bad(f"Invalid {name}: must be an integer from 1 to {_MAX_LIMIT}.")
    return int(raw)


def _body(request: Request, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise _bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    if _depth(body) > _MAX_DEPTH:
        raise _bad(f"The request body is nested more than {_MAX_DEPTH} levels deep.")
    for name in body:
        if name not in allowed:
            raise _bad(f"Received unknown parameter: {_shorten(name)}")
    for name in required:
        if body.get(name) in (None, ""):
            raise _bad(f"Missing required param: {name}.")
    return body


def _compress(body: dict[str, Any]) -> bool:
    options = body.get("result_options") or {}
    if (
        not isinstance(options, dict)
        or set(options) - {"compress_file"}
        or not isinstance(options.get("compress_file", False), bool)
    ):
        raise _bad("result_options takes only compress_file (a boolean).")
    return bool(options.get("compress_file", False))


def _format(body: dict[str, Any]) -> None:
    if body["format"] != "csv":
        raise _bad(f"Invalid format: {_shorten(str(body['format']))!r}; the only format is 'csv'.")


# -- reports -----------------------------------------------------------------------------------------
def _param_json(backend: Backend, spec: catalog.ReportSpec, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "array_details": None,
        "description": _DESCRIPTIONS[name],
        "enum_details": None,
        "required": name in spec.required,
        "type": "string",
    }
    if name in ("interval_start", "interval_end"):
        out["type"] = "timestamp"
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


def _report_json(
    backend: Backend, rid: str, rep: catalog.V2Report, livemode: bool, include: list[str]
) -> dict[str, Any]:
    spec = catalog.report_spec(rep.v1)
    out: dict[str, Any] = {
        "id": rid,
        "object": "v2.data.report",
        "description": f"The {rep.name} report (sandbox: computed from its synthetic ledger).",
        "livemode": livemode,
        "name": rep.name,
        "parameters": None,
    }
    if "parameters" in include:
        out["parameters"] = {p: _param_json(backend, spec, p) for p in spec.parameters if p in _DESCRIPTIONS}
    if "default_sql" in include:
        out["default_sql"] = backend.data.default_sql(rep)
    return out


def list_reports(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    q = _query(request, ("include", "limit", "name", "page"))
    include = _includes(q, _REPORT_INCLUDES)
    limit = _limit(q)
    name = q.get("name")
    if name is not None and not isinstance(name, str):
        raise _bad("name must be a string.")
    found = [
        (rid, rep) for rid, rep in backend.data.reports(caller.livemode) if name is None or rep.name == name
    ]
    start = 0
    if "page" in q:
        start = _list_offset(backend, q["page"], len(found))
    page = found[start : start + limit]

    def url(offset: int) -> str:
        args: list[tuple[str, Any]] = [(f"include[{i}]", v) for i, v in enumerate(include)]
        args += [("limit", limit)] + ([("name", name)] if name is not None else [])
        args.append(("page", backend.data.page_token("reports", offset)))
        return f"/v2/data/reports?{urlencode(args)}"

    return json_response(
        {
            "data": [_report_json(backend, rid, rep, caller.livemode, include) for rid, rep in page],
            "next_page_url": url(start + limit) if start + limit < len(found) else None,
            "previous_page_url": url(max(0, start - limit)) if start > 0 else None,
        }
    )


def _list_offset(backend: Backend, token: Any, total: int) -> int:
    offset = backend.data.page_offset("reports", token)
    if offset is None or offset > total:
        raise _bad("Invalid page: not a page token of this list.")
    return offset


def get_report(backend: Backend, request: Request, caller: Caller, report_id: str) -> Response:
    _check_version(request)
    include = _includes(_query(request, ("include",)), _REPORT_INCLUDES)
    rep = backend.data.report(report_id=report_id, livemode=caller.livemode)
    if rep is None:
        raise _not_found("report", report_id)
    return json_response(_report_json(backend, report_id, rep, caller.livemode, include))


# -- report runs -------------------------------------------------------------------------------------
def _epoch(name: str, value: Any) -> int:
    try:
        return math.floor(parse_rfc3339(value))
    except (ValueError, TypeError, OverflowError):
        shown = _shorten(value) if isinstance(value, str) else _shorten(json.dumps(value))
        raise _bad(
            f"Invalid timestamp for parameters.{name}: {shown!r}; expected an RFC 3339 date-time "
            "such as '2025-01-01T00:00:00.000Z'."
        ) from None


def _pname(name: str) -> str:
    return f"parameters.{name}"


def create_report_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    body = _body(
        request, ("format", "parameters", "report", "result_options"), ("format", "parameters", "report")
    )
    _format(body)
    ref = body["report"]
    if not isinstance(ref, dict) or not (set(ref) <= {"id", "name"}) or not ref:
        raise _bad("report must be an object with an id or a name.")
    rep = backend.data.report(report_id=ref.get("id"), name=ref.get("name"), livemode=caller.livemode)
    if rep is None:
        raise _not_found("report", ref.get("id") if ref.get("id") is not None else ref.get("name"))
    raw = body["parameters"]
    if not isinstance(raw, dict):
        raise _bad("parameters must be an object.")
    spec = catalog.report_spec(rep.v1)
    try:
        for name in raw:
            if name not in spec.parameters or name not in _DESCRIPTIONS:
                raise _bad(f"Received unknown parameter: parameters.{_shorten(name)}")
        if "currency" in raw and raw["currency"] not in backend.config.currencies:
            raise _bad(f"Invalid parameters.currency: must be one of {', '.join(backend.config.currencies)}.")
        params = backend.normalise(spec, raw, pname=_pname, epoch=_epoch)
        compress = _compress(body)
    except ApiError as e:
        message = e.message.replace(f"report type {rep.v1}", f"report {rep.name}")
        raise ApiError(
            e.status, message, code="invalid_fields" if e.status == 400 else e.code, api="v2"
        ) from None
    run = backend.create_run(
        caller, "data", spec.id, params, raw, pname=_pname, v2_report=rep, compress=compress
    )
    backend.data.pick_override(run.id)
    return json_response(_report_run_json(backend, run, include=[], limit=10, q={}))


def _result(
    backend: Backend,
    run_id: str,
    path: str,
    columns: list[dict[str, str]],
    rows: list[list[str | None]],
    file: dict[str, Any],
    *,
    include: list[str],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """The ``result`` of a succeeded run: counts, the file, and the inline page when asked for."""
    inline = None
    if "result.inline" in include:
        kinds = [c["type"] for c in columns]
        names = [c["name"] for c in columns]
        page = rows[offset : offset + limit]

        def url(at: int) -> str:
            args = [(f"include[{i}]", v) for i, v in enumerate(include)]
            args += [("limit", limit), ("page", backend.data.page_token(run_id, at))]
            return f"{path}?{urlencode(args)}"

        inline = {
            "columns": columns,
            "rows": [
                {"data": {n: _cell(v, k) for n, v, k in zip(names, row, kinds, strict=True)}} for row in page
            ],
            "next_page_url": url(offset + limit) if offset + limit < len(rows) else None,
            "previous_page_url": url(max(0, offset - limit)) if offset > 0 else None,
        }
    return {"col_count": str(len(columns)), "row_count": str(len(rows)), "file": file, "inline": inline}


def _cell(value: str | None, kind: str) -> Any:
    """An inline cell: booleans as JSON booleans, everything else as the CSV's text (exact decimals and
    int64 as strings, the v2 convention), an empty field as null."""
    if value is None:
        return None
    if kind == "boolean":
        return value.lower() == "true"
    return value


def _page(backend: Backend, run_id: str, q: dict[str, Any], total: int) -> int:
    if "page" not in q:
        return 0
    offset = backend.data.page_offset(run_id, q["page"])
    if offset is None or offset > total:
        raise _bad("Invalid page: not a page token of this run's result.")
    return offset


def _details(status: str, code: str | None, message: str | None, canceled_at: float | None) -> Any:
    if status == "failed":
        return {"canceled_at": None, "code": code or "internal_error", "message": message}
    if status == "canceled":
        return {
            "canceled_at": rfc3339(canceled_at or 0.0),
            "code": None,
            "message": "The run was canceled.",
        }
    return None


def _report_run_json(
    backend: Backend, run: Run, *, include: list[str], limit: int, q: dict[str, Any]
) -> dict[str, Any]:
    status, canceled_at = backend.data.status_of(run)
    result = None
    code = message = None
    if status == "succeeded":
        data = backend.result_bytes(run)
        url, expires = backend.signed_url(run)
        file = {
            "columns": backend.data.columns(run),
            "content_type": "zip" if run.compress else "csv",
            "download_url": {"expires_at": rfc3339(expires), "url": url},
            "size": str(len(data)),
        }
        rows = backend.data.rows(run)
        offset = _page(backend, run.id, q, len(rows))
        result = _result(
            backend, run.id, f"/v2/data/report_runs/{run.id}", file["columns"], rows, file,
            include=include, limit=limit, offset=offset,
        )  # fmt: skip
    elif status == "failed":
        _, message = backend.outcome(run)
        code = run.failure.error_code if run.failure is not None else "internal_error"
    return {
        "id": run.id,
        "object": "v2.data.report_run",
        "created": rfc3339(run.created),
        "livemode": run.livemode,
        "name": run.v2_report.name,
        "parameters": run.echo,
        "refreshed_at": rfc3339(backend.window[1]),
        "report": backend.data.report_id(run.v2_report, run.livemode),
        "result": result,
        "result_options": {"compress_file": run.compress},
        "sql": backend.data.run_sql(run) if "sql" in include else None,
        "status": status,
        "status_details": _details(status, code, message, canceled_at),
    }


def get_report_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    q = _query(request, ("include", "limit", "page"))
    include = _includes(q, _RUN_INCLUDES)
    limit = _limit(q)
    run = backend.run(run_id)
    account = getattr(caller, "account", None)
    if (
        run is None
        or run.api != "data"
        or run.livemode != caller.livemode
        or getattr(run, "account", None) != account
    ):
        raise _not_found("report run", run_id)
    return json_response(_report_run_json(backend, run, include=include, limit=limit, q=q))


# -- query runs --------------------------------------------------------------------------------------
def _query_file(backend: Backend, qr: QueryRun) -> tuple[dict[str, Any], list[dict[str, str]]]:
    assert qr.result is not None
    columns = [{"name": n, "type": t} for n, t in qr.result.columns]
    url, expires = backend.data.query_url(qr)
    file = {
        "columns": columns,
        "content_type": "zip" if qr.compress else "csv",
        "download_url": {"expires_at": rfc3339(expires), "url": url},
        "size": str(len(backend.data.query_bytes(qr))),
    }
    return file, columns


def _query_run_json(
    backend: Backend, qr: QueryRun, *, include: list[str], q: dict[str, Any]
) -> dict[str, Any]:
    status, canceled_at = backend.data.query_status(qr)
    result = None
    code = message = None
    if status == "succeeded" and qr.result is not None:
        file, columns = _query_file(backend, qr)
        rows = [list(r) for r in qr.result.rows]
        offset = _page(backend, qr.id, q, len(rows))
        result = _result(
            backend, qr.id, f"/v2/data/query_runs/{qr.id}", columns, rows, file,
            include=include, limit=_limit(q), offset=offset,
        )  # fmt: skip
    elif status == "failed" and qr.error is not None:
        code, message = qr.error.code, qr.error.message
    return {
        "id": qr.id,
        "object": "v2.data.query_run",
        "created": rfc3339(qr.created),
        "dataset": "analytical",
        "format": "csv",
        "livemode": qr.livemode,
        "query": {"sql": qr.sql},
        "refreshed_at": rfc3339(backend.window[1]),
        "result": result,
        "result_options": {"compress_file": qr.compress},
        "status": status,
        "status_details": _details(status, code, message, canceled_at),
    }


def create_query_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    body = _body(request, ("dataset", "format", "query", "result_options"), ("dataset", "format", "query"))
    _format(body)
    if body["dataset"] != "analytical":
        raise _bad(f"Invalid dataset: {_shorten(str(body['dataset']))!r}; the only dataset is 'analytical'.")
    query = body["query"]
    if not isinstance(query, dict) or set(query) != {"sql"} or not isinstance(query["sql"], str):
        raise _bad('query must be an object holding the SQL: {"sql": "select ..."}.')
    compress = _compress(body)
    qr = backend.data.create_query(caller, query["sql"], api="data", compress=compress)
    return json_response(_query_run_json(backend, qr, include=[], q={}))


def get_query_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    q = _query(request, ("include", "limit", "page"))
    include = _includes(q, ("result.inline",))
    _limit(q)
    qr = backend.data.query(caller, run_id, "data")
    if qr is None:
        raise _not_found("query run", run_id)
    return json_response(_query_run_json(backend, qr, include=include, q=q))


def _reporting_json(backend: Backend, qr: QueryRun, *, schema: bool) -> dict[str, Any]:
    """The older ``v2.data.reporting.query_run``: top-level ``sql``, no inline rows, no ``canceled``."""
    status, _ = backend.data.query_status(qr)
    status = "failed" if status == "canceled" else status
    result = None
    details: dict[str, Any] = {}
    if status == "succeeded" and qr.result is not None:
        file, columns = _query_file(backend, qr)
        del file["columns"]
        if schema:
            file["schema"] = [{"name": c["name"], "type": _reporting_type(c["type"])} for c in columns]
        result = {"type": "file", "file": file}
    elif status == "failed":
        code = qr.error.code if qr.error is not None else "internal_error"
        details = {"failed": {"error_code": code, "error_message": qr.error.message if qr.error else None}}
    return {
        "id": qr.id,
        "object": "v2.data.reporting.query_run",
        "created": rfc3339(qr.created),
        "livemode": qr.livemode,
        "result": result,
        "result_options": {"compress_file": qr.compress},
        "sql": qr.sql,
        "status": status,
        "status_details": details,
    }


def _reporting_type(declared: str) -> str:
    """A /v2/data column type in the older schema's closed vocabulary (boolean, double, bigint
    "Integer", varchar "String", timestamp): integers are bigint, decimals double, the rest varchar."""
    if declared in ("boolean", "double", "bigint", "varchar", "timestamp"):
        return declared
    return {"integer": "bigint", "decimal": "double"}.get(declared, "varchar")


def create_reporting_query_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    body = _body(request, ("result_options", "sql"), ("sql",))
    if not isinstance(body["sql"], str):
        raise _bad("sql must be a string.")
    qr = backend.data.create_query(caller, body["sql"], api="reporting", compress=_compress(body))
    return json_response(_reporting_json(backend, qr, schema=False))


def get_reporting_query_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    include = _includes(_query(request, ("include",)), ("result.file.schema",))
    qr = backend.data.query(caller, run_id, "reporting")
    if qr is None:
        raise _not_found("query run", run_id)
    return json_response(_reporting_json(backend, qr, schema=bool(include)))


# -- the downloads host ------------------------------------------------------------------------------
def download_query(
    backend: Backend, request: Request, caller: Caller | None, run_id: str, name: str
) -> Response:
    """``GET /query-files/{id}/{name}?expires=..&signature=..``: like a report run's pre-signed file."""
    refused = presigned_refusal(request, backend.data.verify_query_download, run_id, name)
    if refused is not None:
        return refused
    qr = backend.data.downloadable_query(run_id)
    if qr is None or name != qr.download_name:
        return xml_error(404, "NoSuchKey", "The specified key does not exist.")
    content_type = "application/zip" if qr.compress else "text/csv"
    return file_response(
        backend.data.query_bytes(qr), content_type, name, keep=backend.faults.take_truncate()
    )
