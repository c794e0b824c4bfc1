"""rk.connect(): Stripe when STRIPE_API_KEY is set, else a LOCAL SANDBOX for the process, said loudly."""

from __future__ import annotations

import logging
import warnings
from datetime import UTC, datetime

import pytest

import reportkit as rk
from reportkit.sandbox import Sandbox


def test_connect_without_a_key_starts_a_loud_local_sandbox(monkeypatch, caplog):
    for name in ("STRIPE_API_KEY", "REPORTKIT_API_BASE", "REPORTKIT_FILES_BASE"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, logger="reportkit"):
        with pytest.warns(rk.ReportkitWarning, match="LOCAL SANDBOX"):
            client = rk.connect(cache=False, progress=False)
    assert any("LOCAL SANDBOX" in r.getMessage() for r in caplog.records if r.name == "reportkit")
    assert "LOCAL SANDBOX" in repr(client) and "test mode" in repr(client)
    assert client.api_base.startswith("http://127.0.0.1:")
    df = client.report("balance.summary.1", "2025-01-01", "2025-02-01")
    assert {"starting_balance", "activity", "payouts", "ending_balance"} <= set(df["category"])
    with pytest.warns(rk.ReportkitWarning):
        again = rk.connect(cache=False, progress=False)
    assert again.api_base == client.api_base, "one sandbox per process"
    assert client.sandbox is not None and client.sandbox.running and again.sandbox is client.sandbox


def test_connect_with_a_key_is_a_plain_client(monkeypatch):
    with Sandbox(seed=2, now=datetime(2025, 6, 15, tzinfo=UTC), processing_time=0.05) as sb:
        monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
        monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
        monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            client = rk.connect(cache=False, progress=False)
        assert "SANDBOX" not in repr(client) and client.api_base == sb.url
        assert client.report_type("balance.summary.1").data_available_end == datetime(2025, 6, 14, tzinfo=UTC)


def test_masked_key_is_public_and_never_the_key(sandbox):
    client = sandbox.client(cache=False, progress=False)
    assert client.masked_key.startswith("sk_test_...") and client.masked_key.endswith(sandbox.api_key[-4:])
    assert sandbox.api_key not in client.masked_key and client.masked_key in repr(client)
