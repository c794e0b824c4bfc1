"""Vectorised building blocks for the synthetic ledger: Stripe-shaped ids and the people around it.

Owns the small "who" tables that :mod:`reportkit.sandbox.ledger` joins its transactions to: customers
(names, emails, billing/shipping addresses by region), connected accounts, and the per-currency
profiles (volume, ticket size, fee model, region). Everything is drawn from a ``numpy.random.Generator``
in whole arrays, never one Python iteration per row, so a million-row ledger builds in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["CurrencyProfile", "accounts_table", "concat", "customers_table", "pick", "profile", "random_ids"]

_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def random_ids(rng: np.random.Generator, prefix: str, n: int, length: int = 24) -> pa.StringArray:
    """``n`` ids like ``txn_1PqRs...``: ``prefix`` + ``length`` random alphanumerics."""
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(p) + length
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, : len(p)] = p
    buf[:, len(p) :] = _ALNUM[rng.integers(0, 62, size=(n, length), dtype=np.uint8)]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]).cast(
        pa.string()
    )


def pick(rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None) -> np.ndarray:
    """Indices into ``values`` (int16), drawn with probabilities ``p``."""
    return rng.choice(len(values), size=n, p=p).astype(np.int16)


@dataclass(frozen=True)
class CurrencyProfile:
    """How one currency's business looks: volume, ticket size and Stripe's fee for it."""

    charges_per_day: float  # at scale 1, before weekly seasonality and growth
    median_major: float  # median charge in major units
    round_to_minor: int  # charges are whole multiples of this (JPY: 10 yen)
    fee_per_mille: int  # percentage fee in tenths of a percent (29 = 2.9 %)
    fee_fixed_minor: int  # fixed fee per charge, minor units
    dispute_fee_minor: int
    region: str  # which address book customers come from


_PROFILES = {
    "usd": CurrencyProfile(20.0, 42.0, 1, 29, 30, 1500, "us"),
    "eur": CurrencyProfile(10.0, 38.0, 1, 15, 25, 2000, "eu"),
    "jpy": CurrencyProfile(6.0, 4800.0, 10, 36, 0, 1500, "jp"),
    "gbp": CurrencyProfile(5.0, 35.0, 1, 15, 20, 2000, "gb"),
}


def profile(currency: str) -> CurrencyProfile:
    """The profile of ``currency`` (unknown currencies get a small USD-like business)."""
    return _PROFILES.get(currency, CurrencyProfile(4.0, 40.0, 1, 29, 30, 1500, "us"))


_FIRST = (
    "Ava Liam Mia Noah Emma Lucas Sofia Leon Hana Yuto Chloe Mateo Ines Felix Aiko Ren Olivia Jonas".split()
)
_LAST = (
    "Smith Garcia Muller Martin Rossi Tanaka Sato Dubois Jansen Kowalski Brown Silva Weber Ito Moreau".split()
)
# region -> (country, [(city, state, postal prefix)], street names)
_ADDRESSES = {
    "us": (
        ["US"],
        [
            ("San Francisco", "CA", "941"),
            ("New York", "NY", "100"),
            ("Austin", "TX", "787"),
            ("Seattle", "WA", "981"),
            ("Chicago", "IL", "606"),
        ],
        ["Market St", "Main St", "Oak Ave", "2nd Ave", "Pine St"],
    ),
    "eu": (
        ["DE", "FR", "NL", "IE", "ES"],
        [
            ("Berlin", "", "101"),
            ("Paris", "", "750"),
            ("Amsterdam", "", "101"),
            ("Dublin", "", "D02"),
            ("Madrid", "", "280"),
        ],
        ["Hauptstrasse", "Rue de Rivoli", "Keizersgracht", "Grafton St", "Calle Mayor"],
    ),
    "jp": (
        ["JP"],
        [
            ("Tokyo", "Tokyo", "100"),
            ("Osaka", "Osaka", "530"),
            ("Kyoto", "Kyoto", "600"),
            ("Sapporo", "Hokkaido", "060"),
            ("Fukuoka", "Fukuoka", "810"),
        ],
        ["Chuo", "Shibuya", "Umeda", "Gion", "Tenjin"],
    ),
    "gb": (
        ["GB"],
        [("London", "", "EC1"), ("Manchester", "", "M1 "), ("Leeds", "", "LS1")],
        ["High St", "Station Rd", "Church Ln"],
    ),
}


def concat(parts: list) -> pa.Array:
    """Element-wise concatenation of string arrays / scalars (nulls propagate)."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*[pa.scalar(x) if isinstance(x, str) else x for x in parts], "")


def _take_list(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx))


def customers_table(rng: np.random.Generator, region: str, n: int) -> dict[str, pa.Array]:
    """``n`` customers from ``region``: id, name, email, description, address (billing = shipping)."""
    countries, cities, streets = _ADDRESSES.get(region, _ADDRESSES["us"])
    first = pick(rng, _FIRST, n)
    last = pick(rng, _LAST, n)
    city = rng.integers(0, len(cities), n)
    country_idx = city % len(countries) if len(countries) > 1 else np.zeros(n, dtype=np.int64)
    serial = pa.array(np.arange(n).astype(str))
    house = pa.array(rng.integers(1, 400, n).astype(str))
    postal_tail = pa.array(np.char.zfill(rng.integers(0, 100, n).astype(str), 2))
    name = concat([_take_list(_FIRST, first), " ", _take_list(_LAST, last)])
    import pyarrow.compute as pc

    email = concat(
        [
            pc.utf8_lower(_take_list(_FIRST, first)),
            ".",
            pc.utf8_lower(_take_list(_LAST, last)),
            serial,
            "@example.com",
        ]
    )
    has_line2 = rng.random(n) < 0.25
    line2 = concat(["Apt ", pa.array(rng.integers(1, 60, n).astype(str))])
    line2 = pc.if_else(pa.array(has_line2), line2, pa.nulls(n, pa.string()))
    desc = pc.if_else(pa.array(rng.random(n) < 0.5), concat(["Customer ", serial]), pa.nulls(n, pa.string()))
    return {
        "id": random_ids(rng, "cus_", n, 14),
        "name": name,
        "email": email,
        "description": desc,
        "line1": concat([house, " ", _take_list(streets, rng.integers(0, len(streets), n))]),
        "line2": line2,
        "city": _take_list([c[0] for c in cities], city),
        "state": pc.if_else(
            pa.array(np.array([c[1] for c in cities])[city] != ""),
            _take_list([c[1] for c in cities], city),
            pa.nulls(n, pa.string()),
        ),
        "postal_code": concat([_take_list([c[2] for c in cities], city), postal_tail]),
        "country": _take_list(countries, country_idx),
    }


_ACCOUNTS = [
    ("Northwind Supplies", "US"),
    ("Globex Logistics", "US"),
    ("Atelier Blanc", "FR"),
    ("Kaffeehaus Berlin", "DE"),
    ("Sakura Studio", "JP"),
    ("Canal Bikes", "NL"),
    ("Emerald Crafts", "IE"),
    ("Fuji Partners", "JP"),
]


def accounts_table(rng: np.random.Generator) -> dict[str, pa.Array]:
    """The connected accounts transfers go to: id, name, country."""
    n = len(_ACCOUNTS)
    return {
        "id": random_ids(rng, "acct_", n, 16),
        "name": pa.array([a[0] for a in _ACCOUNTS]),
        "country": pa.array([a[1] for a in _ACCOUNTS]),
    }
