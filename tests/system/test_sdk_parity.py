"""The same report fetched the DIY way (official stripe SDK + requests + csv.DictReader with Decimal)
and through client.report() gives the same values, row for row."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import stripe

from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, tzinfo=UTC)
S = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
E = int(datetime(2025, 2, 1, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=9, now=NOW, processing_time=0.1, jitter=0.0) as box:
        yield box


def diy(sb, report_type: str, parameters: dict) -> list[dict[str, str]]:
    sdk = stripe.StripeClient(sb.api_key, base_addresses={"api": sb.url, "files": sb.files_url})
    run = sdk.v1.reporting.report_runs.create(params={"report_type": report_type, "parameters": parameters})
    deadline = time.monotonic() + 30
    while run.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        run = sdk.v1.reporting.report_runs.retrieve(run.id)
    assert run.status == "succeeded", run.status
    resp = requests.get(run.result.url, auth=(sb.api_key, ""), timeout=10)
    resp.raise_for_status()
    assert len(resp.content) == run.result.size
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8"))))


@pytest.mark.parametrize(
    "report_type,money,key",
    [
        ("balance.summary.1", ["net_amount"], ["category", "currency"]),
        ("payouts.summary.1", ["gross", "fee", "net"], ["reporting_category", "currency"]),
        ("balance_change_from_activity.itemized.2", ["gross", "fee", "net"], ["balance_transaction_id"]),
    ],
)
def test_sdk_and_reportkit_agree(sb, report_type, money, key):
    rows = diy(sb, report_type, {"interval_start": S, "interval_end": E})
    df = sb.client(cache=False, progress=False).report(report_type, "2025-01-01", "2025-02-01")
    assert len(rows) == len(df) > 0
    assert list(rows[0]) == list(df.columns)
    theirs = {tuple(r[k] for k in key): [Decimal(r[m]) for m in money] for r in rows}
    ours = {
        tuple(str(v) for v in t[: len(key)]): list(t[len(key) :])
        for t in df[key + money].itertuples(index=False)
    }
    assert ours == theirs
    for m in money:
        assert sum(Decimal(r[m]) for r in rows) == df[m].sum()
