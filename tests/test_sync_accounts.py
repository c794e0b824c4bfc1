"""client.sync(..., accounts=) (issue 18 with Connect): one partition per connected account and interval
(``report=<r>/account=<acct>/interval=<key>``), fetched in one batch as each account; a second sync
creates no run; the readers see the account as a partition column and agree with client.reports."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit.dataset import Dataset
from reportkit.errors import ConfigurationError


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(request_rate=None, files_rate=None, processing_time=0.02)  # 3 connected accounts


def test_sync_per_connected_account(sb, tmp_path):
    import duckdb
    import pyarrow.dataset as pads

    client = sb.client(progress=False, cache=False)
    ids = [str(a) for a in client.accounts()["id"]]
    assert len(ids) == 3
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month", accounts="all")
    assert list(got.columns)[:2] == ["account", "report"]
    assert sorted(set(got["account"])) == sorted(ids) and len(got) == 3 * 4
    assert got["action"].eq("created").all() and sb.runs_created == 12
    report_dir = tmp_path / "ds" / "report=balance.summary.1"
    for acct in ids:
        assert (report_dir / f"account={acct}" / "interval=2025-03-01" / "part-0.parquet").is_file(), acct

    again = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month", accounts=ids)
    assert again["action"].eq("kept").all() and sb.runs_created == 12

    want = client.reports("balance.summary.1", rk.intervals("2025-03-01", "2025-06-14", freq="month"),
                          accounts="all")  # fmt: skip
    back = Dataset(tmp_path / "ds").read("balance.summary.1")
    key = ["account", "interval_start", "category", "currency"]
    pd.testing.assert_frame_equal(back.sort_values(key, kind="stable").reset_index(drop=True),
                                  want.sort_values(key, kind="stable").reset_index(drop=True))  # fmt: skip
    def sums(df: pd.DataFrame) -> dict:
        return {k: Decimal(v) for k, v in df.groupby(["account", "currency"])["net_amount"].sum().items()}

    expect = sums(want)
    t = pads.dataset(str(tmp_path / "ds"), format="parquet", partitioning="hive").to_table().to_pandas()
    assert sums(t) == expect
    glob = f"{tmp_path / 'ds'}/**/*.parquet"
    rows = duckdb.sql(f"select account, currency, sum(net_amount) from read_parquet('{glob}', "
                      "hive_partitioning=true) group by all").fetchall()  # fmt: skip
    assert {(a, c): v for a, c, v in rows} == expect


def test_a_dataset_is_per_account_or_not(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    ids = [str(a) for a in client.accounts()["id"]]
    client.sync(tmp_path / "ds", "balance.summary.1", start="2025-05-01", freq="month", accounts=ids[:1])
    with pytest.raises(ConfigurationError, match="accounts"):
        client.sync(tmp_path / "ds", "balance.summary.1", start="2025-05-01", freq="month")
    # another account joins: only its intervals are fetched
    runs = sb.runs_created
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-05-01", freq="month",
                      accounts=ids[:2])  # fmt: skip
    actions = {a: set(g["action"]) for a, g in got.groupby("account")}
    assert actions == {ids[0]: {"kept"}, ids[1]: {"created"}}
    assert sb.runs_created == runs + 2
    before = len(sb.requests)
    for bad in ("acct", ["not an id"], [ids[0], ids[0]], []):
        with pytest.raises(ConfigurationError):
            client.sync(tmp_path / "ds", "balance.summary.1", start="2025-05-01", accounts=bad)
    assert len(sb.requests) == before


def test_cli_sync_accounts(sb, tmp_path, monkeypatch, capsys):
    from reportkit import cli

    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    base = ["sync", str(tmp_path / "ds"), "balance.summary.1", "--start", "2025-05-01", "--no-progress"]
    assert cli.main(base + ["--accounts", "nope"]) == 2 and "acct_" in capsys.readouterr().err
    assert cli.main(base + ["--accounts", "all"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("account,report,interval_start") and len(out) == 1 + 3 * 2
