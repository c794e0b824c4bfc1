"""The ``reportkit`` command: list report types, run a report to a file, serve the sandbox, run the demo.

Owns argument parsing, the checks a shell user gets before anything is sent, the output files
(CSV in Stripe's own wire format, Parquet through :func:`reportkit.cache.write_parquet`, Excel through
:func:`reportkit.export.to_excel`), the wording of messages for a shell user (options, not Python
arguments: ``--clamp``, not ``clamp=True``; warnings as one ``reportkit: warning:`` line, never
Python's file:line and source), progress (a live line on a terminal; a few plain lines, no carriage
returns, when stderr is a file or a pipe) and the exit codes:

  0 success; 1 anything else; 2 bad input (nothing was sent; the message names the option);
  3 Stripe refused the request (4xx); 4 the run failed or timed out; 5 network or server trouble
  (retry later); 6 the demo ran but some reconciliation checks failed; 130 interrupted.

Without ``STRIPE_API_KEY`` every command that needs an account starts the local sandbox and says so on
stderr, so the examples in ``--help`` work offline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reportkit import errors
from reportkit.progress import Observer, Progress

__all__ = ["EXIT_CHECKS", "EXIT_NETWORK", "EXIT_OK", "EXIT_OTHER", "EXIT_RUN", "EXIT_USAGE", "LineProgress",
           "cli_words", "main"]

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_API, EXIT_RUN, EXIT_NETWORK, EXIT_CHECKS = 0, 1, 2, 3, 4, 5, 6
_SUFFIXES = (".csv", ".parquet", ".xlsx")

_EPILOG = """\
examples:
  reportkit types --csv > types.csv
  reportkit run balance.summary.1 --start 2025-01-01 --end 2025-02-01 -o balance.csv
  reportkit run balance.summary.1 --start 2025-Q1 --end 2025-Q2 --tz Europe/Berlin -o q1.xlsx
  reportkit run balance_change_from_activity.summary --api v2 --start 2025-01-01 --end 2025-04-01 \\
      --tz Europe/Berlin -o q1.parquet
  reportkit run payouts.itemized.3 --start 2025-06-01 --end 2025-07-01 --currency usd > payouts.csv
  reportkit sync data/balance balance.summary.1 --start 2025-01-01 --freq month
  reportkit sandbox --port 12111 --seed 7
  reportkit demo --out out/

environment:
  STRIPE_API_KEY        your secret or restricted key (without it: a local sandbox, with a notice)
  REPORTKIT_API_BASE    another API host, e.g. a sandbox started with `reportkit sandbox`
  REPORTKIT_FILES_BASE  that host's files URL (printed by `reportkit sandbox`)
  REPORTKIT_CACHE_DIR   where finished results are cached as Parquet

exit codes:
  0 ok, 1 other error, 2 bad input (nothing was sent), 3 Stripe refused the request,
  4 the run failed or timed out, 5 network or server trouble (try again),
  6 demo: some reconciliation checks failed, 130 interrupted
"""


class UsageError(errors.ConfigurationError):
    """Bad command-line input, found before anything was sent."""


def _parser() -> argparse.ArgumentParser:
    from reportkit.sandbox.__main__ import build_parser as sandbox_parser

    p = argparse.ArgumentParser(
        prog="reportkit",
        description="Stripe financial reports into exact, typed tables (Reporting API v1 and v2).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = sub.add_parser(
        "types",
        help="list the report types the account offers, with their data windows",
        description="List the report types of the account (or sandbox) and the UTC window each has data for.",
    )
    t.add_argument("--all", action="store_true", help="show every column of the table")
    fmt = t.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (a list of objects, ISO 8601 UTC times)")
    fmt.add_argument("--csv", action="store_true", help="CSV (times as YYYY-MM-DD HH:MM:SS, UTC)")

    r = sub.add_parser(
        "run",
        help="run one report and write it to CSV, Parquet or Excel (default: CSV on stdout)",
        description="Create a report run, wait for it, download it and write it out. Dates are YYYY-MM-DD "
        "(midnight in --tz), a period's start (2025-01, 2025-Q1, 2025) or ISO 8601 with an offset "
        "(2025-01-01T00:00:00+01:00); the interval is [start, end): --end is exclusive. CSV output is in "
        "Stripe's own format (money as exact decimals, timestamps as 'YYYY-MM-DD HH:MM:SS' in each "
        "column's timezone); Parquet keeps the exact types; .xlsx writes Excel numbers with each "
        "currency's decimals and a provenance sheet.",
    )
    r.add_argument("report", help="v1 report type (balance.summary.1) or, with --api v2, a v2 name or id")
    r.add_argument("--start", help="interval start, e.g. 2025-01-01 (by_id reports take none)")
    r.add_argument("--end", help="interval end (exclusive), e.g. 2025-02-01")
    r.add_argument("--tz", default="Etc/UTC", help="IANA timezone of the dates and local columns (Etc/UTC)")
    r.add_argument("--columns", help="comma-separated columns (default: the report's default set)")
    r.add_argument("--currency", help="only this currency (e.g. usd)")
    r.add_argument("--reporting-category", help="only this reporting category (itemized reports)")
    r.add_argument("--payout", help="payout id (payout_reconciliation.by_id.* reports)")
    r.add_argument("--api", choices=("v1", "v2", "data"), default="v1",
                   help="Reporting API: v1 (default), v2 (/v2/reporting) or data (/v2/data)")
    r.add_argument("--clamp", action="store_true", help="trim the interval to the report's data window")
    who = r.add_mutually_exclusive_group()
    who.add_argument("--account", metavar="ACCT", help="Connect: run as this connected account "
                     "(acct_..., the Stripe-Account header; v1)")  # fmt: skip
    who.add_argument("--accounts", metavar="all|A,B", help="Connect: run as each of these connected "
                     "accounts ('all': the platform's) in one batch; an account column first")  # fmt: skip
    r.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the run (default 600)")
    r.add_argument("-o", "--output", help="write to this .csv, .parquet or .xlsx file (default: CSV on "
                   "stdout); missing folders are made")
    r.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    q = sub.add_parser(
        "query",
        help="run SQL on Stripe's analytical dataset (/v2/data query runs) into CSV, Parquet or Excel",
        description="Run one SQL query (POST /v2/data/query_runs, the Sigma tables: balance_transactions, "
        "payouts, ...; amounts in minor units) and write its result, typed by the columns the run "
        "declares, as CSV on stdout or to -o.",
    )
    q.add_argument("sql", help='the SQL, e.g. "select currency, sum(net) from balance_transactions"')
    q.add_argument("-o", "--output", help="write to this .csv, .parquet or .xlsx file (default: CSV on "
                   "stdout)")
    q.add_argument("--api", choices=("data", "reporting"), default="data",
                   help="data: /v2/data/query_runs (default); reporting: /v2/data/reporting/query_runs")
    q.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the run (default 600)")
    q.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    y = sub.add_parser(
        "sync",
        help="keep a Parquet dataset of a report up to date (only missing or not-final intervals)",
        description="Bring the hive-partitioned Parquet dataset at PATH (a folder or an fsspec URL: "
        "file://, memory://, s3://...) up to date for REPORT from --start: one partition per --freq "
        "interval, fetching only intervals that are missing or were not final. Safe to run twice at "
        "once (a lock) and after a kill (a re-run repairs). Prints what it did as CSV on stdout. "
        "See docs/sync.md.",
    )
    y.add_argument("path", help="dataset folder or fsspec URL, e.g. data/balance or s3://bucket/stripe")
    y.add_argument("report", help="v1 report type (balance.summary.1) or, with --api v2, a v2 name or id")
    y.add_argument("--start", required=True, help="first interval's start, e.g. 2025-01-01")
    y.add_argument("--end", help="end (exclusive); default: the report's data_available_end")
    y.add_argument("--freq", default="month", help="partition size: day, week, month (default), quarter...")
    y.add_argument("--tz", default="Etc/UTC", help="IANA timezone of the dates and local columns (Etc/UTC)")
    y.add_argument("--columns", help="comma-separated columns (default: the report's default set)")
    y.add_argument("--currency", help="only this currency (e.g. usd)")
    y.add_argument("--api", choices=("v1", "v2", "data"), default="v1", help="Reporting API (default v1)")
    y.add_argument("--wait", action="store_true", help="first wait until the data covers --end")
    y.add_argument("--wait-timeout", type=float, default=3600.0, help="seconds --wait may take (3600)")
    y.add_argument("--timeout", type=float, default=3600.0, help="seconds for the runs (default 3600)")
    y.add_argument("--max-concurrent", type=int, help="runs at once (default 5, Stripe's cap)")
    y.add_argument("--accounts", metavar="all|A,B", help="Connect: one partition per connected account "
                   "and interval ('all': the platform's accounts)")
    y.set_defaults(account=None)
    y.add_argument("--dask", metavar="SCHEDULER", help="download and parse on a Dask cluster: its "
                   "scheduler address (tcp://host:8786), or 'local' for a LocalCluster in this process")
    y.add_argument("--no-progress", action="store_true", help="no progress line on stderr")

    sub.add_parser(
        "sandbox",
        parents=[sandbox_parser()],
        conflict_handler="resolve",
        help="serve the local Stripe-compatible sandbox in the foreground (Ctrl-C stops it)",
        description="Serve reportkit's local Stripe-compatible reporting sandbox on 127.0.0.1. It prints "
        "its URLs and test key; point a client at it with STRIPE_API_KEY, REPORTKIT_API_BASE and "
        "REPORTKIT_FILES_BASE.",
    )

    d = sub.add_parser(
        "demo",
        help="run the companion notebooks headless; write notebooks, HTML, charts and a summary",
        description="Execute the companion notebooks (papermill) against a local sandbox, or against "
        "Stripe when STRIPE_API_KEY is set, and write the executed notebooks, their HTML and the charts "
        "as PNG to --out. Prints the reconciliation summary; exit 6 when some check failed.",
    )
    d.add_argument("--out", default="out", help="output folder (default: out/)")
    d.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="override a notebook parameter, e.g. -p start 2025-01-01 -p freq week (repeatable)",
    )
    d.add_argument("--timeout", type=float, default=600.0, help="seconds one notebook cell may take")
    return p


def _client() -> Any:  # -> Client (imported lazily: keeps --help fast)
    import reportkit as rk

    with warnings.catch_warnings():  # connect() also logs the sandbox notice: print it once, not twice
        warnings.simplefilter("ignore", errors.ReportkitWarning)
        return rk.connect()


def _check_date(value: str | None, option: str, tz: str) -> None:
    """The date rule of reportkit.intervals.bound, worded with the CLI option."""
    from reportkit.intervals import bound

    if value is not None:
        try:
            bound(value, option, tz)
        except errors.ConfigurationError as exc:
            raise UsageError(str(exc)) from None


def _check_tz(tz: str) -> None:
    from reportkit.intervals import zone

    try:
        zone(tz, "--tz")
    except errors.ConfigurationError as exc:
        raise UsageError(str(exc)) from None


def _check_output(output: str | None) -> Path | None:
    """The -o path, checked before anything is sent: a known suffix, not a folder, under a folder where
    a file can be created (probed with a temporary file; missing folders below it are made on write)."""
    if output is None:
        return None
    out = Path(output)
    if out.is_dir():
        example = str(out / "report.csv")
        raise UsageError(f"--output {output!r} is a folder; name a file in it, e.g. {example!r}")
    if out.suffix.lower() not in _SUFFIXES:
        raise UsageError(f"--output {output!r} must end in .csv, .parquet or .xlsx")
    folder = out.parent
    existing = next(p for p in (folder, *folder.parents) if p.exists() or p == Path(p.anchor or "."))
    if not existing.is_dir():
        raise UsageError(f"--output {output!r}: {str(existing)!r} is not a folder")
    try:  # the folder (or the first existing one above it: missing ones are made) takes a new file
        with tempfile.NamedTemporaryFile(dir=existing, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        made = "" if existing == folder else f"; the missing folder {str(folder)!r} cannot be made there"
        raise UsageError(f"--output {output!r} cannot be written: {exc.strerror or exc} "
                         f"(folder {str(existing)!r}{made})") from None
    return out


def _check_timeout(value: float, option: str = "--timeout") -> None:
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{option} {value!r} is not allowed: timeout must be a number of seconds >= 0 "
                         "(finite: not inf or nan), e.g. --timeout 600")


def _check_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    columns = [c.strip() for c in text.split(",")]
    if not any(columns):
        raise UsageError("--columns is empty; name at least one column, e.g. --columns currency,net")
    if not all(columns):
        n = columns.index("") + 1
        raise UsageError(f"--columns {text!r} has an empty name (item {n}); separate column names with "
                         "single commas, e.g. --columns currency,net")
    return columns


# Python argument names in the client's messages, as the options a shell user types.
_OPTION = {"interval_start": "--start", "interval_end": "--end", "start": "--start", "end": "--end",
           "timezone": "--tz", "columns": "--columns", "currency": "--currency",
           "reporting_category": "--reporting-category", "payout": "--payout", "clamp": "--clamp",
           "timeout": "--timeout", "api": "--api"}
_WORDING = [
    (re.compile(r"\b[Pp]ass clamp=True\b"), "Pass --clamp"),
    (re.compile(r"\bclamp=True\b"), "--clamp"),
    (re.compile(r"\bapi='(v1|v2|data)'"), r"--api \1"),
    (re.compile(r"client\.report_types\(\)"), "`reportkit types`"),
    (re.compile(r"(?<![\w-])(interval_start|interval_end|timezone|currency|reporting_category|payout|timeout)="),
     lambda m: f"{_OPTION[m.group(1)]}="),
    (re.compile(r"does not take the parameter '(\w+)'"),
     lambda m: f"does not take {_OPTION.get(m.group(1), m.group(1))}"),
    (re.compile(r"(needs|required parameters:|it takes:) (\w+(?:, \w+)*)"),
     lambda m: f"{m.group(1)} " + ", ".join(_opt(w) for w in m.group(2).split(","))),
]


def _opt(word: str) -> str:
    return _OPTION.get(word.strip(), word.strip())


def cli_words(text: str) -> str:
    """A client message worded for the command line: ``clamp=True`` -> ``--clamp``, ``timezone=`` ->
    ``--tz=``, parameter lists as options."""
    for pattern, repl in _WORDING:
        text = pattern.sub(repl, text)
    return text


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Python warnings (a clamped interval, ...) as ``reportkit: warning: ...`` lines on stderr: no file,
    line or source, worded for the command line."""
    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"reportkit: warning: {cli_words(str(message))}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


class LineProgress(Observer):
    """Progress for a log file or a pipe: one plain line when a run's phase or status changes (a few
    lines per run; no carriage returns, no bar redrawn)."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream
        self._last: tuple[Any, ...] | None = None

    def _say(self, state: Progress, text: str | None = None) -> None:
        run = state.run
        key = (state.phase, getattr(run, "id", None), getattr(run, "status", None), state.done, state.failed)
        if text is None and key == self._last:
            return
        self._last = key
        if text is None:
            text = state.phase
            if run is not None and getattr(run, "id", None):
                text += f" ({run.id}, {getattr(run, 'status', '?')})"
        print(f"reportkit: {self.label}: {text}", file=self.stream or sys.stderr, flush=True)

    def start(self, state: Progress) -> None:
        self._say(state)

    def step(self, state: Progress) -> None:
        self._say(state)

    def done(self, state: Progress) -> None:
        self._say(state, "done")

    def failed(self, state: Progress, error: BaseException) -> None:
        self._say(state, f"failed: {type(error).__name__}")


def write_csv(df: Any, out: Any) -> None:
    """Write ``df`` as Stripe writes report CSVs: :func:`reportkit.export.to_csv`."""
    from reportkit.export import to_csv

    to_csv(df, out)


def _cmd_types(args: argparse.Namespace) -> int:
    import pandas as pd

    client = _client()
    df = client.report_types()
    cols = list(df.columns) if args.all or args.json else [
        c for c in ("id", "name", "data_available_start", "data_available_end", "livemode") if c in df
    ]
    df = df[cols]
    if args.json:
        records = json.loads(df.to_json(orient="records", date_format="iso", date_unit="s"))
        json.dump(records, sys.stdout, indent=1)
        print()
    elif args.csv:
        out = df.copy()
        if "default_columns" in out:
            out["default_columns"] = out["default_columns"].map(
                lambda v: None if v is None else ",".join(v)).astype("string")
        write_csv(out, sys.stdout)
    else:
        with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 60):
            print(df.to_string(index=False))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    _check_tz(args.tz)
    _check_date(args.start, "--start", args.tz)
    _check_date(args.end, "--end", args.tz)
    _check_timeout(args.timeout)
    columns = _check_columns(args.columns)
    out = _check_output(args.output)
    params = {}
    if args.currency:
        params["currency"] = args.currency.lower()
    if args.reporting_category:
        params["reporting_category"] = args.reporting_category
    if args.payout:
        params["payout"] = args.payout
    if args.start is not None and args.end is not None:
        from reportkit.intervals import inclusive_end_hint

        hint = inclusive_end_hint(args.start, args.end, args.tz, names=("--start", "--end"))
        if hint:
            print(f"reportkit: warning: {hint}", file=sys.stderr)
    accounts = _check_accounts(args)
    client = _client()
    live = sys.stderr.isatty() and not args.no_progress
    lines = None if live or args.no_progress else LineProgress(args.report)
    options = dict(timezone=args.tz, columns=columns, api=args.api, clamp=args.clamp, progress=live,
                   observer=lines, **params)  # fmt: skip
    if accounts is None:
        df = client.report(args.report, args.start, args.end, timeout=args.timeout, account=args.account,
                           **options)  # fmt: skip
    else:  # one interval [start, end) per account, in one batch within the run cap
        if args.start is None or args.end is None:
            raise UsageError("--accounts needs --start and --end (one interval per account)")
        from reportkit.intervals import Interval, bound

        iv = Interval(bound(args.start, "--start", args.tz), bound(args.end, "--end", args.tz))
        df = client.reports(args.report, [iv], accounts=accounts, timeout=args.timeout, **options)
    return _emit(df, out, client)


def _check_accounts(args: argparse.Namespace) -> list[str] | str | None:
    """``--account`` / ``--accounts`` checked before any request: ids look like acct_..., v1 only."""
    from reportkit._request import check_account

    given = args.account or args.accounts
    if given and args.api != "v1":
        raise UsageError(f"--account/--accounts (Connect) are for --api v1, not --api {args.api}")
    if args.account:
        check_account(args.account)
        return None
    if not args.accounts or args.accounts == "all":
        return args.accounts or None
    ids = [a.strip() for a in args.accounts.split(",") if a.strip()]
    for acct in ids:
        check_account(acct)
    return ids


def _emit(df: Any, out: Path | None, client: Any) -> int:
    """A result to stdout (Stripe's CSV text) or to ``--output`` (CSV, Parquet or Excel)."""
    if out is None:
        write_csv(df, sys.stdout)
        return EXIT_OK
    try:
        _write(df, out, client)
    except OSError as exc:
        raise UsageError(f"--output {str(out)!r} cannot be written: {exc.strerror or exc}") from None
    print(f"reportkit: wrote {len(df)} rows x {len(df.columns)} columns to {out}", file=sys.stderr)
    return EXIT_OK


def _cmd_query(args: argparse.Namespace) -> int:
    _check_timeout(args.timeout)
    out = _check_output(args.output)
    client = _client()
    live = sys.stderr.isatty() and not args.no_progress
    lines = None if live or args.no_progress else LineProgress("query")
    df = client.query(args.sql, api=args.api, timeout=args.timeout, progress=live, observer=lines)
    return _emit(df, out, client)


def _write(df: Any, out: Path, client: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        from reportkit.cache import write_parquet

        write_parquet(df, out)
    elif suffix == ".xlsx":
        from reportkit.export import to_excel

        to_excel({_sheet(df): df}, out, client=client)
    else:  # CSV, atomically: a failed write leaves no half file
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            write_csv(df, tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)


def _sheet(df: Any) -> str:
    from reportkit._provenance import get

    return str(get(df).get("report") or "report")


def _cmd_sync(args: argparse.Namespace) -> int:
    _check_tz(args.tz)
    _check_date(args.start, "--start", args.tz)
    _check_date(args.end, "--end", args.tz)
    _check_timeout(args.timeout)
    _check_timeout(args.wait_timeout, "--wait-timeout")
    if args.wait and args.end is None:
        raise UsageError("--wait waits until the data covers --end: pass --end as well")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UsageError(f"--max-concurrent {args.max_concurrent} must be 1 or more")
    params: dict[str, Any] = {"timezone": args.tz, "api": args.api}
    if args.columns is not None:
        params["columns"] = _check_columns(args.columns)
    if args.currency:
        params["currency"] = args.currency.lower()
    accounts = _check_accounts(args)
    if accounts is not None:
        params["accounts"] = accounts
    with _dask_executor(args.dask) as executor:
        client = _client()
        live = sys.stderr.isatty() and not args.no_progress
        lines = None if live or args.no_progress else LineProgress(f"sync {args.report}")
        got = client.sync(args.path, args.report, start=args.start, end=args.end, freq=args.freq,
                          wait=args.wait, wait_timeout=args.wait_timeout, timeout=args.timeout,
                          max_concurrent=args.max_concurrent, executor=executor, progress=live,
                          observer=lines, **params)  # fmt: skip
    write_csv(got, sys.stdout)
    counts = got.attrs["reportkit"]["counts"]
    print(f"reportkit: synced {args.report} into {args.path}: " + ", ".join(f"{n} {a}" for a, n in
          counts.items()), file=sys.stderr)  # fmt: skip
    return EXIT_OK


@contextlib.contextmanager
def _dask_executor(scheduler: str | None) -> Iterator[Any]:
    """``--dask``: a ``concurrent.futures`` executor of a Dask distributed client (None without)."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client as DaskClient
        from distributed import LocalCluster
    except ImportError:
        raise UsageError("--dask needs dask's distributed package: pip install 'reportkit[dask]'") from None
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                                       dashboard_address=None))  # fmt: skip
            dask = stack.enter_context(DaskClient(cluster))
        else:
            try:
                dask = stack.enter_context(DaskClient(scheduler, timeout=30))
            except (OSError, ValueError, TimeoutError) as exc:
                raise UsageError(f"--dask {scheduler!r}: cannot reach the scheduler ({exc})") from None
        yield dask.get_executor()


def _cmd_sandbox(args: argparse.Namespace, argv: list[str]) -> int:
    from reportkit.sandbox.__main__ import main as sandbox_main

    for option in ("port", "files_port", "downloads_port"):
        value = getattr(args, option, 0)
        if not 0 <= value <= 65535:
            raise UsageError(f"--{option.replace('_', '-')} {value} is not a TCP port; pass 1..65535, or 0 "
                             "for any free port")
    for option, positive in (("processing_time", False), ("scale", True)):
        value = getattr(args, option, None)
        if value is not None and (not math.isfinite(value) or value < 0 or (positive and not value)):
            raise UsageError(f"--{option.replace('_', '-')} {value!r} must be a finite number "
                             f"{'> 0' if positive else '>= 0'}")

    try:
        return sandbox_main(argv)
    except SystemExit as exc:  # werkzeug says which port is taken, then exits
        if exc.code in (0, None):
            raise
        raise UsageError("cannot serve the sandbox; pick another --port (0 = any free port)") from None
    except OSError as exc:
        raise UsageError(
            f"cannot serve the sandbox: {exc.strerror or exc}; pick another --port (0 = any free port)"
        ) from None
    except ValueError as exc:  # e.g. --now without an offset
        raise UsageError(f"sandbox: {exc}") from None


def _cmd_demo(args: argparse.Namespace) -> int:
    from reportkit.demo import run_demo

    _check_timeout(args.timeout)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r} is a file; name a folder (it is created if missing)")
    try:
        return run_demo(out, parameters=dict(args.parameter), timeout=args.timeout)
    except OSError as exc:
        where = exc.filename or args.out
        raise UsageError(f"--out {args.out!r}: cannot write {where}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        with _warnings_as_lines():
            if args.command == "sandbox":
                return _cmd_sandbox(args, argv[argv.index("sandbox") + 1:])
            commands = {"types": _cmd_types, "run": _cmd_run, "query": _cmd_query, "demo": _cmd_demo,
                        "sync": _cmd_sync}
            return commands[args.command](args)
    except errors.ConfigurationError as exc:
        print(f"reportkit: error: {cli_words(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (errors.RunFailedError, errors.RunTimeoutError) as exc:
        print(f"reportkit: the report run did not finish: {exc}", file=sys.stderr)
        return EXIT_RUN
    except (errors.APIConnectionError, errors.ServerError, errors.RateLimitError) as exc:
        print(f"reportkit: Stripe could not be reached or is struggling, try again later: {exc}",
              file=sys.stderr)
        return EXIT_NETWORK
    except errors.AuthenticationError as exc:
        print(f"reportkit: the key was refused (check STRIPE_API_KEY): {exc}", file=sys.stderr)
        return EXIT_API
    except errors.APIError as exc:
        print(f"reportkit: Stripe refused the request: {exc}", file=sys.stderr)
        return EXIT_API
    except errors.ReportkitError as exc:
        print(f"reportkit: {cli_words(str(exc))}", file=sys.stderr)
        return EXIT_OTHER
    except KeyboardInterrupt:
        print("reportkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `reportkit run ... | head`
        return EXIT_OK
    except OSError as exc:  # a path the command was given: no traceback, the file and the reason
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"reportkit: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
