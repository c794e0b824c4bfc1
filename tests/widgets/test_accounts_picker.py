"""ReportForm's accounts picker (Stripe Connect): shown when the platform has connected accounts, the
key's own account by default, ``accounts=[...]`` to ``client.reports`` when connected accounts are
picked.

Against the real sandbox (a platform with three connected accounts by default). Expected balances come
from each connected account's own ledger in the sandbox, an oracle independent of the client.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import reportkit as rk
from reportkit import catalog
from reportkit.widgets import ReportForm

START, END = date(2025, 1, 1), date(2025, 2, 1)
REPORT = "balance.summary.1"


def headed(sb, since: int) -> list:
    """Requests since ``since`` that acted as a connected account (Stripe-Account header)."""
    return [q for q in list(sb.requests)[since:] if any(k.lower() == "stripe-account" for k in q.headers)]


def balance_at(ledger, currency: str, at: date) -> Decimal:
    epoch = int(datetime(at.year, at.month, at.day, tzinfo=UTC).timestamp())
    return Decimal(ledger.balance(currency, epoch)).scaleb(-catalog.currency_exponent(currency))


def form_for(client, start: date = START, end: date = END) -> ReportForm:
    form = ReportForm(client, report=REPORT)
    form.start.value, form.end.value = start, end
    return form


def test_the_picker_lists_the_connected_accounts_and_defaults_to_this_account(
    client, sandbox, click_run, visible
):
    listed = client.accounts()
    form = form_for(client)
    assert visible(form.account_picker.box)
    assert [v for _, v in form.accounts.options] == ["", *listed["id"]]
    assert form.accounts.value == ("",) and form.request()["accounts"] is None
    for (label, value), row in zip(form.accounts.options[1:], listed.itertuples(), strict=True):
        assert value == row.id and label.startswith(f"{row.name} — {row.id} ({row.country}, ")
    since = len(sandbox.requests)
    click_run(form)  # the default: exactly what it was without Connect
    assert form.error_message is None, form.error_message
    pd.testing.assert_frame_equal(form.df, client.report(REPORT, START, END), check_exact=True)
    assert "account" not in form.df.columns and not headed(sandbox, since)
    assert "accounts=" not in form.code_text and "client.report(\n" in form.code_text


def test_picked_accounts_run_as_each_account_in_one_batch(client, sandbox, click_run, run_code):
    ids = list(client.accounts()["id"])[:2]
    form = form_for(client)
    form.account_picker.pick(ids)
    since = len(sandbox.requests)
    click_run(form)
    assert form.error_message is None, form.error_message
    df = form.df
    utc = ZoneInfo("Etc/UTC")
    iv = rk.Interval(datetime(2025, 1, 1, tzinfo=utc), datetime(2025, 2, 1, tzinfo=utc))
    expected = client.reports(REPORT, [iv], accounts=ids, timezone="Etc/UTC")
    pd.testing.assert_frame_equal(df, expected, check_exact=True)
    assert list(df.columns[:3]) == ["account", "interval_start", "interval_end"]
    assert list(dict.fromkeys(df["account"])) == ids and headed(sandbox, since)
    for acct in ids:  # each account's own balances, from its own ledger
        ledger = sandbox.backend.connected.ledger(acct)
        part = df[df["account"] == acct]
        for cur in set(part["currency"]):
            net = part[part["currency"] == cur].set_index("category")["net_amount"]
            assert net["starting_balance"] == balance_at(ledger, cur, START)
            assert net["ending_balance"] == balance_at(ledger, cur, END)
    assert df.attrs["reportkit"]["accounts"] == ids and form.run is None
    assert form.status.value.startswith(f"Done: {len(df)} rows from 2 accounts × 1 interval in ")

    code = form.code_text
    assert f"accounts={ids!r}" in code and "client.reports(" in code and "rk.Interval(" in code
    namespace = run_code(code, sandbox)
    pd.testing.assert_frame_equal(namespace["df"], df, check_exact=True)


def test_accounts_with_a_split_are_accounts_times_intervals(client, click_run):
    ids = list(client.accounts()["id"])
    form = form_for(client, date(2025, 1, 1), date(2025, 3, 1))
    form.account_picker.pick(ids)
    form.split.value = "month"
    click_run(form)
    assert form.error_message is None, form.error_message
    ivs = rk.intervals("2025-01-01", "2025-03-01", freq="month")
    pd.testing.assert_frame_equal(form.df, client.reports(REPORT, ivs, accounts=ids), check_exact=True)
    assert form.status.value.startswith(f"Done: {len(form.df)} rows from 3 accounts × 2 intervals in ")
    assert "rk.intervals('2025-01-01', '2025-03-01', freq='month'" in form.code_text


BOTH = "pick either this account or connected accounts: the platform's own report and its connected"


@pytest.mark.parametrize(("picked", "says"), [((), "pick an account: this account, or one or more"),
                                              (("", "first"), BOTH)])  # fmt: skip
def test_a_pick_that_cannot_run_is_refused_before_anything_is_sent(client, sandbox, picked, says, click_run):
    form = form_for(client)
    first = form.account_picker.ids[0]
    form.accounts.value = tuple(first if p == "first" else p for p in picked)
    created = sandbox.runs_created
    click_run(form)
    assert form.df is None and form.error_message.startswith(f"Check the form: {says}")
    assert sandbox.runs_created == created and form.status.value == "Not started."
    assert form.code_text.startswith(f"# {says}")  # the code tab says why there is no code


def test_the_picker_is_shown_only_where_accounts_apply(client, sandbox_factory, visible):
    form = form_for(client)
    assert visible(form.account_picker.box)
    form.account_picker.pick(form.account_picker.ids[:1])
    form.api.value = "v2"  # accounts= is for v1 requests
    assert not visible(form.account_picker.box) and form.request()["accounts"] is None
    form.api.value = "v1"
    form.report.value = "ending_balance_reconciliation.summary.1"  # no period start: one run
    assert not visible(form.account_picker.box) and form.request()["accounts"] is None
    form.report.value = REPORT
    assert visible(form.account_picker.box) and form.request()["accounts"] == form.account_picker.ids[:1]

    sb = sandbox_factory(connected_accounts=0)  # no Connect: no picker at all
    plain = form_for(sb.client(cache=False, progress=False))
    assert not plain.account_picker.available and not visible(plain.account_picker.box)
    assert plain.account_picker.error is None and plain.request()["accounts"] is None
