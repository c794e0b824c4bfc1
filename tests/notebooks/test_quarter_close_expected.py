"""The checked outputs of notebooks/07_quarter_end_close.ipynb are the sandbox ledger's own numbers."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from test_notebooks_nbval import EXPECTED, notebook_sandbox

NAME = "07_quarter_end_close.ipynb"


def test_the_close_notebooks_numbers_are_the_ledgers():
    expected = json.loads(Path(EXPECTED).read_text())[NAME]
    close, rolled, fees, paid, workbook = (expected[k] for k in ("c07", "c08", "c10", "c12", "c18"))
    berlin = ZoneInfo("Europe/Berlin")
    with notebook_sandbox() as sb:  # the notebooks' sandbox: same seed, same clock
        ledger = sb.ledger
        firsts = [int(datetime(y, m, 1, tzinfo=berlin).timestamp())
                  for y, m in ((2025, 10), (2025, 11), (2025, 12), (2026, 1))]
        start, ends = firsts[0], firsts[1:]
        for month, lo, hi in zip(("2025-10", "2025-11", "2025-12"), firsts[:-1], ends, strict=True):
            line = next(line for line in close.splitlines() if line.startswith(month))
            cells = line.split()
            assert Decimal(cells[1]) == Decimal(ledger.balance("usd", lo)).scaleb(-2), month
            assert Decimal(cells[6]) == Decimal(ledger.balance("usd", hi)).scaleb(-2), month
            assert cells[7] == "0.00"
        po = ledger.payouts
        quarter = po[(po["created"] >= start) & (po["created"] < ends[-1])]
        back = [pd.notna(r) and r < ends[-1] or pd.notna(f) and f < ends[-1]  # reversed/failed in the quarter
                for r, f in zip(quarter["reversed_at"], quarter["failed_at"], strict=True)]
        usd = quarter[(quarter["currency"] == "usd") & ~pd.Series(back, index=quarter.index)]
        assert f"payouts: {len(quarter)}, automatic: {int(quarter['automatic'].sum())}," in paid
        assert f"usd paid to the bank: {Decimal(int(usd['amount'].sum())).scaleb(-2)}" in paid
    assert "months that roll forward: 9 of 9 (eur, jpy, usd)" in rolled
    assert "every automatic payout settles exactly: True" in paid
    assert all(line.split()[-1] == "0.00" for line in fees.splitlines()[1:])  # fees tie to activity_fee
    assert workbook == "['close', 'fees', 'payouts', 'provenance']\nending balances read back equal: True\n"
