"""``zenoo-retry`` / ``python -m zenoo_retry``: argument parsing and dispatch.

Each subcommand module exposes ``add_parser(subparsers)`` (its flags and help) and
``execute(args) -> exit status``. Bad flags exit with status 2 and a message naming the
flag and the value, as argparse does.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from . import demo, plan, run
from .options import CLIError

EPILOG = """commands:
  demo   a flaky HTTP service on 127.0.0.1 driven by many clients under five policies:
         what retries cost the server, what backoff, budgets and breakers save (~30 s)
  run    retry a shell command:  zenoo-retry run --attempts 5 --policy network -- curl -fsS URL
  plan   what a policy will do: delay per attempt (p5/p50/p95 of the real jitter), worst case

`zenoo-retry COMMAND --help` lists each command's flags."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser (also used by the tests to check every --help)."""
    parser = argparse.ArgumentParser(
        prog="zenoo-retry",
        description="Retries, backoff with jitter, circuit breakers and retry budgets, from the shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"zenoo_retry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, run, plan):
        module.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        print("\nzenoo-retry: error: choose a command (demo, run or plan)", file=sys.stderr)
        return 2
    try:
        return int(args.execute(args))
    except CLIError as exc:
        args.subparser.error(str(exc))  # exits with status 2
        return 2  # pragma: no cover
    except BrokenPipeError:  # e.g. `zenoo-retry plan | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("zenoo-retry: interrupted", file=sys.stderr)
        return 130
