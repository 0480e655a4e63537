"""Small deterministic helpers shared by the retry tests."""
from __future__ import annotations


class Flaky:
    """A callable that raises the given errors in order, then returns `result`."""

    def __init__(self, *errors: BaseException, result: object = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0
        self.args: list = []

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.args.append((args, kwargs))
        if self.errors:
            raise self.errors.pop(0)
        return self.result


class AsyncFlaky(Flaky):
    async def __call__(self, *args, **kwargs):  # type: ignore[override]
        return Flaky.__call__(self, *args, **kwargs)


class FakeClock:
    """A clock that only moves when told to (or when the fake sleep sleeps)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
