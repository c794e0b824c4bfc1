"""Soak: 200 report runs through ``client.reports`` with seeded random faults, all accounted for.

Ten batches of 20 day intervals of ``balance.summary.1`` run against one sandbox with Stripe's
default limits (run cap 5, 25 requests/s). Before each batch a seeded RNG arms a few counted faults
(5xx, connection resets, request-rate 429s, truncated downloads, slow creates past the client's
read timeout) and makes one or two chosen intervals' runs fail. Afterwards:

- every interval is accounted for: in the result, or in ``BatchError.errors`` with a reason, and the
  failures are exactly the intervals whose runs were made to fail (every transient fault recovered);
- no run was duplicated: ``sb.runs_created`` equals the number of intervals, and the sandbox's own
  run list (``client.list_runs``) holds each interval once, even where a create was retried;
- the numbers are right: each day's starting and ending balances equal the sandbox ledger's;
- bounded: the pytest timeout caps the whole soak (it takes about 30-40 s).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

import reportkit as rk
from reportkit import catalog
from reportkit.intervals import Interval, intervals
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
REPORT = "balance.summary.1"
RUNS = "/v1/reporting/report_runs"
SEED = 20251122
BATCHES, PER_BATCH = 10, 20


def _arm(sb: Sandbox, rng: random.Random, batch: list[Interval]) -> set[Interval]:
    """Switch a random mix of counted faults on for one batch; return the intervals made to fail."""
    f = sb.faults
    f.reset()
    # Distinct kinds, so that even if every fault lands on one request it still fits the client's
    # retries (max_retries=5: at most 2 x 5xx + 2 resets + 1 timeout; 429s have their own 3 retries).
    for kind in rng.sample(["5xx", "reset", "429", "truncate", "slow"], rng.randint(2, 5)):
        if kind == "5xx":
            f.server_errors(rng.randint(1, 2), status=rng.choice([500, 502, 503]),
                            method=rng.choice(["GET", "POST"]), path=RUNS)
        elif kind == "reset":
            f.drop_connections(rng.randint(1, 2), host=rng.choice(["api", "files"]))
        elif kind == "429":
            f.rate_limit_burst(rng.randint(1, 3))
        elif kind == "truncate":
            f.truncate_downloads(rng.randint(1, 2), keep=rng.choice([0.0, 0.3, 0.7]))
        else:  # past the client's 0.5 s read timeout: the create is retried with the same key
            f.slow(0.8, 1, method="POST", path=RUNS)
    doomed = set(rng.sample(batch, rng.randint(1, 2)))
    starts = {int(iv.start.timestamp()) for iv in doomed}
    f.fail_runs(None, where=lambda p: p.get("interval_start") in starts, message="The report run failed "
                "because of an internal error. Please try again.")
    return doomed


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_soak_200_runs_with_random_faults(tmp_path) -> None:
    rng = random.Random(SEED)
    days = list(intervals("2024-03-01", "2024-09-17", freq="day"))
    assert len(days) == BATCHES * PER_BATCH
    succeeded: dict[Interval, pd.DataFrame] = {}
    failed: dict[Interval, BaseException] = {}
    doomed: set[Interval] = set()
    with Sandbox(seed=11, now=NOW, processing_time=0.05, jitter=0.02, scale=0.1) as sb:
        client = sb.client(cache=tmp_path / "cache", progress=False, timeout=(2.0, 0.5), max_retries=5)
        for b in range(BATCHES):
            batch = days[b * PER_BATCH:(b + 1) * PER_BATCH]
            doomed |= _arm(sb, rng, batch)
            try:
                df = client.reports(REPORT, batch)
            except rk.BatchError as exc:
                df = exc.frames
                failed.update(exc.errors)
            for start, part in df.groupby("interval_start", sort=True):
                iv = next(iv for iv in batch if iv.start == start)
                assert iv not in succeeded
                succeeded[iv] = part
        sb.faults.reset()
        fired = Counter(sb.faults.fired)
        print(f"soak: {len(succeeded)} ok, {len(failed)} failed as planned; faults fired: {dict(fired)}")
        listed = list(sb.client(cache=False, progress=False).list_runs(limit=100))
        runs_created = sb.runs_created
        ledger = sb.ledger
        assert sb.errors == []

    # Accounted for: every interval succeeded or failed, never both, and only the doomed ones failed.
    assert set(succeeded) | set(failed) == set(days) and not set(succeeded) & set(failed)
    assert set(failed) == doomed, {iv.label: str(e) for iv, e in failed.items()}
    for iv, exc in failed.items():
        assert isinstance(exc, rk.RunFailedError) and "internal error" in str(exc), (iv.label, exc)
    # The faults did fire (the soak is not a quiet run).
    assert fired["fail_run"] == len(doomed) and sum(fired.values()) > len(doomed) + 2 * BATCHES, fired
    # No duplicates: one run per interval, in the sandbox's count and in its run list.
    assert runs_created == len(days)
    per_interval = Counter(int(r.interval_start.timestamp()) for r in listed if r.report == REPORT)
    assert len(listed) == len(days) and set(per_interval.values()) == {1}
    assert set(per_interval) == {int(iv.start.timestamp()) for iv in days}
    # The numbers: each day's opening and closing balances are the ledger's, per currency.
    checked = 0
    for iv, part in succeeded.items():
        for row in part.itertuples():
            if row.category not in ("starting_balance", "ending_balance"):
                continue
            checked += 1
            at = iv.start if row.category == "starting_balance" else iv.end
            minor = ledger.balance(row.currency, int(at.timestamp()))
            exp = catalog.currency_exponent(row.currency)
            assert row.net_amount == Decimal(minor).scaleb(-exp), (iv.label, row)
    assert checked >= 2 * len(succeeded)
