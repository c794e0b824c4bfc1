"""Shared vocabulary of the synthetic ledger: category codes, enumerations and array helpers.

Owns the integer codes the ledger's arrays hold (``cat`` indexes :data:`CATEGORIES`, ...), the
day arithmetic (UTC midnights, business days) and :class:`Parts`, the column pieces that the
generators in :mod:`reportkit.sandbox.activity` and :mod:`reportkit.sandbox.schedule` append to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

DAY = 86_400
#: Reporting categories the ledger produces, by code (the ``cat`` array holds indices into this).
CATEGORIES = (
    "charge",
    "refund",
    "dispute",
    "dispute_reversal",
    "fee",
    "transfer",
    "other_adjustment",
    "payout",
    "payout_reversal",
)
PAYOUT_CATEGORIES = frozenset({"payout", "payout_reversal"})
BT_TYPES = (
    "charge",
    "refund",
    "adjustment",
    "adjustment",
    "stripe_fee",
    "transfer",
    "adjustment",
    "payout",
    "payout_failure",
)
(CHARGE, REFUND, DISPUTE, DISPUTE_REVERSAL, FEE, TRANSFER, ADJUSTMENT, PAYOUT, PAYOUT_REVERSAL) = range(9)
DISPUTE_REASONS = ("fraudulent", "product_not_received", "duplicate", "subscription_canceled", "general")
REFUND_REASONS = ("customer_request", "damaged_goods", "duplicate_order")
CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb")
CARD_FUNDING = ("credit", "debit", "prepaid")
PM_TYPES = ("card", "link", "us_bank_account", "sepa_debit", "konbini")
CHANNELS = ("web", "mobile", "pos")

NUM_COLUMNS = (
    "created",
    "available_on",
    "amount",
    "fee",
    "cat",
    "charge",
    "acct",
    "payout",
    "dispute_reason",
    "refund_reason",
    "partner_ref",
    "cur",
)
STR_COLUMNS = ("source_id", "description", "destination_payment_id")


def off_midnight(t: np.ndarray) -> np.ndarray:
    """Nudge times that fall exactly on a UTC midnight by one second (payouts own the midnights)."""
    return t + (t % DAY == 0)


def business_midnight(t: np.ndarray, days: int) -> np.ndarray:
    """UTC midnight ``days`` business days after the day of ``t`` (weekends roll forward first)."""
    d = (t // DAY).astype("datetime64[D]")
    return np.busday_offset(d, days, roll="forward").astype(np.int64) * DAY


def rounded(minor: np.ndarray, step: int, floor: int) -> np.ndarray:
    return np.maximum(np.round(minor / step).astype(np.int64) * step, floor)


@dataclass
class Parts:
    """Column pieces gathered per transaction kind, concatenated once at the end."""

    num: dict
    txt: dict

    @classmethod
    def empty(cls) -> Parts:
        return cls({k: [] for k in NUM_COLUMNS}, {k: [] for k in STR_COLUMNS})

    def add(self, n: int, **cols: object) -> None:
        for k in NUM_COLUMNS:
            self.num[k].append(np.asarray(cols[k], dtype=np.int64) if k in cols else np.full(n, -1, np.int64))
        for k in STR_COLUMNS:
            self.txt[k].append(cols[k] if k in cols else pa.nulls(n, pa.string()))

    def concat(self) -> tuple[dict, dict]:
        num = {k: np.concatenate(v) for k, v in self.num.items()}
        txt = {k: pa.concat_arrays([a.cast(pa.string()) for a in v]) for k, v in self.txt.items()}
        return num, txt
