"""Operations toolkit (issue 7): what error types and Retry-After cost.

Success path: a direct call, plain @retry, @retry(respect_retry_after=True) and
@retry(retryable_errors=[...]) (a `condition` makes the engine read the clock at call
start). Failure path (one failure, then success; sleeps skipped by instant_retries):
exception tuple vs error types vs Retry-After vs tenacity's equivalent. And classify()
per kind of exception. Same run, interleaved. Run: `python bench/run.py ops`."""
from __future__ import annotations

from typing import List

from common import measure, table


class Unavailable(Exception):
    status_code = 503

    def __init__(self) -> None:
        super().__init__("503")
        self.retry_after = 0.0


def success_path(number: int) -> str:
    import zenoo_retry
    from zenoo_retry import ErrorType

    def work():
        return 1

    cands = {
        "direct call": work,
        "@retry": zenoo_retry.retry(max_attempts=3)(work),
        "@retry(respect_retry_after)": zenoo_retry.retry(max_attempts=3, respect_retry_after=True)(work),
        "@retry(retryable_errors)": zenoo_retry.retry(
            max_attempts=3, retryable_errors=[ErrorType.SERVER, ErrorType.NETWORK])(work),
    }
    return table("Success path with operations-toolkit options", measure(cands, number=number, rounds=5),
                 "direct call")


def failure_path(number: int) -> str:
    import zenoo_retry
    from zenoo_retry import ErrorType
    from zenoo_retry.testing import instant_retries

    def flaky_factory():
        state = [0]

        def op():
            state[0] += 1
            if state[0] % 2:
                raise Unavailable()
            return 1

        return op

    cands = {
        "@retry(exceptions=Unavailable)": zenoo_retry.retry(max_attempts=3, delay=0.0,
                                                            exceptions=Unavailable)(flaky_factory()),
        "@retry(retryable_errors=[SERVER])": zenoo_retry.retry(max_attempts=3, delay=0.0,
                                                               retryable_errors=[ErrorType.SERVER])(flaky_factory()),
        "@retry(respect_retry_after)": zenoo_retry.retry(max_attempts=3, delay=0.0,
                                                         respect_retry_after=True)(flaky_factory()),
    }
    try:
        import tenacity

        cands["tenacity (retry_if_exception_type)"] = tenacity.retry(
            stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_none(),
            retry=tenacity.retry_if_exception_type(Unavailable))(flaky_factory())
    except ImportError:  # pragma: no cover
        pass
    with instant_retries():
        res = measure(cands, number=max(1, number // 10), rounds=5)
    return table("One failure then success (sleeps skipped)", res, "@retry(exceptions=Unavailable)")


def classification(number: int) -> str:
    import requests

    from zenoo_retry import classify

    samples = {
        "ConnectionResetError": ConnectionResetError(),
        "status 503 on the error": Unavailable(),
        "requests.ReadTimeout": requests.exceptions.ReadTimeout(),
        "ValueError": ValueError(),
        "OSError(EAGAIN)": OSError(11, "again"),
    }
    cands = {"isinstance(exc, OSError)": lambda: isinstance(samples["ValueError"], OSError)}
    for name, exc in samples.items():
        cands[f"classify({name})"] = (lambda e=exc: classify(e))
    return table("classify() per failure", measure(cands, number=max(1, number // 10), rounds=5),
                 "isinstance(exc, OSError)")


def main(args: List[str]) -> str:
    number = int(args[0]) if args else 200_000
    return "\n".join([success_path(number), failure_path(number), classification(number)])
