"""Where tasks run: in this process, on local worker processes, or on a Dask cluster.

Every parallel analysis (replications, prior draws, optimizer candidates) is a
list of tasks ``fn(shared, task)``: ``shared`` is what every task reads (the
scenario), ``task`` its coordinates, from which it seeds itself. :func:`run_tasks`
yields ``(task index, result)`` as each task finishes (so progress moves with each);
callers key results by the index and combine them so that the order does not matter
(integer sums, or storing by coordinates), so the result is the same bytes for any
number of workers and any executor. ``fn`` must be a module-level function (it is sent by
name) and ``shared``, ``task`` and the result picklable.

- ``jobs <= 1`` (or one task): in this process.
- ``jobs = N``: a ``ProcessPoolExecutor`` of ``N`` processes, ``shared`` sent once
  per process.
- ``scheduler = "tcp://HOST:8786"``: a Dask distributed cluster; ``shared`` is
  scattered to every worker once, each task is a future, and a worker lost
  mid-run has its tasks recomputed elsewhere by Dask (tasks are pure functions of
  their coordinates). Workers need promptsim installed (see
  ``docs/distributed.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

CONNECT_SECONDS = 20.0
"""How long to try reaching the Dask scheduler before giving up."""
WORKER_WAIT_SECONDS = 60.0
"""How long to wait for a first worker to join the scheduler."""

_WORKER: dict[str, Any] = {}


def _init(fn: Callable[[Any, Any], Any], shared: Any) -> None:
    _WORKER.update(fn=fn, shared=shared)


def _call(task: Any) -> Any:
    return _WORKER["fn"](_WORKER["shared"], task)


def run_tasks(fn: Callable[[S, T], R], shared: S, tasks: Sequence[T], *, jobs: int = 1,
              scheduler: str | None = None) -> Iterator[tuple[int, R]]:
    """``(i, fn(shared, tasks[i]))`` for every task, as each finishes: computed in this
    process, on ``jobs`` local processes (0: one per core) or on the Dask cluster at
    ``scheduler``."""
    if scheduler:
        yield from _dask(fn, shared, tasks, scheduler)
        return
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(tasks) <= 1:
        for i, t in enumerate(tasks):
            yield i, fn(shared, t)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), initializer=_init,
                             initargs=(fn, shared)) as pool:
        futures = {pool.submit(_call, t): i for i, t in enumerate(tasks)}
        for f in as_completed(futures):
            # Popped: a finished future holds its result, and the caller has combined it
            # (kept, every chunk's counts of bench_1m held 96 MiB in this process).
            yield futures.pop(f), f.result()


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached or used; the message says what to do."""


SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")
"""Address schemes of a Dask scheduler (``distributed.comm``); none is ``http``."""


def check_scheduler_address(address: str) -> None:
    """Raise :class:`SchedulerError` at once for what cannot be a scheduler's address: the
    dashboard's ``http://`` URL most often (``HOST:PORT`` alone means ``tcp://``)."""
    scheme, sep, _ = address.partition("://")
    if sep and scheme not in SCHEMES:
        hint = (" (http:// is the dashboard's, usually port 8787)"
                if scheme in ("http", "https") else "")
        raise SchedulerError(f"--scheduler: {address!r} is not a Dask scheduler "
                             f"address{hint}: use tcp://HOST:8786")


def _dask(fn: Callable[[S, T], R], shared: S, tasks: Sequence[T],
          address: str) -> Iterator[tuple[int, R]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - a dependency, but say so plainly
        raise SchedulerError(f"--scheduler needs dask[distributed] installed: {exc}") from None
    check_scheduler_address(address)
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"--scheduler: cannot reach the Dask scheduler at {address!r} "
                             f"({exc}); start one with `dask scheduler` (docs/distributed.md)"
                             ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
        except TimeoutError:
            raise SchedulerError(f"--scheduler: no Dask worker joined {address!r} within "
                                 f"{WORKER_WAIT_SECONDS:.0f} s; "
                                 "start workers with `dask worker` (docs/distributed.md)"
                                 ) from None
        remote = client.scatter(shared, broadcast=True, hash=False)
        futures = client.map(fn, [remote] * len(tasks), list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures, loop=client.loop):
            result = fut.result()
            fut.release()
            yield index[fut.key], result
    finally:
        client.close()
