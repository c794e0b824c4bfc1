"""Report results cached as Parquet with their provenance, written atomically: :class:`Cache`.

Owns the on-disk format of results (also used by ``reportkit report -o out.parquet`` through
:func:`write_parquet`) and the cache directory. One entry = one report result = one file
``<root>/<report>.<digest>.parquet``; the provenance rides in the Parquet schema metadata
(``b"reportkit"``: the key fields, ``df.attrs``, rows, created time). Never a secret key: the account
is a salted one-way fingerprint, and the metadata text goes through :func:`reportkit.errors.redact`.

Exact round trip: money columns (the ``decimal`` dtype, or ``object`` columns of
:class:`~decimal.Decimal`) are written as ``decimal128(38, s)`` with ``s`` the column's scale and
read back as the ``decimal`` dtype; tz-aware timestamps,
``Int64``, ``boolean`` and ``string`` columns keep their dtypes (pandas' own Parquet metadata).

Atomic: a file is written under a temporary name in the same directory, fsynced, then
``os.replace``-d over the final name (and the directory fsynced), so a reader sees a whole file or
none, even if the writer is killed. Temporary files of dead writers are removed when a
:class:`Cache` is opened, listed or cleared, and are never read.

Only **final** results are stored: ``put(..., final=False)`` (an interval not wholly inside the
report type's data availability, whose numbers may still change) stores nothing.

How the client uses it: ``key = request.cache_key(account, api_base)`` (the one key scheme,
:meth:`reportkit._request.RunRequest.cache_key`: JSON-able, no secret), then ``cache.get(key)``
(a DataFrame with ``attrs["reportkit"]["cache_hit"] = True``, or None) and, after a download,
``cache.put(key, df, final=True)``. ``cache.list()``, ``cache.clear(report)`` manage the directory.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
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

__all__ = ["Cache", "read_parquet", "write_parquet"]

FORMAT = 1  # bump when the file layout changes: old entries are then misses
_META = b"reportkit"
_SUFFIX = ".parquet"
_THREADED_READ = 8 << 20  # bytes: bigger files are read on all cores
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+\.[0-9a-f]{32}$")
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")
_STALE_SECONDS = 24 * 3600  # a temp file this old is removed even if its pid looks alive (reused)


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
        self._clean_temps()

    # -- entries --------------------------------------------------------------------------------
    def path(self, key: str | Mapping[str, Any]) -> Path:
        """The file an entry lives in (whether or not it exists)."""
        return self.root / f"{_as_key(key)}{_SUFFIX}"

    def get(self, key: str | Mapping[str, Any]) -> pd.DataFrame | None:
        """The cached DataFrame (``attrs["reportkit"]["cache_hit"] = True``), or None on a miss."""
        name = _as_key(key)
        path = self.root / f"{name}{_SUFFIX}"
        try:
            df, meta = read_parquet(path)
        except FileNotFoundError:
            return None
        except (OSError, pa.ArrowException, ValueError):  # unreadable: treat as a miss and drop it
            path.unlink(missing_ok=True)
            return None
        if meta.get("key") != name or not meta.get("final") or meta.get("format") != FORMAT:
            return None
        return _provenance.mark_cache_hit(df)

    def put(self, key: str | Mapping[str, Any], df: pd.DataFrame, *, final: bool) -> Path | None:
        """Store ``df`` under ``key`` if ``final``; returns the file, or None when nothing was stored."""
        if not final:
            return None
        name = _as_key(key)
        fields = dict(key) if isinstance(key, Mapping) else None
        params = (fields or {}).get("parameters") or {}
        prov = _provenance.get(df)
        meta = {
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
        path = self.root / f"{name}{_SUFFIX}"
        write_parquet(df, path, metadata=meta)
        return path

    def __contains__(self, key: str | Mapping[str, Any]) -> bool:
        return self.path(key).is_file()

    def list(self) -> pd.DataFrame:
        """One row per entry: key, report, interval, rows, bytes, created (newest last)."""
        self._clean_temps()
        rows = []
        for path in self.root.glob(f"*{_SUFFIX}"):
            try:
                meta = _file_meta(path)
                size = path.stat().st_size
            except (OSError, pa.ArrowException, ValueError):
                continue
            start, end = meta.get("interval_start"), meta.get("interval_end")
            rows.append({
                "key": meta.get("key", path.name[: -len(_SUFFIX)]),
                "report": meta.get("report"),
                "interval": f"{start}/{end}" if start or end else None,
                "rows": meta.get("rows"),
                "bytes": size,
                "created": pd.Timestamp(meta["created"]) if meta.get("created") else pd.NaT,
            })
        out = pd.DataFrame(rows, columns=["key", "report", "interval", "rows", "bytes", "created"])
        out["created"] = pd.to_datetime(out["created"], utc=True)
        out = out.astype({"key": STRING_DTYPE, "report": STRING_DTYPE,
                          "interval": STRING_DTYPE, "rows": "Int64", "bytes": "Int64"})
        return out.sort_values(["created", "key"], ignore_index=True)

    def clear(self, report: str | None = None) -> int:
        """Delete every entry (or those of ``report``); returns how many files were removed."""
        self._clean_temps()
        removed = 0
        for path in self.root.glob(f"*{_SUFFIX}"):
            entry = path.name[: -len(_SUFFIX)]
            if _KEY_RE.match(entry) and (report is None or entry.rsplit(".", 1)[0] == _safe(report)):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob(f"*{_SUFFIX}"))

    def __repr__(self) -> str:
        return f"<reportkit.Cache {str(self.root)!r} entries={len(self)}>"

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
            if stale or not _alive(int(m.group("pid"))):
                path.unlink(missing_ok=True)


# -- files ----------------------------------------------------------------------------------------
def write_parquet(
    df: pd.DataFrame, path: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None
) -> int:
    """Write ``df`` (exact dtypes, ``df.attrs``) to ``path`` atomically; returns the file size."""
    path = Path(path)
    meta = {**(metadata or {}), "attrs": df.attrs}
    table = _to_table(df, meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
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
    return path.stat().st_size


def read_parquet(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a file written by :func:`write_parquet`: (DataFrame with attrs restored, metadata)."""
    # ParquetFile.read skips the dataset layer, and a small file reads faster on one thread: a cached
    # year of monthly summaries comes back in milliseconds.
    table = pq.ParquetFile(path).read(use_threads=os.path.getsize(path) > _THREADED_READ)
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
    df.attrs = meta.pop("attrs", {}) or {}
    return df, meta


def _to_table(df: pd.DataFrame, meta: Mapping[str, Any]) -> pa.Table:
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
    text = redact(json.dumps({**meta, "object_decimals": as_objects} if as_objects else meta, default=str))
    return table.replace_schema_metadata({**(pandas_meta or {}), _META: text.encode()})


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


def _alive(pid: int) -> bool:
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
