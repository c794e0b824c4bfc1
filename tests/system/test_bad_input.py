"""The bad-input matrix: every mistake is refused before anything is sent that could create a run.

Across the API (``client.report``, ``create_run``, ``reports``, ``intervals``, ``Client``), the CLI
(``reportkit.cli.main(argv)`` and one real subprocess) and the widget form (``ReportForm``: set bad
values, click Run, read the error in the form). For each case: the sandbox created no run, saw no
POST at all (GETs of the report type's data window are allowed), and the message names the
parameter and says how to fix it.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import reportkit as rk
from reportkit import cli
from reportkit.intervals import intervals
from reportkit.sandbox import Sandbox

NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
S, E = "2025-03-01", "2025-03-02"
ITEMIZED = "balance_change_from_activity.itemized.1"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, now=NOW, processing_time=0.1, jitter=0.0, scale=0.25) as box:
        yield box
        assert box.errors == []


@pytest.fixture
def client(sb: Sandbox, tmp_path: Path) -> Any:
    return sb.client(cache=tmp_path / "cache", progress=False)


class NothingSent:
    """Records the sandbox's counters; ``check()`` asserts no run was created and no POST was seen."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb, self.runs, self.seen = sb, sb.runs_created, len(sb.requests)

    def check(self) -> None:
        posts = [r for r in self.sb.requests.snapshot()[self.seen:] if r.method != "GET"]
        assert self.sb.runs_created == self.runs, "a run was created"
        assert posts == [], f"requests other than GET were sent: {posts}"


# -- the API ----------------------------------------------------------------------------------------
# (id, call(client), exception, regex: names the parameter AND the fix)
API: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    ("report: typo in the report type", lambda c: c.report("balance.sumary.1", S, E),
     rk.ConfigurationError, r"unknown report type 'balance\.sumary\.1'; did you mean 'balance\.summary\.1'"),
    ("report: v2 name with api=v1", lambda c: c.report("balance.summary", S, E),
     rk.ConfigurationError, r"v1 types carry a version, e\.g\. 'balance\.summary\.1'.*api='v2'"),
    ("report: v1 id with api=v2", lambda c: c.report("balance.summary.1", S, E, api="v2"),
     rk.ConfigurationError, r"v2 report names carry no version: try 'balance\.summary'"),
    ("report: naive datetime", lambda c: c.report("balance.summary.1", datetime(2025, 3, 1), E),
     rk.ConfigurationError, r"interval_start=.*naive.*pass an aware datetime or a date string"),
    ("report: start after end", lambda c: c.report("balance.summary.1", E, S),
     rk.ConfigurationError, r"start .* must be before end"),
    ("report: impossible date", lambda c: c.report("balance.summary.1", "2025-13-01", E),
     rk.ConfigurationError, r"interval_start='2025-13-01' is not a date.*pass an aware datetime or a date"),
    ("report: unknown timezone", lambda c: c.report("balance.summary.1", S, E, timezone="Mars/Olympus"),
     rk.ConfigurationError, r"timezone 'Mars/Olympus' is not an IANA time zone name; "
     r"pass e\.g\. timezone='Etc/UTC'"),
    ("report: unknown column", lambda c: c.report(ITEMIZED, S, E, columns=["grosss"]),
     rk.ConfigurationError, r"no column 'grosss'; did you mean 'gross'"),
    ("report: columns as one string", lambda c: c.report(ITEMIZED, S, E, columns="gross"),
     rk.ConfigurationError, r"columns must be a list of column names"),
    ("report: parameter the type does not take", lambda c: c.report("balance.summary.1", S, E, payout="po_1"),
     rk.ConfigurationError, r"does not take the parameter 'payout'; it takes: columns, currency"),
    ("report: missing required payout", lambda c: c.report("payout_reconciliation.by_id.summary.1"),
     rk.ConfigurationError, r"needs payout"),
    ("report: bad currency", lambda c: c.report("balance.summary.1", S, E, currency="dollars"),
     rk.ConfigurationError, r"currency='dollars' is not a three-letter ISO code such as 'usd'"),
    ("report: bad reporting_category", lambda c: c.report(ITEMIZED, S, E, reporting_category="chargeX"),
     rk.ConfigurationError, r"unknown reporting_category 'chargeX'; did you mean 'charge'"),
    ("report: compress on v1", lambda c: c.report("balance.summary.1", S, E, compress=True),
     rk.ConfigurationError, r"compress=True needs api='v2'"),
    ("report: negative timeout", lambda c: c.report("balance.summary.1", S, E, timeout=-1),
     rk.ConfigurationError, r"timeout must be a number of seconds >= 0 \(e\.g\. timeout=600\)"),
    ("report: live-only type with a test key",
     lambda c: c.report("balance_change_from_activity.itemized.3", S, E),
     rk.ConfigurationError, r"live mode only; use a live key \(sk_live_"),
    ("report: past the data window", lambda c: c.report("balance.summary.1", "2025-06-01", "2025-06-20"),
     rk.DataNotAvailableError, r"available for \[2024-01-01.*2025-06-14.*Pass clamp=True"),
    ("create_run: ISO time without offset",
     lambda c: c.create_run("balance.summary.1", "2025-03-01T00:00", E),
     rk.ConfigurationError, r"interval_start=.*naive.*pass an aware datetime"),
    ("create_run: fractions of a second",
     lambda c: c.create_run("balance.summary.1", datetime(2025, 3, 1, 0, 0, 0, 5, tzinfo=UTC), E),
     rk.ConfigurationError, r"interval_start=.*fractions of a second; Stripe takes whole seconds"),
    ("create_run: decimal_separator",
     lambda c: c.create_run("balance.summary.1", S, E, decimal_separator=","),
     rk.ConfigurationError, r"does not take the parameter 'decimal_separator'"),
    ("create_run: api v3", lambda c: c.create_run("balance.summary.1", S, E, api="v3"),
     rk.ConfigurationError, r"api must be 'v1' or 'v2', got 'v3'"),
    ("reports: no intervals", lambda c: c.reports("balance.summary.1", []),
     rk.ConfigurationError, r"intervals is empty: pass rk\.intervals\(start, end, freq=\.\.\.\)"),
    ("reports: strings instead of intervals", lambda c: c.reports("balance.summary.1", [S, E]),
     rk.ConfigurationError, r"intervals must hold rk\.Interval objects \(from rk\.intervals\(\)\)"),
    ("reports: max_concurrent=0",
     lambda c: c.reports("balance.summary.1", intervals(S, "2025-03-04", freq="day"), max_concurrent=0),
     rk.ConfigurationError, r"max_concurrent must be a whole number >= 1"),
    ("reports: negative timeout",
     lambda c: c.reports("balance.summary.1", intervals(S, "2025-03-04", freq="day"), timeout=-5),
     rk.ConfigurationError, r"timeout must be a number of seconds >= 0"),
    ("reports: bad currency on every interval",
     lambda c: c.reports("balance.summary.1", intervals(S, "2025-03-04", freq="day"), currency="xx"),
     rk.ConfigurationError, r"currency='xx' is not a three-letter ISO code"),
    ("reports: last interval past the window (nothing created for the others)",
     lambda c: c.reports("balance.summary.1", intervals("2025-05-01", "2025-06-20", freq="week")),
     rk.DataNotAvailableError, r"Pass clamp=True to trim the interval"),
    ("intervals: unknown freq", lambda c: intervals(S, E, freq="fortnight"),
     rk.ConfigurationError, r"freq 'fortnight' is not known; pass one of day, week, month"),
    ("intervals: start after end", lambda c: intervals(E, S, freq="day"),
     rk.ConfigurationError, r"must be before end.*pass an end after the start"),
    ("intervals: naive datetime", lambda c: intervals(datetime(2025, 3, 1), E, freq="day"),
     rk.ConfigurationError, r"start=.* naive datetime \(no timezone or UTC offset\); pass an aware datetime"),
    ("intervals: unknown tz", lambda c: intervals(S, E, freq="day", tz="Nowhere/Land"),
     rk.ConfigurationError, r"tz 'Nowhere/Land' is not an IANA time zone name; pass e\.g\. tz='Etc/UTC'"),
    ("Client: plain http to a public host", lambda c: rk.Client(c._http._key, api_base="http://example.com"),
     rk.ConfigurationError, r"api_base='http://example\.com' uses plain http.*Use https"),
    ("Client: zero timeout", lambda c: rk.Client(c._http._key, api_base=c.api_base, timeout=0),
     rk.ConfigurationError, r"timeout must be > 0 seconds"),
    ("Client: publishable key", lambda c: rk.Client("pk_test_51abcdefghijkLMNOP", api_base=c.api_base),
     rk.ConfigurationError, r"API key \(.*\) does not look like a Stripe secret or restricted key"),
    ("retrieve_run: not a run id", lambda c: c.retrieve_run("xyz_123"),
     rk.ConfigurationError, r"not a report run id: 'xyz_123' \(v1 ids start frr_, v2 ids reprun_[,)]"),
    # issue 15's adversarial pass: each ended in a raw Python error or was sent to the server
    ("report: epoch in milliseconds", lambda c: c.report("balance.summary.1", 10**12, E),
     rk.ConfigurationError, r"interval_start=1000000000000 is not Unix seconds .*pass seconds, not milli"),
    ("report: epoch 10**20", lambda c: c.report("balance.summary.1", 10**20, E),
     rk.ConfigurationError, r"interval_start=100000000000000000000 is not Unix seconds between 0"),
    ("report: negative epoch", lambda c: c.report("balance.summary.1", -5, E),
     rk.ConfigurationError, r"interval_start=-5 is not Unix seconds between 0"),
    ("report: a zone directory", lambda c: c.report("balance.summary.1", S, E, timezone="Europe"),
     rk.ConfigurationError, r"timezone 'Europe' is not an IANA time zone name.*did you mean 'Europe/"),
    ("report: Etc alone", lambda c: c.report("balance.summary.1", S, E, timezone="Etc"),
     rk.ConfigurationError, r"timezone 'Etc' is not an IANA time zone name.*did you mean 'Etc/UTC'"),
    ("report: right/UTC (a tz file)", lambda c: c.report("balance.summary.1", S, E, timezone="right/UTC"),
     rk.ConfigurationError, r"timezone 'right/UTC' is not an IANA time zone name"),
    ("report: posixrules", lambda c: c.report("balance.summary.1", S, E, timezone="posixrules"),
     rk.ConfigurationError, r"timezone 'posixrules' is not an IANA time zone name"),
    ("report: localtime", lambda c: c.report("balance.summary.1", S, E, timezone="localtime"),
     rk.ConfigurationError, r"timezone 'localtime' is not an IANA time zone name"),
    ("report: Factory", lambda c: c.report("balance.summary.1", S, E, timezone="Factory"),
     rk.ConfigurationError, r"timezone 'Factory' is not an IANA time zone name"),
    ("report: compress='no'", lambda c: c.report("balance.summary", S, E, api="v2", compress="no"),
     rk.ConfigurationError, r"compress must be True or False, got 'no'"),
    ("report: clamp='yes'", lambda c: c.report("balance.summary.1", S, E, clamp="yes"),
     rk.ConfigurationError, r"clamp must be True or False, got 'yes'"),
    ("report: currency zzz", lambda c: c.report("balance.summary.1", S, E, currency="zzz"),
     rk.ConfigurationError, r"currency='zzz' is not an ISO 4217 code \(e\.g\. 'usd'"),
    ("report: payout not an id", lambda c: c.report("payout_reconciliation.by_id.itemized.4", payout=5),
     rk.ConfigurationError, r"payout=5 must be a Stripe id"),
    ("reports: intervals None", lambda c: c.reports("balance.summary.1", None),
     rk.ConfigurationError, r"intervals must be a list of rk\.Interval"),
    ("list_runs: limit as text", lambda c: list(c.list_runs(limit="5")),
     rk.ConfigurationError, r"limit is the page size, 1-100; got '5'"),
]


@pytest.mark.parametrize(("call", "exc", "advice"), [c[1:] for c in API], ids=[c[0] for c in API])
def test_api_bad_input(sb: Sandbox, client: Any, call: Callable[[Any], Any], exc: type, advice: str) -> None:
    before = NothingSent(sb)
    with pytest.raises(exc, match=advice) as info:
        call(client)
    assert type(info.value) is exc
    before.check()
    assert not list(Path(client.cache_dir).glob("*.parquet")) if client.cache_dir.exists() else True


# -- the CLI ----------------------------------------------------------------------------------------
RUN = ["run", "balance.summary.1", "--no-progress"]
CLI: list[tuple[str, list[str], str]] = [
    ("cli: typo in the report type", ["run", "balance.sumary.1", "--start", S, "--end", E],
     r"did you mean 'balance\.summary\.1'"),
    ("cli: start after end", [*RUN, "--start", E, "--end", S], r"start .* must be before end"),
    ("cli: impossible date", [*RUN, "--start", "2025-13-01", "--end", E],
     r"(--start[ =]|interval_start=)'2025-13-01' is not a date.*(YYYY-MM-DD|date string)"),
    ("cli: unknown timezone", [*RUN, "--start", S, "--end", E, "--tz", "Mars/Olympus"],
     r"'Mars/Olympus'.*IANA.*Etc/UTC"),
    ("cli: bad currency", [*RUN, "--start", S, "--end", E, "--currency", "dollars"],
     r"currency='dollars' is not a three-letter ISO code"),
    ("cli: output format", [*RUN, "--start", S, "--end", E, "-o", "out.xls"],
     r"--output.*out\.xls.*must end in \.csv, \.parquet or \.xlsx"),
    ("cli: negative timeout", [*RUN, "--start", S, "--end", E, "--timeout", "-5"],
     r"timeout must be a number of seconds >= 0"),
    ("cli: past the data window", [*RUN, "--start", "2025-06-01", "--end", "2025-06-20"],
     r"Pass --clamp"),
    ("cli: unknown column", ["run", ITEMIZED, "--start", S, "--end", E, "--columns", "gross,feee"],
     r"no column 'feee'; did you mean 'fee'"),
]


@pytest.fixture
def env(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "STRIPE_API_KEY": sb.api_key,
        "REPORTKIT_API_BASE": sb.url,
        "REPORTKIT_FILES_BASE": sb.files_url,
        "REPORTKIT_CACHE_DIR": str(tmp_path / "cache"),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.mark.parametrize(("argv", "advice"), [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_bad_input(sb: Sandbox, env: dict, capsys: pytest.CaptureFixture, argv: list[str], advice: str):
    before = NothingSent(sb)
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("reportkit: error: ") and re.search(advice, err), err
    assert sb.api_key not in err
    before.check()
    assert not Path("out.xlsx").exists()


def test_cli_unknown_api_is_a_usage_error(sb: Sandbox, env: dict, capsys: pytest.CaptureFixture):
    before = NothingSent(sb)
    try:
        code = cli.main([*RUN, "--start", S, "--end", E, "--api", "v3"])
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    assert code == cli.EXIT_USAGE
    choices = r"\(choose from '?v1'?, '?v2'?(, '?data'?)?\)"
    assert re.search(r"--api.*invalid choice: 'v3' " + choices, capsys.readouterr().err)
    before.check()


def test_cli_subprocess_bad_input(sb: Sandbox, env: dict) -> None:
    before = NothingSent(sb)
    proc = subprocess.run(
        [sys.executable, "-m", "reportkit.cli", "run", "balance.summary.1", "--start", S, "--end", E,
         "--currency", "usdollar", "-o", "x.csv"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )
    assert proc.returncode == cli.EXIT_USAGE, proc.stderr
    assert "currency='usdollar' is not a three-letter ISO code such as 'usd'" in proc.stderr
    assert proc.stdout == "" and sb.api_key not in proc.stderr
    assert not Path("x.csv").exists()
    before.check()


# -- the widget form --------------------------------------------------------------------------------
def _form_text(form: Any) -> str:
    return html.unescape(form.error.value)


def _dates(start: date | None, end: date | None) -> Callable[[Any], None]:
    def set_(form: Any) -> None:
        form.start.value, form.end.value = start, end

    return set_


def _set(**values: Any) -> Callable[[Any], None]:
    def set_(form: Any) -> None:
        form.start.value, form.end.value = date(2025, 3, 1), date(2025, 3, 2)
        for name, value in values.items():
            getattr(form, name).value = value

    return set_


FORM: list[tuple[str, str, Callable[[Any], None], str]] = [
    ("form: end before start", "balance.summary.1", _dates(date(2025, 3, 2), date(2025, 3, 1)),
     r"must be before end"),
    ("form: no start date", "balance.summary.1", _dates(None, date(2025, 3, 1)), r"pick a start date"),
    ("form: unknown timezone", "balance.summary.1", _set(timezone="Mars/Olympus"),
     r"timezone 'Mars/Olympus' is not an IANA time zone name"),
    ("form: bad currency", "balance.summary.1", _set(currency="dollars"),
     r"currency='dollars' is not a three-letter ISO code"),
    ("form: no columns selected", ITEMIZED, _set(columns=()), r"select at least one column"),
    ("form: by_id report without a payout", "payout_reconciliation.by_id.summary.1", lambda form: None,
     r"needs a payout"),
]


@pytest.mark.parametrize(("report", "set_values", "advice"), [c[1:] for c in FORM], ids=[c[0] for c in FORM])
def test_form_bad_input(sb: Sandbox, client: Any, report: str, set_values: Callable, advice: str) -> None:
    from reportkit.widgets import ReportForm

    form = ReportForm(client, report=report)
    set_values(form)
    before = NothingSent(sb)
    form.run_button.click()
    assert form.wait(60), "the form's worker did not finish"
    text = _form_text(form)
    assert re.search(advice, text), text
    assert form.df is None and form.error_message and advice and sb.api_key not in text
    assert "Traceback" not in text
    before.check()


def test_a_zoneinfo_object_is_taken_by_its_name(sb: Sandbox, client: Any) -> None:
    from zoneinfo import ZoneInfo

    by_name = client.report("balance.summary.1", S, E, timezone="Europe/Berlin")
    by_object = client.report("balance.summary.1", S, E, timezone=ZoneInfo("Europe/Berlin"))
    pd_equal = by_name.reset_index(drop=True).equals(by_object.reset_index(drop=True))
    assert pd_equal and by_object.attrs["reportkit"]["parameters"]["timezone"] == "Europe/Berlin"
