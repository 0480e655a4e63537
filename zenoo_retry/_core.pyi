"""Type stubs for the C extension zenoo_retry._core.

Checked against the built module by tests/test_stubs.py (mypy's stubtest). The C types
carry no __text_signature__, so stubtest can check that every name exists and is the
right kind (class, method, property) but not the parameters: those follow the C sources
(src/module/*.c: tp_init keyword lists, PyArg_Parse* formats, METH_* flags). A method
whose C entry is METH_O, METH_VARARGS, METH_FASTCALL (without METH_KEYWORDS) or
METH_NOARGS takes positional arguments only, hence the `/` in its stub.
"""
from types import MethodType, TracebackType
from typing import (
    AbstractSet,
    Any,
    Callable,
    Coroutine,
    Dict,
    Generator,
    Iterable,
    List,
    Literal,
    NoReturn,
    Optional,
    Protocol,
    Tuple,
    Type,
    Union,
    final,
    overload,
    type_check_only,
)

from typing_extensions import Buffer, Self, disjoint_base

from zenoo_retry.exceptions import SharedStateError

_ExcTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]
# CircuitBreaker's expected_exception also takes a list or a set of classes (not empty)
_ExcCollection = Union[
    Type[BaseException],
    Tuple[Type[BaseException], ...],
    List[Type[BaseException]],
    AbstractSet[Type[BaseException]],
]

# --- retry engine ---

@disjoint_base
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
    def raw_delay(self, attempt: int, /) -> float: ...
    def delays(self, count: Optional[int] = None) -> List[float]: ...
    def reseed(self, seed: Optional[int] = None, /) -> None: ...

@final
class RetryAttempt:
    """What retry hooks, conditions and observers receive about the attempt that ended.

    Made only by the retry engine (it cannot be instantiated from Python).
    """

    @property
    def number(self) -> int:
        """The attempt that just ended (1-based)."""
    @property
    def max_attempts(self) -> int: ...
    @property
    def last_exception(self) -> Optional[BaseException]:
        """The error of that attempt (None when its result was rejected)."""
    @property
    def last_result(self) -> Any:
        """The rejected result (None when the attempt raised)."""
    @property
    def next_delay(self) -> Optional[float]:
        """Seconds before the next attempt, or None."""
    @property
    def elapsed(self) -> float: ...
    @property
    def total_delay(self) -> float: ...
    @property
    def name(self) -> str: ...

@type_check_only
class _BreakerProtocol(Protocol):
    """What RetrySpec needs of a breaker that is not a _core.CircuitBreaker."""

    def _zr_enter(self) -> Any: ...
    def _zr_exit(self, token: Any, exc: Optional[BaseException], /) -> Any: ...

@type_check_only
class _BudgetProtocol(Protocol):
    """What RetrySpec needs of a budget that is not a _core.RetryBudget."""

    def _zr_on_request(self) -> Any: ...
    def _zr_try_retry(self) -> object: ...

# observer(kind, info, error) and the log hook: kind is an event number (zenoo_retry.events)
_Observer = Callable[[int, RetryAttempt, Optional[BaseException]], Any]

@final
class RetrySpec:
    """A compiled retry policy (built by zenoo_retry.policies.RetryPolicy.compile()).

    Immutable once initialised. The methods below let the block form
    (zenoo_retry/blocks.py) share the engine's rules.
    """

    def __init__(
        self,
        strategy: Backoff,
        *,
        retry_on: _ExcTypes = ...,  # Exception
        never_retry_on: Optional[_ExcTypes] = ...,  # ()
        condition: Optional[Callable[[BaseException, RetryAttempt], object]] = None,
        retry_on_result: Optional[Callable[[Any], object]] = None,
        delay_hint: Optional[Callable[[Any], Optional[float]]] = None,
        on_retry: Optional[Callable[[RetryAttempt], Any]] = None,
        on_give_up: Optional[Callable[[RetryAttempt, BaseException], Any]] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
        timeout: Optional[float] = None,
        reraise: bool = False,
        breaker: Union[CircuitBreaker, _BreakerProtocol, None] = None,
        budget: Union[RetryBudget, _BudgetProtocol, None] = None,
        fallback: Any = ...,  # no fallback unless given (None is a fallback value)
        fallback_factory: Optional[Callable[[BaseException], Any]] = None,
        name: Optional[str] = None,
        max_hint_delay: Optional[float] = None,
        metrics: Optional[OperationMetrics] = None,
        observer: Optional[_Observer] = None,
    ) -> None: ...
    @property
    def strategy(self) -> Backoff: ...
    @property
    def retry_on(self) -> Tuple[Type[BaseException], ...]: ...
    @property
    def never_retry_on(self) -> Tuple[Type[BaseException], ...]: ...
    @property
    def condition(self) -> Optional[Callable[[BaseException, RetryAttempt], object]]: ...
    @property
    def retry_on_result(self) -> Optional[Callable[[Any], object]]: ...
    @property
    def delay_hint(self) -> Optional[Callable[[Any], Optional[float]]]: ...
    @property
    def on_retry(self) -> Optional[Callable[[RetryAttempt], Any]]: ...
    @property
    def on_give_up(self) -> Optional[Callable[[RetryAttempt, BaseException], Any]]: ...
    @property
    def sleep(self) -> Optional[Callable[[float], Any]]: ...
    @property
    def clock(self) -> Optional[Callable[[], float]]: ...
    @property
    def breaker(self) -> Union[CircuitBreaker, _BreakerProtocol, None]: ...
    @property
    def budget(self) -> Union[RetryBudget, _BudgetProtocol, None]: ...
    @property
    def fallback(self) -> Any:
        """The fallback value (None also when there is none: see has_fallback)."""
    @property
    def fallback_factory(self) -> Optional[Callable[[BaseException], Any]]: ...
    @property
    def has_fallback(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def metrics(self) -> Optional[OperationMetrics]: ...
    @property
    def observer(self) -> Optional[_Observer]: ...
    @property
    def timeout(self) -> Optional[float]: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def max_hint_delay(self) -> Optional[float]: ...
    @property
    def reraise(self) -> bool: ...
    def begin(self) -> Tuple[int, float]:
        """Start a call: (has_start as 0 or 1, start time)."""
    def enter(self, attempt: int = 0, /) -> Any:
        """Breaker admission before an attempt: a token for exit(), or raises."""
    def succeeded(self, attempt: int, result: Any = None, /) -> None: ...
    def exit(self, token: Any, exc: Optional[BaseException], /) -> None: ...
    def result_rejected(self, result: Any, /) -> bool: ...
    def after_failure(
        self,
        exc: Optional[BaseException],
        attempt: int,
        has_start: object,
        start: float,
        previous_delay: float,
        total_delay: float,
        result: Any = None,
        /,
    ) -> Union[Tuple[Literal["retry"], float], Tuple[Literal["stop"], Any]]: ...
    def attempt_info(
        self,
        exc: Optional[BaseException],
        attempt: int,
        has_start: object,
        start: float,
        next_delay: float,
        total_delay: float,
        result: Any = None,
        /,
    ) -> RetryAttempt: ...
    def stop_with(self, error: BaseException, /) -> Any:
        """The fallback for `error`, or raises it."""

@final
class Retrying:
    """func wrapped with a compiled retry policy; calls run the retry loop in C.

    Made by zenoo_retry.retry(). Binds like a function (__get__); instances have a
    __dict__ (functools.update_wrapper) and are weak-referenceable.
    """

    def __init__(self, func: Callable[..., Any], spec: RetrySpec, /) -> None: ...
    @property
    def func(self) -> Callable[..., Any]: ...
    @property
    def retry_spec(self) -> RetrySpec: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    @overload
    def __get__(self, instance: None, owner: type, /) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Optional[type] = None, /) -> MethodType: ...

@final
class AsyncRetrying:
    """An async callable wrapped with a compiled retry policy; each call returns a
    RetryAwaitable running the retry loop in C. Made by zenoo_retry.async_retry()."""

    def __init__(self, func: Callable[..., Any], spec: RetrySpec, /) -> None: ...
    @property
    def func(self) -> Callable[..., Any]: ...
    @property
    def retry_spec(self) -> RetrySpec: ...
    def __call__(self, *args: Any, **kwargs: Any) -> RetryAwaitable: ...
    @overload
    def __get__(self, instance: None, owner: type, /) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Optional[type] = None, /) -> MethodType: ...

@final
class RetryAwaitable(Coroutine[Any, Any, Any]):
    """One call of an async retrying function: await it (or run it as a task).

    Registered as a collections.abc.Coroutine by zenoo_retry/__init__.py; made only by
    AsyncRetrying calls (it cannot be instantiated from Python).
    """

    @property
    def attempt(self) -> int:
        """Number of the attempt running (or last run)."""
    @property
    def __name__(self) -> str: ...
    @property
    def __qualname__(self) -> str: ...
    def __await__(self) -> Generator[Any, None, Any]: ...
    # Also an iterator at runtime (__iter__ returns self; __next__ steps the call and
    # returns through AwaitableReturn). Not declared: with them, mypy (typeshed before
    # 3.12) infers asyncio.create_task(<this>) as Task[Never].
    def send(self, value: Any, /) -> Any: ...
    @overload
    def throw(
        self,
        typ: Type[BaseException],
        val: object = None,
        tb: Optional[TracebackType] = None,
        /,
    ) -> Any: ...
    @overload
    def throw(self, typ: BaseException, val: None = None, tb: Optional[TracebackType] = None, /) -> Any: ...
    def close(self) -> None: ...

@final
class AwaitableReturn(StopIteration):
    """The StopIteration a C awaitable's __next__ raises to return its value (recycled).

    Its .value is the result; unlike a plain StopIteration its .args is ().
    """

# --- circuit breakers (issue 4) ---

@disjoint_base
class CircuitBreaker:
    """The C circuit breaker (see zenoo_retry.circuit_breaker)."""

    def __init__(
        self,
        failure_threshold: int = 5,
        recovery_timeout: float = 30.0,
        expected_exception: _ExcCollection = ...,  # Exception
        *,
        name: Optional[str] = None,
        success_threshold: int = 1,
        half_open_max_calls: int = 1,
        window: Optional[str] = None,
        window_size: Optional[float] = None,
        window_buckets: int = 10,
        minimum_calls: Optional[int] = None,
        failure_rate_threshold: float = 0.5,
        slow_call_duration: Optional[float] = None,
        slow_call_rate_threshold: float = 1.0,
        break_multiplier: float = 1.0,
        max_break_duration: Optional[float] = None,
        permit_lease: Optional[float] = None,
        clock: Optional[Callable[[], float]] = None,
        listeners: Iterable[Callable[[Any, str, str], Any]] = (),
        shared: Optional[str] = None,
    ) -> None: ...
    @property
    def shared(self) -> Optional[str]: ...
    @property
    def state(self) -> str: ...
    @property
    def config(self) -> Dict[str, Any]: ...
    @property
    def name(self) -> str: ...
    @property
    def expected_exception(self) -> Tuple[Type[BaseException], ...]: ...
    @property
    def listeners(self) -> Tuple[Callable[[Any, str, str], Any], ...]: ...
    @property
    def failure_threshold(self) -> int: ...
    @property
    def success_threshold(self) -> int: ...
    @property
    def half_open_max_calls(self) -> int: ...
    @property
    def recovery_timeout(self) -> float: ...
    @property
    def _state_size(self) -> int: ...
    def _zr_enter(self) -> Any: ...
    def _zr_exit(self, token: Any, exc: Optional[BaseException], /) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
        /,
    ) -> Literal[False]: ...
    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
    def should_allow_request(self) -> bool: ...
    def record_success(self, duration: Optional[float] = None, /) -> None: ...
    def record_failure(self, duration: Optional[float] = None, /) -> None: ...
    def isolate(self) -> None: ...
    def reset(self) -> None: ...
    def disable(self) -> None: ...
    def _stats(self) -> Dict[str, Any]: ...
    def add_listener(self, fn: Callable[[Any, str, str], Any], /) -> None: ...
    def remove_listener(self, fn: Callable[[Any, str, str], Any], /) -> None: ...
    def _wrap(self, func: Callable[..., Any], is_async: object = False, /) -> BreakerCall: ...
    def _zr_sync_view(self) -> Tuple[int, int, int, int, int, int, int, int]: ...
    def _zr_adopt(self, mode: int, remaining: float, expect_epoch: int, /) -> bool: ...

@final
class BreakerCall:
    """A function run through a CircuitBreaker, in C (what @breaker returns); with
    is_async true, each call returns a BreakerAwaitable."""

    def __init__(self, func: Callable[..., Any], breaker: CircuitBreaker, is_async: object = False, /) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    @overload
    def __get__(self, instance: None, owner: type, /) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Optional[type] = None, /) -> MethodType: ...
    @property
    def func(self) -> Callable[..., Any]: ...
    @property
    def breaker(self) -> CircuitBreaker: ...

@final
class BreakerAwaitable(Coroutine[Any, Any, Any]):
    """One call of an async function through a CircuitBreaker (a coroutine-like awaitable).

    Registered as a collections.abc.Coroutine by zenoo_retry.circuit_breaker; made only
    by BreakerCall calls. Unlike a coroutine it has no __name__/__qualname__.
    """

    def __await__(self) -> Generator[Any, None, Any]: ...
    # Also an iterator at runtime (__iter__ returns self; __next__ steps the call and
    # returns through AwaitableReturn). Not declared: with them, mypy (typeshed before
    # 3.12) infers asyncio.create_task(<this>) as Task[Never].
    def send(self, value: Any, /) -> Any: ...
    @overload
    def throw(
        self,
        typ: Type[BaseException],
        val: object = None,
        tb: Optional[TracebackType] = None,
        /,
    ) -> Any: ...
    @overload
    def throw(self, typ: BaseException, val: None = None, tb: Optional[TracebackType] = None, /) -> Any: ...
    def close(self) -> None: ...

# --- retry budgets and adaptive strategy (issue 4) ---

@disjoint_base
class RetryBudget:
    """A retry budget computed in C: a token bucket or a share of recent requests.

    The parameters of the other mode are refused (TypeError), so each mode has its own
    signature. Token defaults: capacity=100.0, refill_rate=10.0, initial_tokens=capacity.
    Ratio defaults: percent=0.2, min_per_second=10.0, window=10.0, buckets=10.
    """

    @overload
    def __init__(
        self,
        mode: Literal["token"] = "token",
        *,
        capacity: float = ...,
        refill_rate: float = ...,
        initial_tokens: Optional[float] = None,
        clock: Optional[Callable[[], float]] = None,
        shared: Optional[str] = None,
    ) -> None: ...
    @overload
    def __init__(
        self,
        mode: Literal["ratio"],
        *,
        percent: float = ...,
        min_per_second: float = ...,
        window: float = ...,
        buckets: int = ...,
        clock: Optional[Callable[[], float]] = None,
        shared: Optional[str] = None,
    ) -> None: ...
    @property
    def shared(self) -> Optional[str]: ...
    @property
    def mode(self) -> str: ...
    @property
    def capacity(self) -> Optional[float]: ...
    @property
    def refill_rate(self) -> Optional[float]: ...
    @property
    def initial_tokens(self) -> Optional[float]: ...
    @property
    def percent(self) -> Optional[float]: ...
    @property
    def min_per_second(self) -> Optional[float]: ...
    @property
    def window(self) -> Optional[float]: ...
    @property
    def buckets(self) -> Optional[int]: ...
    @property
    def clock(self) -> Optional[Callable[[], float]]: ...
    def try_acquire(self) -> bool: ...
    def try_acquire_multiple(self, n: int, /) -> bool: ...
    def return_tokens(self, n: int = 1, /) -> None: ...
    def available_tokens(self) -> float: ...
    def record_request(self) -> None: ...
    def drain(self) -> None: ...
    def reset(self) -> None: ...
    def stats(self) -> Dict[str, Any]: ...
    def _zr_on_request(self) -> None: ...
    def _zr_try_retry(self) -> bool: ...
    def _zr_adopt(self, tokens: float, seen_granted: int, seen_returned: int, hold: float, /) -> None: ...

@disjoint_base
class AdaptiveBackoff(Backoff):
    """A Backoff whose delays follow the recent success rate, computed in C."""

    def __init__(
        self,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        success_threshold: float = 0.8,
        adaptation_window: int = 100,
        min_samples: int = 10,
        *,
        jitter: str = "none",
        jitter_factor: float = 0.3,
        seed: Optional[int] = None,
        shared: Optional[str] = None,
    ) -> None: ...
    @property
    def shared(self) -> Optional[str]: ...
    @property
    def success_threshold(self) -> float: ...
    @property
    def adaptation_window(self) -> int: ...
    @property
    def min_samples(self) -> int: ...
    @property
    def success_rate(self) -> float: ...
    @property
    def samples(self) -> int: ...
    @property
    def pressure(self) -> float: ...
    def get_delay(self, attempt: int, previous: Optional[float] = None) -> float: ...
    def raw_delay(self, attempt: int, /) -> float: ...
    def delays(self, count: Optional[int] = None) -> List[float]: ...
    def record(self, success: object, /) -> None: ...
    def record_success(self) -> None: ...
    def record_failure(self) -> None: ...
    def reset(self) -> None: ...
    def stats(self) -> Dict[str, Any]: ...
    def _zr_record(self, success: object, /) -> None: ...

# --- shared memory (issue 5) ---

def _shm_after_fork() -> None: ...
def _shm_dir() -> str: ...
def _shm_set_dir(path: Optional[str], /) -> None: ...
def _shm_examine(name: str, /) -> Dict[str, Any]: ...
def _shm_error(name: str, problem: str, /) -> SharedStateError: ...
def _shm_remove(name: str, /) -> None: ...
def _shm_hold_lock(name: str, offset: int, data: Buffer, ready_fd: int, /) -> NoReturn: ...
def _shm_test_counter(name: str, fingerprint: int, increments: int, /) -> int: ...

# --- observability (issue 6) ---

@disjoint_base
class OperationMetrics:
    """Retry counters of one operation, kept in C and bumped by the retry loops."""

    def __init__(
        self, name: str = "", *, operation_type: Optional[str] = None, tags: Optional[Dict[str, str]] = None
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def operation_type(self) -> Optional[str]: ...
    @property
    def tags(self) -> Dict[str, str]: ...
    @property
    def operations(self) -> int: ...
    @property
    def attempts(self) -> int: ...
    @property
    def successes(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def give_ups(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def dead_letters(self) -> int: ...
    @property
    def total_delay(self) -> float: ...
    def snapshot(self) -> Dict[str, Any]: ...
    def reset(self) -> None: ...
    def record_dead_letter(self) -> None: ...
    def merge(self, other: OperationMetrics, /) -> None: ...
    def error_types(self) -> Dict[Type[BaseException], int]: ...

def metrics_snapshot(cells: Iterable[OperationMetrics], /) -> Dict[str, Any]: ...
def _set_log_hook(fn: Optional[_Observer], /) -> Optional[_Observer]:
    """Install the log hook (or None); returns the previous one."""
def _metrics_delay_bounds() -> Tuple[float, ...]: ...

# --- test mode and internals (module.c) ---

def _set_test_mode(
    instant: bool, max_attempts: int = 0, recorder: Optional[Callable[[float], Any]] = None, /
) -> None: ...
def _test_mode() -> Tuple[bool, int, Optional[Callable[[float], Any]]]: ...
def _skip_sleep(delay: float, /) -> bool:
    """True if test mode skips this sleep (and records it)."""
def _wake(fut: Any, /) -> None:
    """Resolve a retry-sleep future unless it is already done."""

# --- operations toolkit (issue 7) ---
