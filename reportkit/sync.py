"""Keeping a Parquet dataset of one report up to date: :func:`sync` (``client.sync``, ``reportkit sync``).

What one sync does, holding the dataset's lock (:class:`reportkit.dataset.Dataset`):

1. checks the request (report, parameters, dates, path) before any request is sent, then fetches the
   report type once (or waits for it, ``wait=True``, :func:`reportkit.availability.wait_for_data`)
   to learn ``data_available_end``;
2. splits ``[start, end)`` into intervals of ``freq`` (``end`` defaults to ``data_available_end``);
   an interval reaching past ``data_available_end`` is clamped to it and is **not final**, intervals
   starting after it are left for a later sync; one that ends at or before it is final (its numbers
   no longer change);
3. repairs what a killed sync left (temporary files; partition files the manifest does not list;
   manifest entries whose file is missing or has another size) and plans each interval: ``kept``
   (final and already there, or not final but availability has not moved since), ``refreshed`` (there,
   not final, and availability moved on) or ``created`` (missing);
4. runs the missing and refreshed intervals through ``client.reports`` (:func:`reportkit.fanout.run_batch`:
   the concurrent-run cap, the request-rate buckets, the result cache and ``executor=`` for downloads
   and parsing hold as for any batch), writes one partition per interval through the exact Parquet
   writer, and writes the manifest last (also every :data:`FLUSH_EVERY` partitions, so a long sync
   killed half-way keeps most of its work).

The answer is a tidy frame, one row per interval: ``report``, ``interval_start``, ``interval_end``,
``action``, ``rows``, ``run_id``, ``final``. A second sync of an up-to-date dataset creates no run.
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from reportkit import config
from reportkit._request import check_account
from reportkit.dataset import MANIFEST, Dataset, check_name, iso, partition_key
from reportkit.dtype import DecimalDtype
from reportkit.errors import (
    BatchError,
    ConfigurationError,
    DataNotAvailableError,
    ReportkitError,
    RunCancelledError,
)
from reportkit.fanout import DEFAULT_MAX_CONCURRENT
from reportkit.intervals import Interval, bound, intervals
from reportkit.progress import Observer, Progress, observer_for
from reportkit.runs import poll_pause

__all__ = ["ACTIONS", "FLUSH_EVERY", "RESULT_COLUMNS", "sync"]

#: What a sync did with an interval.
ACTIONS = ("created", "refreshed", "kept")
#: The columns of the frame :func:`sync` returns.
RESULT_COLUMNS = ["report", "interval_start", "interval_end", "action", "rows", "run_id", "final"]
FLUSH_EVERY = 100  # partitions written between two manifest writes
#: a batch is this many rounds of the run cap; the previous one is written meanwhile. Each batch ends
#: with a tail where fewer than cap runs are running (about one run's time): 10 rounds cost 1.16x the
#: ideal over 1,095 one-second runs (22 tails), 50 rounds fewer tails (benchmarks/bench_sync.py)
CHUNK_ROUNDS = 50
WRITERS = 4  # threads writing partitions
KEEP_SYNCS = 50  # sync records kept in the manifest
_SPAN = timedelta(days=800)  # far enough to find the natural end of any interval up to two years


@dataclass(frozen=True)
class _Target:
    iv: Interval  # what is fetched (clamped to data_available_end)
    final: bool
    key: str  # the manifest's key: the interval key, ``acct_.../<interval key>`` per account
    account: str | None = None


def sync(
    client: Any,
    path: Any,
    report: str,
    *,
    start: Any,
    freq: str = "month",
    end: Any = None,
    wait: bool = False,
    wait_timeout: float = 3600.0,
    timeout: float = 3600.0,
    max_concurrent: int | None = None,
    executor: Any = None,
    storage_options: dict[str, Any] | None = None,
    lock_timeout: float = 3600.0,
    stale_after: float = 600.0,
    cancel: threading.Event | None = None,
    observer: Observer | None = None,
    progress: bool | None = None,
    accounts: Any = None,
    **parameters: Any,
) -> pd.DataFrame:
    """Bring the dataset at ``path`` up to date for ``report`` from ``start`` (see the module docstring).

    ``client``: a :class:`reportkit.Client`. ``freq``: the partition size (``"day"``, ``"week"``,
    ``"month"``...). ``end``: default ``data_available_end``; with ``wait=True`` the sync first waits
    (up to ``wait_timeout`` s) until the data covers ``end``. ``timeout``, ``max_concurrent``,
    ``executor``, ``cancel`` and ``parameters`` (``api``, ``timezone``, ``columns``, the report's own
    parameters) are those of ``client.reports``. ``lock_timeout``: how long to wait for another sync of
    the same dataset; ``stale_after``: seconds without a heartbeat after which its lock is broken.
    ``accounts`` (Connect): connected account ids or ``"all"``: one partition per account and interval
    (``report=<r>/account=<id>/interval=<key>``), fetched in one batch within the cap as each account.
    Returns one row per interval (and account): [account,] report, interval_start, interval_end, action,
    rows, run_id, final."""
    if not isinstance(report, str) or not report:
        raise ConfigurationError(f"report must be a report type id or name, got {report!r}")
    check_name(report, "report")
    for name, value in (("timeout", timeout), ("wait_timeout", wait_timeout), ("lock_timeout", lock_timeout)):
        config.check_deadline(value, f"{name}=3600")
    config.check_deadline(stale_after, "stale_after=600")
    if wait and end is None:
        raise ConfigurationError("wait=True waits until the data covers end: pass end= as well")
    tz = parameters.get("timezone") or "Etc/UTC"
    api = parameters.get("api", "v1")
    lo = bound(start, "start", tz)
    hi = None if end is None else bound(end, "end", tz)
    if hi is not None and hi <= lo:
        raise ConfigurationError(f"start {start!r} must be before end {end!r}")
    intervals(lo, lo + timedelta(days=1), freq, tz)  # freq and tz checked before anything is sent
    client.prepare(report, lo, lo + timedelta(days=1), **parameters)  # the report and its parameters
    who = _accounts(accounts)
    ds = Dataset(path, storage_options=storage_options)
    obs = observer_for(client.progress if progress is None else progress, observer)

    if wait:
        t = client.wait_for_data(report, hi, timeout=wait_timeout, api=api, cancel=cancel, observer=obs,
                                 progress=False)  # fmt: skip
    else:
        t = client.report_type(report, api=api)
    data_end = t.data_available_end
    if who == ["all"]:
        who = [str(a) for a in client.accounts()["id"]]
        if not who:
            raise ConfigurationError("accounts='all': the key's account has no connected accounts")
    grid = _targets(report, lo, hi, freq, tz, data_end)
    targets = [tgt for a in who for tgt in _for_account(grid, a)]
    spec = {"api": api, "freq": freq, "parameters": _jsonable(parameters), "accounts": who != [None]}

    sync_id = f"sync_{uuid.uuid4().hex[:16]}"
    with _Lock(ds, sync_id, timeout=lock_timeout, stale_after=stale_after, cancel=cancel) as held:
        manifest = ds.read_manifest()
        section = manifest["reports"].setdefault(report, {"spec": spec, "partitions": {}})
        _check_spec(ds, report, section["spec"], spec)
        entries: dict[str, dict[str, Any]] = section["partitions"]
        _repair(ds, report, entries)
        plan = [(tgt, _action(tgt, entries.get(tgt.key), data_end)) for tgt in targets]
        _check_overlaps(report, targets, entries)
        fetch = [tgt for tgt, action in plan if action != "kept"]
        written: dict[str, dict[str, Any]] = {}
        failure: BaseException | None = None
        if fetch:
            meta = {"sync_id": sync_id, "data_available_end": iso(data_end), "report": report}
            writer = _Writer(ds, report, manifest, section, meta, obs, total=len(fetch))
            try:
                failure = _fetch_and_write(client, report, fetch, writer, parameters, obs=obs,
                                           timeout=timeout, max_concurrent=max_concurrent, executor=executor,
                                           cancel=cancel)  # fmt: skip
            except BaseException:
                ds.write_manifest(manifest)  # the partitions written before the error are kept
                raise
            written = writer.written
        record = {"sync_id": sync_id, "report": report, "at": iso(datetime.now(UTC)),
                  "data_available_end": iso(data_end), "created": 0, "refreshed": 0, "kept": 0}  # fmt: skip
        rows = []
        for tgt, action in plan:
            if action != "kept" and tgt.key not in written:
                continue  # failed in the batch: neither written nor recorded
            entry = entries[tgt.key]
            record[action] += 1
            rows.append((tgt.account, report, tgt.iv.start, tgt.iv.end, action, entry["rows"],
                         entry["run_id"], tgt.final))  # fmt: skip
        manifest["syncs"] = [*manifest.get("syncs", []), record][-KEEP_SYNCS:]
        manifest["data_available_end"] = iso(data_end)
        ds.write_manifest(manifest)
    if failure is not None:
        raise failure
    out = _result(rows, tz, sync_id=sync_id, path=ds.url, report=report, data_end=data_end,
                  accounts=who != [None])  # fmt: skip
    out.attrs["reportkit"]["lock_waited"] = round(held.waited, 3)
    return out


# -- planning -----------------------------------------------------------------------------------------
def _accounts(accounts: Any) -> list[str | None]:
    """``accounts=`` as a list (``[None]``: the key's own account; ``["all"]``: listed later)."""
    if accounts is None:
        return [None]
    if isinstance(accounts, str):
        if accounts != "all":
            raise ConfigurationError(
                f"accounts= is a list of connected account ids or 'all', got {accounts!r}"
            )
        return ["all"]
    ids = list(accounts)
    for acct in ids:
        check_account(acct)
        check_name(acct, "account")
    if not ids or len(set(ids)) != len(ids):
        raise ConfigurationError(f"accounts= must name each connected account once, got {ids!r}")
    return ids


def _for_account(grid: list[_Target], account: str | None) -> list[_Target]:
    if account is None:
        return grid
    return [_Target(t.iv, t.final, f"{account}/{t.key}", account) for t in grid]


def _targets(
    report: str, lo: datetime, hi: datetime | None, freq: str, tz: str, data_end: datetime | None
) -> list[_Target]:
    """The intervals of this sync, clamped to the data window, each final or not."""
    if data_end is None and hi is None:
        raise ConfigurationError(f"{report} declares no data_available_end: pass end=")
    stop = hi if hi is not None else data_end
    assert stop is not None
    if data_end is not None and lo >= data_end:
        raise DataNotAvailableError(
            f"{report}: data is available through {data_end.isoformat()}, so nothing from start "
            f"{lo.isoformat()} can be synced yet (wait=True with end= waits for it)",
            report_type=report,
            data_available_end=data_end,
        )
    grid = intervals(lo, stop, freq, tz)
    out = []
    for i, iv in enumerate(grid):
        if data_end is not None and iv.start >= data_end:
            break
        natural = iv.end
        if hi is None and i == len(grid) - 1:  # the last interval ends at data_available_end
            natural = intervals(iv.start, iv.start + _SPAN, freq, tz)[0].end
        if data_end is not None and iv.end > data_end:
            iv = Interval(iv.start, data_end.astimezone(iv.start.tzinfo))
        final = data_end is None or (natural <= data_end and iv.end == natural)
        out.append(_Target(iv, final, partition_key(iv)))
    return out


def _action(tgt: _Target, entry: dict[str, Any] | None, data_end: datetime | None) -> str:
    if entry is None:
        return "created"
    same_bounds = entry["interval_end"] == tgt.iv.end.isoformat()
    if same_bounds and entry["final"]:
        return "kept"
    if same_bounds and not tgt.final and entry.get("data_available_end") == iso(data_end):
        return "kept"  # not final, but the data has not moved since it was fetched
    return "refreshed"


def _check_spec(ds: Dataset, report: str, have: dict[str, Any], want: dict[str, Any]) -> None:
    for field in ("api", "parameters", "accounts"):
        if have.get(field, False if field == "accounts" else None) != want[field]:
            raise ConfigurationError(
                f"{ds.url} holds {report} synced with {field}={have.get(field)!r}; this sync asks for "
                f"{want[field]!r}. One dataset holds one form of a report: sync into another path"
            )


def _check_overlaps(report: str, targets: list[_Target], entries: dict[str, dict[str, Any]]) -> None:
    """An interval may replace the partition with its own start, never overlap another one."""
    by_account: dict[Any, list[tuple[datetime, datetime, str]]] = {}
    for key, e in entries.items():
        span = (datetime.fromisoformat(e["interval_start"]), datetime.fromisoformat(e["interval_end"]), key)
        by_account.setdefault(e.get("account"), []).append(span)
    starts = {a: sorted(v) for a, v in by_account.items()}
    for tgt in targets:
        spans = starts.get(tgt.account, [])
        i = max(0, bisect.bisect_left(spans, (tgt.iv.start,)) - 1)
        while i < len(spans) and spans[i][0] < tgt.iv.end:
            s, e, key = spans[i]
            if key != tgt.key and tgt.iv.start < e:
                raise ConfigurationError(
                    f"{report}: interval {tgt.iv.label} overlaps the partition interval={key} "
                    f"({s.isoformat()} to {e.isoformat()}); sync with the same start and freq as before, "
                    "or into another path"
                )
            i += 1


def _repair(ds: Dataset, report: str, entries: dict[str, dict[str, Any]]) -> None:
    """Undo what a killed sync left: temporary files, partition files the manifest does not list,
    entries whose file is gone or has another size."""
    files = ds.files()
    ds.clean(files)
    listed = {e["path"] for e in entries.values()}
    prefix = f"report={report}/"
    for rel in files:
        if rel.startswith(prefix) and not rel.endswith(".tmp") and rel not in listed:
            ds.remove(rel)  # written, but its sync died before the manifest named it
    for key, e in list(entries.items()):
        if e["path"] is not None and files.get(e["path"]) != e["size"]:
            del entries[key]


# -- writing ------------------------------------------------------------------------------------------
def _fetch_and_write(client: Any, report: str, fetch: list[_Target], writer: _Writer,
                     parameters: dict[str, Any], *, obs: Observer,
                     **batch: Any) -> BaseException | None:  # fmt: skip
    """Fetch ``fetch`` through ``client.reports`` in chunks of :data:`CHUNK_ROUNDS` rounds of the run
    cap, writing each chunk's partitions (one writer thread) while the next chunk runs. A chunk whose
    intervals partly failed (:class:`BatchError`) still writes the others; the first such error is
    returned, after everything else was fetched and written."""
    cap = batch["max_concurrent"] or DEFAULT_MAX_CONCURRENT
    progress = _Chunks(obs, len(fetch))
    failure: BaseException | None = None
    groups: dict[tuple[Interval, ...], list[str | None]] = {}  # accounts that need the same intervals
    per: dict[str | None, list[_Target]] = {}
    for tgt in fetch:
        per.setdefault(tgt.account, []).append(tgt)
    for acct, tgts in per.items():
        groups.setdefault(tuple(t.iv for t in tgts), []).append(acct)
    batches = []  # (accounts, intervals, targets): chunks of CHUNK_ROUNDS rounds of the cap
    for ivs, who in groups.items():
        size = max(1, cap * CHUNK_ROUNDS // len(who))
        for i in range(0, len(ivs), size):
            some = list(ivs[i:i + size])
            chosen = set(some)
            batches.append((who, some, [tgt for a in who for tgt in per[a] if tgt.iv in chosen]))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rk-sync-chunks") as chunks:
        pending = []
        for who, some, part in batches:
            extra = {} if who == [None] else {"accounts": who}
            try:
                frame = client.reports(report, some, observer=progress, progress=False, **extra, **batch,
                                       **parameters)  # fmt: skip
                done = part
            except BatchError as exc:
                frame, failure = exc.frames, failure or exc
                done = [tgt for tgt in part if (tgt.iv if tgt.account is None else (tgt.account, tgt.iv))
                        not in exc.errors]  # fmt: skip
            except BaseException:
                for fut in pending:  # what was fetched is written before the error goes up
                    fut.result()
                raise
            pending.append(chunks.submit(writer.write, frame, done))
        for fut in pending:
            fut.result()
    return failure


class _Chunks(Observer):
    """The batches of one sync as one progress: counters added up over the chunks, one start and
    one done."""

    def __init__(self, inner: Observer, total: int) -> None:
        self.inner, self.total = inner, total
        self.base = {"done": 0, "failed": 0, "cached": 0, "throttled": 0}
        self.started = False

    def _whole(self, state: Progress) -> Progress:
        return state.with_(total=self.total, **{k: v + getattr(state, k) for k, v in self.base.items()})

    def start(self, state: Progress) -> None:
        if not self.started:
            self.started = True
            self.inner.start(self._whole(state))
        else:
            self.inner.step(self._whole(state))

    def step(self, state: Progress) -> None:
        self.inner.step(self._whole(state))

    def done(self, state: Progress) -> None:
        whole = self._whole(state)
        self.base = {k: getattr(whole, k) for k in self.base}
        (self.inner.done if whole.done >= self.total else self.inner.step)(whole)

    def failed(self, state: Progress, error: BaseException) -> None:
        self.inner.failed(self._whole(state), error)


class _Writer:
    """Writes the partitions of one sync's batches (see :meth:`write`), the manifest every
    :data:`FLUSH_EVERY` partitions; ``written`` holds the entries written so far."""

    def __init__(self, ds: Dataset, report: str, manifest: dict[str, Any], section: dict[str, Any],
                 meta: dict[str, Any], obs: Observer, total: int) -> None:  # fmt: skip
        self.ds, self.report, self.manifest, self.section, self.meta, self.obs = (
            ds, report, manifest, section, meta, obs)  # fmt: skip
        self.entries: dict[str, dict[str, Any]] = section["partitions"]
        self.written: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.total = total

    def write(self, frame: pd.DataFrame, done: list[_Target]) -> None:
        """Split one batch's long frame into a partition per interval and write them (a few threads)."""
        if not done:
            return
        parts = list((frame.attrs.get("reportkit") or {}).get("parts") or [])
        if len(parts) != len(done):
            raise ReportkitError(f"the batch returned {len(parts)} results for {len(done)} intervals")
        scales = _scales(self.ds, self.section, frame, keep={tgt.key for tgt in done})
        frame = _at_scales(frame, scales)  # once for the batch, not once per partition
        by = ["account", "interval_start"] if "account" in frame.columns else "interval_start"
        rows_of = frame.groupby(by, sort=False).indices if len(frame) else {}
        empty = frame.iloc[0:0]
        with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="rk-sync-write") as pool:
            futures = [pool.submit(self._one, frame, rows_of, empty, tgt, prov, scales)
                       for tgt, prov in zip(done, parts, strict=True)]  # fmt: skip
            for fut in futures:
                fut.result()

    def _one(self, frame: pd.DataFrame, rows_of: Any, empty: pd.DataFrame, tgt: _Target, prov: dict[str, Any],
             scales: dict[str, int]) -> None:  # fmt: skip
        at = pd.Timestamp(tgt.iv.start)
        idx = rows_of.get(at if tgt.account is None else (tgt.account, at))
        if idx is None:
            part = empty
        elif idx[-1] - idx[0] == len(idx) - 1:  # an interval's rows are contiguous in the batch's frame
            part = frame.iloc[idx[0]:idx[-1] + 1]
        else:
            part = frame.take(idx)
        part = part.reset_index(drop=True)
        if tgt.account is not None:  # the hive key account= says whose rows they are
            part = part.drop(columns=["account"])
        part.attrs = {"reportkit": prov}
        meta = self.meta
        extra = {**meta, "interval_start": tgt.iv.start.isoformat(), "interval_end": tgt.iv.end.isoformat(),
                 "final": tgt.final, "account": tgt.account}  # fmt: skip
        rel: str | None = None
        size, sha = 0, None
        if len(part):  # an empty interval is a manifest entry without a file (no rows to read)
            rel = self.ds.partition(self.report, tgt.key.rsplit("/", 1)[-1], tgt.account)
            size, sha = self.ds.write_partition(part, rel, {"dataset": extra})
        entry = {"path": rel, "account": tgt.account,
                 **{k: extra[k] for k in ("interval_start", "interval_end", "final")},
                 "rows": len(part), "run_id": prov.get("run_id"), "size": size,
                 "sha256": sha, "data_available_end": meta["data_available_end"], "sync_id": meta["sync_id"],
                 "synced_at": iso(datetime.now(UTC))}  # fmt: skip
        with self.lock:
            self.entries[tgt.key] = entry
            self.written[tgt.key] = entry
            n = len(self.written)
            if n % FLUSH_EVERY == 0:
                self.ds.write_manifest(self.manifest)
        self.obs.step(Progress(label=f"{self.report}: writing partitions", total=self.total, done=n,
                               phase="writing"))  # fmt: skip


def _scales(ds: Dataset, section: dict[str, Any], frame: pd.DataFrame, keep: set[str]) -> dict[str, int]:
    """The decimal scale of each money column across the report's partitions: the largest seen. When
    this batch needs more than the files already written have, those are rewritten at the new scale
    (exactly; their rows do not change), so every file agrees and no reader has to merge schemas."""
    have: dict[str, int] = dict(section.get("scales") or {})
    want = dict(have)
    for name, col in frame.items():
        if isinstance(col.dtype, DecimalDtype):
            want[str(name)] = max(want.get(str(name), 0), col.array.__arrow_array__().type.scale)
    if want != have:
        for key, e in section["partitions"].items():
            if key not in keep and e["path"] is not None:
                part, meta = ds.read_partition(e["path"])
                e["size"], e["sha256"] = ds.write_partition(_at_scales(part, want), e["path"], meta)
        section["scales"] = want
    return want


def _at_scales(part: pd.DataFrame, scales: dict[str, int]) -> pd.DataFrame:
    """``part`` with each decimal column at least at its dataset scale (adding an exact zero of that
    scale: ``1500`` becomes ``1500.00``, equal as a number; the cache reader restores a row's currency
    decimals), so every file of a report has the same ``decimal128(38, s)`` columns."""
    out = part.copy(deep=False)
    for name, scale in scales.items():
        if name in out.columns and isinstance(out[name].dtype, DecimalDtype) and scale > 0:
            out[name] = out[name] + Decimal(f"0E-{scale}")
    out.attrs = part.attrs
    return out


def _result(rows: list[tuple], tz: str, *, sync_id: str, path: str, report: str,
            data_end: datetime | None, accounts: bool) -> pd.DataFrame:  # fmt: skip
    df = pd.DataFrame([r[1:] for r in rows], columns=RESULT_COLUMNS)
    dtype = pd.DatetimeTZDtype(unit="ns", tz=rows[0][2].tzinfo if rows else UTC)
    for col in ("interval_start", "interval_end"):
        df[col] = pd.Series(pd.DatetimeIndex([r[1 + RESULT_COLUMNS.index(col)] for r in rows]), dtype=dtype)
    df = df.astype({"report": "string", "action": "string", "rows": "Int64", "run_id": "string",
                    "final": "boolean"})  # fmt: skip
    if accounts:
        df.insert(0, "account", pd.array([r[0] for r in rows], dtype="string"))
    df.attrs["reportkit"] = {"sync_id": sync_id, "path": path, "report": report, "manifest": MANIFEST,
                             "data_available_end": iso(data_end),
                             "counts": {a: int((df["action"] == a).sum()) for a in ACTIONS}}  # fmt: skip
    return df


def _jsonable(parameters: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in sorted(parameters.items())}


# -- the lock -----------------------------------------------------------------------------------------
class _Lock:
    """Hold the dataset's lock: wait (the one polling cadence, :func:`reportkit.runs.poll_pause`) while
    another live sync holds it, break a stale one, refresh the heartbeat while held."""

    def __init__(self, ds: Dataset, sync_id: str, *, timeout: float, stale_after: float,
                 cancel: threading.Event | None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.ds, self.sync_id, self.timeout, self.stale_after = ds, sync_id, timeout, stale_after
        self.cancel, self.clock = cancel, clock
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.waited = 0.0  # seconds spent waiting for another sync's lock

    def __enter__(self) -> _Lock:
        begin = self.clock()
        while not self.ds.try_lock(self.sync_id):
            if self.ds.break_stale_lock(self.stale_after):
                continue
            waited = self.clock() - begin
            if waited >= self.timeout:
                held = self.ds.lock_holder() or {}
                raise ConfigurationError(
                    f"{self.ds.url} is being synced by {held.get('sync_id', 'another sync')} (pid "
                    f"{held.get('pid', '?')} on {held.get('host', '?')}); waited {waited:.0f} s "
                    "(lock_timeout=). Try again when it has finished."
                )
            pause = min(poll_pause(waited), self.timeout - waited)
            if self.cancel is not None and self.cancel.wait(pause):
                raise RunCancelledError(f"cancelled while waiting for the lock of {self.ds.url}")
            if self.cancel is None:
                time.sleep(pause)
        self.waited = self.clock() - begin
        self._beat = threading.Thread(target=self._beating, name="rk-sync-lock", daemon=True)
        self._beat.start()
        return self

    def _beating(self) -> None:
        every = max(0.5, self.stale_after / 4)
        while not self._stop.wait(every):
            try:
                self.ds.beat(self.sync_id)
            except OSError:  # a heartbeat missed is not the sync's failure; the next one may pass
                pass

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        self.ds.unlock(self.sync_id)
