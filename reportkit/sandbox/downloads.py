"""The handlers that send result bytes: v1 file contents (files host) and v2 pre-signed downloads.

Each handler talks to the backend only (it renders the bytes, signs and verifies URLs); this module
owns what the two hosts answer:

- v1 ``GET /v1/files/{id}/contents`` on the files host needs the key (Basic or Bearer) of the run's
  mode; the CSV is streamed with ``Content-Length`` and ``Content-Type: text/csv``.
- v2 download URLs live on the downloads host: ``/files/{run id}/{name}?expires=<ms>&signature=<hex>``
  (see ``Backend.signed_url``). No key is needed, and an ``Authorization`` header is refused (400)
  like a pre-signed object store does. A tampered or expired URL gets 403 with an S3-style XML body,
  a run that has no result 404 ``NoSuchKey``.

Download faults (faults.py): truncation (full ``Content-Length``, short body, connection closed) on
both hosts, and corrupted zips (``Backend.download_bytes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from reportkit.sandbox.responses import file_response, presigned_refusal, xml_error

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller

__all__ = ["download_contents", "file_contents"]


def file_contents(backend: Backend, request: Request, caller: Caller, file_id: str) -> Response:
    """``GET /v1/files/{id}/contents`` on the files host."""
    run = backend.file_run(file_id, caller)
    data = backend.csv_bytes(run) or b""
    return file_response(data, "text/csv", f"{run.id}.csv", keep=backend.faults.take_truncate())


def download_contents(
    backend: Backend, request: Request, caller: Caller | None, run_id: str, name: str
) -> Response:
    """``GET /files/{run}/{name}?expires=..&signature=..`` on the downloads host (no key: ``caller``
    is ``None``)."""
    refused = presigned_refusal(request, backend.verify_download, run_id, name)
    if refused is not None:
        return refused
    run = backend.run(run_id)
    if run is None or not backend.succeeded(run):
        return xml_error(404, "NoSuchKey", "The specified key does not exist.")
    content_type = "application/zip" if run.compress else "text/csv"
    data = backend.download_bytes(run)
    return file_response(data, content_type, name, keep=backend.faults.take_truncate())
