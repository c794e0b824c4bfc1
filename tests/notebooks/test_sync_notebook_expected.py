"""The checked outputs of notebooks/08_sync.ipynb are the sandbox ledger's own numbers: each month's
starting and ending USD balance as the DuckDB query over the synced dataset printed them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from test_notebooks_nbval import EXPECTED, notebook_sandbox

NAME = "08_sync.ipynb"


def test_the_sync_notebooks_numbers_are_the_ledgers():
    expected = json.loads(Path(EXPECTED).read_text())[NAME]
    first, again, table, manifest = (expected[k] for k in ("c06", "c08", "c12", "c14"))
    assert "{'created': 12, 'refreshed': 0, 'kept': 0}" in first
    assert "{'created': 0, 'refreshed': 0, 'kept': 12}" in again  # the second sync created no run
    with notebook_sandbox() as sb:  # the notebooks' sandbox: same seed, same clock
        ledger = sb.ledger
        months = [line.split() for line in table.splitlines() if line[:4] == "2025"]
        assert len(months) == 12
        for m, (label, starting, activity, payouts, ending, difference) in enumerate(months, start=1):
            lo = int(datetime(2025, m, 1, tzinfo=UTC).timestamp())
            hi = int(datetime(2025 + m // 12, m % 12 + 1, 1, tzinfo=UTC).timestamp())
            assert label == f"2025-{m:02d}"
            assert Decimal(starting) == Decimal(ledger.balance("usd", lo)).scaleb(-2), label
            assert Decimal(ending) == Decimal(ledger.balance("usd", hi)).scaleb(-2), label
            assert Decimal(payouts) < 0 and difference == "0.00"
            assert Decimal(starting) + Decimal(activity) + Decimal(payouts) == Decimal(ending)
    assert "roll-forward identities that hold: 12 of 12" in table
    assert "months starting where the previous one ended: 11 of 11" in table
    assert "rows DuckDB reads: 288 | rows the manifest records: 288" in manifest


def test_the_connected_accounts_year_ends_are_their_ledgers():
    table = json.loads(Path(EXPECTED).read_text())[NAME]["c17"]
    year_end = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    with notebook_sandbox() as sb:
        lines = [line.split() for line in table.splitlines() if line.startswith("acct_")]
        assert len(lines) == 3
        for account, currency, months, rolls, continues, balance in lines:
            ledger = sb.backend.connected.ledger(account)
            places = 0 if currency == "jpy" else 2
            assert Decimal(balance) == Decimal(ledger.balance(currency, year_end)).scaleb(-places), account
            assert (months, rolls, continues) == ("12", "12", "11")
    assert "accounts: 3 | every identity and continuity holds: True" in table
