"""client.sync (issue 18) against the real sandbox: creates then keeps (a second sync creates no run),
moving the sandbox clock fetches exactly the new or non-final intervals, the dataset reads back with
pyarrow.dataset, DuckDB, Polars and dask.dataframe with the same exact sums as client.reports, file://
and memory:// give the same dataset, repairs, and bad input refused before any request.
Processes (two syncs at once, a killed sync) are in test_sync_processes.py."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import reportkit as rk
from reportkit.dataset import LOCK, MANIFEST, Dataset
from reportkit.errors import ConfigurationError, DataNotAvailableError

END0 = datetime(2025, 6, 14, tzinfo=UTC)  # the test sandboxes' data_available_end


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(
        horizon=timedelta(days=3), request_rate=None, files_rate=None, processing_time=0.02
    )


def creates(sb) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and r.path.endswith("/report_runs"))


def totals(df: pd.DataFrame, col: str) -> dict[str, Decimal]:
    return {str(k): Decimal(v) for k, v in df.groupby("currency")[col].sum().items()}


def table(path) -> pd.DataFrame:
    """The dataset as pyarrow.dataset reads it, in a canonical row order (for equality checks)."""
    import pyarrow.dataset as pads

    fs, root = (None, str(path)) if not isinstance(path, tuple) else path
    t = pads.dataset(root, format="parquet", partitioning="hive", filesystem=fs).to_table()
    df = t.to_pandas()
    order = ("report", "interval", "interval_start", "category", "currency", "balance_transaction_id")
    keys = [c for c in order if c in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True).astype({"interval": str})


def test_first_sync_creates_then_a_second_creates_no_run(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-01-01", freq="month")
    assert list(got.columns) == [
        "report", "interval_start", "interval_end", "action", "rows", "run_id", "final"
    ]  # fmt: skip
    assert got["action"].tolist() == ["created"] * 6
    assert got["final"].tolist() == [True] * 5 + [False]  # June is clamped to data_available_end
    assert got["interval_end"].iloc[-1] == pd.Timestamp(END0)
    assert got["run_id"].str.startswith("frr_").all() and (got["rows"] > 0).all()
    assert str(got["interval_start"].dtype) == "datetime64[ns, Etc/UTC]"
    runs = sb.runs_created
    assert runs == 6 == creates(sb)

    again = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-01-01", freq="month")
    assert again["action"].tolist() == ["kept"] * 6
    assert sb.runs_created == runs  # zero runs: the non-final June is kept too (availability did not move)
    assert again["run_id"].tolist() == got["run_id"].tolist()
    assert again.attrs["reportkit"]["counts"] == {"created": 0, "refreshed": 0, "kept": 6}

    manifest = json.loads((tmp_path / "ds" / MANIFEST).read_text())
    parts = manifest["reports"]["balance.summary.1"]["partitions"]
    assert sorted(parts) == [f"2025-0{m}-01" for m in range(1, 7)]
    june = parts["2025-06-01"]
    assert june["final"] is False and june["data_available_end"] == END0.isoformat()
    assert june["path"] == "report=balance.summary.1/interval=2025-06-01/part-0.parquet"
    assert Dataset(tmp_path / "ds").sha256(june["path"]) == june["sha256"]
    assert not (tmp_path / "ds" / LOCK).exists()
    assert sb.api_key not in (tmp_path / "ds" / MANIFEST).read_text()


def test_moving_the_clock_fetches_exactly_the_new_or_non_final_intervals(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    daily = client.sync(tmp_path / "d", "balance.summary.1", start="2025-06-01", freq="day")
    monthly = client.sync(tmp_path / "m", "balance.summary.1", start="2025-04-01", freq="month")
    assert len(daily) == 13 and daily["final"].all()  # whole days only: every one is final
    assert monthly["final"].tolist() == [True, True, False]
    sb.advance(timedelta(days=1))
    runs = sb.runs_created

    d2 = client.sync(tmp_path / "d", "balance.summary.1", start="2025-06-01", freq="day")
    assert d2["action"].tolist() == ["kept"] * 13 + ["created"]
    assert d2["interval_start"].iloc[-1] == pd.Timestamp("2025-06-14", tz="Etc/UTC")
    m2 = client.sync(tmp_path / "m", "balance.summary.1", start="2025-04-01", freq="month")
    assert m2["action"].tolist() == ["kept", "kept", "refreshed"]
    assert m2["interval_end"].iloc[-1] == pd.Timestamp("2025-06-15", tz="Etc/UTC")
    assert not m2["final"].iloc[-1]
    assert sb.runs_created == runs + 2  # exactly the new day and the non-final month

    # what was refreshed equals a fresh report of the same interval, and the daily set sums to it
    fresh = client.report("balance.summary.1", "2025-06-01", "2025-06-15")
    june = Dataset(tmp_path / "m").read("balance.summary.1")
    june = june[june["interval_start"] == pd.Timestamp("2025-06-01", tz="Etc/UTC")]
    assert totals(june, "net_amount") == totals(fresh, "net_amount")
    days = Dataset(tmp_path / "d").read("balance.summary.1")
    act = days[days["category"] == "activity"]
    assert totals(act, "net_amount") == totals(fresh[fresh["category"] == "activity"], "net_amount")


def test_the_four_readers_agree_with_the_dataframe_path(sb, tmp_path):
    import dask.dataframe as dd
    import duckdb
    import polars as pl
    import pyarrow.dataset as pads

    client = sb.client(progress=False, cache=False)
    report = "payouts.itemized.3"  # days without payouts: empty intervals, JPY beside USD
    got = client.sync(tmp_path / "ds", report, start="2025-05-01", freq="day")
    assert (got["rows"] == 0).any() and (got["rows"] > 0).any()
    want = client.reports(report, rk.intervals("2025-05-01", "2025-06-14", freq="day"))
    expect = {c: totals(want, c) for c in ("gross", "fee", "net")}
    root = str(tmp_path / "ds")

    t = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    assert t.num_rows == len(want) == int(got["rows"].sum())
    arrow = t.to_pandas()
    sums = {c: {k: Decimal(v) for k, v in arrow.groupby("currency")[c].sum().items()} for c in expect}
    assert sums == expect

    rows = duckdb.sql(
        f"select currency, sum(gross), sum(fee), sum(net), count(*) from "
        f"read_parquet('{root}/**/*.parquet', hive_partitioning=true) group by currency"
    ).fetchall()
    assert {r[0]: r[1] for r in rows} == expect["gross"]
    assert {r[0]: r[3] for r in rows} == expect["net"] and sum(r[4] for r in rows) == len(want)
    assert all(isinstance(r[1], Decimal) for r in rows)

    lf = pl.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True)
    money = [pl.col(c).ext.storage().sum().alias(c) for c in expect]  # polars 2: reportkit.decimal ext
    pol = lf.group_by("currency").agg(*money).collect()
    assert {c: dict(zip(pol["currency"], pol[c], strict=True)) for c in expect} == expect

    ddf = dd.read_parquet(root).compute()
    sums = {c: {k: Decimal(str(v)) for k, v in ddf.groupby("currency")[c].sum().items()} for c in expect}
    assert sums == expect
    assert len(ddf) == len(want)

    back = Dataset(root).read(report)  # reportkit's own exact reader: the client's dtypes
    assert dict(back.dtypes) == dict(want.drop(columns=[]).dtypes)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), want.reset_index(drop=True), check_like=False)


def test_file_and_memory_urls_give_the_same_dataset(sb, tmp_path):
    import fsspec

    client = sb.client(progress=False)
    root = f"memory://rk-test-{uuid.uuid4().hex}/ds"
    a = client.sync(f"file://{tmp_path / 'ds'}", "balance.summary.1", start="2025-03-01", freq="month")
    b = client.sync(root, "balance.summary.1", start="2025-03-01", freq="month")
    assert a["rows"].tolist() == b["rows"].tolist() and b["action"].eq("created").all()
    fs, path = fsspec.core.url_to_fs(root)
    pd.testing.assert_frame_equal(table(tmp_path / "ds"), table((fs, path)))
    assert Dataset(root).read("balance.summary.1").equals(Dataset(tmp_path / "ds").read("balance.summary.1"))
    assert client.sync(root, "balance.summary.1", start="2025-03-01", freq="month")["action"].eq("kept").all()
    assert fs.exists(f"{path}/{MANIFEST}") and not fs.exists(f"{path}/{LOCK}")


def test_a_rerun_repairs_what_a_dead_sync_left(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    ds = tmp_path / "ds"
    client.sync(ds, "balance.summary.1", start="2025-03-01", freq="month")
    part = ds / "report=balance.summary.1" / "interval=2025-04-01" / "part-0.parquet"
    part.write_bytes(part.read_bytes()[:100])  # torn by something outside reportkit
    (ds / "report=balance.summary.1" / "interval=2025-04-01" / ".part-0.parquet.1.abcd.tmp").write_bytes(b"x")
    orphan = ds / "report=balance.summary.1" / "interval=2024-01-01" / "part-0.parquet"
    orphan.parent.mkdir()
    orphan.write_bytes(part.read_bytes())  # a file the manifest does not name
    (ds / LOCK).write_text(json.dumps({"sync_id": "sync_dead", "host": "elsewhere", "pid": 1,
                                       "heartbeat": 0}))  # a stale lock  # fmt: skip
    runs = sb.runs_created
    got = client.sync(ds, "balance.summary.1", start="2025-03-01", freq="month")
    assert got["action"].tolist() == ["kept", "created", "kept", "kept"]
    assert sb.runs_created == runs + 1
    assert not orphan.exists() and not list(ds.rglob("*.tmp")) and not (ds / LOCK).exists()
    assert len(table(ds)) == int(got["rows"].sum())


def test_bad_input_is_refused_before_any_request(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    before = len(sb.requests)
    cases = [
        (dict(start="2025-01-01", wait=True), "end="),
        (dict(start="2025-01-01", freq="fortnight"), "freq"),
        (dict(start="2025-02-01", end="2025-01-01"), "before"),
        (dict(start="2025-01-01", timeout=-1), "timeout"),
        (dict(start="2025-01-01", currency=5), "currency"),
    ]
    for kw, match in cases:
        with pytest.raises(ConfigurationError, match=match):
            client.sync(tmp_path / "ds", "balance.summary.1", **kw)
    with pytest.raises(ConfigurationError, match="partition"):
        client.sync(tmp_path / "ds", "balance summary", start="2025-01-01")
    with pytest.raises(ConfigurationError, match="path"):
        client.sync("", "balance.summary.1", start="2025-01-01")
    assert len(sb.requests) == before
    assert not (tmp_path / "ds").exists()


def test_a_dataset_holds_one_form_of_a_report(sb, tmp_path):
    client = sb.client(progress=False, cache=False)
    client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month")
    with pytest.raises(ConfigurationError, match="parameters"):
        client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month", currency="usd")
    with pytest.raises(ConfigurationError, match="overlaps"):
        client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-15", freq="month")
    with pytest.raises(DataNotAvailableError, match="wait=True"):
        client.sync(tmp_path / "x", "balance.summary.1", start="2025-07-01", freq="month")


def test_an_end_past_the_data_is_clamped_and_wait_waits_for_it(sb, tmp_path):
    import threading

    client = sb.client(progress=False, cache=False)
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-06-10", end="2025-06-16", freq="day")
    assert got["interval_start"].dt.day.tolist() == [10, 11, 12, 13]  # the rest is not there yet
    mover = threading.Timer(0.5, lambda: sb.advance(timedelta(days=2)))
    mover.start()
    try:
        later = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-06-10", end="2025-06-16",
                            freq="day", wait=True, wait_timeout=30)  # fmt: skip
    finally:
        mover.join()
    assert later["action"].tolist() == ["kept"] * 4 + ["created"] * 2 and later["final"].all()


def test_the_result_and_files_carry_provenance_without_keys(sb, tmp_path):
    import pyarrow.parquet as pq

    client = sb.client(progress=False, cache=False)
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-05-01", freq="month")
    f = next(Path(tmp_path / "ds").rglob("part-0.parquet"))
    meta = json.loads(pq.read_schema(f).metadata[b"reportkit"])
    assert meta["dataset"]["sync_id"] == got.attrs["reportkit"]["sync_id"]
    assert meta["attrs"]["reportkit"]["run_id"] in set(got["run_id"])
    assert sb.api_key not in f.read_bytes().decode("latin-1")


def test_cli_sync_refuses_bad_options_before_any_request(sb, tmp_path, monkeypatch, capsys):
    from reportkit import cli

    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    before = len(sb.requests)
    base = ["sync", str(tmp_path / "ds"), "balance.summary.1", "--start", "2025-05-01"]
    for extra, words in ((["--wait"], "--end"), (["--max-concurrent", "0"], "--max-concurrent"),
                         (["--timeout", "nan"], "--timeout"), (["--tz", "Mars/Base"], "Mars")):  # fmt: skip
        assert cli.main(base + extra) == 2
        assert words in capsys.readouterr().err
    assert len(sb.requests) == before
    assert cli.main(base + ["--freq", "month", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("report,interval_start") and len(out) == 3  # May and the part of June


def test_a_failed_interval_is_left_out_and_the_next_sync_fetches_only_it(sb, tmp_path):
    from reportkit.errors import BatchError

    client = sb.client(progress=False, cache=False)
    april = int(datetime(2025, 4, 1, tzinfo=UTC).timestamp())
    sb.faults.fail_runs(1, where={"interval_start": april})
    with pytest.raises(BatchError) as err:
        client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month")
    assert len(err.value.errors) == 1
    manifest = json.loads((tmp_path / "ds" / MANIFEST).read_text())
    assert sorted(manifest["reports"]["balance.summary.1"]["partitions"]) == [
        "2025-03-01", "2025-05-01", "2025-06-01"
    ]  # the others were written and recorded  # fmt: skip
    assert manifest["syncs"][-1]["created"] == 3
    runs = sb.runs_created
    got = client.sync(tmp_path / "ds", "balance.summary.1", start="2025-03-01", freq="month")
    assert got["action"].tolist() == ["kept", "created", "kept", "kept"] and sb.runs_created == runs + 1
