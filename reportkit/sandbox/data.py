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

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from reportkit import catalog
from reportkit.sandbox import v2wire as w
from reportkit.sandbox.responses import file_response, json_response, presigned_refusal, xml_error
from reportkit.sandbox.wire import ApiError, rfc3339, shorten

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

_REPORT_INCLUDES = ("default_sql", "parameters")
_RUN_INCLUDES = ("result.inline", "sql")
_MAX_LIMIT = 1000
_epoch = w.epoch_reader("parameters")


def _check_version(request: Request) -> None:
    w.check_version(request, "/v2/data", "2026-10-14.preview")


def _limit(q: dict[str, Any], name: str = "limit") -> int:
    raw = q.get(name, "10")
    if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) <= _MAX_LIMIT:
        raise w.bad(f"Invalid {name}: must be an integer from 1 to {_MAX_LIMIT}.")
    return int(raw)


def _format(body: dict[str, Any]) -> None:
    if body["format"] != "csv":
        raise w.bad(f"Invalid format: {shorten(str(body['format']))!r}; the only format is 'csv'.")


# -- reports -----------------------------------------------------------------------------------------
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
        named = [p for p in spec.parameters if p in w.DESCRIPTIONS]
        out["parameters"] = {p: w.param_json(backend, spec, p, timestamp_details=False) for p in named}
    if "default_sql" in include:
        out["default_sql"] = backend.data.default_sql(rep)
    return out


def list_reports(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    q = w.query(request, ("include", "limit", "name", "page"))
    include = w.includes(q, _REPORT_INCLUDES)
    limit = _limit(q)
    name = q.get("name")
    if name is not None and not isinstance(name, str):
        raise w.bad("name must be a string.")
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
        raise w.bad("Invalid page: not a page token of this list.")
    return offset


def get_report(backend: Backend, request: Request, caller: Caller, report_id: str) -> Response:
    _check_version(request)
    include = w.includes(w.query(request, ("include",)), _REPORT_INCLUDES)
    rep = backend.data.report(report_id=report_id, livemode=caller.livemode)
    if rep is None:
        raise w.not_found("report", report_id)
    return json_response(_report_json(backend, report_id, rep, caller.livemode, include))


# -- report runs -------------------------------------------------------------------------------------
def _pname(name: str) -> str:
    return f"parameters.{name}"


def create_report_run(backend: Backend, request: Request, caller: Caller) -> Response:
    _check_version(request)
    body = w.json_body(
        request, ("format", "parameters", "report", "result_options"), ("format", "parameters", "report")
    )
    _format(body)
    ref = body["report"]
    if not isinstance(ref, dict) or not (set(ref) <= {"id", "name"}) or not ref:
        raise w.bad("report must be an object with an id or a name.")
    rep = backend.data.report(report_id=ref.get("id"), name=ref.get("name"), livemode=caller.livemode)
    if rep is None:
        raise w.not_found("report", ref.get("id") if ref.get("id") is not None else ref.get("name"))
    raw = body["parameters"]
    if not isinstance(raw, dict):
        raise w.bad("parameters must be an object.")
    spec = catalog.report_spec(rep.v1)
    try:
        for name in raw:
            if name not in spec.parameters or name not in w.DESCRIPTIONS:
                raise w.bad(f"Received unknown parameter: parameters.{shorten(name)}")
        if "currency" in raw and raw["currency"] not in backend.config.currencies:
            allowed = ", ".join(backend.config.currencies)
            raise w.bad(f"Invalid parameters.currency: must be one of {allowed}.")
        params = backend.normalise(spec, raw, pname=_pname, epoch=_epoch)
        compress = w.compress(body)
    except ApiError as e:
        raise w.in_v2_words(e, rep) from None
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
        raise w.bad("Invalid page: not a page token of this run's result.")
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
    q = w.query(request, ("include", "limit", "page"))
    include = w.includes(q, _RUN_INCLUDES)
    limit = _limit(q)
    run = backend.run(run_id)
    account = getattr(caller, "account", None)
    if (
        run is None
        or run.api != "data"
        or run.livemode != caller.livemode
        or getattr(run, "account", None) != account
    ):
        raise w.not_found("report run", run_id)
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
    required = ("dataset", "format", "query")
    body = w.json_body(request, (*required, "result_options"), required)
    _format(body)
    if body["dataset"] != "analytical":
        raise w.bad(f"Invalid dataset: {shorten(str(body['dataset']))!r}; the only dataset is 'analytical'.")
    query = body["query"]
    if not isinstance(query, dict) or set(query) != {"sql"} or not isinstance(query["sql"], str):
        raise w.bad('query must be an object holding the SQL: {"sql": "select ..."}.')
    compress = w.compress(body)
    qr = backend.data.create_query(caller, query["sql"], api="data", compress=compress)
    return json_response(_query_run_json(backend, qr, include=[], q={}))


def get_query_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    q = w.query(request, ("include", "limit", "page"))
    include = w.includes(q, ("result.inline",))
    _limit(q)
    qr = backend.data.query(caller, run_id, "data")
    if qr is None:
        raise w.not_found("query run", run_id)
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
    body = w.json_body(request, ("result_options", "sql"), ("sql",))
    if not isinstance(body["sql"], str):
        raise w.bad("sql must be a string.")
    qr = backend.data.create_query(caller, body["sql"], api="reporting", compress=w.compress(body))
    return json_response(_reporting_json(backend, qr, schema=False))


def get_reporting_query_run(backend: Backend, request: Request, caller: Caller, run_id: str) -> Response:
    _check_version(request)
    include = w.includes(w.query(request, ("include",)), ("result.file.schema",))
    qr = backend.data.query(caller, run_id, "reporting")
    if qr is None:
        raise w.not_found("query run", run_id)
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
