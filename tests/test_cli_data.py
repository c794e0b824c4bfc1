"""``reportkit run --api data`` and ``reportkit query "select ..." -o x.parquet`` (issue 16)."""

from __future__ import annotations

import pandas as pd
import pytest

from reportkit.cache import read_parquet
from reportkit.cli import EXIT_OK, EXIT_RUN, main


@pytest.fixture
def pointed(sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sandbox.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sandbox.files_url)
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "cache"))
    return sandbox


def test_run_api_data_writes_the_v1_numbers(pointed, tmp_path, capsys):
    out = tmp_path / "data.parquet"
    args = ["run", "payouts.summary", "--start", "2025-01-01", "--end", "2025-02-01", "--no-progress"]
    assert main([*args, "--api", "data", "-o", str(out)]) == EXIT_OK
    v1 = tmp_path / "v1.parquet"
    assert main(["run", "payouts.summary.1", *args[2:], "-o", str(v1)]) == EXIT_OK
    pd.testing.assert_frame_equal(read_parquet(out)[0], read_parquet(v1)[0], check_exact=True)


def test_query_writes_parquet_typed_by_the_declared_columns(pointed, tmp_path, capsys):
    out = tmp_path / "q.parquet"
    sql = "select currency, count(*) as n, sum(net) as net from balance_transactions group by 1 order by 1"
    assert main(["query", sql, "-o", str(out), "--no-progress"]) == EXIT_OK
    df, _ = read_parquet(out)
    bt = pointed.ledger.transactions
    assert df.set_index("currency")["net"].to_dict() == bt.groupby("currency")["net"].sum().to_dict()
    assert str(df["n"].dtype) == "Int64" and "wrote 3 rows" in capsys.readouterr().err


def test_query_with_bad_sql_exits_with_the_run_code(pointed, capsys):
    assert main(["query", "selec 1", "--no-progress"]) == EXIT_RUN
    assert "query_run_invalid_sql" in capsys.readouterr().err
