"""Cache: exact Parquet round trips, keys, provenance, atomic writes (a writer killed mid-write)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from reportkit import frames
from reportkit._request import prepare
from reportkit.cache import Cache, read_parquet, write_parquet
from reportkit.config import fingerprint
from reportkit.errors import ConfigurationError
from reportkit.intervals import intervals

KEY = "sk_test_51SecretKeyValue0123456789abcdef"
BASE = "http://127.0.0.1:12345"
PARAMS = {"interval_start": "2025-01-01", "interval_end": "2025-02-01", "timezone": "America/New_York"}


def key_of(report="balance.summary.1", start=PARAMS["interval_start"], end=PARAMS["interval_end"], *,
           api_key=KEY, api_base=BASE, **options):
    """The one cache key scheme: RunRequest.cache_key (as the client makes it)."""
    options.setdefault("timezone", PARAMS["timezone"])
    req = prepare(report, start, end, livemode="_live_" in api_key, **options)
    return req.cache_key(fingerprint(api_key), api_base)


def _times(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype("datetime64[ns, UTC]")


def _every_dtype() -> pd.DataFrame:
    ny = "datetime64[ns, America/New_York]"
    df = pd.DataFrame({
        "gross": pd.Series([Decimal("1500.00"), Decimal("-12.34"), None, Decimal("0.00")], dtype=object),
        "rate": pd.Series([Decimal("0.0825"), None, Decimal("1.0000"), Decimal("-0.0001")], dtype=object),
        "huge": pd.Series([Decimal("12345678901234567890123.45"), Decimal("1.00"), None, None], dtype=object),
        "empty_money": pd.Series([None, None, None, None], dtype=object),
        "id": pd.Series(["txn_1", None, "txn_3", "NA"], dtype=frames.STRING_DTYPE),
        "count": pd.array([1, None, 3, 0], dtype="Int64"),
        "flag": pd.array([True, None, False, True], dtype="boolean"),
        "created_utc": _times("2025-11-02 05:30", "2025-11-02 06:30", None, "2024-02-29 23:59:59"),
        "created": _times("2025-11-02 05:30", "2025-11-02 06:30", None, "2025-03-09 07:00")
        .dt.tz_convert("America/New_York").astype(ny),
        "arrival": _times("2025-04-01", None, "2025-04-02", "2025-04-03").dt.tz_localize(None)
        .astype("datetime64[ns]"),
        "ratio": [0.5, np.nan, 2.0, -1.0],
        "n": np.array([1, 2, 3, 4], dtype="int64"),
    })
    df.attrs["reportkit"] = {"run_id": "frr_123", "report": "balance.summary.1", "cache_hit": False,
                             "interval_start": "2025-01-01T05:00:00+00:00"}
    return df


def test_round_trip_every_dtype_exactly(tmp_path) -> None:
    cache = Cache(tmp_path)
    key = key_of()
    df = _every_dtype()
    assert cache.get(key) is None
    path = cache.put(key, df, final=True)
    assert path is not None and path.parent == tmp_path
    back = cache.get(key)
    pd.testing.assert_frame_equal(back, df)
    assert [type(v) for v in back["gross"].dropna()] == [Decimal] * 3
    assert back["huge"].iloc[0] == Decimal("12345678901234567890123.45")
    assert str(back["created"].dtype) == "datetime64[ns, America/New_York]"
    assert back["created"].iloc[0].utcoffset() != back["created"].iloc[1].utcoffset()  # fall-back hour
    assert back.attrs["reportkit"]["cache_hit"] is True
    assert back.attrs["reportkit"]["run_id"] == "frr_123"
    assert df.attrs["reportkit"]["cache_hit"] is False  # the caller's frame is untouched


def test_round_trip_parsed_frames(tmp_path) -> None:
    csv = (b"balance_transaction_id,created_utc,created,currency,gross,fee,net,reporting_category,is_link\n"
           b"txn_1,2025-03-09 06:59:59,2025-03-09 01:59:59,usd,12.34,0.66,11.68,charge,true\n"
           b"txn_2,2025-03-09 07:00:00,2025-03-09 03:00:00,jpy,1500,45,1455,charge,\n")
    report = "balance_change_from_activity.itemized.3"
    cache = Cache(tmp_path)
    for data in (csv, csv.split(b"\n")[0] + b"\n"):  # with rows, and header only
        df = frames.parse(data, report=report, timezone="America/New_York")
        key = key_of(report, end=f"2025-02-0{1 + len(df)}", api_key=KEY.replace("_test_", "_live_"))
        cache.put(key, df, final=True)
        pd.testing.assert_frame_equal(cache.get(key), df)


def test_key_covers_what_decides_the_data() -> None:
    base = key_of()
    assert len(base["digest"]) == 64 and base["report"] == "balance.summary.1"
    same = [
        key_of(api_base=BASE),
        key_of(start=datetime(2025, 1, 1, 5, tzinfo=UTC), end=1738386000),
        key_of(start=intervals("2025-01-01", "2025-02-01", tz="America/New_York", freq="MS")[0].start),
        key_of(start="2025-01-01T05:00:00Z", currency=None),
    ]
    assert all(k["digest"] == base["digest"] for k in same)
    different = [
        key_of(api_key=KEY + "x"),
        key_of(api_key=KEY.replace("_test_", "_live_")),
        key_of(api_base="https://api.stripe.com"),
        key_of("balance.summary", api="v2"),
        key_of(timezone="Etc/UTC"),
        key_of(end="2025-02-02"),
        key_of(currency="usd"),
        key_of("balance_change_from_activity.itemized.2", columns=["gross", "net"]),
        key_of("balance_change_from_activity.itemized.2", columns=["net", "gross"]),
    ]
    assert len({base["digest"], *(k["digest"] for k in different)}) == len(different) + 1
    # filters: case does not matter
    assert key_of(currency="USD")["digest"] == key_of(currency="usd")["digest"]
    assert KEY not in str(base) and fingerprint(KEY) in str(base)
    assert base["parameters"]["interval_start"] == "2025-01-01T05:00:00.000Z"
    assert base["livemode"] is False


def test_files_never_hold_the_key(tmp_path) -> None:
    cache = Cache(tmp_path)
    df = _every_dtype()
    df.attrs["reportkit"]["note"] = f"leaked {KEY} here"  # a key that slipped into attrs is masked
    key = key_of()
    path = cache.put(key, df, final=True)
    raw = path.read_bytes()
    assert KEY.encode() not in raw and KEY[8:].encode() not in raw
    assert KEY not in repr(cache) and KEY not in cache.list().to_string()
    assert "sk_test_...cdef" in cache.get(key).attrs["reportkit"]["note"]


def test_non_final_results_are_not_stored(tmp_path) -> None:
    cache = Cache(tmp_path)
    key = key_of()
    assert cache.put(key, _every_dtype(), final=False) is None
    assert cache.get(key) is None and key not in cache and len(cache) == 0


def test_mapping_keys_from_the_client(tmp_path) -> None:
    cache = Cache(tmp_path)
    key = {"api": "v1", "report": "payouts.summary.1", "livemode": False, "account": fingerprint(KEY),
           "api_base": BASE, "compress": False,
           "parameters": {"interval_start": "2025-01-01T00:00:00.000Z",
                          "interval_end": "2025-02-01T00:00:00.000Z"}}
    key["digest"] = "ignored-when-hashing"
    df = _every_dtype()
    cache.put(key, df, final=True)
    pd.testing.assert_frame_equal(cache.get(dict(key, digest="other")), df)
    assert cache.get({**key, "report": "payouts.summary.2"}) is None
    listed = cache.list()
    assert listed["report"].tolist() == ["payouts.summary.1"]
    assert listed["interval"].tolist() == ["2025-01-01T00:00:00.000Z/2025-02-01T00:00:00.000Z"]


def test_list_clear_repr(tmp_path) -> None:
    cache = Cache(tmp_path)
    df = _every_dtype()
    for report, months in (("balance.summary.1", 3), ("payouts.summary.1", 2)):
        for iv in intervals("2025-01-01", "2026-01-01", freq="month")[:months]:
            cache.put(key_of(report, iv.start, iv.end, timezone="Etc/UTC"), df, final=True)
    listed = cache.list()
    assert list(listed.columns) == ["key", "report", "interval", "rows", "bytes", "created"]
    assert len(listed) == 5 and set(listed["rows"]) == {4}
    assert (listed["bytes"] > 0).all()
    assert str(listed["created"].dtype).startswith("datetime64") and listed["created"].is_monotonic_increasing
    assert sorted(listed["interval"])[0] == "2025-01-01T00:00:00.000Z/2025-02-01T00:00:00.000Z"
    assert repr(cache) == f"<reportkit.Cache {str(tmp_path)!r} entries=5>"
    assert cache.clear("payouts.summary.1") == 2
    assert cache.list()["report"].unique().tolist() == ["balance.summary.1"]
    assert cache.clear() == 3 and len(cache) == 0 and cache.list().empty


def test_default_root_from_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "here"))
    assert Cache().root == tmp_path / "here" and (tmp_path / "here").is_dir()
    monkeypatch.delenv("REPORTKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # platformdirs' user cache dir on Linux
    assert Cache().root == tmp_path / "xdg" / "reportkit"


def test_bad_keys_and_dirs(tmp_path) -> None:
    cache = Cache(tmp_path)
    for bad in ("../../etc/passwd", "balance.summary.1", "x" * 10):
        with pytest.raises(ConfigurationError, match="not a cache key"):
            cache.get(bad)
    with pytest.raises(ConfigurationError, match="naive"):
        key_of(start=datetime(2025, 1, 1))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="cannot create the cache directory"):
        Cache(tmp_path / "file" / "sub")


def test_corrupt_entry_is_a_miss_and_removed(tmp_path) -> None:
    cache = Cache(tmp_path)
    key = key_of()
    path = cache.put(key, _every_dtype(), final=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert cache.get(key) is None
    assert not path.exists()


def test_named_index_round_trips(tmp_path) -> None:
    df = _every_dtype().set_index(pd.Index(["a", "b", "c", "d"], name="k"))
    write_parquet(df, tmp_path / "i.parquet")
    pd.testing.assert_frame_equal(read_parquet(tmp_path / "i.parquet")[0], df)


def test_write_parquet_for_the_cli(tmp_path) -> None:
    df = _every_dtype()
    out = tmp_path / "out.parquet"
    assert write_parquet(df, out) == out.stat().st_size
    back, meta = read_parquet(out)
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs == df.attrs
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


WRITER = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd, pyarrow as pa
    from reportkit.cache import Cache
    from reportkit.frames import to_decimal_array
    n = 1_000_000
    rng = np.random.default_rng(1)
    cents = pa.array(rng.integers(-10**5, 10**5, n)).cast(pa.decimal128(38, 0))
    df = pd.DataFrame({
        "net": to_decimal_array(cents.view(pa.decimal128(38, 2))),
        "id": pd.Series(rng.integers(0, 2**62, n).astype(str), dtype="string[pyarrow]"),
        "x": rng.random(n),
    })
    cache = Cache(sys.argv[1])
    print("ready", flush=True)
    cache.put(sys.argv[2], df, final=True)
    print("done", flush=True)
""")


def _kill_mid_write(tmp_path, script: str, args: list[str], who: str) -> list:
    """Run ``script`` in a child, SIGKILL it once a non-empty temporary file shows in ``tmp_path``;
    returns the temporary files seen."""
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), *args],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        temps: list = []
        while not temps and time.monotonic() < deadline and child.poll() is None:
            temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.stat().st_size > 0]
            time.sleep(0.002)
        assert temps, f"the {who} finished before it could be killed mid-write"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return temps


def test_writer_killed_mid_write_leaves_no_entry(tmp_path) -> None:
    key = Cache(tmp_path).path(key_of("balance_change_from_activity.itemized.2")).stem  # its file name
    temps = _kill_mid_write(tmp_path, WRITER, [key], "writer")
    final = tmp_path / f"{key}.parquet"
    assert not final.exists()
    assert [p.name for p in tmp_path.iterdir()] == [temps[0].name]  # only the partial temp file
    cache = Cache(tmp_path)  # opening cleans the dead writer's temp file
    assert cache.get(key) is None
    assert list(tmp_path.iterdir()) == []
    assert cache.list().empty


def test_live_writers_temp_files_are_kept(tmp_path) -> None:
    mine = tmp_path / f".x.parquet.{os.getpid()}.0123abcd.tmp"
    mine.write_bytes(b"partial")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    theirs = tmp_path / f".y.parquet.{dead.stdout.strip()}.0123abcd.tmp"
    theirs.write_bytes(b"partial")
    Cache(tmp_path)
    assert mine.exists() and not theirs.exists()


# -- packs: many entries in one file (issue 19) ----------------------------------------------------
def _months(n: int, report: str = "balance.summary.1", api_key: str = KEY) -> list[dict]:
    return [key_of(report, iv.start, iv.end, timezone="Etc/UTC", api_key=api_key)
            for iv in intervals("2025-01-01", "2026-01-01", freq="month")[:n]]


def _entry(i: int) -> pd.DataFrame:
    """Frames of one schema (every dtype, the same scales) with 1 to 3 copies of the rows."""
    base = _every_dtype()
    df = pd.concat([base] * (1 + i % 3), ignore_index=True)
    df.attrs = {"reportkit": {**base.attrs["reportkit"], "run_id": f"frr_{i}"}}
    return df


PARSED = (b"balance_transaction_id,created_utc,created,currency,gross,fee,net,reporting_category,is_link\n"
          b"txn_1,2025-03-09 06:59:59,2025-03-09 01:59:59,usd,12.34,0.66,11.68,charge,true\n"
          b"txn_2,2025-03-09 07:00:00,2025-03-09 03:00:00,jpy,1500,45,1455,charge,\n")


def test_consolidate_packs_entries_into_one_file_exactly(tmp_path, monkeypatch) -> None:
    from reportkit import cache as cache_module

    monkeypatch.setattr(cache_module, "_GROUP_ROWS", 3)  # several row groups, entries across them
    cache = Cache(tmp_path)
    keys = _months(7)
    frames = [_entry(i) for i in range(7)]
    for key, df in zip(keys, frames, strict=True):
        cache.put(key, df, final=True)
    assert len(list(tmp_path.glob("*.parquet"))) == 7
    packs = cache.consolidate(keys)
    assert len(packs) == 1 and [p.name for p in tmp_path.iterdir()] == [packs[0].name]
    assert packs[0].name.startswith("balance.summary.1.") and packs[0].name.endswith(".pack.parquet")
    assert cache.consolidate(keys) == []  # already one pack: nothing written
    assert cache.consolidate([*keys[:3], key_of(end="2025-03-03")]) == []  # (a miss changes nothing)
    fresh = Cache(tmp_path)  # the index is read from the pack's footer
    for key, df in zip(keys, frames, strict=True):
        back = fresh.get(key)
        pd.testing.assert_frame_equal(back, df)
        assert isinstance(back.index, pd.RangeIndex) and back.index.start == 0
        assert back.attrs["reportkit"]["cache_hit"] is True
        assert back.attrs["reportkit"]["run_id"] == df.attrs["reportkit"]["run_id"]
        assert key in fresh
    many = fresh.get_many(list(reversed(keys)) + [key_of(end="2025-03-03")])
    assert many[-1] is None
    for back, df in zip(many[:-1], reversed(frames), strict=True):
        pd.testing.assert_frame_equal(back, df)
    found = fresh.read_many(keys)
    assert found.complete and found.packed
    body, counts, provs = found.combined()
    assert counts == [len(f) for f in frames]
    pd.testing.assert_frame_equal(body, pd.concat(frames, ignore_index=True))
    assert [p["run_id"] for p in provs] == [f"frr_{i}" for i in range(7)]
    assert all(p["cache_hit"] for p in provs)
    listed = fresh.list()
    assert len(listed) == len(fresh) == 7
    assert sorted(listed["rows"].tolist()) == sorted(len(f) for f in frames)
    assert (listed["bytes"] > 0).all()
    assert KEY not in packs[0].read_bytes().decode("latin-1")
    assert fresh.clear("payouts.summary.1") == 0 and fresh.clear("balance.summary.1") == 7
    assert list(tmp_path.iterdir()) == [] and fresh.get(keys[0]) is None


def test_consolidate_keeps_schemas_apart_and_replaces_only_wholly_held_packs(tmp_path) -> None:
    cache = Cache(tmp_path)
    keys = _months(6)
    for key in keys[:3]:
        cache.put(key, _entry(1), final=True)
    (first,) = cache.consolidate(keys[:3])
    other = _entry(1)
    other["gross"] = pd.Series([Decimal("1.005")] + [None] * (len(other) - 1), dtype=object)  # another scale
    cache.put(keys[3], other, final=True)
    for key in keys[4:]:
        cache.put(key, _entry(2), final=True)
    (second,) = cache.consolidate(keys)  # the five of one schema; the odd one stays an entry file
    assert not first.exists()  # wholly held by the new pack
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([second.name, cache.path(keys[3]).name])
    pd.testing.assert_frame_equal(cache.get(keys[3]), other)
    for key in keys[:3]:
        pd.testing.assert_frame_equal(cache.get(key), _entry(1))
    # a pack only partly held by a newer one stays; every entry is listed once
    cache.put(keys[0], _entry(2), final=True)  # a newer write of one entry wins over the pack
    pd.testing.assert_frame_equal(cache.get(keys[0]), _entry(2))
    (third,) = cache.consolidate(keys[:2])
    assert second.exists() and third.exists()
    assert len(cache.list()) == len(cache) == 6
    assert cache.clear() == 6 and list(tmp_path.iterdir()) == []


def test_empty_results_join_a_pack_and_other_scales_get_their_own(tmp_path) -> None:
    report = "balance_change_from_activity.itemized.3"
    header = PARSED.split(b"\n")[0] + b"\n"
    jpy_only = header + PARSED.split(b"\n")[2] + b"\n"  # money at scale 0, not 2
    texts = [header, PARSED, PARSED, jpy_only, header, jpy_only, PARSED]
    keys = _months(len(texts), report, KEY.replace("_test_", "_live_"))  # a live-only report type
    cache = Cache(tmp_path)
    frames_in = []
    for key, text in zip(keys, texts, strict=True):
        df = frames.parse(text, report=report, timezone="America/New_York")
        frames_in.append(df)
        cache.put(key, df, final=True)
    packs = cache.consolidate(keys)
    assert len(packs) == 2 and len(list(tmp_path.iterdir())) == 2  # scale 2 (+ the empty ones), scale 0
    fresh = Cache(tmp_path)
    for key, df in zip(keys, fresh.get_many(keys), strict=True):
        pd.testing.assert_frame_equal(df, frames_in[keys.index(key)])
    jpy = fresh.get(keys[3])
    assert [str(v) for v in jpy["gross"]] == ["1500"] and [str(v) for v in fresh.get(keys[1])["gross"]] == [
        "12.34", "1500"]  # per-row currency decimals, as parsed
    found = fresh.read_many(keys)
    assert found.complete and not found.packed
    body, counts, _ = found.combined()
    pd.testing.assert_frame_equal(body, pd.concat(frames_in, ignore_index=True))
    assert counts == [0, 2, 2, 1, 0, 1, 2]


def test_a_damaged_pack_is_a_miss_and_removed(tmp_path) -> None:
    cache = Cache(tmp_path)
    keys = _months(3)
    for key in keys:
        cache.put(key, _entry(1), final=True)
    (pack,) = cache.consolidate(keys)
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    fresh = Cache(tmp_path)
    assert fresh.get_many(keys) == [None, None, None]
    assert not pack.exists() and len(fresh) == 0


PACKER = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd, pyarrow as pa
    from reportkit.cache import Cache
    from reportkit.frames import to_decimal_array

    def frame(seed):
        n = 400_000
        rng = np.random.default_rng(seed)
        cents = pa.array(rng.integers(-10**5, 10**5, n)).cast(pa.decimal128(38, 0))
        return pd.DataFrame({
            "net": to_decimal_array(cents.view(pa.decimal128(38, 2))),
            "id": pd.Series(rng.integers(0, 2**62, n).astype(str), dtype="string[pyarrow]"),
        })

    cache = Cache(sys.argv[1])
    keys = sys.argv[2:]
    if sys.argv[1].endswith("expected"):
        sys.exit(0)
    for i, key in enumerate(keys):
        cache.put(key, frame(i), final=True)
    print("ready", flush=True)
    cache.consolidate(keys)
    print("done", flush=True)
""")


def test_a_packer_killed_mid_write_loses_no_entry(tmp_path) -> None:
    keys = [Cache(tmp_path).path(k).stem for k in _months(3, "balance_change_from_activity.itemized.2")]
    _kill_mid_write(tmp_path, PACKER, keys, "packer")
    assert not list(tmp_path.glob("*.pack.parquet"))
    cache = Cache(tmp_path)  # opening cleans the dead packer's temp file; every entry is still there
    assert not list(tmp_path.glob(".*.tmp"))
    got = cache.get_many(keys)
    assert all(df is not None and len(df) == 400_000 for df in got)
    assert cache.consolidate(keys) and len(list(tmp_path.iterdir())) == 1
    again = Cache(tmp_path).get_many(keys)
    for a, b in zip(got, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
