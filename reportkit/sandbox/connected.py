"""The platform's connected accounts (Stripe Connect): who they are, who may act as them, their ledgers.

Owns three things, none of them HTTP:

- :class:`ConnectedAccount` and :func:`normalise` (the ``connected_accounts`` option: a count or a
  spec of ids, countries and currencies). The default roster is drawn from the accounts the
  platform's own ledger transfers to (:func:`reportkit.sandbox.ledger.accounts_table`), so every
  ``connected_account_id`` in the platform's reports is an account ``GET /v1/accounts`` lists;
- the access rule (:meth:`Connected.act_as`): a request's ``Stripe-Account`` header (v1; on ``/v2``
  also ``Stripe-Context``, which Stripe documents as its successor) makes the request act *as* that
  connected account, so its runs, files, lists, idempotency keys and rates are the account's own.
  A key whose account is not the account's platform gets Stripe's 403 ``account_invalid``; a key of
  an account with no connected accounts at all gets Stripe's "Only Stripe Connect platforms ..." 403;
- each connected account's own seeded ledger (seed from the sandbox seed and the account id), built
  lazily, to the same end as the platform's ledger (so it follows a moving data window: the end is
  read from the backend each time a ledger is built), and the ``Account`` object of ``GET /v1/accounts``.

The ``connected_account_*`` report CSVs over these ledgers are :mod:`reportkit.sandbox.connectreports`'.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reportkit.sandbox.wire import ApiError, mask, shorten

if TYPE_CHECKING:
    from reportkit.sandbox.backend import Backend
    from reportkit.sandbox.state import Caller

__all__ = [
    "ACCOUNT_ID_RE",
    "DEFAULT_COUNT",
    "ConnectedAccount",
    "Connected",
    "account_json",
    "normalise",
]

#: A connected account id as the sandbox accepts one (Stripe's ``acct_`` and letters and digits).
ACCOUNT_ID_RE = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
#: How many connected accounts a sandbox has unless told otherwise.
DEFAULT_COUNT = 3
#: The platform account the connected accounts belong to unless a spec names another.
PLATFORM = "default"
_CURRENCY_OF = {"US": "usd", "GB": "gbp", "JP": "jpy", "FR": "eur", "DE": "eur", "NL": "eur", "IE": "eur"}
# Which accounts of the platform's transfer table come first: one per currency before repeats.
_PREFERENCE = (0, 2, 4, 3, 5, 6, 7, 1)
_DAY = 86400


@dataclass(frozen=True)
class ConnectedAccount:
    """One connected account of a platform (``platform`` is the sandbox account name of its platform)."""

    id: str
    country: str
    default_currency: str
    currencies: tuple[str, ...]
    name: str
    created: int
    platform: str = PLATFORM
    type: str = "custom"
    scale: float = 0.25  # of the sandbox's scale: connected accounts are smaller businesses

    @property
    def email(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "account"
        return f"finance@{slug}.example"

    def seed(self, sandbox_seed: int) -> int:
        """The seed of this account's ledger: from the sandbox seed and the account id."""
        digest = hashlib.sha256(f"{sandbox_seed}/{self.id}".encode()).digest()
        return int.from_bytes(digest[:4], "big")


def normalise(value: Any, *, seed: int, ledger_start: str) -> tuple[ConnectedAccount, ...]:
    """The ``connected_accounts`` option as accounts: a count (the first of the default roster), or a
    sequence of ids or mappings (``id``, ``country``, ``default_currency``, ``currencies``, ``name``,
    ``platform``, ``type``, ``scale``, ``created``). ``ValueError`` for a malformed spec."""
    if isinstance(value, tuple) and all(isinstance(a, ConnectedAccount) for a in value):
        return value
    start = int(datetime.fromisoformat(ledger_start).replace(tzinfo=UTC).timestamp())
    if value is None:
        value = DEFAULT_COUNT
    if isinstance(value, bool) or isinstance(value, str) or not isinstance(value, int | Iterable):
        raise ValueError(
            f"connected_accounts must be a count or a list of account ids / specs, got {value!r}"
        )
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"connected_accounts must be >= 0, got {value}")
        return tuple(_roster(seed, start, value))
    if isinstance(value, Mapping):
        raise ValueError("connected_accounts: a list of account ids or specs, not one mapping")
    specs = list(value)
    out: list[ConnectedAccount] = []
    defaults = _roster(seed, start, len(specs))
    for i, spec in enumerate(specs):
        out.append(_from_spec(spec, defaults[i] if i < len(defaults) else None, start - (i + 1) * _DAY))
    ids = [a.id for a in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"connected_accounts: duplicate account id(s) {', '.join(dup)}")
    return tuple(out)


def _roster(seed: int, start: int, n: int) -> list[ConnectedAccount]:
    """The first ``n`` default accounts: the platform ledger's transfer destinations (one currency
    each), then made-up US ones; created one day apart, before the ledger starts."""
    from reportkit.sandbox.ledger import accounts_table

    table = accounts_table(seed)
    ids, names, countries = (table[k].to_pylist() for k in ("id", "name", "country"))
    out = []
    for i in range(n):
        if i < len(_PREFERENCE) and _PREFERENCE[i] < len(ids):
            j = _PREFERENCE[i]
            acct_id, name, country = ids[j], names[j], countries[j]
        else:
            digest = hashlib.sha256(f"{seed}/connected/{i}".encode()).hexdigest()
            acct_id, name, country = f"acct_1{digest[:15]}", f"Connected account {i + 1}", "US"
        cur = _CURRENCY_OF.get(country, "usd")
        out.append(ConnectedAccount(acct_id, country, cur, (cur,), name, start - (i + 1) * _DAY))
    return out


def _from_spec(spec: Any, fallback: ConnectedAccount | None, created: int) -> ConnectedAccount:
    if isinstance(spec, ConnectedAccount):
        return spec
    if isinstance(spec, str):
        spec = {"id": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"connected_accounts: each account is an id or a mapping, got {spec!r}")
    known = {
        "id",
        "country",
        "default_currency",
        "currencies",
        "name",
        "platform",
        "type",
        "scale",
        "created",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(
            f"connected_accounts: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    acct_id = spec.get("id") or (fallback.id if fallback else None)
    if not isinstance(acct_id, str) or not ACCOUNT_ID_RE.match(acct_id):
        raise ValueError(f"connected_accounts: not an account id (acct_ and letters/digits): {acct_id!r}")
    country = str(
        spec.get("country") or (fallback.country if fallback and "id" not in spec else "US")
    ).upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError(f"connected_accounts[{acct_id}]: country must be two letters, got {country!r}")
    cur = str(spec.get("default_currency") or _CURRENCY_OF.get(country, "usd")).lower()
    currencies = tuple(str(c).lower() for c in (spec.get("currencies") or (cur,)))
    if cur not in currencies:
        currencies = (cur, *currencies)
    for c in currencies:
        if not re.fullmatch(r"[a-z]{3}", c):
            raise ValueError(f"connected_accounts[{acct_id}]: not a currency code: {c!r}")
    name = str(spec.get("name") or f"Connected account {acct_id[-6:]}")
    kind = str(spec.get("type") or "custom")
    if kind not in ("custom", "express", "standard"):
        raise ValueError(f"connected_accounts[{acct_id}]: type is custom, express or standard, got {kind!r}")
    scale = float(spec.get("scale", 0.25))
    if not scale > 0:
        raise ValueError(f"connected_accounts[{acct_id}]: scale must be > 0, got {scale!r}")
    platform = str(spec.get("platform") or PLATFORM)
    return ConnectedAccount(
        acct_id, country, cur, currencies, name, int(spec.get("created", created)), platform, kind, scale
    )


def account_json(acct: ConnectedAccount) -> dict[str, Any]:
    """The ``account`` object (the fields Stripe's OpenAPI ``account`` schema names; see docs/fidelity.md)."""
    return {
        "id": acct.id,
        "object": "account",
        "business_profile": {
            "mcc": None,
            "name": acct.name,
            "product_description": None,
            "support_address": None,
            "support_email": acct.email,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "country": acct.country,
        "created": acct.created,
        "default_currency": acct.default_currency,
        "details_submitted": True,
        "email": acct.email,
        "metadata": {},
        "payouts_enabled": True,
        "type": acct.type,
    }


def _no_access(key: str, account: str, api: str) -> ApiError:
    """Stripe's answer when a platform's key acts on an account that is not its own (403)."""
    return ApiError(
        403,
        f"The provided key '{mask(key)}' does not have access to account '{shorten(account)}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
        api=api,
    )


_NOT_A_PLATFORM = (
    "Only Stripe Connect platforms can work with other accounts. If you specified a client_id "
    "parameter, make sure it's correct. If you need to setup a Stripe Connect platform, you can do so "
    "at https://dashboard.stripe.com/account/applications/settings."
)


class Connected:
    """The connected accounts of one sandbox (``backend.connected``): see the module docstring."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.accounts: tuple[ConnectedAccount, ...] = backend.config.connected_accounts
        self._by_id = {a.id: a for a in self.accounts}
        self._ledgers: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def get(self, account_id: str) -> ConnectedAccount | None:
        return self._by_id.get(account_id)

    def of(self, platform: str) -> list[ConnectedAccount]:
        """The connected accounts of ``platform`` (an account name), in listing order (newest first)."""
        return sorted((a for a in self.accounts if a.platform == platform), key=lambda a: (-a.created, a.id))

    def is_platform(self, account: str) -> bool:
        return any(a.platform == account for a in self.accounts)

    # -- who may act as whom --------------------------------------------------------------------
    def act_as(self, caller: Caller, headers: Mapping[str, str], *, api: str, path: str) -> Caller:
        """The caller as the account its ``Stripe-Account`` (or, on /v2, ``Stripe-Context``) header
        names, or the caller itself without one; Stripe's 403 when the key may not act as it."""
        names = ("Stripe-Account", "Stripe-Context") if api == "v2" else ("Stripe-Account",)
        given = {h: headers.get(h) for h in names if headers.get(h) is not None}
        if not given:
            return caller
        values = set(given.values())
        if len(values) > 1:
            raise ApiError(
                400, "Stripe-Account and Stripe-Context name different accounts; send one.", api=api
            )
        target = values.pop().strip()
        if target == caller.account:
            return caller
        if path.startswith("/v2/data"):
            raise ApiError(
                400,
                "The sandbox serves /v2/data for the platform's own account only; run "
                "connected_account_* report types on /v1/reporting instead.",
                api=api,
            )
        acct = self._by_id.get(target)
        if acct is not None and acct.platform == caller.account:
            return replace(caller, account=acct.id)
        if not self.is_platform(caller.account):
            raise ApiError(403, _NOT_A_PLATFORM, api=api)
        raise _no_access(caller.key, target, api)

    # -- ledgers ----------------------------------------------------------------------------------
    def ledger(self, account_id: str) -> Any:
        """The connected account's own ledger, built on first use, ending where the platform's does."""
        acct = self._by_id[account_id]
        end = self._ledger_end()
        with self._lock:
            hit = self._ledgers.get(account_id)
            if hit is not None and hit[0] == end:
                return hit[1]
        from reportkit.sandbox.ledger import Ledger

        c = self.backend.config
        ledger = Ledger(
            seed=acct.seed(c.seed),
            start=c.ledger_start,
            end=datetime.fromtimestamp(end, UTC),
            currencies=acct.currencies,
            scale=c.scale * acct.scale,
            transfers=False,  # a connected account has no connected accounts of its own
        )
        with self._lock:
            self._ledgers[account_id] = (end, ledger)
        return ledger

    def _ledger_end(self) -> int:
        """Where ledgers end: where the platform's does (the backend's ``horizon_end``: the clock may
        move the data window up to it; data already available never changes), read afresh."""
        return int(self.backend.horizon_end)

    def ledgers(self, platform: str, wanted: Iterable[str] | None) -> list[tuple[str, Any]]:
        """``(account id, ledger)`` of the platform's connected accounts (``wanted``: only those ids),
        in listing order."""
        keep = None if wanted is None else set(wanted)
        return [(a.id, self.ledger(a.id)) for a in self.of(platform) if keep is None or a.id in keep]

    def check_param(self, platform: str, account_id: str | None, param: str, api: str) -> None:
        """A ``connected_account`` parameter must name one of the platform's connected accounts:
        else Stripe's 404 ``resource_missing`` "No such account" (a choice: see docs/fidelity.md)."""
        if account_id is None:
            return
        acct = self._by_id.get(account_id)
        if acct is None or acct.platform != platform:
            raise ApiError(
                404,
                f"No such account: '{shorten(account_id)}'",
                code="resource_missing" if api == "v1" else "not_found",
                param=param,
                api=api,
            )
