"""Flags shared by ``run`` and ``plan``: a policy preset plus strategy overrides.

The CLI builds the same objects the Python API does (``preset()``, ``replace_strategy``);
errors from the engine are re-worded to name the flag the user typed.
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Dict, List, Optional

from ..exceptions import InvalidConfigurationError
from ..policies import PRESETS, RetryPolicy, preset
from ..strategies import JITTER_TYPES, RetryStrategy, replace_strategy

__all__ = [
    "CLIError",
    "positive_int",
    "non_negative_float",
    "positive_float",
    "exit_code_list",
    "add_strategy_flags",
    "policy_from_args",
    "describe_strategy",
    "fmt_seconds",
]

SCHEDULES = ("exponential", "linear", "fixed", "fibonacci")

#: engine / Python parameter name -> the flag that sets it
_FLAG_OF = {
    "max_attempts": "--attempts",
    "base_delay": "--delay",
    "delay": "--delay",
    "multiplier": "--multiplier",
    "backoff_multiplier": "--multiplier",
    "max_delay": "--max-delay",
    "increment": "--increment",
    "jitter": "--jitter",
    "jitter_type": "--jitter",
    "jitter_factor": "--jitter-factor",
    "seed": "--seed",
    "timeout": "--timeout",
    "policy": "--policy",
}


class CLIError(Exception):
    """A bad command line: printed as ``zenoo-retry <cmd>: error: ...``, exit status 2."""


def _number(kind: Callable[[str], Any], text: str, ok: Callable[[Any], bool], want: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {want}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return int(_number(int, text, lambda v: v >= 1, "an integer >= 1"))


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return int(_number(int, text, lambda v: v >= 0, "an integer >= 0"))


def non_negative_float(text: str) -> float:
    """argparse type: a finite number of seconds >= 0."""
    return float(_number(float, text, lambda v: v >= 0, "a number >= 0"))


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return float(_number(float, text, lambda v: v > 0, "a number > 0"))


def exit_code_list(text: str) -> List[int]:
    """argparse type: comma-separated exit codes 0-255, e.g. ``1,75``."""
    codes = []
    for part in text.split(","):
        part = part.strip()
        try:
            code = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated exit codes (0-255), got {text!r}") from None
        if not 0 <= code <= 255:
            raise argparse.ArgumentTypeError(f"exit codes are 0-255, got {code} in {text!r}")
        codes.append(code)
    return codes


def add_strategy_flags(parser: argparse.ArgumentParser, *, seed_help: str) -> None:
    """--policy and the strategy overrides (shared by run and plan)."""
    g = parser.add_argument_group("policy (a preset, then overrides)")
    g.add_argument("--policy", metavar="NAME", choices=sorted(PRESETS),
                   help="start from a preset: " + ", ".join(sorted(PRESETS))
                   + " (default: exponential, 3 attempts, 1 s, x2, cap 60 s, full jitter)")
    g.add_argument("--attempts", type=positive_int, metavar="N",
                   help="max attempts, the first one included")
    g.add_argument("--schedule", choices=SCHEDULES, help="delay schedule")
    g.add_argument("--delay", type=non_negative_float, metavar="S", help="base delay in seconds")
    g.add_argument("--multiplier", type=positive_float, metavar="X", help="exponential factor (>= 1)")
    g.add_argument("--increment", type=non_negative_float, metavar="S", help="linear increment in seconds")
    g.add_argument("--max-delay", type=non_negative_float, metavar="S", help="cap on every delay")
    g.add_argument("--jitter", choices=JITTER_TYPES, metavar="KIND",
                   help="jitter: " + ", ".join(JITTER_TYPES))
    g.add_argument("--jitter-factor", type=non_negative_float, metavar="F",
                   help="factor of proportional/additive jitter (e.g. 0.3)")
    g.add_argument("--timeout", type=positive_float, metavar="S",
                   help="total time limit in seconds (overrides the preset's)")
    g.add_argument("--seed", type=int, metavar="N", help=seed_help)


def _flag_for(exc: InvalidConfigurationError) -> str:
    return _FLAG_OF.get(getattr(exc, "parameter", ""), "")


def policy_from_args(args: argparse.Namespace) -> RetryPolicy:
    """The preset named by --policy (or the default policy) with the flags applied.

    Raises :class:`CLIError` naming the flag when the engine rejects a value.
    """
    base = preset(args.policy) if args.policy else RetryPolicy()
    strategy: RetryStrategy = base.strategy  # type: ignore[assignment]
    changes: Dict[str, Any] = {}
    for flag, field in (("attempts", "max_attempts"), ("delay", "base_delay"),
                        ("multiplier", "multiplier"), ("increment", "increment"),
                        ("max_delay", "max_delay"), ("jitter", "jitter"),
                        ("jitter_factor", "jitter_factor"), ("seed", "seed")):
        value = getattr(args, flag, None)
        if value is not None:
            changes[field] = value
    try:
        if args.schedule and args.schedule != strategy.schedule:
            strategy = RetryStrategy(
                args.schedule, max_attempts=strategy.max_attempts, base_delay=strategy.base_delay,
                increment=strategy.increment, multiplier=strategy.multiplier,
                max_delay=strategy.max_delay, jitter=strategy.jitter_kind,
                jitter_factor=strategy.jitter_factor)
        if changes:
            strategy = replace_strategy(strategy, **changes)
        return base.copy(strategy=strategy,
                         timeout=args.timeout if args.timeout is not None else base.timeout)
    except InvalidConfigurationError as exc:
        flag = _flag_for(exc)
        if not flag:
            raise CLIError(str(exc)) from None
        msg = str(exc)
        msg = msg.replace(exc.parameter, flag, 1) if msg.startswith(exc.parameter) else f"{flag}: {msg}"
        raise CLIError(msg) from None


def fmt_seconds(value: Optional[float]) -> str:
    """Seconds for humans: 0.05 -> '50ms', 2.0 -> '2s', 90.5 -> '90.5s'."""
    if value is None:
        return "none"
    if value == 0:
        return "0s"
    if value < 1:
        return f"{value * 1000:.4g}ms"
    return f"{value:.4g}s"


def describe_strategy(strategy: Any, timeout: Optional[float] = None) -> str:
    """One line: 'exponential, 5 attempts, 2s x2, cap 60s, full jitter, timeout 120s'."""
    sched = strategy.schedule
    parts = [sched, f"{strategy.max_attempts} attempts"]
    if sched == "exponential":
        parts.append(f"{fmt_seconds(strategy.base_delay)} x{strategy.multiplier:g}")
    elif sched == "linear":
        parts.append(f"{fmt_seconds(strategy.base_delay)} +{fmt_seconds(strategy.increment)}")
    else:
        parts.append(fmt_seconds(strategy.base_delay))
    parts.append(f"cap {fmt_seconds(strategy.max_delay)}")
    kind = strategy.jitter_kind
    if kind in ("proportional", "additive"):
        parts.append(f"{kind} jitter {strategy.jitter_factor:g}")
    else:
        parts.append("no jitter" if kind == "none" else f"{kind} jitter")
    if timeout is not None:
        parts.append(f"timeout {fmt_seconds(timeout)}")
    return ", ".join(parts)
