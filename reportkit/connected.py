"""The platform's connected accounts (Stripe Connect) as the client sees them.

Owns two things the client's Connect calls need: the accounts as a typed DataFrame
(:func:`accounts_frame`, from ``GET /v1/accounts``, every page) and the ``accounts=`` option of
``client.reports`` / ``check_period`` as a checked list of ids (:func:`resolve`: a list of
``acct_...`` ids, or ``"all"`` = the platform's), refused with :class:`ConfigurationError` before any
run is created. One account's id is checked by :func:`reportkit._request.check_account`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from reportkit._api import Api
from reportkit._request import check_account
from reportkit.errors import ConfigurationError
from reportkit.frames import STRING_DTYPE

__all__ = ["ACCOUNT_COLUMNS", "accounts_frame", "resolve"]

#: The columns of :func:`accounts_frame`, in order.
ACCOUNT_COLUMNS = ["id", "country", "default_currency", "name", "email", "type", "charges_enabled",
                   "payouts_enabled", "created"]  # fmt: skip
_STRINGS = ("id", "country", "default_currency", "name", "email", "type")


def accounts_frame(api: Api) -> pd.DataFrame:
    """The connected accounts, newest first: ``id``, ``country``, ``default_currency``, ``name`` (the
    business name), ``email``, ``type``, ``charges_enabled``, ``payouts_enabled``, ``created`` (UTC).
    Empty (with these columns) for an account that is no platform."""
    rows = []
    for a in api.v1.accounts():
        row: dict[str, Any] = {c: a.get(c) for c in ACCOUNT_COLUMNS}
        row["name"] = (a.get("business_profile") or {}).get("name")
        rows.append(row)
    df = pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)
    df["created"] = pd.to_datetime(df["created"], unit="s", utc=True)
    kinds = {c: STRING_DTYPE for c in _STRINGS}
    return df.astype({**kinds, "charges_enabled": "boolean", "payouts_enabled": "boolean"})


def resolve(accounts: Iterable[str] | str, api: Api, *, report_api: str = "v1") -> list[str]:
    """``accounts=`` as a list of checked ids: ``"all"`` lists the platform's (``GET /v1/accounts``);
    duplicates, an empty list, a malformed id or a non-v1 request are a :class:`ConfigurationError`."""
    if report_api != "v1":
        raise ConfigurationError(f"accounts= (Connect: Stripe-Account) is for api='v1', not {report_api!r}")
    if isinstance(accounts, str) and accounts != "all":
        raise ConfigurationError(
            f"accounts= is a list of connected account ids or 'all', got {accounts!r} (one account: account=)"
        )
    if isinstance(accounts, str):
        ids = [str(i) for i in accounts_frame(api)["id"]]
        if not ids:
            raise ConfigurationError("accounts='all': the key's account has no connected accounts")
    else:
        ids = list(accounts)
    for acct in ids:
        check_account(acct)
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"accounts= names an account twice: {ids}")
    if not ids:
        raise ConfigurationError("accounts= is empty: pass connected account ids or 'all'")
    return ids
