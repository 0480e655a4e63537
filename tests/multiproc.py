"""Real worker processes for the shared-state tests (fork and spawn start methods).

    results = run_workers(work, [(name, 1000)] * 8, context="spawn")
    assert sum(r.value for r in results) == 8000

`run_workers` starts every worker, releases them together (a barrier, so they really
contend), and returns each one's return value or its traceback; a worker that hangs or
dies fails the run with its index and exit code. `Victim` is a process meant to be
killed with SIGKILL once it reports that it reached the interesting point (holding a
lock, holding a half-open probe).

Targets must be module-level functions of an importable module (spawn re-imports them);
the worker modules live next to this file, which the spawn children find on sys.path.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, List, Optional, Sequence, Tuple

CONTEXTS = ("fork", "spawn")


@dataclass
class WorkerResult:
    index: int
    value: Any = None
    error: Optional[str] = None  # traceback text when the worker raised
    exitcode: Optional[int] = None


class WorkerFailed(AssertionError):
    pass


def _worker_main(target: Callable[..., Any], args: Tuple[Any, ...], barrier: Any,
                 conn: Connection) -> None:
    try:
        barrier.wait(60)
        value = target(*args)
        conn.send(("ok", value))
    except BaseException:  # report everything, the parent decides
        conn.send(("err", traceback.format_exc()))
    finally:
        conn.close()


class Workers:
    """Worker processes started by start_workers; collect() waits for their results."""

    def __init__(self, target: Callable[..., Any], args_per_worker: Sequence[Tuple[Any, ...]],
                 context: str) -> None:
        ctx = mp.get_context(context)
        self.context = context
        n = len(args_per_worker)
        # kept alive until collect(): spawn children reopen its semaphores by name
        self.barrier = barrier = ctx.Barrier(n)
        self.procs, self.conns = [], []
        for args in args_per_worker:
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_worker_main, args=(target, tuple(args), barrier, w),
                            daemon=True)
            p.start()
            w.close()
            self.procs.append(p)
            self.conns.append(r)

    def collect(self, timeout: float = 120.0, check: bool = True) -> List[WorkerResult]:
        """Results in order. With check=True, any worker error, crash or timeout raises
        WorkerFailed (after killing the stragglers)."""
        results = [WorkerResult(i) for i in range(len(self.procs))]
        pending = {c: i for i, c in enumerate(self.conns)}
        try:
            while pending:
                ready = wait(list(pending), timeout)
                if not ready:
                    raise WorkerFailed(f"workers {sorted(pending.values())} did not finish "
                                       f"within {timeout}s ({self.context})")
                for c in ready:
                    i = pending.pop(c)
                    try:
                        status, payload = c.recv()
                    except EOFError:
                        status, payload = "err", "worker died without a result"
                    if status == "ok":
                        results[i].value = payload
                    else:
                        results[i].error = payload
        finally:
            for p in self.procs:
                p.join(timeout)
                if p.is_alive():
                    p.kill()
                    p.join()
            for i, p in enumerate(self.procs):
                results[i].exitcode = p.exitcode
            for c in self.conns:
                c.close()
        if check:
            bad = [r for r in results if r.error is not None or r.exitcode != 0]
            if bad:
                r = bad[0]
                raise WorkerFailed(f"worker {r.index} ({self.context}) failed, exit code "
                                   f"{r.exitcode}:\n{r.error}")
        return results


def start_workers(target: Callable[..., Any], args_per_worker: Sequence[Tuple[Any, ...]], *,
                  context: str = "fork") -> Workers:
    """Start one process per args tuple running target(*args) (all released together)."""
    return Workers(target, args_per_worker, context)


def run_workers(target: Callable[..., Any], args_per_worker: Sequence[Tuple[Any, ...]], *,
                context: str = "fork", timeout: float = 120.0,
                check: bool = True) -> List[WorkerResult]:
    """start_workers(...).collect(...): run and wait for every worker."""
    return start_workers(target, args_per_worker, context=context).collect(timeout, check)


def _victim_main(target: Callable[..., Any], args: Tuple[Any, ...], ready: Connection) -> None:
    target(ready, *args)


class Victim:
    """A process running target(ready_conn, *args). The target signals that it reached
    the point where it should be killed by writing to ready_conn (``ready.send(x)`` or
    a raw byte to ``ready.fileno()``); it should then block until killed."""

    def __init__(self, target: Callable[..., Any], args: Tuple[Any, ...] = (), *,
                 context: str = "fork") -> None:
        ctx = mp.get_context(context)
        self._r, w = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_victim_main, args=(target, args, w), daemon=True)
        self.process.start()
        w.close()

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the victim signalled (raises WorkerFailed if it died or hung)."""
        if not self._r.poll(timeout) or not self.process.is_alive():
            self.kill()
            raise WorkerFailed(f"victim did not become ready within {timeout}s "
                               f"(exit code {self.process.exitcode})")

    def kill(self) -> None:
        """SIGKILL and reap it (so its pid reads as dead)."""
        if self.process.is_alive():
            os.kill(self.pid, signal.SIGKILL)
        self.process.join()
        self._r.close()
