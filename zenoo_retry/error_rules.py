"""Compile the error-type options of a policy onto the C engine's hooks.

``retryable_errors`` / ``permanent_errors`` (:class:`ErrorType` lists, seed 002),
``rate_limit_strategy`` (a longer schedule for rate-limited errors) and
``respect_retry_after`` do not add a retry loop: they become the ``condition`` and
``delay_hint`` callables that ``RetrySpec`` already calls on the failure path only. The
engine keeps deciding attempts, caps (``max_hint_delay``), the total timeout and the
budget; a successful call never reaches any of this.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

from . import _core
from .classification import ErrorClassifier, ErrorType, default_classifier
from .retry_after import RetryAfter, retry_after_from

__all__ = ["ErrorRules", "HintChain", "compile_error_rules", "retry_after_option"]


def retry_after_option(value: Any) -> Optional[RetryAfter]:
    """``respect_retry_after`` -> the hint to install (True: the wall-clock one)."""
    if value is None or value is False:
        return None
    if value is True:
        return retry_after_from
    if isinstance(value, RetryAfter):
        return value
    raise TypeError(f"respect_retry_after must be a bool or a RetryAfter, got {value!r}")


class HintChain:
    """A ``delay_hint`` asking each hint in turn; the first number wins."""

    __slots__ = ("hints",)

    def __init__(self, *hints: Callable[[Any], Optional[float]]) -> None:
        self.hints = hints

    def __call__(self, failure: Any) -> Optional[float]:
        for hint in self.hints:
            value = hint(failure)
            if value is not None:
                return value  # type: ignore[no-any-return]
        return None


class ErrorRules:
    """The ``condition`` for a policy with error-type options.

    After a failed attempt: the error is classified; a type in ``permanent`` stops, a type
    outside ``retryable`` (when given) stops; then the user's condition (if any) decides
    as usual (it may return seconds). A rate-limited error that goes on waits for the
    server's hint when there is one, else ``rate_limit_strategy``'s delay for this attempt.
    """

    __slots__ = ("retryable", "permanent", "classifier", "rate_limit_strategy", "hint", "condition")

    def __init__(self, retryable: Optional[frozenset], permanent: frozenset, classifier: ErrorClassifier,
                 rate_limit_strategy: Optional[_core.Backoff], hint: Optional[Callable[[Any], Any]],
                 condition: Optional[Callable[[BaseException, Any], Any]]) -> None:
        self.retryable = retryable
        self.permanent = permanent
        self.classifier = classifier
        self.rate_limit_strategy = rate_limit_strategy
        self.hint = hint
        self.condition = condition

    def __call__(self, exc: BaseException, attempt: Any) -> Any:
        kind = self.classifier.classify(exc)
        if kind in self.permanent:
            return False
        if self.retryable is not None and kind not in self.retryable:
            return False
        verdict: Any = True
        if self.condition is not None:
            verdict = self.condition(exc, attempt)
            if isinstance(verdict, bool) or not isinstance(verdict, (int, float)):
                if not verdict:
                    return verdict
                verdict = True
            else:
                return verdict  # the user's condition chose the delay
        if kind is ErrorType.RATE_LIMIT and self.rate_limit_strategy is not None:
            if self.hint is not None:
                hinted = self.hint(exc)
                if hinted is not None:
                    return hinted
            return self.rate_limit_strategy.get_delay(attempt.number)
        return verdict

    def __repr__(self) -> str:
        r = sorted(t.value for t in self.retryable) if self.retryable is not None else None
        return f"ErrorRules(retryable={r}, permanent={sorted(t.value for t in self.permanent)})"


def compile_error_rules(
    *,
    condition: Optional[Callable[[BaseException, Any], Any]],
    delay_hint: Optional[Callable[[Any], Any]],
    retryable_errors: Optional[frozenset],
    permanent_errors: Optional[frozenset],
    classifier: Optional[ErrorClassifier],
    rate_limit_strategy: Optional[_core.Backoff],
    retry_after: Optional[RetryAfter],
    max_hint_delay: Optional[float],
    strategy: _core.Backoff,
) -> Tuple[Any, Any, Optional[float]]:
    """(condition, delay_hint, max_hint_delay) for ``RetrySpec``. A ``classifier`` alone
    changes nothing: it is used by the error-type lists and the rate-limit schedule."""
    hint: Any = delay_hint
    if retry_after is not None:
        hint = HintChain(delay_hint, retry_after) if delay_hint is not None else retry_after
    cond: Any = condition
    if retryable_errors is not None or permanent_errors or rate_limit_strategy is not None:
        cond = ErrorRules(retryable_errors, permanent_errors or frozenset(),
                          classifier or default_classifier, rate_limit_strategy, hint, condition)
    if max_hint_delay is None and rate_limit_strategy is not None:
        # the rate-limit schedule is capped by its own max_delay, not the main one
        max_hint_delay = max(strategy.max_delay, rate_limit_strategy.max_delay)
    return cond, hint, max_hint_delay
