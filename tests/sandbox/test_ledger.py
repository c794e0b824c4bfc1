"""The sandbox ledger: determinism, the transaction mix, fees, settlement and payout coherence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from reportkit.sandbox.ledger import DAY, Ledger

END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger(7, start="2024-01-01", end=END)


def test_same_seed_same_ledger_other_seed_differs(ledger: Ledger) -> None:
    again = Ledger(7, start="2024-01-01", end=END)
    pd.testing.assert_frame_equal(ledger.transactions, again.transactions)
    pd.testing.assert_frame_equal(ledger.payouts, again.payouts)
    other = Ledger(8, start="2024-01-01", end=END)
    assert not other.transactions["id"].equals(ledger.transactions["id"])
    assert other.transactions["net"].sum() != ledger.transactions["net"].sum()


def test_span_currencies_and_mix(ledger: Ledger) -> None:
    tx = ledger.transactions
    assert 20_000 < len(tx) < 100_000
    assert tx["created"].min() >= ledger.start_ts and tx["created"].max() < ledger.end_ts
    assert (tx["created"].max() - tx["created"].min()) > 700 * DAY
    wanted = {
        "charge",
        "refund",
        "dispute",
        "dispute_reversal",
        "fee",
        "transfer",
        "other_adjustment",
        "payout",
        "payout_reversal",
    }
    for cur in ("usd", "eur", "jpy"):
        mine = tx[tx["currency"] == cur]
        assert set(mine["reporting_category"]) == wanted, cur
    assert ledger.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC) and ledger.end == END


def test_rows_sorted_by_created_then_id_and_ids_unique(ledger: Ledger) -> None:
    tx = ledger.transactions
    keys = list(zip(tx["created"], tx["id"], strict=True))
    assert keys == sorted(keys)
    assert tx["id"].is_unique and tx["id"].str.match(r"^txn_[0-9A-Za-z]{24}$").all()
    ch = tx[tx["reporting_category"] == "charge"]
    assert ch["source_id"].str.startswith("ch_").all() and (ch["source_id"] == ch["charge_id"]).all()
    assert tx.loc[tx["reporting_category"] == "refund", "source_id"].str.startswith("re_").all()
    assert tx.loc[tx["reporting_category"] == "dispute", "source_id"].str.startswith("dp_").all()
    assert tx.loc[tx["reporting_category"] == "transfer", "source_id"].str.startswith("tr_").all()
    assert (
        tx.loc[tx["reporting_category"].isin(["payout", "payout_reversal"]), "source_id"]
        .str.startswith("po_")
        .all()
    )


def test_amounts_are_integers_and_fees_follow_the_model(ledger: Ledger) -> None:
    tx = ledger.transactions
    for col in ("amount", "fee", "net", "created", "available_on"):
        assert tx[col].dtype == np.int64
    assert (tx["net"] == tx["amount"] - tx["fee"]).all()
    ch = tx[tx["reporting_category"] == "charge"]
    usd, eur, jpy = (ch[ch["currency"] == c] for c in ("usd", "eur", "jpy"))
    assert (usd["fee"] == (usd["amount"] * 29 + 500) // 1000 + 30).all()
    assert (eur["fee"] == (eur["amount"] * 15 + 500) // 1000 + 25).all()
    assert (jpy["fee"] == (jpy["amount"] * 36 + 500) // 1000).all()
    assert (jpy["amount"] % 10 == 0).all() and (ch["amount"] > 0).all()
    assert (tx.loc[tx["reporting_category"] == "refund", "amount"] < 0).all()


def test_charges_settle_two_business_days_later_at_midnight(ledger: Ledger) -> None:
    tx = ledger.transactions
    ch = tx[tx["reporting_category"] == "charge"]
    avail = ch["available_on"].to_numpy()
    assert (avail % DAY == 0).all() and (avail > ch["created"].to_numpy()).all()
    assert np.is_busday((avail // DAY).astype("datetime64[D]")).all()
    other = tx[tx["reporting_category"] != "charge"]
    assert (other["available_on"] == other["created"]).all()


def test_balance_is_net_created_before(ledger: Ledger) -> None:
    tx = ledger.transactions
    for at in (ledger.start_ts, ledger.start_ts + 17 * DAY + 5, 1_735_689_600, ledger.end_ts):
        for cur in ledger.currencies:
            mine = tx[(tx["currency"] == cur) & (tx["created"] < at)]
            assert ledger.balance(cur, at) == int(mine["net"].sum())
    assert ledger.balance("usd", ledger.start_ts) == 0


def test_automatic_payouts_equal_what_they_settled(ledger: Ledger) -> None:
    tx, po = ledger.transactions, ledger.payouts
    auto = po[po["automatic"]].set_index("id")
    settled = tx.dropna(subset=["automatic_payout_id"])
    sums = settled.groupby("automatic_payout_id")["net"].sum()
    assert set(sums.index) == set(auto.index)
    assert (sums == auto.loc[sums.index, "amount"]).all() and (auto["amount"] > 0).all()
    eff = settled["automatic_payout_effective_at"].astype("int64")
    assert (eff == auto.loc[settled["automatic_payout_id"], "effective_at"].to_numpy()).all()
    assert (settled["available_on"] <= eff).all() and (settled["created"] < eff).all()
    assert not settled["reporting_category"].isin(["payout", "payout_reversal"]).any()
    # automatic payouts run at 00:00 UTC on business days
    assert (auto["created"] % DAY == 0).all()
    assert np.is_busday((auto["created"].to_numpy() // DAY).astype("datetime64[D]")).all()


def test_every_payout_has_its_transaction_and_failures_come_back(ledger: Ledger) -> None:
    tx, po = ledger.transactions, ledger.payouts
    pay = tx[tx["reporting_category"] == "payout"].set_index("payout_id")
    assert set(pay.index) == set(po["id"])
    assert (pay.loc[po["id"], "net"].to_numpy() == -po["amount"].to_numpy()).all()
    assert (pay.loc[po["id"], "created"].to_numpy() == po["effective_at"].to_numpy()).all()
    manual = po[~po["automatic"]]
    assert {"paid", "failed"} <= set(manual["status"]) and manual["reversed_at"].notna().any()
    back = tx[tx["reporting_category"] == "payout_reversal"].set_index("payout_id")
    returned = manual[(manual["status"] == "failed") | manual["reversed_at"].notna()]
    assert set(back.index) == set(returned["id"])
    assert (back.loc[returned["id"], "net"].to_numpy() == returned["amount"].to_numpy()).all()
    assert set(po["status"]) <= {"paid", "failed", "in_transit"}


def test_rows_target_and_argument_checks() -> None:
    big = Ledger(3, start="2024-01-01", end=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), rows=100_000)
    assert 90_000 < len(big.bt["created"]) < 110_000
    with pytest.raises(ValueError):
        Ledger(1, start=dt.datetime(2024, 1, 1), end=END)
    with pytest.raises(ValueError):
        Ledger(1, start="2024-01-01", end=dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC))
    small = Ledger(
        1, start=dt.date(2024, 1, 1), end=dt.datetime(2024, 3, 1, tzinfo=dt.UTC), currencies=("usd",)
    )
    assert set(small.transactions["currency"]) == {"usd"}
    assert small.payout_ids() == frozenset(small.payouts["id"])
    assert small.payout_ids(automatic=False) == frozenset(
        small.payouts.loc[~small.payouts["automatic"], "id"]
    )
