"""Waiting for a run, downloading its file, and the one-call ``report()``.

- :func:`wait` polls fast at first (every 0.25 s) and then about every tenth of the time already
  waited (capped at 10 s), so finishing late costs at most ~10 % of the run's own time while a long
  run costs few requests; it never sleeps past the deadline. A deadline raises
  :class:`RunTimeoutError` keeping ``.run`` (resume with ``client.wait(client.retrieve_run(id))``);
  a failed run raises :class:`RunFailedError` with Stripe's message. Progress: ``tqdm.auto``.
- :func:`download` streams the result file to a temporary file (v1 with the key, only from the
  configured files host; v2 from the pre-signed URL with no key at all), checks its size against
  the run's, retries a truncated download, re-retrieves the run for a fresh URL when a v2 URL has
  expired, and parses it with :func:`reportkit.frames.parse`. Provenance lands in
  ``df.attrs["reportkit"]`` (never a key, never a URL).
- :func:`create` absorbs Stripe's 429 for too many running reports by waiting (until the deadline).
- :func:`report` = check, (cache), create, wait, download, (cache).
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reportkit import frames
from reportkit._http import DownloadError
from reportkit.errors import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    PermissionDeniedError,
    RateLimitError,
    ResultParseError,
    RunFailedError,
    RunTimeoutError,
)
from reportkit.objects import ReportRun

if TYPE_CHECKING:  # pragma: no cover
    from reportkit._params import RunRequest
    from reportkit.client import Client

__all__ = ["POLL_FIRST", "POLL_MAX", "POLL_RATIO", "create", "download", "provenance", "report", "wait"]

logger = logging.getLogger("reportkit")

POLL_FIRST = 0.25  # seconds between the first polls
POLL_RATIO = 0.10  # later: this fraction of the time waited so far
POLL_MAX = 10.0  # never more than this between polls
DOWNLOAD_ATTEMPTS = 3


def _raise_if_failed(run: ReportRun) -> None:
    if run.failed:
        code = f" ({run.error_code})" if run.error_code else ""
        raise RunFailedError(
            f"report run {run.id} ({run.report_name or run.report}) failed{code}: "
            f"{run.error or 'no reason given'}. Re-running it usually helps.",
            run=run,
        )


def _check_timeout(timeout: Any) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigurationError(
            f"timeout must be a number of seconds >= 0 (e.g. timeout=600), got {timeout!r}"
        )


def wait(
    client: Client,
    run: ReportRun,
    *,
    timeout: float = 600,
    progress: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReportRun:
    """Poll ``run`` until it succeeds (returned), fails (:class:`RunFailedError`) or ``timeout`` passes."""
    _check_timeout(timeout)
    _raise_if_failed(run)
    if run.is_done:
        return run
    begin = clock()
    deadline = begin + timeout
    bar = _bar(run, progress)
    try:
        while True:
            now = clock()
            waited = now - begin
            if now >= deadline:
                raise RunTimeoutError(
                    f"report run {run.id} ({run.report_name or run.report}) still {run.status} after "
                    f"{waited:.1f} s; it goes on at Stripe: resume with "
                    f"client.wait(client.retrieve_run({run.id!r}))",
                    run=run,
                )
            pause = min(max(POLL_FIRST, POLL_RATIO * waited), POLL_MAX, deadline - now)
            sleep(pause)
            try:
                run = client.retrieve_run(run.id)
            except (APIError, APIConnectionError) as exc:  # the run goes on at Stripe: keep its id
                exc.message = (
                    f"{exc.message}; report run {run.id} goes on at Stripe: resume with "
                    f"client.wait(client.retrieve_run({run.id!r}))"
                )
                exc.args = (exc.message,)
                raise
            if bar is not None:
                bar.set_description_str(_label(run), refresh=False)
                bar.update(0)
            _raise_if_failed(run)
            if run.is_done:
                return run
    finally:
        if bar is not None:
            bar.close()


def _bar(run: ReportRun, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc=_label(run), total=None, bar_format="{desc} [{elapsed}]", leave=False)


def _label(run: ReportRun) -> str:
    return f"{run.report_name or run.report} {run.id}: {run.status}"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def provenance(run: ReportRun, *, size: int, sha256: str, name: str | None = None) -> dict[str, Any]:
    """``df.attrs["reportkit"]`` for a run: JSON-able, no key, no URL."""
    params = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in sorted(run.parameters.items())}
    return {
        "run_id": run.id,
        "report": name or run.report_name or run.report,
        "report_id": run.report,
        "api": run.api,
        "parameters": params,
        "livemode": run.livemode,
        "file_id": run.result.id if run.result else None,
        "content_type": run.result.content_type if run.result else None,
        "size": size,
        "sha256": sha256,
        "created": _iso(run.created),
        "succeeded_at": _iso(run.succeeded_at),
        "interval_start": _iso(run.interval_start),
        "interval_end": _iso(run.interval_end),
        "cache_hit": False,
    }


def _fetch(client: Client, run: ReportRun, path: Path) -> tuple[ReportRun, int, str]:
    """Stream the run's file to ``path``; returns (run as last seen, size, sha256)."""
    last: Exception | None = None
    for attempt in range(DOWNLOAD_ATTEMPTS):
        file = run.result
        if file is None:
            raise APIConnectionError(f"report run {run.id} succeeded but carries no result file")
        # No expiry pre-check on our clock (it may disagree with Stripe's): a 403 means "expired".
        url = file.url if run.api == "v1" else file.download_url
        if not url:
            raise APIConnectionError(f"report run {run.id}: the result file has no download URL")
        label = f"/v1/files/{file.id}/contents" if run.api == "v1" else f"v2 result of {run.id}"
        try:
            with path.open("wb") as out:
                got = client._http.download(url, out, keyed=run.api == "v1", label=label)
        except DownloadError as exc:
            last = exc
            logger.debug("download of %s broke off (attempt %d): %s", run.id, attempt + 1, exc)
            continue
        except PermissionDeniedError as exc:
            if run.api != "v2":
                raise
            last = exc  # a pre-signed URL that expired (or was revoked): get a fresh one
            logger.debug("v2 download URL of %s refused (HTTP 403); re-retrieving the run", run.id)
            run = client.retrieve_run(run.id)
            continue
        if file.size and got.size != file.size:
            last = DownloadError(f"got {got.size} of {file.size} bytes", size=got.size)
            logger.debug("download of %s truncated: %d of %d bytes", run.id, got.size, file.size)
            continue
        return run, got.size, got.sha256
    if isinstance(last, PermissionDeniedError):  # every fresh pre-signed URL was refused
        raise PermissionDeniedError(
            f"the download URL of {run.id} was refused {DOWNLOAD_ATTEMPTS} times (HTTP 403: an expired or "
            f"revoked pre-signed URL); the run is done, so try again later with client.download({run.id!r})",
            http_status=last.http_status,
            code=last.code,
            request_id=last.request_id,
        )
    if isinstance(last, APIError):
        raise last
    raise APIConnectionError(
        f"could not download the result of {run.id} in {DOWNLOAD_ATTEMPTS} attempts: {last} "
        f"(the file was truncated or the connection kept breaking); the run is done, so download it "
        f"again later with client.download({run.id!r})"
    )


def download(client: Client, run: ReportRun, *, request: RunRequest | None = None) -> pd.DataFrame:
    """The typed DataFrame of a succeeded ``run`` (see the module docstring)."""
    _raise_if_failed(run)
    if not run.succeeded:
        raise ConfigurationError(
            f"report run {run.id} is still {run.status}: call client.wait(run) before downloading it"
        )
    request = request or client._request_for(run)
    tz = run.parameters.get("timezone") or "Etc/UTC"
    columns = run.parameters.get("columns") or None
    with tempfile.TemporaryDirectory(prefix="reportkit-") as tmp:
        path = Path(tmp) / "result"
        try:
            run, size, sha = _fetch(client, run, path)
        except (APIError, APIConnectionError) as exc:  # the run is fine: say how to get its file later
            if "client.download(" not in exc.message:
                exc.message = (
                    f"{exc.message}; report run {run.id} is done: download it again later with "
                    f"client.download({run.id!r})"
                )
                exc.args = (exc.message,)
            raise
        try:
            df = frames.parse(
                path,
                report=run.report,
                api=run.api,
                timezone=tz,
                columns=list(columns) if columns else None,
                content_type=run.result.content_type if run.result else "csv",
            )
        except ResultParseError as exc:  # name the run, and the one remedy a damaged download has
            raise ResultParseError(
                f"report run {run.id}: {exc.message}; if the file was damaged on the way, download it "
                f"again with client.download({run.id!r})"
            ) from exc
    df.attrs["reportkit"] = provenance(run, size=size, sha256=sha, name=request.name if request else None)
    if request is not None and client._cache is not None:
        # final: every interval was checked against the data window before the run was created
        client._cache.put(client._cache_key(request), df, final=True)
    return df


def report(
    client: Client,
    report: str,
    start: Any = None,
    end: Any = None,
    *,
    timezone: str = "Etc/UTC",
    columns: Any = None,
    api: str = "v1",
    clamp: bool = False,
    compress: bool = False,
    timeout: float = 600,
    progress: bool = True,
    **parameters: Any,
) -> pd.DataFrame:
    """Check, create, wait, download and parse one report (and use the client's cache when attached).

    ``start``/``end``: aware datetimes, dates or ``"YYYY-MM-DD"`` (midnight in ``timezone``); half-open.
    ``timezone`` also goes to the report when it takes one (local timestamp columns).
    """
    _check_timeout(timeout)  # before anything is created: a bad deadline must not leave a run behind
    req, hit = client._lookup(
        report,
        start,
        end,
        api=api,
        clamp=clamp,
        timezone=timezone,
        columns=columns,
        compress=compress,
        **parameters,
    )
    if hit is not None:
        return hit
    deadline = time.monotonic() + timeout
    run = create(client, req, deadline=deadline)
    run = wait(client, run, timeout=max(0.0, deadline - time.monotonic()), progress=progress)
    return download(client, run, request=req)


RUN_CAP_CODE = "report_run_rate_limit_exceeded"


def create(
    client: Client,
    req: RunRequest,
    *,
    deadline: float,
    pause: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ReportRun:
    """Create the run of a checked request; while the key is at Stripe's cap of concurrently running
    reports (429 ``report_run_rate_limit_exceeded``, which created nothing), wait and try again
    (0.5 s doubling to 10 s, with jitter) until ``deadline``. ``pause(seconds)`` waits; the fan-out
    passes one that wakes early when one of its own runs finishes."""
    delay = 0.5
    while True:
        try:
            return client._create_prepared(req)
        except RateLimitError as exc:
            left = deadline - clock()
            if exc.code != RUN_CAP_CODE or left <= 0:
                raise
            seconds = min(delay * (0.75 + random.random() / 2), left)
            logger.info("at the concurrent-run cap; trying again in %.1f s", seconds)
            (pause or time.sleep)(seconds)
            delay = min(delay * 2, 10.0)
