"""client.sync across processes (issue 18): two syncs of one dataset started at the same moment create
no duplicate run and leave no torn partition; a sync killed (SIGKILL) after it wrote partitions, then
run again, gives the same dataset as an uninterrupted one. The syncs run in real subprocesses against
the sandbox of the test process (over loopback)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from reportkit.dataset import LOCK, MANIFEST, Dataset

WORKER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    import reportkit as rk
    from reportkit.progress import Observer

    args = json.loads(sys.argv[1])
    kill_after = args.get("kill_after")
    import reportkit.sync
    reportkit.sync.FLUSH_EVERY = args.get("flush_every", reportkit.sync.FLUSH_EVERY)  # manifest cadence

    class KillAfter(Observer):
        def step(self, state):  # SIGKILL: no cleanup of any kind runs
            if kill_after and state.phase == "writing" and state.done >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

    client = rk.Client(api_base=args["api"], files_base=args["files"], cache=False, progress=False)
    if args.get("barrier"):
        Path(args["barrier"] + ".ready." + args["name"]).touch()
        while not Path(args["barrier"] + ".go").exists():
            time.sleep(0.01)
    got = client.sync(args["path"], args["report"], start=args["start"], freq=args["freq"],
                      observer=KillAfter(), max_concurrent=args.get("cap"))
    print(json.dumps({"actions": got["action"].tolist(), "runs": got["run_id"].tolist(),
                      "waited": got.attrs["reportkit"]["lock_waited"]}))
    """
)


def start_worker(sb, tmp_path: Path, name: str, **args) -> subprocess.Popen:
    script = tmp_path / "sync_worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "STRIPE_API_KEY": sb.api_key}  # the key travels in the environment, not argv
    payload = json.dumps({"api": sb.url, "files": sb.files_url, "name": name, **args})
    return subprocess.Popen([sys.executable, str(script), payload], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, dict | None, str]:
    out, err = proc.communicate(timeout=timeout)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return proc.returncode, (json.loads(last) if last.startswith("{") else None), err


def creates(sb) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and r.path.endswith("/report_runs"))


def canonical(root: Path) -> pd.DataFrame:
    import pyarrow.dataset as pads

    df = pads.dataset(str(root), format="parquet", partitioning="hive").to_table().to_pandas()
    df["interval"] = df["interval"].astype(str)
    return df.sort_values(["interval", "category", "currency"], kind="stable").reset_index(drop=True)


def manifest_view(root: Path) -> dict:
    parts = json.loads((root / MANIFEST).read_text())["reports"]["balance.summary.1"]["partitions"]
    fields = ("interval_start", "interval_end", "rows", "final")
    return {k: tuple(e[f] for f in fields) for k, e in parts.items()}


def check_untorn(root: Path) -> None:
    """Every file the manifest names exists with its recorded size and checksum; no stray files."""
    ds = Dataset(root)
    parts = json.loads((root / MANIFEST).read_text())["reports"]["balance.summary.1"]["partitions"]
    files = ds.files()
    for e in parts.values():
        if e["path"] is not None:
            assert files[e["path"]] == e["size"] and ds.sha256(e["path"]) == e["sha256"]
    named = {e["path"] for e in parts.values()} | {MANIFEST}
    assert set(files) <= named, set(files) - named
    assert LOCK not in files


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(request_rate=None, files_rate=None, processing_time=0.3, concurrent_run_cap=5)


def test_two_processes_syncing_at_once_create_no_duplicate_runs(sb, tmp_path):
    root = tmp_path / "ds"
    barrier = str(tmp_path / "barrier")
    common = dict(path=str(root), report="balance.summary.1", start="2025-04-01", freq="week",
                  barrier=barrier)  # fmt: skip
    procs = [start_worker(sb, tmp_path, name, **common) for name in ("a", "b")]
    deadline = time.monotonic() + 120
    while not all(Path(f"{barrier}.ready.{n}").exists() for n in ("a", "b")):
        alive = all(p.poll() is None for p in procs)
        assert time.monotonic() < deadline and alive, [finish(p) for p in procs]
        time.sleep(0.02)
    Path(barrier + ".go").touch()  # both released together
    results = [finish(p) for p in procs]
    for code, out, err in results:
        assert code == 0 and out is not None, err
    intervals = len(results[0][1]["actions"])  # 2025-04-01 (a Tuesday) .. 2025-06-14: 11 weeks
    assert intervals == 11
    assert sb.runs_created == creates(sb) == intervals  # each interval created exactly once
    actions = sorted(tuple(sorted(set(out["actions"]))) for _, out, _ in results)
    assert actions == [("created",), ("kept",)]  # one did the work, the other found it done
    assert max(out["waited"] for _, out, _ in results) > 0  # they did overlap: one waited for the lock
    assert results[0][1]["runs"] == results[1][1]["runs"]
    check_untorn(root)


@pytest.mark.parametrize(("kill_after", "flush_every"), [(1, 100), (5, 2)])
def test_a_sync_killed_mid_write_then_rerun_equals_an_uninterrupted_one(
    sb, tmp_path, kill_after, flush_every
):
    """Killed before any manifest was written (the files are orphans), and after some were (the
    manifest names part of the work, which the re-run keeps)."""
    args = dict(report="balance.summary.1", start="2025-03-01", freq="week", cap=5, flush_every=flush_every)
    clean = tmp_path / "clean"
    code, out, err = finish(start_worker(sb, tmp_path, "clean", path=str(clean), **args))
    assert code == 0, err

    broken = tmp_path / "broken"
    killed = start_worker(sb, tmp_path, "killed", path=str(broken), kill_after=kill_after, **args)
    code, out, err = finish(killed)
    assert code == -signal.SIGKILL and out is None, err
    assert (broken / LOCK).exists()  # the dead holder's lock is still there
    written = [p for p in broken.rglob("part-0.parquet")]
    assert written  # it died after writing partitions ...
    assert (broken / MANIFEST).exists() == (flush_every < kill_after)
    if (broken / MANIFEST).exists():
        assert 0 < len(manifest_view(broken)) < len(manifest_view(clean))

    code, out, err = finish(start_worker(sb, tmp_path, "rerun", path=str(broken), **args))
    assert code == 0, err
    assert "created" in out["actions"]
    pd.testing.assert_frame_equal(canonical(broken), canonical(clean))
    assert manifest_view(broken) == manifest_view(clean)
    check_untorn(broken)
    if flush_every < kill_after:
        assert "kept" in out["actions"]  # what the manifest already named was not fetched again
