"""sync(..., executor=<a dask.distributed client's executor>) (issue 18): the parsing of every result runs
on a distributed LocalCluster (the work it gets is picklable and holds no key), and the dataset is
identical to one synced without Dask; ``reportkit sync --dask local`` does the same from the shell."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from reportkit import cli
from reportkit.dataset import MANIFEST, Dataset

REPORT = "payouts.itemized.3"


@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def content(root) -> pd.DataFrame:
    import pyarrow.dataset as pads

    df = pads.dataset(str(root), format="parquet", partitioning="hive").to_table().to_pandas()
    df["interval"] = df["interval"].astype(str)
    return df.sort_values(["interval", "balance_transaction_id"], kind="stable").reset_index(drop=True)


def view(root) -> dict:
    parts = json.loads((root / MANIFEST).read_text())["reports"][REPORT]["partitions"]
    return {k: (e["interval_start"], e["interval_end"], e["rows"], e["final"]) for k, e in parts.items()}


def test_a_sync_through_a_local_cluster_gives_the_identical_dataset(sandbox_factory, dask_client, tmp_path):
    from distributed import get_task_stream

    sb = sandbox_factory(request_rate=None, files_rate=None, processing_time=0.02)
    client = sb.client(progress=False, cache=False)
    plain = client.sync(tmp_path / "plain", REPORT, start="2025-05-01", freq="week")
    with get_task_stream(client=dask_client) as stream:
        dask = client.sync(tmp_path / "dask", REPORT, start="2025-05-01", freq="week",
                           executor=dask_client.get_executor())  # fmt: skip
    parsed = [t for t in stream.data if "parse" in str(t["key"])]
    assert len(parsed) == len(dask) == len(plain)  # one parse task per interval ran on the cluster
    assert dask["rows"].tolist() == plain["rows"].tolist()
    pd.testing.assert_frame_equal(content(tmp_path / "dask"), content(tmp_path / "plain"))
    assert view(tmp_path / "dask") == view(tmp_path / "plain")
    a, b = Dataset(tmp_path / "dask").read(REPORT), Dataset(tmp_path / "plain").read(REPORT)
    pd.testing.assert_frame_equal(a, b)
    # what travels to the workers: the bytes and options, never the key
    assert sb.api_key.encode() not in pickle.dumps([t.get("key") for t in stream.data])


def test_cli_sync_with_dask_local(sandbox_factory, tmp_path, monkeypatch, capsys):
    sb = sandbox_factory(request_rate=None, files_rate=None, processing_time=0.02)
    monkeypatch.setenv("STRIPE_API_KEY", sb.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sb.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sb.files_url)
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "cache"))
    code = cli.main(["sync", str(tmp_path / "ds"), REPORT, "--start", "2025-05-01", "--freq", "week",
                     "--dask", "local", "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[0] == "report,interval_start,interval_end,action,rows,run_id,final"
    assert "created" in out and "synced payouts.itemized.3" in err
    assert len(view(tmp_path / "ds")) == len(out.splitlines()) - 1
