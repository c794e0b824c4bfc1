"""The SQL engine of /v2/data query runs: DuckDB over Sigma-shaped tables of the ledger, locked down.

:class:`SqlEngine` builds, once, an in-memory DuckDB database holding what the ledger knows in the
shape of Stripe's Sigma schema (docs.stripe.com/sigma/transactions; the ``analytical`` dataset of
``/v2/data/query_runs`` is "the same table set as the Dashboard's Sigma schema", docs.stripe.com/
data/api/queries):

- ``balance_transactions``: ``id``, ``amount``, ``available_on``, ``created``, ``currency``,
  ``description``, ``exchange_rate``, ``fee``, ``net``, ``reporting_category``, ``source_id``,
  ``status``, ``type``, ``automatic_transfer_id`` (the automatic payout that settled it);
- ``payouts``: ``id``, ``amount``, ``arrival_date``, ``automatic``, ``balance_transaction_id``,
  ``created``, ``currency``, ``destination_id``, ``method``, ``status``, ``type``.

Amounts are ``BIGINT`` in minor units, as Sigma has them; times are UTC ``TIMESTAMP`` values.

:meth:`SqlEngine.run` executes one query and returns a :class:`SqlResult`: the declared column types
(Stripe's ``result.file.columns`` vocabulary: ``bigint``, ``integer``, ``decimal``, ``double``,
``boolean``, ``date``, ``timestamp``, ``varchar``) and every cell as text, the way the CSV writes it.
What a query may do: exactly one ``SELECT`` statement (``WITH`` and ``FROM``-first included) and
nothing else; external access (files, ``read_csv``, ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``) is
switched off and the configuration locked before any query runs, each query runs inside a transaction
that is rolled back, on one thread with a memory limit, and is interrupted after ``time_limit``
seconds. Every refusal is a :class:`SqlError` whose ``code`` is the code the run reports
(``query_run_invalid_sql``, or ``internal_error`` for a query stopped by the time limit).
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["TABLES", "SqlEngine", "SqlError", "SqlResult", "declared_type"]

#: The tables and their columns (name, DuckDB type), in order.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "balance_transactions": (
        ("id", "VARCHAR"),
        ("amount", "BIGINT"),
        ("available_on", "TIMESTAMP"),
        ("created", "TIMESTAMP"),
        ("currency", "VARCHAR"),
        ("description", "VARCHAR"),
        ("exchange_rate", "DOUBLE"),
        ("fee", "BIGINT"),
        ("net", "BIGINT"),
        ("reporting_category", "VARCHAR"),
        ("source_id", "VARCHAR"),
        ("status", "VARCHAR"),
        ("type", "VARCHAR"),
        ("automatic_transfer_id", "VARCHAR"),
    ),
    "payouts": (
        ("id", "VARCHAR"),
        ("amount", "BIGINT"),
        ("arrival_date", "TIMESTAMP"),
        ("automatic", "BOOLEAN"),
        ("balance_transaction_id", "VARCHAR"),
        ("created", "TIMESTAMP"),
        ("currency", "VARCHAR"),
        ("destination_id", "VARCHAR"),
        ("method", "VARCHAR"),
        ("status", "VARCHAR"),
        ("type", "VARCHAR"),
    ),
}

_INVALID = "query_run_invalid_sql"


class SqlError(Exception):
    """A query the engine refused or could not finish; ``code`` is what the run reports."""

    def __init__(self, message: str, code: str = _INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class SqlResult:
    """A query's result: ``columns`` as ``(name, declared type)``, ``rows`` as text (None = NULL)."""

    columns: tuple[tuple[str, str], ...]
    rows: list[tuple[str | None, ...]]

    def csv_bytes(self) -> bytes:
        """The result as Stripe's CSV: a header, RFC 4180 quoting, ``\\n`` line ends, NULL empty."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([name for name, _ in self.columns])
        w.writerows(["" if v is None else v for v in row] for row in self.rows)
        return buf.getvalue().encode("utf-8")


def declared_type(duck_type: str) -> str:
    """A DuckDB column type as Stripe declares result columns."""
    t = duck_type.upper()
    if t in ("BIGINT", "HUGEINT", "UBIGINT", "UHUGEINT"):
        return "bigint"
    if t in ("INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT", "UTINYINT"):
        return "integer"
    if t.startswith("DECIMAL"):
        return "decimal"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return "double"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return "varchar"


class SqlEngine:
    """One locked-down DuckDB database over a ledger (see the module docstring)."""

    def __init__(self, ledger: Any, *, refreshed_at: int, time_limit: float = 10.0) -> None:
        import duckdb

        self.time_limit = time_limit
        self._duckdb = duckdb
        self._con = duckdb.connect(
            ":memory:",
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "allow_community_extensions": False,
                "threads": 1,
                "memory_limit": "512MB",
            },
        )
        for name, table in _tables(ledger, refreshed_at).items():
            self._con.register(f"source_{name}", table)
            cols = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in TABLES[name])
            self._con.execute(f"CREATE TABLE {name} AS SELECT {cols} FROM source_{name}")
            self._con.unregister(f"source_{name}")
        self._con.execute("SET enable_external_access = false")
        self._con.execute("SET lock_configuration = true")
        self._lock = threading.Lock()

    def check(self, sql: Any) -> None:
        """Refuse anything but one SELECT statement (a :class:`SqlError`), without running it."""
        if not isinstance(sql, str) or not sql.strip():
            raise SqlError("query.sql must be a non-empty SQL string.")
        try:
            statements = self._con.extract_statements(sql)
        except self._duckdb.Error as e:
            raise SqlError(f"Invalid SQL: {_first_line(e)}") from None
        if len(statements) != 1:
            raise SqlError(f"A query run takes exactly one SQL statement; got {len(statements)}.")
        kind = statements[0].type
        if kind != self._duckdb.StatementType.SELECT:
            name = str(kind).rsplit(".", 1)[-1]
            raise SqlError(
                "Only SELECT queries can be run against the analytical dataset; "
                f"got a statement of type {name}."
            )

    def run(self, sql: str) -> SqlResult:
        """Execute one checked SELECT (read-only, time-limited) and return its typed text result."""
        self.check(sql)
        with self._lock:  # one query at a time on the one thread DuckDB is given
            cur = self._con.cursor()
            timer = threading.Timer(self.time_limit, cur.interrupt)
            try:
                cur.execute("BEGIN TRANSACTION")
                rel = cur.sql(sql)
                columns = tuple(zip(rel.columns, (str(t) for t in rel.types), strict=True))
                exprs = ", ".join(_text(i, t) for i, (_, t) in enumerate(columns))
                timer.start()
                body = sql.strip().rstrip(";")
                rows = cur.execute(f"SELECT {exprs} FROM (\n{body}\n) AS q").fetchall() if exprs else []
            except self._duckdb.InterruptException:
                raise SqlError(
                    f"The query was stopped after {self.time_limit:g} seconds "
                    "(the sandbox's query time limit).",
                    code="internal_error",
                ) from None
            except self._duckdb.PermissionException as e:
                raise SqlError(
                    f"Not allowed in a query run: {_first_line(e)} (the analytical dataset has no file, "
                    "network or extension access)."
                ) from None
            except self._duckdb.Error as e:
                raise SqlError(f"Invalid SQL: {_first_line(e)}") from None
            finally:
                timer.cancel()
                try:
                    cur.execute("ROLLBACK")
                except self._duckdb.Error:
                    pass
                cur.close()
        return SqlResult(tuple((n, declared_type(t)) for n, t in columns), [tuple(r) for r in rows])


def _text(index: int, duck_type: str) -> str:
    """A projection turning column ``index`` of the subquery into its CSV text."""
    col = f"#{index + 1}"
    t = duck_type.upper()
    if t in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return f"CAST(timezone('UTC', {col}) AS VARCHAR)"
    return f"CAST({col} AS VARCHAR)"


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _tables(ledger: Any, refreshed_at: int) -> dict[str, Any]:
    """The ledger as Arrow tables in the Sigma shape (times still epoch seconds, cast in SQL)."""
    import numpy as np
    import pyarrow as pa

    bt = ledger.transactions
    po = ledger.payouts
    # The ledger may run past the window (Config.horizon): the tables hold what is available so far.
    bt = bt[bt["created"] < refreshed_at]
    po = po[po["created"] < refreshed_at].copy()
    late = po["automatic"] & (po["status"] == "paid") & (po["arrival_date"] > refreshed_at)
    po.loc[late, "status"] = "in_transit"  # as schedule.payouts marks them at the ledger's end
    ts = pa.timestamp("s")
    available = bt["available_on"].to_numpy()
    bts = pa.table(
        {
            "id": pa.array(bt["id"].astype(str)),
            "amount": pa.array(bt["amount"].to_numpy(np.int64)),
            "available_on": pa.array(available.astype("int64"), ts),
            "created": pa.array(bt["created"].to_numpy(np.int64), ts),
            "currency": pa.array(bt["currency"].astype(str)),
            "description": pa.array(bt["description"], pa.string(), from_pandas=True),
            "exchange_rate": pa.nulls(len(bt), pa.float64()),
            "fee": pa.array(bt["fee"].to_numpy(np.int64)),
            "net": pa.array(bt["net"].to_numpy(np.int64)),
            "reporting_category": pa.array(bt["reporting_category"].astype(str)),
            "source_id": pa.array(bt["source_id"], pa.string(), from_pandas=True),
            "status": pa.array(np.where(available <= refreshed_at, "available", "pending")),
            "type": pa.array(bt["type"].astype(str)),
            "automatic_transfer_id": pa.array(bt["automatic_payout_id"], pa.string(), from_pandas=True),
        }
    )
    payout_bt = (
        bt[bt["type"] == "payout"].dropna(subset=["payout_id"]).drop_duplicates("payout_id", keep="first")
    )
    bt_of = dict(zip(payout_bt["payout_id"], payout_bt["id"], strict=True))
    pos = pa.table(
        {
            "id": pa.array(po["id"].astype(str)),
            "amount": pa.array(po["amount"].to_numpy(np.int64)),
            "arrival_date": pa.array(po["arrival_date"].to_numpy(np.int64), ts),
            "automatic": pa.array(po["automatic"].to_numpy(bool)),
            "balance_transaction_id": pa.array([bt_of.get(i) for i in po["id"]], pa.string()),
            "created": pa.array(po["created"].to_numpy(np.int64), ts),
            "currency": pa.array(po["currency"].astype(str)),
            "destination_id": pa.array(po["destination"].astype(str)),
            "method": pa.array(["standard"] * len(po), pa.string()),
            "status": pa.array(po["status"].astype(str)),
            "type": pa.array(po["type"].astype(str)),
        }
    )
    return {"balance_transactions": bts, "payouts": pos}
