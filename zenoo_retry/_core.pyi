"""Type stubs for the C extension zenoo_retry._core."""
from typing import Callable, List, Optional

class Backoff:
    """A delay schedule with jitter and its own seedable generator, computed in C."""

    def __init__(
        self,
        schedule: str = "exponential",
        *,
        max_attempts: int = 3,
        base_delay: float = 1.0,
        increment: float = 1.0,
        multiplier: float = 2.0,
        max_delay: float = 60.0,
        jitter: str = "full",
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
        custom: Optional[Callable[[int, float], float]] = None,
    ) -> None: ...
    @property
    def schedule(self) -> str: ...
    @property
    def jitter_kind(self) -> str: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def base_delay(self) -> float: ...
    @property
    def increment(self) -> float: ...
    @property
    def multiplier(self) -> float: ...
    @property
    def max_delay(self) -> float: ...
    @property
    def jitter_factor(self) -> float: ...
    @property
    def custom(self) -> Optional[Callable[[int, float], float]]: ...
    def get_delay(self, attempt: int, previous: Optional[float] = None) -> float: ...
    def raw_delay(self, attempt: int) -> float: ...
    def delays(self, count: Optional[int] = None) -> List[float]: ...
    def reseed(self, seed: Optional[int] = None) -> None: ...

# --- circuit breakers (issue 4) ---

# --- retry budgets and adaptive strategy (issue 4) ---

# --- shared memory (issue 5) ---

# --- observability (issue 6) ---

# --- operations toolkit (issue 7) ---
