"""Result bytes leaving the sandbox: v1 file contents (files host) and v2 pre-signed downloads.

- v1 ``GET /v1/files/{id}/contents`` on the files host needs the key (Basic or Bearer) of the run's
  mode; the CSV is streamed with ``Content-Length`` and ``Content-Type: text/csv``.
- v2 download URLs live on the downloads host: ``/files/{run id}/{name}?expires=<ms>&signature=<hex>``,
  where the signature is an HMAC-SHA256 (per-sandbox secret) of run id, name and expiry. No key is
  needed, and an ``Authorization`` header is refused (400) like a pre-signed object store does. A
  tampered or expired URL gets 403 with an S3-style XML body.

Download faults (faults.py): truncation (full ``Content-Length``, short body, connection closed) and
corrupted zips.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from reportkit.sandbox import results
from reportkit.sandbox.wire import ApiError

if TYPE_CHECKING:
    from reportkit.sandbox.app import Caller, SandboxApp
    from reportkit.sandbox.state import Run

__all__ = ["download_contents", "file_contents", "signed_url"]

_CHUNK = 64 * 1024


def _xml_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
    )
    return Response(body, status=status, content_type="application/xml")


def _sign(app: SandboxApp, run_id: str, name: str, expires_ms: int) -> str:
    msg = f"{run_id}\n{name}\n{expires_ms}".encode()
    return hmac.new(app.signing_key, msg, hashlib.sha256).hexdigest()


def signed_url(app: SandboxApp, run: Run) -> tuple[str, float]:
    """A fresh pre-signed download URL for a succeeded v2 run, and its expiry (epoch seconds)."""
    name = f"{run.id}.{'zip' if run.compress else 'csv'}"
    now = app.wall()
    expires = now - 60.0 if app.faults.take_expire_url() else now + app.config.download_url_ttl
    expires_ms = int(expires * 1000)
    sig = _sign(app, run.id, name, expires_ms)
    return (
        f"{app.urls.downloads}/files/{run.id}/{name}?expires={expires_ms}&signature={sig}",
        expires_ms / 1000,
    )


def _stream(app: SandboxApp, data: bytes, content_type: str, filename: str) -> Response:
    keep = app.faults.take_truncate()
    body = data if keep is None else data[: int(len(data) * keep)]

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), _CHUNK):
            yield body[i : i + _CHUNK]

    resp = Response(chunks(), status=200, content_type=content_type, direct_passthrough=True)
    resp.headers["Content-Length"] = str(len(data))  # the full size, even when the body is cut
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def file_contents(app: SandboxApp, request: Request, caller: Caller, file_id: str) -> Response:
    """``GET /v1/files/{id}/contents`` on the files host."""
    run = app.runs.by_file(file_id)
    if run is None or run.livemode != caller.livemode or results.outcome(app, run)[0] != "succeeded":
        raise ApiError(404, f"No such file upload: '{file_id}'", code="resource_missing", param="file")
    data = results.csv_bytes(app, run) or b""
    return _stream(app, data, "text/csv", f"{run.id}.csv")


def download_contents(app: SandboxApp, request: Request, run_id: str, name: str) -> Response:
    """``GET /files/{run}/{name}?expires=..&signature=..`` on the downloads host (no key)."""
    if request.headers.get("Authorization"):
        return _xml_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; the pre-signed URL "
            "already authorises this request, so do not send an Authorization header.",
        )
    expires, sig = request.args.get("expires", ""), request.args.get("signature", "")
    if not expires.isdigit() or not hmac.compare_digest(sig, _sign(app, run_id, name, int(expires))):
        return _xml_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if int(expires) / 1000 < app.wall():
        return _xml_error(403, "AccessDenied", "Request has expired")
    run = app.runs.get(run_id)
    if run is None or results.outcome(app, run)[0] != "succeeded":
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
    if run.compress:
        data = results.zip_bytes(app, run) or b""
        if app.faults.take_corrupt_zip():
            data = _corrupt(data)
        return _stream(app, data, "application/zip", name)
    return _stream(app, results.csv_bytes(app, run) or b"", "text/csv", name)


def _corrupt(data: bytes) -> bytes:
    """Same length, but the central directory and its end record are overwritten: not a readable zip."""
    cut = max(0, len(data) - 64)
    return data[:cut] + b"\x00" * (len(data) - cut)
