"""The JSON wire the two preview APIs share: v2 reporting (v2.py) and /v2/data (data.py).

Owns what both say the same way: a 400 is ``invalid_fields`` (the one 400 code the preview specs
document), a missing object 404 ``not_found``; the ``Stripe-Version`` must end in ``.preview``; a
POST body is one JSON object, nested at most ``wire.MAX_DEPTH`` deep, with no unknown and no missing
parameter; query strings name only known parameters and ``include[]`` values; report parameter
times are RFC 3339; ``result_options`` takes only ``compress_file``; and a report's parameters are
described as Stripe's report objects describe them. Each API keeps its own objects and routes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from reportkit import catalog
from reportkit.sandbox.limits import json_depth
from reportkit.sandbox.wire import MAX_DEPTH, ApiError, decode_form, parse_rfc3339, rfc3339, shorten

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend

__all__ = [
    "DESCRIPTIONS",
    "bad",
    "check_version",
    "compress",
    "epoch_reader",
    "in_v2_words",
    "includes",
    "json_body",
    "not_found",
    "param_json",
    "query",
]

#: The report parameters both APIs take, with the words their report objects describe them in.
DESCRIPTIONS = {
    "interval_start": "Starting timestamp of data to be included in the report run (inclusive).",
    "interval_end": "Ending timestamp of data to be included in the report run (exclusive).",
    "timezone": "Time zone used to display timestamps in the report (IANA name; default Etc/UTC).",
    "currency": "Only include transactions in this currency.",
    "reporting_category": "Only include transactions of this reporting category.",
    "columns": "The columns to include in the report, in order.",
    "payout": "The automatic payout whose transactions the report lists.",
}


def bad(message: str) -> ApiError:
    """A preview API's 400: code ``invalid_fields``."""
    return ApiError(400, message, code="invalid_fields", api="v2")


def not_found(what: str, ident: Any) -> ApiError:
    """A preview API's 404 ``not_found``, quoting the id as Stripe quotes a long value back."""
    shown = shorten(ident) if isinstance(ident, str) else shorten(repr(ident))
    return ApiError(404, f"No such {what}: '{shown}'", code="not_found", api="v2")


def in_v2_words(e: ApiError, rep: catalog.V2Report) -> ApiError:
    """A refusal from the checks shared with v1 (``Backend.normalise``) in the preview APIs' words:
    ``invalid_fields`` for a 400, the v2 report's name (never the v1 report type id behind it), and
    no v1 ``param``."""
    message = e.message.replace(f"report type {rep.v1}", f"report {rep.name}")
    return ApiError(e.status, message, code="invalid_fields" if e.status == 400 else e.code, api="v2")


def check_version(request: Request, api: str, example: str) -> None:
    """Refuse a request whose ``Stripe-Version`` does not end in ``.preview`` (``api`` names the API in
    the message, ``example`` is a version it suggests)."""
    version = request.headers.get("Stripe-Version", "")
    if not version.endswith(".preview"):
        raise bad(
            f"The {api} API is in preview: send a Stripe-Version header ending in '.preview' "
            f"(for example {example!r}); got {shorten(version) or 'none'!r}."
        )


def query(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The decoded query string, refused when it names a parameter outside ``allowed``."""
    q = decode_form(request.query_string)
    for name in q:
        if name not in allowed:
            raise bad(f"Received unknown parameter: {shorten(name)}")
    return q


def includes(q: dict[str, Any], allowed: tuple[str, ...]) -> list[str]:
    """The ``include[]`` values of a decoded query, each one of ``allowed``."""
    include = q.get("include", [])
    include = [include] if isinstance(include, str) else include
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise bad("include must be a list of strings.")
    wrong = [i for i in include if i not in allowed]
    if wrong:
        raise bad(
            f"Invalid include value(s): {', '.join(shorten(b) for b in wrong[:5])}; "
            f"allowed: {', '.join(allowed)}."
        )
    return include


def json_body(request: Request, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of a POST: refused when it is not one, is nested deeper than ``MAX_DEPTH``,
    names a parameter outside ``allowed`` or lacks (or leaves empty) one of ``required``."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise bad("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    if json_depth(body) > MAX_DEPTH:
        raise bad(f"The request body is nested more than {MAX_DEPTH} levels deep.")
    for name in body:
        if name not in allowed:
            raise bad(f"Received unknown parameter: {shorten(name)}")
    for name in required:
        if body.get(name) in (None, ""):
            raise bad(f"Missing required param: {name}.")
    return body


def compress(body: dict[str, Any]) -> bool:
    """``result_options.compress_file`` of a create (False when absent); nothing else is taken."""
    options = body.get("result_options") or {}
    if (
        not isinstance(options, dict)
        or set(options) - {"compress_file"}
        or not isinstance(options.get("compress_file", False), bool)
    ):
        raise bad("result_options takes only compress_file (a boolean).")
    return bool(options.get("compress_file", False))


def epoch_reader(prefix: str) -> Callable[[str, Any], int]:
    """``epoch(name, value)``: an RFC 3339 report parameter as whole Unix seconds (floored), refused
    with a message naming ``prefix.name`` (``report_parameters`` in v2 reporting, ``parameters`` in
    /v2/data)."""

    def epoch(name: str, value: Any) -> int:
        try:
            return math.floor(parse_rfc3339(value))
        except (ValueError, TypeError, OverflowError):
            shown = shorten(value) if isinstance(value, str) else shorten(json.dumps(value))
            raise bad(
                f"Invalid timestamp for {prefix}.{name}: {shown!r}; expected an RFC 3339 date-time "
                "such as '2025-01-01T00:00:00.000Z'."
            ) from None

    return epoch


def param_json(
    backend: Backend, spec: catalog.ReportSpec, name: str, *, timestamp_details: bool
) -> dict[str, Any]:
    """One parameter of a report object: type, description, required, enum/array details; with
    ``timestamp_details`` (v2 reporting) the interval parameters also carry the data's ``min``/``max``."""
    out: dict[str, Any] = {
        "array_details": None,
        "description": DESCRIPTIONS[name],
        "enum_details": None,
        "required": name in spec.required,
        **({"timestamp_details": None} if timestamp_details else {}),
        "type": "string",
    }
    if name in ("interval_start", "interval_end"):
        out["type"] = "timestamp"
        if timestamp_details:
            lo, hi = backend.window
            out["timestamp_details"] = {"min": rfc3339(lo), "max": rfc3339(hi)}
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
