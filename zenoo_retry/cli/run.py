"""``zenoo-retry run``: retry a shell command with the engine's backoff.

::

    zenoo-retry run --attempts 5 --policy network --timeout 120 -- curl -fsS https://example.com

The retry decisions (which exit codes, how long to wait, the deadline) are the package's
own block form (``attempts()``), i.e. the C ``RetrySpec``; this module only starts,
watches and stops the child process. Exit status: 0 on success, else the command's own
exit status (128+N when a signal N killed it), 124 when ``--timeout`` ran out (as
timeout(1)), 126/127 when the command cannot be run, 2 for a bad command line.
SIGINT, SIGTERM and SIGHUP are forwarded to the command (its whole process group), and
no further attempt starts after one of them.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from typing import Any, Callable, List, Optional, TextIO

from ..blocks import attempts
from ..exceptions import MaxRetriesExceededError, RetryTimeoutError
from .options import (
    CLIError,
    add_strategy_flags,
    describe_strategy,
    exit_code_list,
    fmt_seconds,
    non_negative_float,
    policy_from_args,
)

__all__ = ["add_parser", "execute", "TIMEOUT_EXIT", "CommandFailed"]

TIMEOUT_EXIT = 124
NOT_EXECUTABLE_EXIT = 126
NOT_FOUND_EXIT = 127
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CommandFailed(Exception):
    """The command exited with a non-zero status (retryable, depending on the flags)."""

    def __init__(self, returncode: int, elapsed: float) -> None:
        super().__init__(f"exit status {returncode}")
        self.returncode = returncode
        self.elapsed = elapsed


class CommandTimedOut(Exception):
    """The total timeout passed while the command ran; it was stopped (never retried)."""


class CannotRun(Exception):
    """The command could not be started (not found: 127, not executable: 126)."""

    def __init__(self, returncode: int, reason: str) -> None:
        super().__init__(reason)
        self.returncode = returncode


class Interrupted(BaseException):
    """A forwarded signal stops the retrying (a BaseException: never retried)."""

    def __init__(self, signum: int, returncode: int, forwarded: bool) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.returncode = returncode
        self.forwarded = forwarded


def _status(returncode: int) -> int:
    """A Popen return code as a shell exit status (killed by signal N -> 128+N)."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    """Runs one attempt of the command at a time and forwards signals to it."""

    def __init__(self, argv: List[str], kill_after: float) -> None:
        self.argv = argv
        self.kill_after = kill_after
        self.child: Optional[subprocess.Popen] = None
        self.signum: Optional[int] = None
        self._previous: dict = {}

    # -- signals -----------------------------------------------------------------
    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signum = signum
        child = self.child
        if child is not None and child.returncode is None:
            self._send(child, signum)

    @staticmethod
    def _send(child: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(child.pid, signum)  # the child leads its own process group
        except (ProcessLookupError, PermissionError):
            pass

    # -- one attempt -------------------------------------------------------------
    def attempt(self, deadline: Optional[float]) -> None:
        """Run the command once; raise CommandFailed / CommandTimedOut / CannotRun /
        Interrupted, or return on exit status 0."""
        if self.signum is not None:
            raise Interrupted(self.signum, 128 + self.signum, False)
        if deadline is not None and deadline <= time.monotonic():
            raise CommandTimedOut()
        started = time.monotonic()
        try:
            child = subprocess.Popen(self.argv, start_new_session=True)
        except FileNotFoundError:
            raise CannotRun(NOT_FOUND_EXIT, f"command not found: {self.argv[0]}") from None
        except OSError as exc:  # PermissionError, ENOEXEC, ...
            raise CannotRun(NOT_EXECUTABLE_EXIT, f"cannot run {self.argv[0]}: {exc.strerror or exc}") from None
        self.child = child
        try:
            if self.signum is not None:  # arrived while the child was being started
                self._send(child, self.signum)
            try:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                code = child.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self._stop(child)
                raise CommandTimedOut() from None
        finally:
            self.child = None
        if self.signum is not None:
            raise Interrupted(self.signum, _status(code), True)
        if code != 0:
            raise CommandFailed(_status(code), time.monotonic() - started)

    def _stop(self, child: subprocess.Popen) -> None:
        """SIGTERM the command's process group, SIGKILL it after ``kill_after`` s."""
        self._send(child, signal.SIGTERM)
        try:
            child.wait(timeout=self.kill_after)
        except subprocess.TimeoutExpired:
            self._send(child, signal.SIGKILL)
            child.wait()

    def sleep(self, seconds: float) -> None:
        """The retry sleep; a forwarded signal ends it (and the retrying)."""
        end = time.monotonic() + seconds
        while self.signum is None:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))
        raise Interrupted(self.signum, 128 + self.signum, False)


def _retry_condition(retry_on: Optional[List[int]], never: List[int]) -> Callable[[BaseException, Any], bool]:
    def should_retry(exc: BaseException, attempt: Any) -> bool:
        code = getattr(exc, "returncode", None)
        if code is None or code in never:
            return False
        return code in retry_on if retry_on else True

    return should_retry


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run",
        help="retry a shell command with backoff, jitter and a total timeout",
        description=__doc__.split("\n\n", 1)[0] + "\n\n" + __doc__.split("\n\n", 2)[2],
        epilog="examples:\n"
        "  zenoo-retry run --attempts 5 --policy network --timeout 120 -- curl -fsS https://example.com\n"
        "  zenoo-retry run --attempts 4 --delay 0.5 --retry-on-exit 1,75 -- ./sync.sh\n"
        "  zenoo-retry run --policy database --never-retry-on-exit 2 -- psql -c 'select 1'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_strategy_flags(p, seed_help="seed the jitter (reproducible delays)")
    g = p.add_argument_group("command")
    g.add_argument("--retry-on-exit", type=exit_code_list, metavar="CODES",
                   help="retry only these exit codes, e.g. 1,75 (default: every non-zero one)")
    g.add_argument("--never-retry-on-exit", type=exit_code_list, metavar="CODES", default=[],
                   help="never retry these exit codes, e.g. 2")
    g.add_argument("--kill-after", type=non_negative_float, metavar="S", default=5.0,
                   help="on timeout, SIGKILL the command this long after SIGTERM (default 5)")
    g.add_argument("-q", "--quiet", action="store_true", help="log only the final outcome")
    g.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG ...]",
                   help="the command and its arguments")
    p.set_defaults(execute=execute, subparser=p)
    return p


class _Log:
    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet

    def __call__(self, message: str, *, final: bool = False) -> None:
        if final or not self.quiet:
            print(f"zenoo-retry: {message}", file=self.out, flush=True)


def execute(args: argparse.Namespace, out: TextIO = sys.stderr) -> int:
    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise CLIError("give the command to run after --, e.g. zenoo-retry run --attempts 3 -- curl -fsS URL")
    if args.retry_on_exit is not None:
        if 0 in args.retry_on_exit:
            raise CLIError("--retry-on-exit: 0 means success and is never retried, got "
                           + ",".join(map(str, args.retry_on_exit)))
        both = sorted(set(args.retry_on_exit) & set(args.never_retry_on_exit))
        if both:
            raise CLIError(f"--retry-on-exit and --never-retry-on-exit both list {','.join(map(str, both))}")
    base = policy_from_args(args)
    policy = base.copy(retryable_exceptions=CommandFailed, non_retryable_exceptions=(),
                       retry_condition=_retry_condition(args.retry_on_exit, args.never_retry_on_exit),
                       retry_on_result=None, delay_hint=None, reraise=False)
    log = _Log(out, args.quiet)
    sup = Supervisor(argv, args.kill_after)
    max_attempts = policy.max_attempts
    started = time.monotonic()
    deadline = None if policy.timeout is None else started + policy.timeout
    number = 0

    def on_retry(info: Any) -> None:
        exc = info.last_exception
        log(f"attempt {info.number}/{info.max_attempts} failed: exit {exc.returncode} after "
            f"{exc.elapsed:.2f}s; retrying in {info.next_delay:.3f}s")

    log(f"running {shlex.join(argv)} ({'policy ' + policy.name if policy.name else 'policy'}: "
        f"{describe_strategy(policy.strategy, policy.timeout)})")
    sup.install()
    try:
        for attempt in attempts(policy, on_retry=on_retry, sleep=sup.sleep):
            with attempt:
                number = attempt.number
                sup.attempt(deadline)
        log(f"attempt {number}/{max_attempts} succeeded (total {time.monotonic() - started:.2f}s)")
        return 0
    except MaxRetriesExceededError as exc:
        last: Any = exc.last_exception
        log(f"giving up: attempt {number}/{max_attempts} failed: exit {last.returncode} "
            f"(total {time.monotonic() - started:.2f}s); exit status {last.returncode}", final=True)
        return int(last.returncode)
    except RetryTimeoutError as exc:
        failed = getattr(exc.last_exception, "returncode", "?")
        log(f"giving up: attempt {number}/{max_attempts} failed: exit {failed}, and the "
            f"{fmt_seconds(policy.timeout)} timeout leaves no time for another; exit status {TIMEOUT_EXIT}",
            final=True)
        return TIMEOUT_EXIT
    except CommandFailed as exc:
        why = ("--never-retry-on-exit" if exc.returncode in args.never_retry_on_exit
               else "not in --retry-on-exit")
        log(f"attempt {number}/{max_attempts} failed: exit {exc.returncode}, not retried ({why}); "
            f"exit status {exc.returncode}", final=True)
        return exc.returncode
    except CommandTimedOut:
        log(f"timeout of {fmt_seconds(policy.timeout)} reached during attempt {number}/{max_attempts}: "
            f"command stopped; exit status {TIMEOUT_EXIT}", final=True)
        return TIMEOUT_EXIT
    except CannotRun as exc:
        log(f"{exc}; exit status {exc.returncode}", final=True)
        return exc.returncode
    except Interrupted as exc:
        what = "forwarded to the command" if exc.forwarded else "received between attempts"
        log(f"{exc}: {what}, no further attempt; exit status {exc.returncode}", final=True)
        return exc.returncode
    finally:
        sup.restore()
