"""werkzeug responses in the shapes the sandbox sends: Stripe JSON, Stripe errors, S3-style XML, files.

Owns nothing stateful; the app and the handler modules build their answers with these (and the two
download handlers share the pre-signed URL host's refusals):

- :func:`json_response`: pretty-printed UTF-8 JSON, the way Stripe sends it;
- :func:`error_response`: a :class:`~reportkit.sandbox.wire.ApiError` as its v1 or v2 body, with
  its extra headers;
- :func:`xml_error`: the ``<Error><Code>..`` body an object store answers a bad pre-signed URL with;
- :func:`presigned_refusal`: what a pre-signed URL's host answers a bad request before any bytes;
- :func:`file_response`: file bytes in 64 KiB chunks with the full ``Content-Length`` and an
  attachment name; ``keep`` < 1 sends only that share of the body (the truncation fault), so the
  client sees a connection closed before ``Content-Length`` bytes arrived.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from reportkit.sandbox.wire import ApiError

__all__ = ["error_response", "file_response", "json_response", "presigned_refusal", "xml_error"]

_CHUNK = 64 * 1024


def json_response(obj: Any, status: int = 200) -> Response:
    """A JSON response the way Stripe sends it (pretty-printed, UTF-8)."""
    return Response(json.dumps(obj, indent=2) + "\n", status=status, content_type="application/json")


def error_response(error: ApiError) -> Response:
    """Stripe's error body for ``error`` (v1 or v2 shape), with its status and extra headers."""
    resp = json_response(error.body(), error.status)
    for k, v in error.headers.items():
        resp.headers[k] = v
    return resp


def xml_error(status: int, code: str, message: str) -> Response:
    """An S3-style XML error (what a pre-signed object-store URL answers when refused)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
    )
    return Response(body, status=status, content_type="application/xml")


def file_response(data: bytes, content_type: str, filename: str, *, keep: float | None = None) -> Response:
    """``data`` streamed as an attachment; with ``keep``, only ``keep`` of it is sent (full length)."""
    body = data if keep is None else data[: int(len(data) * keep)]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), _CHUNK):
            yield body[i : i + _CHUNK]

    resp = Response(chunks(), status=200, content_type=content_type, direct_passthrough=True)
    resp.headers["Content-Length"] = str(len(data))  # the full size, even when the body is cut
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def presigned_refusal(
    request: Request, verify: Callable[[str, str, str, str], str], run_id: str, name: str
) -> Response | None:
    """What a pre-signed download URL's host answers before any bytes (report and query files alike):
    400 for an ``Authorization`` header, 403 for a tampered or expired URL; None when the URL is
    good. ``verify(run_id, name, expires, signature)`` gives the verdict."""
    if request.headers.get("Authorization"):
        return xml_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; the pre-signed URL "
            "already authorises this request, so do not send an Authorization header.",
        )
    verdict = verify(run_id, name, request.args.get("expires", ""), request.args.get("signature", ""))
    if verdict == "bad_signature":
        return xml_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if verdict == "expired":
        return xml_error(403, "AccessDenied", "Request has expired")
    return None
