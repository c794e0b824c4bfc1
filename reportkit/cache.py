"""Report results cached as Parquet with their provenance, written atomically: :class:`Cache`.

Owns the on-disk format of results (also used by ``reportkit report -o out.parquet`` through
:func:`write_parquet`) and the cache directory. One entry = one report result, stored in one of two
kinds of file, both with the provenance in the Parquet schema metadata (``b"reportkit"``: the key
fields, ``df.attrs``, rows, created time):

- an entry file ``<root>/<report>.<digest>.parquet`` (what :meth:`Cache.put` writes);
- a pack ``<root>/<report>.<digest>.pack.parquet``: many entries of one schema, one Parquet row group
  each, their metadata listed in order (what :meth:`Cache.consolidate` writes once a batch is
  done, removing the entry files it took in). A cached re-run of many intervals
  (:meth:`Cache.get_many`) then opens one file and converts it to pandas once, instead of paying a
  file open, a footer and a pandas conversion per interval; one entry of a pack is one row group.

Entries are found by the one key (:meth:`reportkit._request.RunRequest.cache_key`, hashed by
:func:`_key_of`) wherever they live: an entry file first (the newest write), else a pack (the index of
packs is read from their footers and kept per :class:`Cache` while the files stay the same). Never a
secret key: the account is a salted one-way fingerprint, and the metadata text goes through
:func:`reportkit.errors.redact`.

Exact round trip: money columns (the ``decimal`` dtype, or ``object`` columns of
:class:`~decimal.Decimal`) are written as ``decimal128(38, s)`` with ``s`` the column's scale and
read back as the ``decimal`` dtype; tz-aware timestamps,
``Int64``, ``boolean`` and ``string`` columns keep their dtypes (pandas' own Parquet metadata). A pack
only holds entries whose Arrow schemas are identical (scales included), so packing changes nothing.

Atomic: a file is written under a temporary name in the same directory, fsynced, then
``os.replace``-d over the final name (and the directory fsynced), so a reader sees a whole file or
none, even if the writer is killed. A pack is durable before the files it replaces are removed (a
crash in between leaves an entry twice, never none). Temporary files of dead writers are removed when
a :class:`Cache` is opened, listed or cleared, and are never read.

Only **final** results are stored: ``put(..., final=False)`` (an interval not wholly inside the
report type's data availability, whose numbers may still change) stores nothing.

How the client uses it: ``key = request.cache_key(account, api_base)`` (the one key scheme,
:meth:`reportkit._request.RunRequest.cache_key`: JSON-able, no secret), then ``cache.get(key)``
(a DataFrame with ``attrs["reportkit"]["cache_hit"] = True``, or None) and, after a download,
``cache.put(key, df, final=True)``; a batch uses ``get_many(keys)`` and, when done,
``consolidate(keys)``. ``cache.list()``, ``cache.clear(report)`` manage the directory.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reportkit import _provenance, config
from reportkit._schema import (
    CURRENCY_COLUMNS,
    STRING_DTYPE,
    column_kinds,
    currency_column_for,
    decimal_array,
    row_exponents,
    to_decimal_array,
)
from reportkit.dtype import DecimalArray, DecimalDtype
from reportkit.errors import ConfigurationError, ResultParseError, redact

__all__ = ["Cache", "Found", "pid_alive", "read_parquet", "write_parquet"]

logger = logging.getLogger("reportkit")

FORMAT = 1  # bump when the file layout changes: old entries are then misses
_META = b"reportkit"
_SUFFIX = ".parquet"
_PACK = ".pack"  # a pack's name ends with .pack.parquet
_THREADED_READ = 8 << 20  # bytes: bigger files are read on all cores
_GROUP_ROWS = 1 << 17  # rows per row group of a pack (an entry is read with the groups holding it)
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+\.[0-9a-f]{32}$")
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_STALE_SECONDS = 24 * 3600  # a temp file this old is removed even if its pid looks alive (reused)
_UNREADABLE = (OSError, pa.ArrowException, ValueError, KeyError, TypeError)


class _Pack:
    """What the footer of one pack says: its entries (metadata in row order, each with the ``offset``
    of its first row) and where its row groups start."""

    __slots__ = ("entries", "metadata", "object_decimals", "path", "stamp", "starts")

    def __init__(self, path: Path, stamp: tuple[int, int]) -> None:
        self.path = path
        self.stamp = stamp
        self.metadata = pq.read_metadata(path)
        meta = json.loads((self.metadata.metadata or {}).get(_META, b"{}"))
        if meta.get("format") != FORMAT or not meta.get("pack"):
            raise ValueError(f"{path.name} is not a pack of format {FORMAT}")
        self.entries: list[dict[str, Any]] = list(meta["entries"])
        self.object_decimals: list[str] = list(meta.get("object_decimals") or [])
        self.starts = [0]
        for g in range(self.metadata.num_row_groups):
            self.starts.append(self.starts[-1] + self.metadata.row_group(g).num_rows)
        total = 0
        for e in self.entries:  # consecutive: each entry starts where the one before it ends
            if int(e["offset"]) != total:
                raise ValueError(f"{path.name}: entry {e.get('key')} starts at {e['offset']}, not {total}")
            total += int(e["rows"])
        if total != self.metadata.num_rows:
            raise ValueError(f"{path.name}: {self.metadata.num_rows} rows, its entries say {total}")

    def groups(self, positions: Sequence[int]) -> list[int]:
        """The row groups that hold the entries at ``positions``."""
        out: set[int] = set()
        for pos in positions:
            lo = int(self.entries[pos]["offset"])
            hi = lo + int(self.entries[pos]["rows"])
            starts, ends = self.starts[:-1], self.starts[1:]
            out.update(g for g, (a, b) in enumerate(zip(starts, ends, strict=True)) if a < hi and lo < b)
        if not out and self.metadata.num_row_groups:  # empty entries only: read one group, take no row
            out.add(0)
        return sorted(out)

    def bytes_of(self, pos: int) -> int:
        """An entry's share of the pack's compressed bytes (by rows; the footer's share if empty)."""
        rows = int(self.entries[pos]["rows"])
        size = sum(
            self.metadata.row_group(g).column(c).total_compressed_size
            for g in range(self.metadata.num_row_groups)
            for c in range(self.metadata.num_columns)
        )
        return round(size * rows / self.metadata.num_rows) if self.metadata.num_rows else 0


class _Hit:
    """One entry found: rows ``start:stop`` of a frame read from its file, its metadata and attrs."""

    __slots__ = ("attrs", "base", "meta", "pack", "start", "stop")

    def __init__(self, base: pd.DataFrame, start: int, stop: int, meta: dict[str, Any],
                 attrs: dict[str, Any], pack: str | None) -> None:  # fmt: skip
        self.base, self.start, self.stop = base, start, stop
        self.meta, self.attrs, self.pack = meta, attrs, pack

    def frame(self) -> pd.DataFrame:
        """The entry's own frame (index 0..n-1) with its stored attrs."""
        if self.start == 0 and self.stop == len(self.base):
            df = self.base.copy(deep=False)
        else:
            df = self.base.iloc[self.start : self.stop]
            df.index = pd.RangeIndex(self.stop - self.start)
        df.attrs = dict(self.attrs)
        return df


class Found:
    """What the cache holds of many keys (:meth:`Cache.read_many`), in the keys' order."""

    def __init__(self, hits: list[_Hit | None]) -> None:
        self._hits = hits

    @property
    def complete(self) -> bool:
        """Every key is cached."""
        return all(h is not None for h in self._hits)

    @property
    def packed(self) -> bool:
        """Every key is cached in one and the same pack (so packing them again would change nothing)."""
        packs = {h.pack if h is not None else None for h in self._hits}
        return len(packs) == 1 and None not in packs

    def frames(self) -> list[pd.DataFrame | None]:
        """Each key's frame (``attrs["reportkit"]["cache_hit"] = True``), or None."""
        return [None if h is None else _provenance.mark_cache_hit(h.frame()) for h in self._hits]

    def combined(self) -> tuple[pd.DataFrame, list[int], list[dict[str, Any]]]:
        """(all rows in key order as one frame, rows per key, each key's provenance marked as a cache
        hit), with no per-key frame in between when they are consecutive rows of one read (a pack)."""
        hits = [h for h in self._hits if h is not None]
        if len(hits) != len(self._hits):
            raise ValueError("not every key is cached")
        provs = [{**(h.attrs.get(_provenance.KEY) or {}), "cache_hit": True} for h in hits]
        counts = [h.stop - h.start for h in hits]
        base = hits[0].base if hits else None
        consecutive = base is not None and all(
            h.base is base and h.start == (hits[i - 1].stop if i else 0) for i, h in enumerate(hits)
        )
        if consecutive and hits[-1].stop == len(base):
            out = base.copy(deep=False)
            out.attrs = {}
        else:
            out = pd.concat([h.frame() for h in hits], ignore_index=True) if hits else pd.DataFrame()
            out.attrs = {}
        return out, counts, provs


class Cache:
    """A directory of cached report results (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        if root is None:
            root = config.cache_dir(True)
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigurationError(
                f"cannot create the cache directory {str(self.root)!r} ({e.strerror}); pass another "
                "path as cache=... or set REPORTKIT_CACHE_DIR"
            ) from None
        self._packs: dict[str, _Pack] = {}  # by file name, while its (mtime, size) stays the same
        self._lock = threading.Lock()
        self._clean_temps()

    # -- entries --------------------------------------------------------------------------------
    def path(self, key: str | Mapping[str, Any]) -> Path:
        """The entry file :meth:`put` writes for ``key`` (whether or not it exists)."""
        return self.root / f"{_as_key(key)}{_SUFFIX}"

    def get(self, key: str | Mapping[str, Any]) -> pd.DataFrame | None:
        """The cached DataFrame (``attrs["reportkit"]["cache_hit"] = True``), or None on a miss."""
        return self.get_many([key])[0]

    def get_many(self, keys: Sequence[str | Mapping[str, Any]]) -> list[pd.DataFrame | None]:
        """The cached DataFrames of ``keys`` (None for each miss), in order (see :meth:`read_many`)."""
        return self.read_many(keys).frames()

    def read_many(self, keys: Sequence[str | Mapping[str, Any]]) -> Found:
        """What is cached of ``keys``: entry files one by one, the entries of a pack with one read of
        the row groups that hold them and one pandas conversion."""
        return Found(self._read([_as_key(k) for k in keys]))

    def _read(self, names: Sequence[str], *, again: bool = True) -> list[_Hit | None]:
        out: list[_Hit | None] = [None] * len(names)
        files, packs = self._scan()
        gone: list[int] = []  # in a pack another process replaced meanwhile: looked for once more
        rest: list[int] = []
        for i, name in enumerate(names):
            if f"{name}{_SUFFIX}" not in files:
                rest.append(i)
                continue
            path = self.root / f"{name}{_SUFFIX}"
            try:
                df, meta = read_parquet(path)
            except FileNotFoundError:
                rest.append(i)
                continue
            except _UNREADABLE:  # unreadable: treat as a miss and drop it
                path.unlink(missing_ok=True)
                rest.append(i)
                continue
            if _valid(meta, name):
                out[i] = _Hit(df, 0, len(df), meta, df.attrs, None)
            else:
                rest.append(i)
        if not rest:
            return out
        where = self._locate(packs, [names[i] for i in rest])
        by_pack: dict[str, list[tuple[int, int]]] = {}
        for i in rest:
            if names[i] in where:
                pack, pos = where[names[i]]
                by_pack.setdefault(pack.path.name, []).append((i, pos))
        for file_name, wanted in by_pack.items():
            pack = packs[file_name]
            try:
                found = _read_pack(pack, sorted({pos for _, pos in wanted}))
            except FileNotFoundError:  # replaced by a newer pack meanwhile
                gone.extend(i for i, _ in wanted)
                continue
            except _UNREADABLE as exc:
                logger.debug("cache pack %s unreadable (%s): removed", file_name, exc)
                pack.path.unlink(missing_ok=True)
                self._forget(file_name)
                continue
            for i, pos in wanted:
                if _valid(found[pos].meta, names[i]):
                    out[i] = found[pos]
        if gone and again:
            for i, hit in zip(gone, self._read([names[i] for i in gone], again=False), strict=True):
                out[i] = hit
        return out

    def put(self, key: str | Mapping[str, Any], df: pd.DataFrame, *, final: bool) -> Path | None:
        """Store ``df`` under ``key`` if ``final``; returns the file, or None when nothing was stored."""
        if not final:
            return None
        name = _as_key(key)
        path = self.root / f"{name}{_SUFFIX}"
        write_parquet(df, path, metadata=_entry_meta(key, name, df))
        return path

    def consolidate(self, keys: Sequence[str | Mapping[str, Any]]) -> list[Path]:
        """Pack the cached entries among ``keys`` (those of one schema together) into one file each,
        then remove the entry files and the older packs that the new packs hold entirely. Nothing is
        written when they already live in one pack, or when fewer than two share a schema. Returns
        the packs written."""
        names = list(dict.fromkeys(_as_key(k) for k in keys))
        hits = self._read(names)
        homes = {h.pack for h in hits if h is not None}
        if len(homes) < 2 and None not in homes:
            return []  # nothing cached, or what is cached lives in one pack already
        files, packs = self._scan()
        groups: dict[tuple, list[tuple[int, str, pa.Table, dict[str, Any], list[str]]]] = {}
        empties: list[tuple[tuple, tuple, tuple[int, str, pa.Table, dict[str, Any], list[str]]]] = []
        for order, (name, hit) in enumerate(zip(names, hits, strict=True)):
            if hit is None:
                continue
            df = hit.frame()
            if not _packable(df):
                continue
            table, as_objects = _arrow(df)
            entry = {**{k: v for k, v in hit.meta.items() if k != "offset"}, "attrs": df.attrs}
            pandas_meta = _range_pandas_meta((table.schema.metadata or {}).get(b"pandas"))
            sig = (_signature(table.schema, exact=True), pandas_meta, tuple(as_objects))
            member = (order, name, table, entry, as_objects)
            if table.num_rows:
                groups.setdefault(sig, []).append(member)
            else:  # no row: its decimal scales say nothing, so it joins rows of any scale
                empties.append((sig, (_signature(table.schema, exact=False), *sig[1:]), member))
        loose = {(_signature(ms[0][2].schema, exact=False), *sig[1:]): sig for sig, ms in groups.items()}
        for sig, like, (order, name, table, entry, as_objects) in empties:
            home = loose.get(like, sig)
            schema = groups[home][0][2].schema if home in groups else table.schema
            groups.setdefault(home, []).append((order, name, schema.empty_table(), entry, as_objects))
        written: list[Path] = []
        packed: set[str] = set()
        for members in groups.values():
            if len(members) < 2:
                continue
            members = [m[1:] for m in sorted(members, key=lambda m: m[0])]  # in the keys' order
            written.append(self._write_pack(members))
            packed.update(name for name, *_ in members)
        if not written:
            return []
        for name in packed:  # the entry files now held by a durable pack
            if f"{name}{_SUFFIX}" in files:
                (self.root / f"{name}{_SUFFIX}").unlink(missing_ok=True)
        new = {p.name for p in written}
        for file_name, pack in packs.items():  # older packs wholly held by the new ones
            if file_name not in new and all(e.get("key") in packed for e in pack.entries):
                pack.path.unlink(missing_ok=True)
                self._forget(file_name)
        return written

    def _write_pack(self, members: list[tuple[str, pa.Table, dict[str, Any], list[str]]]) -> Path:
        names = [name for name, *_ in members]
        report = str(members[0][2].get("report") or names[0].rsplit(".", 1)[0])
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]
        path = self.root / f"{_safe(report)}.{digest}{_PACK}{_SUFFIX}"
        entries, offset = [], 0
        for _, table, entry, _ in members:
            entries.append({**entry, "offset": offset})
            offset += table.num_rows
        meta: dict[str, Any] = {"format": FORMAT, "pack": True, "report": report, "entries": entries}
        if members[0][3]:
            meta["object_decimals"] = members[0][3]
        first = members[0][1]
        pandas_meta = _range_pandas_meta((first.schema.metadata or {}).get(b"pandas"))
        text = redact(json.dumps(meta, default=str))
        table = pa.concat_tables([t.replace_schema_metadata(None) for _, t, _, _ in members])
        table = table.replace_schema_metadata({**({b"pandas": pandas_meta} if pandas_meta else {}),
                                               _META: text.encode()})  # fmt: skip
        _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd", row_group_size=_GROUP_ROWS))
        return path

    def _forget(self, file_name: str) -> None:
        with self._lock:
            self._packs.pop(file_name, None)

    def __contains__(self, key: str | Mapping[str, Any]) -> bool:
        name = _as_key(key)
        files, packs = self._scan()
        return f"{name}{_SUFFIX}" in files or name in self._locate(packs, [name])

    def list(self) -> pd.DataFrame:
        """One row per entry: key, report, interval, rows, bytes, created (newest last)."""
        self._clean_temps()
        files, packs = self._scan()
        rows = []
        seen: set[str] = set()
        for file_name in sorted(files):
            path = self.root / file_name
            try:
                meta = _file_meta(path)
                size = path.stat().st_size
            except _UNREADABLE:
                continue
            rows.append(_row(meta, file_name[: -len(_SUFFIX)], size))
            seen.add(rows[-1]["key"])
        for pack in packs.values():
            for i, entry in enumerate(pack.entries):
                if entry.get("key") in seen:
                    continue
                seen.add(entry.get("key"))
                rows.append(_row(entry, entry.get("key"), pack.bytes_of(i)))
        out = pd.DataFrame(rows, columns=["key", "report", "interval", "rows", "bytes", "created"])
        out["created"] = pd.to_datetime(out["created"], utc=True)
        out = out.astype({"key": STRING_DTYPE, "report": STRING_DTYPE,
                          "interval": STRING_DTYPE, "rows": "Int64", "bytes": "Int64"})
        return out.sort_values(["created", "key"], ignore_index=True)

    def clear(self, report: str | None = None) -> int:
        """Delete every entry (or those of ``report``); returns how many entries were removed."""
        self._clean_temps()
        files, packs = self._scan()
        removed: set[str] = set()
        for file_name in files:
            entry = file_name[: -len(_SUFFIX)]
            if _KEY_RE.match(entry) and (report is None or entry.rsplit(".", 1)[0] == _safe(report)):
                (self.root / file_name).unlink(missing_ok=True)
                removed.add(entry)
        for file_name, pack in packs.items():
            if report is None or file_name.rsplit(".", 3)[0] == _safe(report):
                pack.path.unlink(missing_ok=True)
                self._packs.pop(file_name, None)
                removed.update(str(e.get("key")) for e in pack.entries)
        return len(removed)

    def __len__(self) -> int:
        files, packs = self._scan()
        keys = {f[: -len(_SUFFIX)] for f in files}
        keys.update(str(e.get("key")) for p in packs.values() for e in p.entries)
        return len(keys)

    def __repr__(self) -> str:
        return f"<reportkit.Cache {str(self.root)!r} entries={len(self)}>"

    # -- the directory ------------------------------------------------------------------------------
    def _scan(self) -> tuple[set[str], dict[str, _Pack]]:
        """(entry file names, packs by file name) as the directory holds them now (packs whose footer
        cannot be read are removed)."""
        files: set[str] = set()
        stamps: dict[str, tuple[int, int]] = {}
        with os.scandir(self.root) as it:
            for d in it:
                name = d.name
                if not name.endswith(_SUFFIX) or name.startswith("."):
                    continue
                if name.endswith(_PACK + _SUFFIX):
                    try:
                        st = d.stat()
                    except FileNotFoundError:
                        continue
                    stamps[name] = (st.st_mtime_ns, st.st_size)
                else:
                    files.add(name)
        with self._lock:
            for name in list(self._packs):
                if name not in stamps:
                    del self._packs[name]
            for name, stamp in stamps.items():
                known = self._packs.get(name)
                if known is not None and known.stamp == stamp:
                    continue
                try:
                    self._packs[name] = _Pack(self.root / name, stamp)
                except FileNotFoundError:
                    self._packs.pop(name, None)
                except _UNREADABLE as exc:
                    logger.debug("cache pack %s unreadable (%s): removed", name, exc)
                    (self.root / name).unlink(missing_ok=True)
                    self._packs.pop(name, None)
            return files, dict(self._packs)

    @staticmethod
    def _locate(packs: Mapping[str, _Pack], names: Sequence[str]) -> dict[str, tuple[_Pack, int]]:
        """Where in the packs each name lives (the newest pack when several hold it)."""
        want = set(names)
        where: dict[str, tuple[_Pack, int]] = {}
        for pack in sorted(packs.values(), key=lambda p: p.stamp):
            for i, entry in enumerate(pack.entries):
                if entry.get("key") in want:
                    where[entry["key"]] = (pack, i)
        return where

    def _clean_temps(self) -> None:
        """Remove temp files whose writer is gone (its pid is dead) or that are over a day old."""
        now = time.time()
        for path in self.root.glob(".*.tmp"):
            m = _TMP_RE.match(path.name)
            if not m:
                continue
            try:
                stale = now - path.stat().st_mtime > _STALE_SECONDS
            except FileNotFoundError:
                continue
            if stale or not pid_alive(int(m.group("pid"))):
                path.unlink(missing_ok=True)


def _valid(meta: Mapping[str, Any], name: str) -> bool:
    return meta.get("key") == name and bool(meta.get("final")) and meta.get("format") == FORMAT


def _entry_meta(key: str | Mapping[str, Any], name: str, df: pd.DataFrame) -> dict[str, Any]:
    """What an entry records beside its rows (``df.attrs`` are added by the writer)."""
    fields = dict(key) if isinstance(key, Mapping) else None
    params = (fields or {}).get("parameters") or {}
    prov = _provenance.get(df)
    return {
        "format": FORMAT,
        "key": name,
        "report": (fields or {}).get("report") or name.rsplit(".", 1)[0],
        "fields": fields,
        "interval_start": _iso(params.get("interval_start")) or prov.get("interval_start"),
        "interval_end": _iso(params.get("interval_end")) or prov.get("interval_end"),
        "rows": len(df),
        "created": datetime.now(UTC).isoformat(),
        "final": True,
    }


def _row(meta: Mapping[str, Any], key: Any, size: int) -> dict[str, Any]:
    start, end = meta.get("interval_start"), meta.get("interval_end")
    return {
        "key": meta.get("key", key),
        "report": meta.get("report"),
        "interval": f"{start}/{end}" if start or end else None,
        "rows": meta.get("rows"),
        "bytes": size,
        "created": pd.Timestamp(meta["created"]) if meta.get("created") else pd.NaT,
    }


def _signature(schema: pa.Schema, *, exact: bool) -> bytes:
    """The schema as bytes, to tell which entries one pack can hold; not ``exact``: decimal scales left
    out (what an entry without rows may differ in)."""
    if not exact:
        fields = []
        for f in schema:
            storage = getattr(f.type, "storage_type", f.type)
            fields.append(f.with_type(pa.decimal128(38, 0)) if pa.types.is_decimal(storage) else f)
        schema = pa.schema(fields)
    return schema.remove_metadata().serialize().to_pybytes()


def _packable(df: pd.DataFrame) -> bool:
    """Frames a pack can hold: a default index (0..n-1, unnamed) and distinct string column names
    (a pack keeps one index for all its entries, and slices them back to 0..n-1)."""
    idx = df.index
    return (
        isinstance(idx, pd.RangeIndex)
        and idx.start == 0
        and idx.step == 1
        and idx.name is None
        and df.columns.is_unique
        and all(isinstance(c, str) for c in df.columns)
    )


def _range_pandas_meta(raw: bytes | None) -> bytes | None:
    """pandas' metadata with no index of its own (a pack's rows are all its entries')."""
    if not raw:
        return raw
    meta = json.loads(raw)
    meta["index_columns"] = []
    return json.dumps(meta, sort_keys=True).encode()


def _read_pack(pack: _Pack, positions: list[int]) -> dict[int, _Hit]:
    """The entries at ``positions`` of a pack: one read of the row groups holding them, one conversion."""
    groups = pack.groups(positions)
    pf = pq.ParquetFile(pack.path, metadata=pack.metadata)
    big = sum(pack.metadata.row_group(g).total_byte_size for g in groups) > _THREADED_READ
    if len(groups) == pack.metadata.num_row_groups:
        table = pf.read(use_threads=big)
    else:
        table = pf.read_row_groups(groups, use_threads=big)
    base, _ = _frame(table, {"object_decimals": pack.object_decimals})  # the footer was parsed once
    at, row = {}, 0  # where each group read starts in ``base``
    for g in groups:
        at[g] = row
        row += pack.starts[g + 1] - pack.starts[g]
    if row != len(base):
        raise ValueError(f"{pack.path.name}: read {len(base)} rows, its row groups say {row}")
    out = {}
    for pos in positions:
        entry = dict(pack.entries[pos])
        lo, n = int(entry["offset"]), int(entry["rows"])
        first = next((g for g in groups if pack.starts[g] <= lo < pack.starts[g + 1]), None)
        start = 0 if first is None else at[first] + lo - pack.starts[first]
        attrs = entry.pop("attrs", None) or {}
        out[pos] = _Hit(base, start, start + n, entry, attrs, pack.path.name)
    return out


# -- files ----------------------------------------------------------------------------------------
def write_parquet(
    df: pd.DataFrame, path: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None
) -> int:
    """Write ``df`` (exact dtypes, ``df.attrs``) to ``path`` atomically; returns the file size."""
    path = Path(path)
    meta = {**(metadata or {}), "attrs": df.attrs}
    table = _to_table(df, meta)
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return path.stat().st_size


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, fsync it, rename it over ``path``, fsync
    the directory: a reader sees the whole file or none."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def read_parquet(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a file written by :func:`write_parquet`: (DataFrame with attrs restored, metadata)."""
    # ParquetFile.read skips the dataset layer, and a small file reads faster on one thread: a cached
    # year of monthly summaries comes back in milliseconds.
    table = pq.ParquetFile(path).read(use_threads=os.path.getsize(path) > _THREADED_READ)
    df, meta = _frame(table)
    df.attrs = meta.pop("attrs", {}) or {}
    return df, meta


def _frame(table: pa.Table, meta: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table of :func:`_to_table`'s making back to its exact frame; returns (frame, our metadata,
    read from the table unless given)."""
    if meta is None:
        meta = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
    as_objects = set(meta.pop("object_decimals", []))  # columns written from object Decimals
    decimals = {
        i: f.name for i, f in enumerate(table.schema) if pa.types.is_decimal(f.type)
    }
    if decimals:
        names = set(table.column_names)
        exponents = {c: row_exponents(table.column(c)) for c in CURRENCY_COLUMNS if c in names}
        rest = table.drop_columns(list(decimals.values())).to_pandas()
        # One frame built from all columns in file order (cheaper than inserting one by one).
        cols = {
            name: pd.Series(
                _decimals(table, name, exponents, name in as_objects), index=rest.index, name=name
            )
            if i in decimals
            else rest[name]
            for i, name in enumerate(table.column_names)
            if i in decimals or name in rest.columns  # (index columns went into rest.index)
        }
        df = pd.DataFrame(cols, index=rest.index, copy=False)
    else:
        df = table.to_pandas()
    return df, meta


def _arrow(df: pd.DataFrame) -> tuple[pa.Table, list[str]]:
    """``df`` as an Arrow table with pandas' metadata (not ours), and the columns written from object
    Decimals."""
    bare = df.copy(deep=False)  # no data copied; attrs travel only in our (redacted) metadata,
    bare.attrs = {}  # not in the pandas metadata pyarrow would otherwise copy them into
    decimals = {}
    as_objects = []
    for i, (name, col) in enumerate(bare.items()):
        if isinstance(col.dtype, DecimalDtype):
            decimals[i] = (name, pa.chunked_array([col.array.__arrow_array__()]))
        elif col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "decimal":
            decimals[i] = (name, _decimal_column(col, str(name)))
            as_objects.append(str(name))
    try:
        table = pa.Table.from_pandas(bare.drop(columns=[n for n, _ in decimals.values()]))
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise TypeError(f"cannot store this DataFrame as Parquet: {e}") from None
    pandas_meta = table.schema.metadata
    for i, (name, arr) in decimals.items():  # in position order, so each lands where it was
        table = table.add_column(i, pa.field(str(name), arr.type), arr)
    return table.replace_schema_metadata(pandas_meta), as_objects


def _to_table(df: pd.DataFrame, meta: Mapping[str, Any]) -> pa.Table:
    table, as_objects = _arrow(df)
    text = redact(json.dumps({**meta, "object_decimals": as_objects} if as_objects else meta, default=str))
    return table.replace_schema_metadata({**(table.schema.metadata or {}), _META: text.encode()})


def _decimals(table: pa.Table, name: str, exponents: dict[str, np.ndarray], as_objects: bool) -> Any:
    """A decimal column back to the decimal dtype (or to object Decimals, missing None, when it was
    written from those); money takes its row's currency decimals, as parsed."""
    cur = currency_column_for(name, exponents) if column_kinds(None, [name])[name] == "money" else None
    values = to_decimal_array(table.column(name), exponents[cur] if cur else None)
    return values.to_objects(None) if as_objects and isinstance(values, DecimalArray) else values


def _decimal_column(col: pd.Series, name: str) -> pa.ChunkedArray:
    """Decimal objects -> decimal128(38, s) with the column's scale ``s``: fixed-point text (one C-level
    ``format`` per value, no Python loop) through the same vectorised checks and cast as a CSV column."""
    values = col.to_numpy()
    missing = pd.isna(col).to_numpy()
    if missing.any():
        values = np.where(missing, Decimal(0), values)
    text = pa.array(list(map(format, values, itertools.repeat("f"))), pa.string(), mask=missing)
    try:
        dec = decimal_array(pa.chunked_array([text]), name)
        return dec.cast(pa.decimal128(38, dec.type.scale))  # Parquet readers everywhere know decimal128
    except ResultParseError as e:  # NaN or Infinity: not money
        raise TypeError(f"cannot store column {name!r}: {e}") from None


def _file_meta(path: Path) -> dict[str, Any]:
    md = pq.read_schema(path).metadata or {}
    meta = json.loads(md.get(_META, b"{}"))
    meta.pop("attrs", None)
    return meta


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (this one always does): the stale rule of the
    cache's temporary files and of a dataset's lock (reportkit.dataset)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- key normalisation ----------------------------------------------------------------------------
def _safe(report: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", report)


def _key_of(fields: Mapping[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"reportkit-cache-{FORMAT}:{text}".encode()).hexdigest()[:32]
    return f"{_safe(str(fields.get('report') or 'report'))}.{digest}"


def _as_key(key: str | Mapping[str, Any]) -> str:
    if isinstance(key, Mapping):
        return _key_of(key)
    if isinstance(key, str) and _KEY_RE.match(key):
        return key
    raise ConfigurationError(f"not a cache key: {key!r} (use RunRequest.cache_key(...) to make one)")


def _iso(value: Any) -> str | None:
    """Epoch seconds -> ISO UTC text (other forms are kept as they are)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return None if value is None else str(value)
