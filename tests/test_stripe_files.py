"""Real Stripe-written report files (tests/fixtures/stripe_files, sources and licences in SOURCES.md).

Each file parses, and every value equals an independent reading with ``csv`` + ``Decimal``: money exact,
dates (written ``YYYY-MM-DD 00:00:00`` by Stripe) as calendar dates, local times as wall times in the
file's timezone, text as text, empty as missing. The sets that belong together (same account and
period) reconcile: starting + activity + payouts = ending, the sub-rows add up (activity_gross +
activity_fee = activity, payouts_gross + payouts_fee = payouts), the summary's activity is the itemised
activity's net, and its payouts row is the negative of the itemised payouts' net (payouts are positive
in the itemised payouts report).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from reportkit import catalog, frames
from reportkit.errors import ResultParseError

ROOT = Path(__file__).parent / "fixtures" / "stripe_files"
FAMILY = {
    "balance_summary": "balance.summary.1",
    "balance_change_from_activity_itemized": "balance_change_from_activity.itemized.3",
    "payouts_itemized": "payouts.itemized.3",
    "payout_reconciliation_itemized": "payout_reconciliation.itemized.5",
}
FILES = sorted(p for p in ROOT.glob("*/*.csv"))
ZONE = re.compile(r"_(Asia-Hong_Kong|Europe-London|America-Chicago)\.csv$")


def _report(path: Path) -> str:
    return FAMILY[path.parent.name]


def _timezone(path: Path) -> str:
    m = ZONE.search(path.name)
    return m.group(1).replace("-", "/") if m else "Etc/UTC"


def _expected(text: str | None, kind: str | None) -> object:
    """What the value should be, read with the standard library alone."""
    if text is None or text == "":
        return None
    if kind in ("money", "rate"):
        return Decimal(text)
    if kind == "date":
        assert text.endswith(" 00:00:00") or len(text) == 10, text
        return date.fromisoformat(text[:10])
    if kind in ("timestamp_utc", "timestamp_local"):
        return datetime.fromisoformat(text)
    if kind == "count":
        return int(text)
    if kind == "bool":
        return {"true": True, "false": False}[text.lower()]
    return text


def _actual(value: object, kind: str | None) -> object:
    if value is None or value is pd.NA or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind == "date":
        return value.date()
    if kind in ("timestamp_utc", "timestamp_local"):
        return value.tz_localize(None).to_pydatetime() if value.tzinfo is None else (
            value.tz_convert(value.tzinfo).tz_localize(None).to_pydatetime())
    return value


def test_the_corpus_is_what_sources_md_promises():
    families = {p.parent.name for p in FILES}
    assert len(FILES) >= 10 and families == set(FAMILY)
    sources = (ROOT / "SOURCES.md").read_text()
    for path in FILES:
        assert f"{path.parent.name}/{path.name}" in sources, f"{path.name} has no entry in SOURCES.md"
    assert "licence" in sources.lower()


@pytest.mark.parametrize("path", FILES, ids=[p.name[:60] for p in FILES])
def test_each_file_parses_exactly(path):
    raw = path.read_bytes()
    report, tz = _report(path), _timezone(path)
    df = frames.parse(raw, report=report, timezone=tz)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert list(df.columns) == header and len(df) == len(body)
    spec = catalog.report_spec(report)
    for j, name in enumerate(header):
        kind = spec.kind(name)
        got = [_actual(v, kind) for v in df[name].tolist()]
        want = [_expected(r[j], kind) for r in body]
        assert got == want, name
        if kind == "money":
            assert str(df[name].dtype) == "decimal", name


def test_dates_with_a_time_other_than_midnight_are_refused_by_name():
    path = next(p for p in FILES if p.parent.name == "payouts_itemized" and p.stat().st_size > 400)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    col = rows[0].index("payout_expected_arrival_date")
    assert rows[1][col].endswith(" 00:00:00")
    rows[1][col] = rows[1][col].replace(" 00:00:00", " 13:00:00")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    text = out.getvalue()
    with pytest.raises(ResultParseError, match="payout_expected_arrival_date.*13:00:00.*not a date"):
        frames.parse(text.encode(), report="payouts.itemized.3", timezone=_timezone(path))


def _sets() -> dict[str, dict[str, Path]]:
    """The reconcilable sets of SOURCES.md: set name -> family folder -> file."""
    text = (ROOT / "SOURCES.md").read_text()
    out: dict[str, dict[str, Path]] = defaultdict(dict)
    for m in re.finditer(r"### `([^`]+)`\n\n- family: `[^`]+`; set (W-[A-E])", text):
        path = ROOT / m.group(1)
        out[m.group(2)][path.parent.name] = path
    return dict(out)


SETS = _sets()


def _frame(path: Path) -> pd.DataFrame:
    return frames.parse(path.read_bytes(), report=_report(path), timezone=_timezone(path))


def test_the_sets_are_found():
    assert set(SETS) == {"W-A", "W-B", "W-C", "W-D", "W-E"}
    assert all("balance_summary" in s and "balance_change_from_activity_itemized" in s for s in SETS.values())


@pytest.mark.parametrize("name", sorted(SETS))
def test_each_set_reconciles_on_stripes_conventions(name):
    files = SETS[name]
    summary = _frame(files["balance_summary"]).set_index("category")["net_amount"]
    rows = set(summary.index)
    assert rows == {"starting_balance", "activity_gross", "activity_fee", "activity", "payouts_gross",
                    "payouts_fee", "payouts", "ending_balance"}
    assert summary["starting_balance"] + summary["activity"] + summary["payouts"] == summary["ending_balance"]
    assert summary["activity_gross"] + summary["activity_fee"] == summary["activity"]
    assert summary["payouts_gross"] + summary["payouts_fee"] == summary["payouts"]
    activity = _frame(files["balance_change_from_activity_itemized"])
    assert activity["net"].sum() == summary["activity"]
    assert (activity["gross"] - activity["fee"] == activity["net"]).all()
    if "payouts_itemized" in files:
        paid = _frame(files["payouts_itemized"])
        total = paid["net"].sum() if len(paid) else Decimal("0.00")
        assert -total == summary["payouts"]  # positive in the payouts report, negative in the summary


def test_consecutive_months_chain():
    april = _frame(SETS["W-D"]["balance_summary"]).set_index("category")["net_amount"]
    may = _frame(SETS["W-E"]["balance_summary"]).set_index("category")["net_amount"]
    assert april["ending_balance"] == may["starting_balance"] == Decimal("-28.77")
