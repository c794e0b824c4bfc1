"""The ``reportkit`` command against the sandbox: in-process ``main(argv)`` for most cases, real
subprocesses of ``.venv/bin/reportkit`` for ``--help``, ``run`` and ``sandbox``.

Outputs are read back and compared with ``client.report()`` of the same thing: CSV through
``reportkit.frames.parse`` (it is Stripe's own format), Parquet through ``reportkit.cache.read_parquet``;
money must come back as the same exact Decimals.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from reportkit import frames
from reportkit.cache import read_parquet
from reportkit.cli import EXIT_API, EXIT_OK, EXIT_RUN, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).with_name("reportkit")
ENV_KEYS = ("STRIPE_API_KEY", "REPORTKIT_API_BASE", "REPORTKIT_FILES_BASE", "REPORTKIT_CACHE_DIR")


@pytest.fixture
def pointed(sandbox, monkeypatch, tmp_path):
    """The CLI's environment pointed at the shared test sandbox (cache in tmp_path)."""
    monkeypatch.setenv("STRIPE_API_KEY", sandbox.api_key)
    monkeypatch.setenv("REPORTKIT_API_BASE", sandbox.url)
    monkeypatch.setenv("REPORTKIT_FILES_BASE", sandbox.files_url)
    monkeypatch.setenv("REPORTKIT_CACHE_DIR", str(tmp_path / "cache"))
    return sandbox


def _env(sb, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(STRIPE_API_KEY=sb.api_key, REPORTKIT_API_BASE=sb.url, REPORTKIT_FILES_BASE=sb.files_url,
               REPORTKIT_CACHE_DIR=str(tmp_path / "cache-sub"))
    return env


def _assert_exact(got: pd.DataFrame, want: pd.DataFrame, money: list[str]) -> None:
    pd.testing.assert_frame_equal(got, want)
    for col in money:
        assert all(type(v) is Decimal for v in got[col]), col
        assert [str(v) for v in got[col]] == [str(v) for v in want[col]], col  # same value and scale


# -- help ----------------------------------------------------------------------------------------
def test_help_subprocess_explains_commands_environment_and_exit_codes():
    out = subprocess.run([str(EXE), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for word in ("types", "run", "sandbox", "demo", "STRIPE_API_KEY", "REPORTKIT_API_BASE", "exit codes",
                 "2 bad input"):
        assert word in out.stdout, word
    sub = subprocess.run([str(EXE), "sandbox", "--help"], capture_output=True, text=True, timeout=60)
    assert sub.returncode == 0
    for option in ("--port", "--files-port", "--downloads-port", "--seed", "--processing-time", "--now",
                   "--scale", "--ledger-start"):
        assert option in sub.stdout, option  # every option of python -m reportkit.sandbox


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == EXIT_USAGE
    assert "COMMAND" in capsys.readouterr().err


# -- types ---------------------------------------------------------------------------------------
def test_types_lists_the_sandbox_report_types(pointed, capsys):
    assert main(["types"]) == EXIT_OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["id", "name"]
    ids = {line.split()[0] for line in lines[1:]}
    assert {"balance.summary.1", "payouts.itemized.3", "payout_reconciliation.itemized.5"} <= ids
    assert "2024-01-01" in out  # data_available_start of the sandbox ledger
    assert main(["types", "--all"]) == EXIT_OK
    assert "default_columns" in capsys.readouterr().out


# -- run: outputs read back equal to client.report() ------------------------------------------------
def test_run_csv_reads_back_equal_to_client_report(pointed, tmp_path, capsys):
    out = tmp_path / "nested" / "payouts.csv"
    argv = ["run", "payouts.itemized.3", "--start", "2025-03-01", "--end", "2025-04-01",
            "--tz", "Europe/Berlin", "--currency", "EUR", "-o", str(out), "--no-progress"]
    assert main(argv) == EXIT_OK
    assert "rows" in capsys.readouterr().err
    want = pointed.client(cache=False, progress=False).report(
        "payouts.itemized.3", "2025-03-01", "2025-04-01", timezone="Europe/Berlin", currency="eur")
    assert len(want) > 10
    got = frames.parse(out, report="payouts.itemized.3", timezone="Europe/Berlin")
    _assert_exact(got, want, ["gross", "fee", "net"])
    assert str(got["effective_at"].dtype) == "datetime64[ns, Europe/Berlin]"
    text = out.read_text()
    assert "+01:00" not in text and "E-" not in text  # Stripe's format: no offsets, no exponents


def test_run_parquet_reads_back_equal_to_client_report(pointed, tmp_path):
    out = tmp_path / "activity.parquet"
    columns = ("balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,"
               "reporting_category,payment_metadata[order_id]")
    argv = ["run", "balance_change_from_activity.itemized.2", "--start", "2025-02-01", "--end",
            "2025-02-08", "--columns", columns, "-o", str(out), "--no-progress"]
    assert main(argv) == EXIT_OK
    want = pointed.client(cache=False, progress=False).report(
        "balance_change_from_activity.itemized.2", "2025-02-01", "2025-02-08",
        columns=columns.split(","))
    got, meta = read_parquet(out)
    assert len(want) > 100
    _assert_exact(got, want, ["gross", "fee", "net"])
    assert got.attrs["reportkit"]["report"] == "balance_change_from_activity.itemized.2"
    assert "sk_test" not in out.read_bytes().decode("latin-1")  # no key in the file


def test_run_v2_to_stdout_is_csv(pointed, capsys):
    argv = ["run", "balance.summary", "--api", "v2", "--start", "2025-01-01", "--end", "2025-04-01",
            "--no-progress"]
    assert main(argv) == EXIT_OK
    csv = capsys.readouterr().out
    assert csv.startswith("category,description,net_amount,currency\n")
    got = frames.parse(csv.encode(), report="balance.summary", api="v2")
    want = pointed.client(cache=False, progress=False).report("balance.summary", "2025-01-01", "2025-04-01",
                                                              api="v2")
    _assert_exact(got, want, ["net_amount"])


def test_run_subprocess_writes_parquet(sandbox, tmp_path):
    out = tmp_path / "summary.parquet"
    cmd = [str(EXE), "run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01",
           "--currency", "jpy", "-o", str(out), "--no-progress"]
    done = subprocess.run(cmd, env=_env(sandbox, tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_OK, done.stderr
    assert f"to {out}" in done.stderr
    got, _ = read_parquet(out)
    want = sandbox.client(cache=False, progress=False).report("balance.summary.1", "2025-01-01", "2025-02-01",
                                                              currency="jpy")
    _assert_exact(got, want, ["net_amount"])
    assert set(got["currency"]) == {"jpy"}


# -- bad input: exit 2, a message naming the parameter, nothing created -------------------------------
@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["run", "balance.sumary.1", "--start", "2025-01-01", "--end", "2025-02-01"], ["balance.sumary.1"]),
        (["run", "balance.summary.1", "--start", "2025-13-01", "--end", "2025-02-01"],
         ["--start", "2025-13-01"]),
        (["run", "balance.summary.1", "--start", "2025-01-01", "--end", "tomorrow"], ["--end", "tomorrow"]),
        (["run", "balance.summary.1", "--start", "2025-01-01T00:00:00", "--end", "2025-02-01"],
         ["--start", "offset"]),
        (["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01", "--tz", "Mars/Olympus"],
         ["--tz", "Mars/Olympus"]),
        (["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01", "-o", "out.xls"],
         ["--output", "out.xls", ".csv, .parquet or .xlsx"]),
        (["run", "balance.summary.1", "--start", "2025-02-01", "--end", "2025-01-01"], ["start", "end"]),
        (["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01", "--columns", "nope"],
         ["nope"]),
        (["run", "balance.summary.1", "--start", "2030-01-01", "--end", "2030-02-01"], ["2030"]),
    ],
    ids=["unknown-report", "bad-date", "not-a-date", "naive-time", "bad-tz", "bad-suffix", "start-after-end",
         "bad-column", "no-data-yet"],
)
def test_bad_input_exits_2_naming_the_parameter(pointed, capsys, argv, names):
    before = pointed.runs_created
    assert main([*argv, "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("reportkit: error: ")
    for name in names:
        assert name in err, (name, err)
    assert "Traceback" not in err
    assert pointed.runs_created == before  # refused before anything was created


def _point(monkeypatch, sb, tmp_path: Path) -> None:
    for k, v in _env(sb, tmp_path).items():
        if k in ENV_KEYS:
            monkeypatch.setenv(k, v)


def test_refused_key_exits_3(sandbox_factory, monkeypatch, tmp_path, capsys):
    sb = sandbox_factory()
    sb.faults.revoke_key(sb.api_key)
    _point(monkeypatch, sb, tmp_path)
    assert main(["types"]) == EXIT_API
    err = capsys.readouterr().err
    assert "STRIPE_API_KEY" in err and "401" in err
    assert sb.api_key not in err  # the key is never echoed


def test_failed_run_exits_4(sandbox_factory, monkeypatch, tmp_path, capsys):
    sb = sandbox_factory()
    sb.faults.fail_runs(1)
    _point(monkeypatch, sb, tmp_path)
    argv = ["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01", "--no-progress"]
    assert main(argv) == EXIT_RUN
    assert "did not finish" in capsys.readouterr().err


# -- sandbox -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sandbox_subprocess_passes_every_option_and_serves_the_run_command(tmp_path):
    port, files_port = _free_port(), _free_port()
    cmd = [str(EXE), "sandbox", "--port", str(port), "--files-port", str(files_port), "--seed", "11",
           "--processing-time", "0.1", "--now", "2025-06-15T00:00:00+00:00", "--scale", "0.5",
           "--ledger-start", "2025-01-01"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        assert lines[0].strip() == "reportkit sandbox (seed 11)"
        urls = dict(re.match(r"\s*(.+?):\s+(\S+)", line).groups() for line in lines[1:])
        assert urls["API URL"] == f"http://127.0.0.1:{port}"
        assert urls["files URL"] == f"http://127.0.0.1:{files_port}"
        env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
        env.update(STRIPE_API_KEY=urls["test key"], REPORTKIT_API_BASE=urls["API URL"],
                   REPORTKIT_FILES_BASE=urls["files URL"], REPORTKIT_CACHE_DIR=str(tmp_path))
        types = subprocess.run([str(EXE), "types"], env=env, capture_output=True, text=True, timeout=60)
        assert types.returncode == 0, types.stderr
        # --ledger-start and --now reached the sandbox: its data window is 2025-01-01 .. 2025-06-14
        assert "2025-01-01 00:00:00+00:00" in types.stdout and "2025-06-14 00:00:00+00:00" in types.stdout
        early = subprocess.run([str(EXE), "run", "balance.summary.1", "--start", "2024-06-01", "--end",
                                "2024-07-01"], env=env, capture_output=True, text=True, timeout=60)
        assert early.returncode == EXIT_USAGE and "2025-01-01" in early.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "sandbox stopped" in out


def test_sandbox_on_a_busy_port_exits_2_naming_the_option():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([str(EXE), "sandbox", "--port", str(port)], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == EXIT_USAGE
    assert "--port" in done.stderr and "Traceback" not in done.stderr


def test_write_csv_is_stripes_format():
    from reportkit.cli import write_csv

    df = pd.DataFrame({
        "when_utc": pd.to_datetime(["2025-01-01 10:00:00", None]).tz_localize("UTC"),
        "amount": [Decimal("0E-8"), None],
        "flag": pd.array([True, None], dtype="boolean"),
        "day": pd.to_datetime(["2025-01-02", "2025-01-03"]),
        "n": pd.array([1, None], dtype="Int64"),
    })
    buf = io.StringIO()
    write_csv(df, buf)
    assert buf.getvalue() == (
        "when_utc,amount,flag,day,n\n2025-01-01 10:00:00,0.00000000,true,2025-01-02,1\n,,,2025-01-03,\n"
    )


# -- issue 15/17: messages in CLI words, warnings as lines, progress in logs, OS errors, --json/--csv ---
RUN = ["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-02-01"]


@pytest.mark.parametrize(("argv", "says", "never"), [
    (["run", "balance.summary.1", "--start", "2025-06-01", "--end", "2025-07-01"],
     ["Pass --clamp to trim the interval"], ["clamp=True"]),
    (["run", "balance.summary", "--start", "2025-01-01", "--end", "2025-02-01"],
     ["pass --api v2", "`reportkit types` lists"], ["api='v2'", "client.report_types()"]),
    ([*RUN, "--payout", "po_1"],
     ["does not take --payout; it takes: --columns, --currency, --end, --start, --tz"],
     ["interval_start", "'payout'"]),
    (["run", "balance.summary.1", "--start", "2025-01-01"],
     ["needs --end (required parameters: --start, --end)"], ["interval_end"]),
    ([*RUN, "--currency", "dollars"], ["--currency='dollars' is not a three-letter ISO code"], []),
])
def test_messages_name_the_options_not_python_arguments(pointed, capsys, argv, says, never):
    before = pointed.runs_created
    assert main([*argv, "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    for text in says:
        assert text in err, (text, err)
    for text in never:
        assert text not in err, (text, err)
    assert pointed.runs_created == before


def test_clamp_warns_in_one_line_without_python_source(pointed, tmp_path, capsys):
    out = tmp_path / "c.csv"
    argv = ["run", "balance.summary.1", "--start", "2025-06-01", "--end", "2025-07-01", "--clamp",
            "-o", str(out), "--no-progress"]
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "clamped" in line]
    assert len(warning) == 1 and warning[0].startswith("reportkit: warning: balance.summary.1: interval")
    assert "ReportkitWarning" not in err and ".py:" not in err and "req, hit" not in err
    assert frames.parse(out.read_bytes(), report="balance.summary.1").shape[0] > 0


def test_an_inclusive_looking_end_is_one_warning_line_naming_the_options(pointed, tmp_path, capsys):
    argv = ["run", "balance.summary.1", "--start", "2025-01-01", "--end", "2025-01-31", "-o",
            str(tmp_path / "b.csv"), "--no-progress"]
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err
    assert "reportkit: warning: --end '2025-01-31' looks like an inclusive month end" in err
    assert "pass --end '2025-02-01'" in err and ".py:" not in err


def test_progress_into_a_log_is_a_few_plain_lines(pointed, capsys):
    assert not sys.stderr.isatty()  # pytest's capture: like a log file or a pipe
    assert main(RUN) == EXIT_OK
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err  # no carriage returns, no terminal escapes
    lines = [line for line in err.splitlines() if line.startswith("reportkit: balance.summary.1: ")]
    assert 3 <= len(lines) <= 12, lines
    assert lines[-1] == "reportkit: balance.summary.1: done"
    assert any("frr_" in line and "succeeded" in line for line in lines)


def test_line_progress_prints_only_changes():
    from reportkit.cli import LineProgress
    from reportkit.progress import Progress

    stream = io.StringIO()
    obs = LineProgress("x", stream)
    state = Progress("x", phase="waiting")
    for _ in range(50):  # a status polled 50 times is one line
        obs.step(state)
    obs.done(state.with_(phase="done"))
    assert stream.getvalue() == "reportkit: x: waiting\nreportkit: x: done\n"


def test_types_as_json_and_csv(pointed, capsys):
    import json

    assert main(["types", "--json"]) == EXIT_OK
    types = json.loads(capsys.readouterr().out)
    ids = {t["id"] for t in types}
    assert "balance.summary.1" in ids and {"id", "data_available_start", "default_columns"} <= set(types[0])
    assert types[0]["data_available_start"].endswith("Z")  # ISO 8601 UTC
    assert main(["types", "--csv"]) == EXIT_OK
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns) == ["id", "name", "data_available_start", "data_available_end", "livemode"]
    assert set(table["id"]) == ids
    assert main(["types", "--csv", "--all"]) == EXIT_OK
    assert "default_columns" in capsys.readouterr().out.splitlines()[0]
    with pytest.raises(SystemExit) as exc:
        main(["types", "--csv", "--json"])
    assert exc.value.code == EXIT_USAGE


def test_run_writes_excel(pointed, tmp_path):
    import openpyxl

    out = tmp_path / "q1.xlsx"
    argv = ["run", "balance.summary.1", "--start", "2025-Q1", "--end", "2025-Q2", "--tz", "Europe/Berlin",
            "-o", str(out), "--no-progress"]
    assert main(argv) == EXIT_OK
    want = pointed.client(cache=False, progress=False).report(
        "balance.summary.1", "2025-01-01", "2025-04-01", timezone="Europe/Berlin")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["balance.summary.1", "provenance"]
    rows = list(wb["balance.summary.1"].iter_rows(values_only=True))
    assert list(rows[0]) == list(want.columns)
    got = [Decimal(repr(r[2])) if isinstance(r[2], float) else Decimal(r[2]) for r in rows[1:]]
    assert got == list(want["net_amount"])
    assert any("LOCAL SANDBOX" in str(c) for r in wb["provenance"].iter_rows(values_only=True) for c in r)


def _unwritable(tmp_path):
    return "/proc/reportkit-test.csv"  # no file can be created there, not even by root


@pytest.mark.parametrize(("make", "says"), [
    (lambda p: (p / "out.csv").mkdir() or p / "out.csv", "is a folder; name a file in it"),
    (lambda p: p, "is a folder; name a file in it"),
    (lambda p: "/proc/reportkit-missing/deeper/x.csv", "the missing folder '/proc/reportkit-missing/deeper' "
     "cannot be made there"),
    (lambda p: (p / "afile").write_text("x") and p / "afile" / "x.csv", "is not a folder"),
    (lambda p: (p / "afile").write_text("x") and p / "afile" / "sub" / "x.csv", "is not a folder"),
    (_unwritable, "cannot be written: "),
], ids=["dir-named-like-a-file", "a-folder", "missing-folder-where-none-can-be-made", "parent-is-a-file",
        "grandparent-is-a-file", "unwritable"])
def test_output_path_errors_exit_2_before_anything_is_sent(pointed, tmp_path, capsys, make, says):
    before = pointed.runs_created
    out = make(tmp_path)
    assert main([*RUN, "-o", str(out), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("reportkit: error: --output") and says in err and "Traceback" not in err, err
    assert pointed.runs_created == before


def test_an_os_error_while_writing_is_exit_2_with_the_reason(pointed, tmp_path, capsys, monkeypatch):
    import reportkit.cli as cli

    def fail(df, out):
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(cli, "write_csv", fail)
    out = tmp_path / "out" / "x.csv"
    assert main([*RUN, "-o", str(out), "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--output '{out}' cannot be written: Permission denied" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []  # no half-written file, no temporary left


@pytest.mark.parametrize("columns", ["a,,b", ",", " , ", "currency,"])
def test_columns_with_an_empty_name_are_refused(pointed, capsys, columns):
    before = pointed.runs_created
    assert main([*RUN, "--columns", columns, "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--columns" in err and ("empty name" in err or "is empty" in err), err
    assert pointed.runs_created == before


@pytest.mark.parametrize("timeout", ["inf", "nan", "-1", "-inf"])
def test_timeouts_that_are_not_seconds_are_refused(pointed, capsys, timeout):
    before = pointed.runs_created
    assert main([*RUN, f"--timeout={timeout}", "--no-progress"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--timeout {float(timeout)!r} is not allowed" in err and "seconds >= 0" in err
    assert pointed.runs_created == before
    assert main(["demo", f"--timeout={timeout}"]) == EXIT_USAGE


@pytest.mark.parametrize(("argv", "says"), [
    (["--port", "99999"], "--port 99999 is not a TCP port"),
    (["--port", "-5"], "--port -5 is not a TCP port"),
    (["--files-port", "70000"], "--files-port 70000"), (["--downloads-port", "-1"], "--downloads-port -1"),
    (["--port", "0", "--processing-time", "nan"], "--processing-time nan must be a finite number >= 0"),
    (["--port", "0", "--scale", "0"], "--scale 0.0 must be a finite number > 0"),
])
def test_sandbox_options_out_of_range_exit_2(capsys, argv, says):
    assert main(["sandbox", *argv]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("reportkit: error: --") and "Traceback" not in err and "OverflowError" not in err
    assert says in err, err


def test_sandbox_port_subprocess_is_exit_2_without_traceback():
    out = subprocess.run([str(EXE), "sandbox", "--port", "99999"], capture_output=True, text=True, timeout=60)
    assert out.returncode == EXIT_USAGE and "--port 99999 is not a TCP port" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_out_that_is_a_file_exits_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["demo", "--out", str(f)]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err
