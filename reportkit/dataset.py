"""A synced dataset on any fsspec filesystem: its layout, manifest, lock and partition files.

:class:`Dataset` owns *where things are and how they are written*; :mod:`reportkit.sync` owns what
to fetch. The layout (hive-partitioned, so pyarrow.dataset, DuckDB, Polars and dask.dataframe read it
with partition columns)::

    <root>/_reportkit_manifest.json                        the manifest (JSON, written last)
    <root>/_reportkit.lock                                 present while a sync holds the dataset
    <root>/report=<report>/interval=<key>/part-0.parquet   one partition per report and interval
    <root>/report=<report>/account=<acct>/interval=<key>/part-0.parquet   (per connected account)

``<key>`` is the interval's local start date (``2025-01-01``), or ``2025-01-01T120000`` for an
interval that does not start at midnight. The partition key is named ``interval`` (not
``interval_start``) because every file also carries exact ``interval_start``/``interval_end``
timestamp columns, and a hive key with a column's name would clash in the readers.
Names starting with ``_`` or ``.`` are skipped by those readers, so the manifest, the lock and
temporary files are never read as data.

Partitions are written by the one exact Parquet writer, :func:`reportkit.cache.write_parquet`
(decimal money, provenance in the schema metadata): on a local filesystem straight to the final name
(it writes a temporary file, fsyncs it and renames it), elsewhere to a local temporary file whose bytes
are then put under a temporary name and moved over the final one. The manifest is written the same
way. So a reader sees a whole file or none, and a killed writer leaves at most temporary files, which
the next holder of the lock removes (:meth:`Dataset.clean`).

The lock (:meth:`Dataset.try_lock`) is a file created exclusively (fsspec mode ``"xb"``) holding the
holder's host, pid, sync id and a heartbeat the holder refreshes (:meth:`Dataset.beat`). It is stale,
and may be broken, when its holder is a dead process on this host, or when its heartbeat is older than
``stale_after`` seconds (another host, or a hung process).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reportkit import cache
from reportkit._schema import STRING_DTYPE
from reportkit.errors import ConfigurationError
from reportkit.intervals import Interval

__all__ = ["FORMAT", "LOCK", "MANIFEST", "Dataset", "partition_key"]

FORMAT = 1
MANIFEST = "_reportkit_manifest.json"
LOCK = "_reportkit.lock"
PART = "part-0.parquet"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_TMP = ".tmp"
_LOCAL_LOCK = threading.Lock()  # the exclusive create of fsspec's memory filesystem is check-then-set


def partition_key(iv: Interval) -> str:
    """The ``interval=`` value of ``iv``: its local start date, with the time when not midnight."""
    s = iv.start
    if (s.hour, s.minute, s.second, s.microsecond) == (0, 0, 0, 0):
        return s.date().isoformat()
    return s.strftime("%Y-%m-%dT%H%M%S")


def check_name(value: str, what: str) -> str:
    """A report or account name usable as a hive partition value (letters, digits, ``_.-``)."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ConfigurationError(
            f"{what} {value!r} cannot name a dataset partition: use letters, digits, '_', '.' and '-'"
        )
    return value


class Dataset:
    """One synced dataset at ``path`` (a local path or any fsspec URL: ``file://``, ``memory://``,
    ``s3://``...); ``storage_options`` go to the filesystem."""

    def __init__(self, path: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ConfigurationError(f"path must be a local path or an fsspec URL, got {path!r}")
        import fsspec

        url = os.fspath(path)
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
        except (ValueError, ImportError) as e:
            raise ConfigurationError(f"cannot open dataset path {url!r}: {e}") from None
        self.root = root.rstrip("/") or "/"
        self.url = url
        self.local = "file" in _protocols(self.fs)

    def __repr__(self) -> str:
        return f"<reportkit.Dataset {self.url!r}>"

    # -- paths ----------------------------------------------------------------------------------------
    def full(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    @staticmethod
    def partition(report: str, key: str, account: str | None = None) -> str:
        """The relative path of one partition file."""
        acct = f"account={account}/" if account else ""
        return f"report={report}/{acct}interval={key}/{PART}"

    def files(self) -> dict[str, int]:
        """Every file under the root (relative path -> size); empty when the root does not exist."""
        try:
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        prefix = self.root.rstrip("/") + "/"
        return {
            name[len(prefix):]: int(info.get("size") or 0)
            for name, info in found.items()
            if name.startswith(prefix)
        }

    def clean(self, files: Mapping[str, int]) -> list[str]:
        """Remove the temporary files of dead writers (call it holding the lock); returns them."""
        gone = [rel for rel in files if rel.endswith(_TMP)]
        for rel in gone:
            self.remove(rel)
        return gone

    def remove(self, rel: str) -> None:
        try:
            self.fs.rm_file(self.full(rel))
        except FileNotFoundError:
            pass

    # -- the manifest ---------------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
        """The manifest (``{"format", "reports": {report: {"spec", "partitions"}}, "syncs"}``)."""
        try:
            raw = self.fs.cat_file(self.full(MANIFEST))
        except FileNotFoundError:
            return {"format": FORMAT, "reports": {}, "syncs": []}
        try:
            manifest = json.loads(raw)
        except ValueError as e:
            raise ConfigurationError(f"{self.full(MANIFEST)} is not a reportkit manifest: {e}") from None
        found = manifest.get("format") if isinstance(manifest, dict) else None
        if found != FORMAT:
            raise ConfigurationError(
                f"{self.full(MANIFEST)} has format {found!r}, this reportkit writes format {FORMAT}: "
                "sync into another path"
            )
        return manifest

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        self.put_bytes(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())

    # -- files ----------------------------------------------------------------------------------------
    def put_bytes(self, rel: str, data: bytes) -> None:
        """Write ``data`` at ``rel`` atomically (temporary name, then rename or move)."""
        final = self.full(rel)
        parent = final.rsplit("/", 1)[0]
        tmp = f"{parent}/.{final.rsplit('/', 1)[1]}.{os.getpid()}.{os.urandom(4).hex()}{_TMP}"
        if self.local:
            Path(parent).mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
            return
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.pipe_file(tmp, data)
        try:
            self.fs.mv(tmp, final)
        finally:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)

    def write_partition(self, df: pd.DataFrame, rel: str, metadata: Mapping[str, Any]) -> tuple[int, str]:
        """Write one partition through :func:`reportkit.cache.write_parquet`; returns (size, sha256)."""
        if self.local:
            final = Path(self.full(rel))
            final.parent.mkdir(parents=True, exist_ok=True)
            cache.write_parquet(df, final, metadata=metadata)
            data = final.read_bytes()
        else:
            with tempfile.TemporaryDirectory(prefix="reportkit-sync-") as tmp:
                local = Path(tmp) / PART
                cache.write_parquet(df, local, metadata=metadata)
                data = local.read_bytes()
            self.put_bytes(rel, data)
        return len(data), hashlib.sha256(data).hexdigest()

    def sha256(self, rel: str) -> str:
        return hashlib.sha256(self.fs.cat_file(self.full(rel))).hexdigest()

    def read_partition(self, rel: str) -> tuple[pd.DataFrame, dict[str, Any]]:
        """One partition back as the exact frame it was written from (attrs restored), and the
        metadata it was written with."""
        if self.local:
            return cache.read_parquet(self.full(rel))
        with tempfile.TemporaryDirectory(prefix="reportkit-sync-") as tmp:
            local = Path(tmp) / PART
            local.write_bytes(self.fs.cat_file(self.full(rel)))
            return cache.read_parquet(local)

    def read(self, report: str) -> pd.DataFrame:
        """Every partition of ``report`` the manifest lists, in (account and) interval order, as one
        exact frame: the same rows, order and dtypes as ``client.reports`` (with ``accounts=``: an
        ``account`` column first)."""
        entries = self.read_manifest()["reports"].get(report, {}).get("partitions", {})
        if not entries:
            raise ConfigurationError(f"{self.url} holds no partitions of {report!r}")
        order = sorted(entries.values(), key=lambda e: (e.get("account") or "", e["interval_start"]))
        parts = []
        for e in order:
            if e["path"] is None:
                continue
            part = self.read_partition(e["path"])[0]
            if e.get("account"):  # the hive key account=: the column client.reports(accounts=) puts first
                part.insert(0, "account", pd.Series([e["account"]] * len(part), dtype=STRING_DTYPE))
            parts.append(part)
        if not parts:
            raise ConfigurationError(f"every synced interval of {report!r} in {self.url} is empty")
        out = pd.concat(parts, ignore_index=True)
        out.attrs = {}
        return out

    # -- the lock -------------------------------------------------------------------------------------
    def try_lock(self, sync_id: str) -> bool:
        """Create the lock file exclusively; False when another holder has it."""
        body = _lock_body(sync_id)
        with _LOCAL_LOCK:
            try:
                self.fs.makedirs(self.root, exist_ok=True)
                with self.fs.open(self.full(LOCK), "xb") as f:
                    f.write(body)
            except FileExistsError:
                return False
        return True

    def beat(self, sync_id: str) -> None:
        """Refresh the heartbeat of the lock this sync holds."""
        held = self.lock_holder()
        if held is not None and held.get("sync_id") == sync_id:
            self.fs.pipe_file(self.full(LOCK), _lock_body(sync_id, since=held.get("since")))

    def lock_holder(self) -> dict[str, Any] | None:
        """What the lock file says (None when there is none)."""
        try:
            raw = self.fs.cat_file(self.full(LOCK))
        except FileNotFoundError:
            return None
        try:
            held = json.loads(raw)
        except ValueError:
            held = {}
        return held if isinstance(held, dict) else {}

    def break_stale_lock(self, stale_after: float) -> bool:
        """Remove the lock when it is stale (see the module docstring); True when it was removed."""
        held = self.lock_holder()
        if held is None:
            return False
        if not _stale(held, stale_after, self._age(LOCK)):
            return False
        if self.lock_holder() != held:  # changed hands meanwhile
            return False
        self.remove(LOCK)
        return True

    def _age(self, rel: str) -> float | None:
        """Seconds since ``rel`` was last modified, when the filesystem says."""
        try:
            info = self.fs.info(self.full(rel))
        except FileNotFoundError:
            return None
        when = info.get("mtime") or info.get("created") or info.get("LastModified")
        if isinstance(when, datetime):
            when = when.timestamp()
        return time.time() - float(when) if isinstance(when, int | float) else None

    def unlock(self, sync_id: str) -> None:
        held = self.lock_holder()
        if held is not None and held.get("sync_id") == sync_id:
            self.remove(LOCK)


def _protocols(fs: Any) -> tuple[str, ...]:
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)


def _lock_body(sync_id: str, since: float | None = None) -> bytes:
    now = time.time()
    return json.dumps(
        {"sync_id": sync_id, "host": socket.gethostname(), "pid": os.getpid(), "since": since or now,
         "heartbeat": now},  # fmt: skip
    ).encode()


def _stale(held: Mapping[str, Any], stale_after: float, age: float | None = None) -> bool:
    beat = held.get("heartbeat")
    if not isinstance(beat, int | float):  # unreadable: a holder killed between create and write,
        return age is None or age > min(stale_after, 10.0)  # or one writing it this very moment
    if time.time() - beat > stale_after:
        return True  # silent for too long
    if held.get("host") == socket.gethostname() and isinstance(held.get("pid"), int):
        return not cache.pid_alive(held["pid"])
    return False


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
