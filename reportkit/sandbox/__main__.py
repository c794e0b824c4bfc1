"""``python -m reportkit.sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM.

``main(argv)`` is also what ``reportkit sandbox`` calls. It prints the three base URLs and every key
it accepts (sandbox keys, not secrets of any real account: the test and live keys, and each
``--key KEY[=ACCOUNT]``), then waits. Any other key gets Stripe's 401.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime

from reportkit.sandbox.config import DEFAULT_ACCOUNT, Config
from reportkit.sandbox.server import Sandbox

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reportkit.sandbox",
        description="Run reportkit's local Stripe-compatible reporting sandbox.",
    )
    p.add_argument("--port", type=int, default=12111, help="API port (0 = any free port; default 12111)")
    p.add_argument("--files-port", type=int, default=0, help="v1 files host port (default: any free port)")
    p.add_argument("--downloads-port", type=int, default=0, help="v2 downloads host port (default: free)")
    p.add_argument("--seed", type=int, default=7, help="ledger seed (default 7)")
    p.add_argument("--processing-time", type=float, default=1.0, help="seconds a run takes (default 1.0)")
    p.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="fixed start of the sandbox clock, ISO 8601 with offset (default: real time)",
    )
    p.add_argument("--scale", type=float, default=1.0, help="ledger size multiplier (default 1.0)")
    p.add_argument("--ledger-start", default="2024-01-01", help="first day of data (default 2024-01-01)")
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY[=ACCOUNT]",
        help="accept this API key too (repeatable); KEY=ACCOUNT puts it in another account, which sees "
        "none of the default account's runs and files. Every other key gets a 401.",
    )
    return p


def _keys(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        key, _, account = value.partition("=")
        out[key] = account or DEFAULT_ACCOUNT
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        keys = _keys(args.key)
        Config(keys=keys)
    except ValueError as exc:
        print(f"cannot start the sandbox: --key: {exc}", file=sys.stderr, flush=True)
        return 2
    sb = Sandbox(
        seed=args.seed,
        processing_time=args.processing_time,
        now=args.now,
        scale=args.scale,
        ledger_start=args.ledger_start,
        keys=keys,
        ports={"api": args.port, "files": args.files_port, "downloads": args.downloads_port},
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    try:
        sb.start()
    except (OSError, SystemExit) as exc:  # werkzeug exits when the port is taken
        print(f"cannot start the sandbox: port {args.port} (or another) is not free ({exc}); "
              "pick another with --port", file=sys.stderr, flush=True)
        return 2
    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"reportkit sandbox (seed {args.seed})", flush=True)
        print(f"  API URL:       {sb.url}", flush=True)
        print(f"  files URL:     {sb.files_url}", flush=True)
        print(f"  downloads URL: {sb.downloads_url}", flush=True)
        print(f"  test key:      {sb.api_key}", flush=True)
        print(f"  live key:      {sb.live_api_key}", flush=True)
        for key, account in sb.config.keys:
            print(f"  key:           {key} (account {account})", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
        signal.signal(signal.SIGTERM, previous)
        print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
