"""Threads for blocking calls that must never hold up the end of the process.

A blocking call in a thread cannot be cancelled: the coroutine awaiting it gives up (a fetch at fetch.timeout, a
check or a delivery at the daemon's stop), the thread waits on. The event loop's default executor, and any
ThreadPoolExecutor, is joined at exit, so a call blocked then held the process until it returned: a name lookup
until the resolver gave up (5 s a try, two tries a nameserver), an SMTP conversation with a stalled server until
``email.timeout`` for each step. ``monitor once`` ended that long after its work was done, and ``monitor run`` past
the 10 s its stop promises. These threads are daemons: what they are still doing at exit is of use to nobody, and
what it was for is retried (an alert is marked sent only once the server accepted it).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class DaemonThreads:
    """A pool of up to ``max_threads`` daemon threads, made as they are needed."""

    def __init__(self, name: str, max_threads: int) -> None:
        self._name = name
        self._max = max_threads
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)`` in one of the threads, in a copy of the caller's context (as to_thread)."""
        context = contextvars.copy_context()
        future: Future[T] = self._submit(functools.partial(context.run, function, *args, **kwargs))
        return await asyncio.wrap_future(future)

    def _submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        with self._lock:  # the job takes a waiting thread for itself, or a new one, as a ThreadPoolExecutor's does
            if self._idle:
                self._idle -= 1
            elif self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._work, name=f"{self._name}-{self._threads}", daemon=True).start()
        return future

    def _work(self) -> None:
        """Run jobs for good. A thread counts as idle only once its job is done: counted by the thread as it waited
        (before taking a job), a busy thread could be counted idle, and a lookup waited behind a slow one."""
        while True:
            job, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as an executor does
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1


# Name lookups, apart: a hostile feed's links on names whose DNS server (the site's own) answers slowly filled the
# threads they shared with the deliveries, and every other host's lookups and every delivery waited behind them. A
# fetch looks a name up while it holds a request slot, so no more lookups than fetch.concurrency are for live fetches.
LOOKUPS = DaemonThreads("monitor-lookup", max_threads=64)
# SMTP conversations and notices' e-mail: a handful at a time. (Each alert channel has threads of its own: see
# monitor.alerts.channels.)
DELIVERIES = DaemonThreads("monitor-delivery", max_threads=16)
