"""Helpers for the sandbox HTTP tests: thin ``requests`` wrappers that speak v1 and v2 to a Sandbox.

Imported by the tests of tests/sandbox/ as ``sbhttp`` (pytest puts this directory on sys.path)."""

from __future__ import annotations

import time
from typing import Any

import requests

# Inside the test sandboxes' data window (2024-01-01 .. 2025-06-14 00:00 UTC).
JAN = 1735689600  # 2025-01-01T00:00:00Z
FEB = 1738368000  # 2025-02-01T00:00:00Z
MAR = 1740787200  # 2025-03-01T00:00:00Z
PREVIEW = "2026-07-08.preview"


class V1:
    """v1 calls with Basic auth (``-u key:``) unless told otherwise."""

    def __init__(self, sb: Any, key: str | None = None) -> None:
        self.sb = sb
        self.key = key or sb.api_key

    def get(self, path: str, *, host: str = "api", auth: Any = "default", **kw: Any) -> requests.Response:
        base = {"api": self.sb.url, "files": self.sb.files_url, "downloads": self.sb.downloads_url}[host]
        kw.setdefault("timeout", 10)
        return requests.get(base + path, auth=(self.key, "") if auth == "default" else auth, **kw)

    def post(self, path: str, data: Any = None, *, auth: Any = "default", **kw: Any) -> requests.Response:
        return requests.post(
            self.sb.url + path,
            data=data,
            auth=(self.key, "") if auth == "default" else auth,
            timeout=10,
            **kw,
        )

    def create_raw(
        self, report_type: str = "balance.summary.1", *, headers: Any = None, **params: Any
    ) -> requests.Response:
        data: list[tuple[str, Any]] = [("report_type", report_type)]
        params.setdefault("interval_start", JAN)
        params.setdefault("interval_end", FEB)
        for k, v in params.items():
            if v is None:
                continue
            if isinstance(v, list):
                data += [(f"parameters[{k}][]", x) for x in v]
            else:
                data.append((f"parameters[{k}]", v))
        return self.post("/v1/reporting/report_runs", data, headers=headers)

    def create(self, report_type: str = "balance.summary.1", **params: Any) -> dict:
        r = self.create_raw(report_type, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, run_id: str) -> dict:
        r = self.get(f"/v1/reporting/report_runs/{run_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, run_id: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] != "pending" or time.monotonic() > deadline:
                return run
            time.sleep(0.03)


class V2:
    """v2 calls: Bearer auth, JSON, a preview Stripe-Version."""

    def __init__(self, sb: Any, key: str | None = None, version: str = PREVIEW) -> None:
        self.sb = sb
        self.key = key or sb.api_key
        self.version = version

    def headers(self, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}", "Stripe-Version": self.version}
        h.update(extra)
        return h

    def get(self, path: str, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", None) or self.headers()
        return requests.get(self.sb.url + path, headers=headers, timeout=10, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", None) or self.headers()
        return requests.post(self.sb.url + path, json=body, headers=headers, timeout=10, **kw)

    def create_raw(
        self,
        name: str = "balance.summary",
        *,
        compress: bool | None = None,
        headers: Any = None,
        **params: Any,
    ) -> requests.Response:
        params.setdefault("interval_start", "2025-01-01T00:00:00.000Z")
        params.setdefault("interval_end", "2025-02-01T00:00:00.000Z")
        body: dict[str, Any] = {
            "report": self.sb.backend.report_ids.id(name, self.key.startswith("sk_live_")),
            "report_parameters": {k: v for k, v in params.items() if v is not None},
        }
        if compress is not None:
            body["result_options"] = {"compress_file": compress}
        return self.post("/v2/reporting/report_runs", body, headers=headers)

    def create(self, name: str = "balance.summary", **kw: Any) -> dict:
        r = self.create_raw(name, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, run_id: str, *, schema: bool = False) -> dict:
        r = self.get(
            f"/v2/reporting/report_runs/{run_id}",
            params={"include[]": "result.file.schema"} if schema else None,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, run_id: str, timeout: float = 10, schema: bool = False) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id, schema=schema)
            if run["status"] != "running" or time.monotonic() > deadline:
                return run
            time.sleep(0.03)


def error_of(r: requests.Response) -> dict:
    """The ``error`` object of an error answer (asserting it is JSON with a Request-Id)."""
    assert r.headers["Request-Id"].startswith("req_")
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()["error"]
