"""The ``connected_account_*`` report CSVs: a platform's view of its connected accounts' ledgers.

Stripe documents these types as "the same families with the prefix ``connected_account_``", run by
the platform, over every connected account or, with the optional ``connected_account`` parameter,
one of them (docs.stripe.com/reports/report-types/connect). Each type here is computed from its
platform twin (``connected_account_payouts.itemized.3`` -> ``payouts.itemized.3``) on every chosen
account's own ledger:

- itemized types: the twin's rows of each account (:func:`reportkit.sandbox.reports.select`), their
  columns as the twin writes them, plus ``connected_account`` (the account id), merged in
  ``created`` order (ties: the accounts' listing order);
- summaries: the twin's per (currency, reporting_category) sums, added up over the accounts;
- ``connected_account_balance.summary.1``: the twin's eight rows per currency, added up over the
  accounts (a currency's row is non-empty when any account has a transaction under it).

:data:`SUPPORTED` lists the types computed (the tax and negative-balance overview types are not:
the ledgers hold no tax lines nor risk figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from reportkit import catalog
from reportkit.sandbox import reports
from reportkit.sandbox.columns import Rows, csv_bytes
from reportkit.sandbox.params import RunParams

__all__ = ["PREFIX", "SUPPORTED", "is_connect", "render", "twin"]

PREFIX = "connected_account_"
#: The ``connected_account_*`` types :func:`render` computes: those whose platform twin reports.py does.
SUPPORTED: frozenset[str] = frozenset(
    r for r in catalog.report_ids() if r.startswith(PREFIX) and r[len(PREFIX) :] in reports.SUPPORTED
)


def is_connect(report_type: str) -> bool:
    """A ``connected_account_*`` type (computed over connected accounts, not the caller's ledger)."""
    return report_type.startswith(PREFIX)


def twin(report_type: str) -> str:
    """The platform type a Connect type mirrors: ``connected_account_balance.summary.1`` ->
    ``balance.summary.1``."""
    return report_type[len(PREFIX) :]


def render(accounts: Sequence[tuple[str, Any]], report_type: str, params: RunParams) -> bytes:
    """The CSV of ``report_type`` over ``accounts`` (``(account id, ledger)`` pairs, in listing order;
    already narrowed to the ``connected_account`` parameter)."""
    spec = catalog.report_spec(report_type)
    base = twin(report_type)
    cols = reports.columns_of(spec, params)
    sep = params.decimal_separator or "."
    if base.startswith("balance.summary"):
        return _balance_summary(accounts, params, cols, sep)
    sign = reports.PAYOUTS_SIGN if base.startswith("payouts.") else 1
    if ".summary." in base:
        totals: dict[tuple[str, str], list[int]] = {}
        for _, ledger in accounts:
            for cur, cat, *sums in reports.summary_rows(ledger, reports.select(ledger, base, params), sign):
                acc = totals.setdefault((cur, cat), [0, 0, 0, 0])
                for i, v in enumerate(sums):
                    acc[i] += v
        rows = [(cur, cat, *sums) for (cur, cat), sums in sorted(totals.items())]
        return reports.summary_csv(rows, cols, sep)  # type: ignore[arg-type]
    return _itemized(accounts, base, spec, params, cols, sep, sign)


def _itemized(
    accounts: Sequence[tuple[str, Any]],
    base: str,
    spec: catalog.ReportSpec,
    params: RunParams,
    cols: list[str],
    sep: str,
    sign: int,
) -> bytes:
    tz = params.timezone or "Etc/UTC"
    kinds = [spec.kind(c) for c in cols]
    parts: list[list[pa.Array]] = [[] for _ in cols]
    created: list[np.ndarray] = []
    for acct_id, ledger in accounts:
        idx = reports.select(ledger, base, params)
        rows = Rows(ledger, idx, tz, sep, None, sign)
        created.append(ledger.bt["created"][idx])
        for i, (col, kind) in enumerate(zip(cols, kinds, strict=True)):
            if col == "connected_account":
                parts[i].append(pa.array([acct_id] * len(idx), pa.string()))
            else:
                parts[i].append(rows.column(col, kind == "timestamp_local").cast(pa.string()))
    if not created or not sum(len(c) for c in created):
        return csv_bytes(cols, [])
    order = pa.array(np.argsort(np.concatenate(created), kind="stable"))
    columns = [pa.concat_arrays(p).take(order) for p in parts]
    plain = [k in reports.PLAIN_KINDS or (k == "money" and sep == ".") for k in kinds]
    return csv_bytes(cols, columns, plain)


def _balance_summary(
    accounts: Sequence[tuple[str, Any]], params: RunParams, cols: list[str], sep: str
) -> bytes:
    merged: dict[tuple[str, int], list[Any]] = {}
    names = [name for name, _ in reports.SUMMARY_ROWS]
    for _, ledger in accounts:
        for cur, category, description, value, has in reports.balance_summary_rows(ledger, params):
            row = merged.setdefault((cur, names.index(category)), [cur, category, description, 0, False])
            row[3] += value
            row[4] = row[4] or has
    rows = [tuple(merged[k]) for k in sorted(merged)]
    return reports.balance_summary_csv(rows, cols, sep)  # type: ignore[arg-type]
