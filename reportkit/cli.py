"""The ``reportkit`` command: list report types, run a report to a file, serve the sandbox, run the demo.

Exit codes a shell user can act on:
  0 success; 2 bad input (nothing was sent); 3 Stripe refused the request (4xx);
  4 the run failed or timed out; 5 network or server trouble (retry later); 1 anything else.

Without ``STRIPE_API_KEY`` every command that needs an account starts the local sandbox and says so on
stderr, so the examples in ``--help`` work offline.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reportkit import errors

__all__ = ["main"]

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_API, EXIT_RUN, EXIT_NETWORK = 0, 1, 2, 3, 4, 5

_EPILOG = """\
examples:
  reportkit types
  reportkit run balance.summary.1 --start 2025-01-01 --end 2025-02-01 -o balance.csv
  reportkit run balance_change_from_activity.summary --api v2 --start 2025-01-01 --end 2025-04-01 \\
      --tz Europe/Berlin -o q1.parquet
  reportkit sandbox --port 12111 --seed 7
  reportkit demo --out out/

environment: STRIPE_API_KEY (else the local sandbox), REPORTKIT_API_BASE, REPORTKIT_FILES_BASE,
REPORTKIT_CACHE_DIR.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reportkit",
        description="Stripe financial reports into exact, typed tables (Reporting API v1 and v2).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = sub.add_parser("types", help="list the report types the account offers, with their data windows")
    t.add_argument("--all", action="store_true", help="show every column of the table")

    r = sub.add_parser(
        "run",
        help="run one report and write it to CSV/Parquet (or print it)",
        description="Create a report run, wait for it, download it and write it out. "
        "Dates are YYYY-MM-DD (midnight in --tz) or ISO 8601 with an offset; the interval is [start, end).",
    )
    r.add_argument("report", help="v1 report type (balance.summary.1) or, with --api v2, a v2 name or id")
    r.add_argument("--start", required=True, help="interval start, e.g. 2025-01-01")
    r.add_argument("--end", required=True, help="interval end (exclusive), e.g. 2025-02-01")
    r.add_argument("--tz", default="Etc/UTC", help="IANA timezone for dates and local columns")
    r.add_argument("--columns", help="comma-separated columns (default: the report's defaults)")
    r.add_argument("--currency", help="only this currency (e.g. usd)")
    r.add_argument("--reporting-category", help="only this reporting category (itemized reports)")
    r.add_argument("--payout", help="payout id (payout_reconciliation.by_id.* reports)")
    r.add_argument("--api", choices=("v1", "v2"), default="v1")
    r.add_argument("--clamp", action="store_true", help="trim the interval to the data window")
    r.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the run")
    r.add_argument("-o", "--output", help="write to this .csv or .parquet file (default: print)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    s = sub.add_parser("sandbox", help="serve the local Stripe-compatible sandbox in the foreground")
    s.add_argument("--port", type=int, default=12111)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--processing-time", type=float, default=1.0)

    d = sub.add_parser("demo", help="run the companion notebooks headless and write their results")
    d.add_argument("--out", default="out", help="output folder (default: out/)")
    return p


def _client():  # -> Client (imported lazily: keeps --help fast)
    import reportkit as rk

    return rk.connect()


def _cmd_types(args: argparse.Namespace) -> int:
    import pandas as pd

    client = _client()
    df = client.report_types()
    cols = list(df.columns) if args.all else [
        c for c in ("id", "name", "data_available_start", "data_available_end", "livemode") if c in df
    ]
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        print(df[cols].to_string(index=False))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    params = {}
    if args.currency:
        params["currency"] = args.currency.lower()
    if args.reporting_category:
        params["reporting_category"] = args.reporting_category
    if args.payout:
        params["payout"] = args.payout
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise errors.ConfigurationError(f"--output must end in .csv or .parquet, got {out.name!r}")
    client = _client()
    df = client.report(
        args.report,
        args.start,
        args.end,
        timezone=args.tz,
        columns=columns,
        api=args.api,
        clamp=args.clamp,
        timeout=args.timeout,
        progress=not args.no_progress,
        **params,
    )
    if out is None:
        print(df.to_string(index=False))
        return EXIT_OK
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        df.to_csv(out, index=False)
    else:
        from reportkit.cache import write_parquet

        write_parquet(df, out)
    print(f"wrote {len(df)} rows x {len(df.columns)} columns to {out}", file=sys.stderr)
    return EXIT_OK


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from reportkit.sandbox.__main__ import main as sandbox_main

    return sandbox_main(
        ["--port", str(args.port), "--seed", str(args.seed), "--processing-time", str(args.processing_time)]
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from reportkit.demo import run_demo

    return run_demo(Path(args.out))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"types": _cmd_types, "run": _cmd_run, "sandbox": _cmd_sandbox, "demo": _cmd_demo}
    try:
        return handler[args.command](args)
    except errors.ConfigurationError as exc:
        print(f"reportkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (errors.RunFailedError, errors.RunTimeoutError) as exc:
        print(f"reportkit: run did not finish: {exc}", file=sys.stderr)
        return EXIT_RUN
    except (errors.APIConnectionError, errors.ServerError, errors.RateLimitError) as exc:
        print(f"reportkit: Stripe could not be reached or is struggling, try again: {exc}", file=sys.stderr)
        return EXIT_NETWORK
    except errors.APIError as exc:
        print(f"reportkit: Stripe refused the request: {exc}", file=sys.stderr)
        return EXIT_API
    except errors.ReportkitError as exc:
        print(f"reportkit: {exc}", file=sys.stderr)
        return EXIT_OTHER
    except KeyboardInterrupt:
        print("reportkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
