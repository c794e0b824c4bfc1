"""The secret key never leaks: not in logs, reprs, exceptions or df.attrs, and it travels only to the
API host and to the files host's /v1/files/*/contents; the v2 downloads host never sees any auth."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest

import reportkit as rk
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, tzinfo=UTC)
KEY_TAIL = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{9,}")


def _secret_parts(key: str) -> list[str]:
    body = key.split("_", 2)[2]
    return [key, body, body[:-4]]


def test_full_runs_leak_no_key(caplog):
    texts: list[str] = []
    with Sandbox(seed=5, now=NOW, processing_time=0.05, jitter=0.0) as sb:
        client = sb.client(cache=False, progress=False)
        caplog.set_level(logging.DEBUG)  # every logger: reportkit, urllib3, werkzeug, ...
        frames = [
            client.report("balance.summary.1", "2025-01-01", "2025-02-01"),
            client.report("payouts.itemized.3", "2025-01-01", "2025-02-01", timezone="Europe/Paris"),
            client.report("balance.summary", "2025-01-01", "2025-02-01", api="v2"),
            client.report("payouts.summary", "2025-01-01", "2025-02-01", api="v2", compress=True),
        ]
        run = client.create_run("balance.summary.1", "2025-01-01", "2025-02-01")
        done = client.wait(run)
        texts += [repr(client), str(client), repr(run), repr(done), repr(done.result), repr(client._http)]
        texts += [repr(client.report_type("balance.summary.1")), repr(client._settings)]
        errors: list[BaseException] = []
        for call in (
            lambda: client.retrieve_run("frr_nope"),
            lambda: client.report("balance.summary.1", "2023-01-01", "2025-01-01"),
            lambda: client.report("balance.sumary.1", "2025-01-01", "2025-02-01"),
        ):
            with pytest.raises(rk.ReportkitError) as info:
                call()
            errors.append(info.value)
        sb.faults.server_errors(None, status=500)
        with pytest.raises(rk.ServerError) as info:
            sb.client(cache=False, max_retries=1).report_type("balance.summary.1")
        errors.append(info.value)
        sb.faults.reset()
        sb.faults.fail_runs(1, message=f"boom for key {sb.api_key}")  # a server echoing the key back
        with pytest.raises(rk.RunFailedError) as info:
            client.report("payouts.summary.1", "2025-01-01", "2025-02-01")
        errors.append(info.value)
        sb.faults.revoke_key(sb.api_key)
        with pytest.raises(rk.AuthenticationError) as info:
            client.report_types()
        errors.append(info.value)
        sb.faults.reset()
        for e in errors:
            texts += [
                str(e),
                repr(e),
                json.dumps(getattr(e, "json_body", None) or {}),
                repr(getattr(e, "run", "")),
            ]
        for df in frames:
            texts.append(json.dumps(df.attrs, default=str))
        texts += [r.getMessage() for r in caplog.records]
        texts.append(caplog.text)
        everything = "\n".join(texts)
        for part in _secret_parts(sb.api_key):
            assert part not in everything
        assert not KEY_TAIL.search(everything)
        assert "sk_test_..." in repr(client) and "test mode" in repr(client)
        for df in frames:
            attrs = json.dumps(df.attrs)
            assert "http" not in attrs and "signature" not in attrs, "no URL in provenance"

        # Where the key travelled.
        log = sb.requests.snapshot()
        downloads = [r for r in log if r.host == "downloads"]
        assert downloads, "v2 results came from the pre-signed host"
        assert all("Authorization" not in r.headers and "authorization" not in r.headers for r in downloads)
        files = [r for r in log if r.host == "files"]
        assert files
        for r in files:
            assert r.method == "GET" and re.fullmatch(r"/v1/files/file_[A-Za-z0-9]+/contents", r.path)
        assert not any(sb.api_key in (r.path + "?" + r.query) for r in log), "never in a URL"


def test_download_refuses_a_result_url_on_another_host():
    with Sandbox(seed=5, now=NOW, processing_time=0.05, jitter=0.0) as sb:
        good = sb.client(cache=False, progress=False)
        run = good.wait(good.create_run("balance.summary.1", "2025-01-01", "2025-02-01"))
        # A client whose files host is not where the result lives must not send the key there.
        other = rk.Client(
            sb.api_key, api_base=sb.url, files_base=sb.downloads_url, cache=False, progress=False
        )
        before = len(sb.requests)
        with pytest.raises(rk.ConfigurationError, match="refusing to send the API key"):
            other.download(run)
        assert not [r for r in sb.requests.snapshot()[before:] if r.host != "api"]


def test_bad_key_error_masks_it(monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    with pytest.raises(rk.ConfigurationError) as info:
        rk.Client("sk_test_short!key-with-bad-chars-1234")
    assert "bad-chars" not in str(info.value) and "1234" in str(info.value)


def test_presigned_queries_are_masked_in_urllib3_debug_records(caplog):
    """urllib3 logs each request line at DEBUG; the v2 pre-signed query (expires & signature, a
    credential while it lives) shows as <redacted> there, and the downloads host still got it."""
    with Sandbox(seed=5, now=NOW, processing_time=0.05, jitter=0.0) as sb:
        client = sb.client(cache=False, progress=False)
        caplog.set_level(logging.DEBUG)
        client.report("balance.summary", "2025-01-01", "2025-02-01", api="v2")
        client.report("balance.summary.1", "2025-01-01", "2025-02-01")
        fetched = [r for r in sb.requests if r.path.startswith("/files/")]
    assert fetched and all("signature=" in r.query for r in fetched)  # the real URL went out whole
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    downloads = [line for line in lines if '"GET /files/' in line]
    assert downloads, lines  # the positive control: urllib3 did log the download
    assert all("?<redacted>" in line for line in downloads), downloads
    assert not any(r.query in line for r in fetched for line in lines)
    assert any("/v1/files/" in line and "/contents" in line for line in lines)  # other lines unchanged
