"""Secret audit: a recognisable key (``sk_test_AUDIT...``) goes through everything and is found nowhere.

Two sweeps, each with a fresh recognisable key (the sandbox accepts any well-formed key):

- in process: ``client.report`` (v1, v2, v2 zip), ``client.reports``, ``reconcile.check_period``,
  the cache (written by the client, and by ``Cache.put`` directly), a ``ReportForm`` run, the CLI
  (``cli.main(["run", ...])`` to CSV and Parquet), and the errors a key could ride in (revoked key,
  a failed run whose server message echoes the key, a timeout, a batch failure, bad input). Searched:
  every log record of every logger at DEBUG, captured stdout/stderr, the repr/str of every object and
  exception (and their ``json_body`` and ``.run``), ``df.attrs``, the form's widgets, and every file
  written (raw bytes, and Parquet decoded: the data pages are compressed);
- the parts added later (:func:`test_query_form_connect_and_sync_leak_no_key`): the ``QueryForm``
  after a good and a bad query, the report form's accounts picker and its Code tab with accounts, a
  Connect run (each ``Stripe-Account`` header is the account id alone), and ``client.sync``'s dataset
  files and manifest; a planted copy proves the scan finds a key (and its last 24 characters) there;
- the full demo (``python -m reportkit.cli demo``, slow): its stdout/stderr, and every file under its
  output folder (executed notebooks, HTML, CSV, PNG, Parquet, the cache) as bytes and decoded.

Both check where the key travelled (``sb.requests``): only as ``Authorization: Bearer`` to the API
host and to the files host on ``GET /v1/files/*/contents``; the downloads host never sees it (no
Authorization at all, nothing in a URL); never in any URL or other header.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import string
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import reportkit as rk
from reportkit import cli
from reportkit.cache import Cache
from reportkit.config import fingerprint
from reportkit.intervals import intervals
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
ANY_KEY = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{9,}")


def audit_key() -> str:
    return "sk_test_AUDIT" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))


def fragments(key: str) -> list[str]:
    """What must never appear: the key, its body, its last 24 characters, and any part longer than the
    masked last four."""
    body = key.split("_", 2)[2]
    return [key, body, key[-24:], body[:-4], body[:9], body[5:17]]


def find_key(key: str, label: str, blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    return [f"{label}: {frag[:13]}..." for frag in fragments(key) if frag.encode() in data]


def files_text(root: Path) -> list[tuple[str, bytes]]:
    """Every file under ``root`` as raw bytes, plus decoded Parquet (data and metadata) and JSON."""
    out: list[tuple[str, bytes]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        out.append((str(path), raw))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            decoded = repr(table.schema.metadata).encode() + table.to_pandas().to_csv().encode()
            out.append((f"{path} (decoded)", decoded))
    return out


def audit_requests(key: str, sb: Sandbox) -> tuple[list[str], dict[str, int]]:
    """Where the key went, by host; (violations, requests per host)."""
    bad: list[str] = []
    hosts: dict[str, int] = {}
    for r in sb.requests.snapshot():
        hosts[r.host] = hosts.get(r.host, 0) + 1
        url = r.path + "?" + r.query
        if find_key(key, "", url):
            bad.append(f"key in a URL: {r!r}")
        for name, value in r.headers.items():
            if not find_key(key, "", value):
                continue
            contents = re.fullmatch(r"/v1/files/[A-Za-z0-9_]+/contents", r.path)
            allowed = name.lower() == "authorization" and value == f"Bearer {key}" and (
                r.host == "api" or (r.host == "files" and contents is not None)
            )
            if allowed:
                hosts["keyed"] = hosts.get("keyed", 0) + 1
            else:
                bad.append(f"key in header {name} of {r!r}")
        if r.host == "downloads" and any(n.lower() == "authorization" for n in r.headers):
            bad.append(f"an Authorization header reached the downloads host: {r!r}")
    return bad, hosts


def texts_of(obj: Any) -> list[str]:
    """repr/str of an object, and for exceptions their json_body, run and cause."""
    out = [repr(obj), str(obj)]
    if isinstance(obj, BaseException):
        out.append(json.dumps(getattr(obj, "json_body", None) or {}, default=str))
        out.append(repr(getattr(obj, "run", None)))
        out += [repr(e) for e in (obj.__cause__, obj.__context__) if e is not None]
        for inner in (getattr(obj, "errors", None) or {}).values():
            out += texts_of(inner)
    return out


def test_in_process_sweep_leaks_no_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = audit_key()
    caplog.set_level(logging.DEBUG)  # every logger: reportkit, urllib3, werkzeug, ...
    texts: list[str] = []
    cache_dir, out_dir = tmp_path / "cache", tmp_path / "out"
    # the sandbox accepts only the keys it was started with: give it the audit key
    with Sandbox(seed=7, now=NOW, processing_time=0.05, jitter=0.0, scale=0.25, keys=[key]) as sb:
        client = rk.Client(api_key=key, api_base=sb.url, files_base=sb.files_url, cache=cache_dir,
                           progress=True)
        frames = [
            client.report("balance.summary.1", "2025-01-01", "2025-02-01"),
            client.report("payouts.itemized.3", "2025-01-01", "2025-01-08", timezone="Europe/Paris"),
            client.report("balance.summary", "2025-01-01", "2025-02-01", api="v2"),
            client.report("payouts.summary", "2025-01-01", "2025-02-01", api="v2", compress=True),
            client.reports("balance_change_from_activity.summary.1",
                           intervals("2025-01-01", "2025-03-01", freq="month")),
            rk.reconcile.check_period(client, "2025-01-01", "2025-03-01", freq="month", currency="usd"),
        ]
        run = client.wait(client.create_run("balance.summary.1", "2025-01-01", "2025-02-01"), progress=True)
        texts += texts_of(client) + texts_of(run) + texts_of(run.result) + texts_of(client._http)
        texts += texts_of(client.report_type("balance.summary.1")) + texts_of(client._settings)
        texts += texts_of(client.cache) + [client.cache.list().to_csv()]
        texts += [json.dumps(client.runner.cache_key(client.runner.request_for(run)), default=str)]
        direct = Cache(tmp_path / "direct")
        direct.put(client.prepare("balance.summary.1", "2025-01-01", "2025-02-01").cache_key(
                   fingerprint(key), sb.url), frames[0], final=True)

        # Errors a key could ride in.
        errors: list[BaseException] = []
        sb.faults.fail_runs(1, message=f"boom for key {key}")  # a server echoing the key back
        for call in (
            lambda: client.report("payouts.summary.1", "2025-02-01", "2025-03-01"),
            lambda: client.report("balance.summary.1", "2025-02-01", "2025-03-01", timeout=0),
            lambda: client.report("balance.sumary.1", "2025-01-01", "2025-02-01"),
            lambda: client.retrieve_run("frr_doesnotexist"),
        ):
            with pytest.raises(rk.ReportkitError) as info:
                call()
            errors.append(info.value)
        sb.faults.reset()
        sb.faults.fail_runs(1, where={"interval_start": int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())},
                            message=f"failed; key was {key}")
        with pytest.raises(rk.BatchError) as info:
            client.reports("payouts.summary.1", intervals("2025-01-01", "2025-03-01", freq="month"))
        errors.append(info.value)
        sb.faults.reset()
        sb.faults.revoke_key(key)
        with pytest.raises(rk.AuthenticationError) as info:
            rk.Client(api_key=key, api_base=sb.url, files_base=sb.files_url, cache=False).report_types()
        errors.append(info.value)
        sb.faults.reset()
        with pytest.raises(rk.ConfigurationError) as info:
            rk.Client(api_key=key + "!", api_base=sb.url)
        errors.append(info.value)
        for e in errors:
            texts += texts_of(e)

        # The form: a good run and a failed one; every widget's text.
        from reportkit.widgets import ReportForm

        form = ReportForm(rk.Client(api_key=key, api_base=sb.url, files_base=sb.files_url, cache=False,
                                    progress=False), report="balance.summary.1")
        form.run_button.click()
        assert form.wait(60) and form.df is not None
        sb.faults.fail_runs(1, message=f"again {key}")
        form.run_button.click()
        assert form.wait(60) and form.df is None and form.error_message
        sb.faults.reset()
        texts += [form.status.value, form.error.value, form.preview.value, form.code.value, form.code_text]

        # The CLI, pointed at the sandbox through the environment.
        env = {"STRIPE_API_KEY": key, "REPORTKIT_API_BASE": sb.url, "REPORTKIT_FILES_BASE": sb.files_url,
               "REPORTKIT_CACHE_DIR": str(cache_dir)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for argv in (
            ["run", "balance.summary.1", "--start", "2025-03-01", "--end", "2025-04-01", "-o",
             str(out_dir / "b.csv")],
            ["run", "payouts.itemized.1", "--start", "2025-03-01", "--end", "2025-03-08", "-o",
             str(out_dir / "p.parquet")],
            ["run", "balance.summary.1", "--start", "2025-03-01", "--end", "2025-04-01"],
            ["types"],
        ):
            assert cli.main(argv) == 0, argv
        sb.faults.revoke_key(key)
        # (a period not in the cache: a cached one is answered without the network, key or no key)
        assert cli.main(["run", "balance.summary.1", "--start", "2025-04-01", "--end", "2025-05-01"]) == 3
        sb.faults.reset()
        bad_requests, hosts = audit_requests(key, sb)
        assert sb.errors == []

    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    for df in frames:
        texts.append(json.dumps(getattr(df, "attrs", {}), default=str))
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        texts += [repr(w) for w in caplog.records]

    hits = [hit for i, t in enumerate(texts) for hit in find_key(key, f"text {i}", t)]
    for root in (cache_dir, tmp_path / "direct", out_dir):
        assert any(root.iterdir()), f"nothing was written to {root}: the sweep tests nothing there"
        for label, blob in files_text(root):
            hits += find_key(key, label, blob)
    assert hits == [], hits
    assert not ANY_KEY.search("\n".join(texts)), "some unmasked key appears"
    assert "sk_test_..." in repr(client) or "sk_test_****" in repr(client)
    assert bad_requests == [], bad_requests
    assert hosts.get("downloads") and hosts.get("files") and hosts.get("api")
    # Positive controls: the search does find the key where it legitimately is.
    assert hosts.get("keyed", 0) > 10 and find_key(key, "control", f"Bearer {key}")
    assert len(list(cache_dir.glob("*.parquet"))) >= 5


def test_query_form_connect_and_sync_leak_no_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    from reportkit.widgets import QueryForm, ReportForm

    key = audit_key()
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    data = tmp_path / "dataset"
    with Sandbox(seed=7, now=NOW, processing_time=0.05, jitter=0.0, scale=0.25, keys=[key]) as sb:
        client = rk.Client(api_key=key, api_base=sb.url, files_base=sb.files_url, cache=tmp_path / "cache",
                           progress=False)  # fmt: skip

        # QueryForm: a good query, then SQL the server refuses; every widget's text.
        query = QueryForm(client, sql="select currency, sum(net) as net from balance_transactions group by 1")
        query.run_button.click()
        assert query.wait(60) and query.df is not None and query.error_message is None
        texts += [query.status.value, query.error.value, query.preview.value, query.downloads.value,
                  query.code.value, query.code_text, query.account.value, repr(query.run)]  # fmt: skip
        query.sql.value = "select nope from balance_transactions"
        query.run_button.click()
        assert query.wait(60) and query.df is None and query.error_message
        texts += [query.status.value, query.error.value, query.error_message, query.code.value,
                  query.code_text, repr(query.run)]  # fmt: skip

        # The report form's accounts picker (Connect) and its Code tab with accounts.
        accounts = list(client.accounts()["id"])
        assert len(accounts) >= 2
        form = ReportForm(client, report="balance.summary.1")
        form.account_picker.pick(accounts[:2])
        since = len(sb.requests)
        form.run_button.click()
        assert form.wait(60) and form.df is not None, form.error_message
        texts += [form.status.value, form.error.value, form.code.value, form.code_text, form.preview.value,
                  repr(form.accounts.options), form.account.value]  # fmt: skip
        assert f"accounts={accounts[:2]!r}" in form.code_text

        # A Connect run straight from the client: one account, and all of them in one batch.
        frames = [
            client.report("payouts.summary.1", "2025-01-01", "2025-02-01", account=accounts[0]),
            client.reports("balance.summary.1", intervals("2025-01-01", "2025-03-01", freq="month"),
                           accounts="all"),  # fmt: skip
        ]
        headed = [
            (r, v)
            for r in sb.requests.snapshot()[since:]
            for n, v in r.headers.items()
            if n.lower() == "stripe-account"
        ]

        # client.sync: the dataset's partition files and manifest.
        synced = client.sync(data, "balance_change_from_activity.summary.1", start="2025-01-01",
                             end="2025-03-01")  # fmt: skip
        frames.append(synced)
        texts += texts_of(synced)
        bad_requests, _ = audit_requests(key, sb)
        assert sb.errors == []

    assert len(headed) > 5, "the Connect runs sent no Stripe-Account header: the check tests nothing"
    assert all(value in accounts for _, value in headed), {value for _, value in headed}
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, caplog.text] + [r.getMessage() for r in caplog.records]
    texts += [json.dumps(df.attrs, default=str) for df in frames]
    hits = [hit for i, t in enumerate(texts) for hit in find_key(key, f"text {i}", t)]
    written = files_text(data)
    assert any(label.endswith("_reportkit_manifest.json") for label, _ in written), "no manifest"
    assert any(label.endswith(".parquet") for label, _ in written), "no partition files"
    for label, blob in written:
        hits += find_key(key, label, blob)
    assert hits == [], hits
    assert not ANY_KEY.search("\n".join(texts)), "some unmasked key appears"
    assert bad_requests == [], bad_requests

    # The scan can fail: a copy of the dataset with the key planted in a partition file (inside its
    # compressed data, found decoded) and only its last 24 characters planted in the manifest.
    import shutil

    import pandas as pd

    planted = tmp_path / "planted"
    shutil.copytree(data, planted)
    part = next(p for p in sorted(planted.rglob("*.parquet")))
    df = pq.read_table(part).to_pandas()
    df["description"] = f"note {key}"
    df.to_parquet(part, compression="zstd")
    manifest = planted / "_reportkit_manifest.json"
    manifest.write_text(manifest.read_text()[:-1] + f', "note": "{key[-24:]}"}}')
    found = [hit for label, blob in files_text(planted) for hit in find_key(key, label, blob)]
    assert any("(decoded)" in hit and part.name in hit for hit in found), found
    assert any("_reportkit_manifest.json" in hit for hit in found), found
    assert find_key(key, "control", f"acct ok, key tail {key[-24:]}"), "the last 24 characters alone"
    assert not find_key(key, "control", pd.DataFrame({"x": [key[-4:]]}).to_csv())  # the masked four are fine


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_full_demo_leaks_no_key(tmp_path: Path) -> None:
    key = audit_key()
    out = tmp_path / "demo"
    with Sandbox(seed=7, processing_time=0.2, jitter=0.0, concurrent_run_cap=20, keys=[key]) as sb:
        env = {**os.environ, "STRIPE_API_KEY": key, "REPORTKIT_API_BASE": sb.url,
               "REPORTKIT_FILES_BASE": sb.files_url, "REPORTKIT_CACHE_DIR": str(out / "cache")}
        proc = subprocess.run([sys.executable, "-m", "reportkit.cli", "demo", "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=540)
        bad_requests, hosts = audit_requests(key, sb)
        runs = sb.runs_created
        assert sb.errors == []
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert runs > 10 and hosts.get("files") and hosts.get("api") and hosts.get("keyed", 0) > 10
    hits = find_key(key, "demo stdout", proc.stdout) + find_key(key, "demo stderr", proc.stderr)
    written = files_text(out)
    names = {Path(label).suffix for label, _ in written}
    assert {".ipynb", ".html", ".png", ".csv", ".parquet"} <= names, names
    assert any("/cache/" in label for label, _ in written), "the demo's cache is empty"
    for label, blob in written:
        hits += find_key(key, label, blob)
    assert hits == [], hits
    assert not ANY_KEY.search(proc.stdout + proc.stderr)
    assert bad_requests == [], bad_requests
