"""Parsing of untrusted bytes in worker processes, each page under hard limits.

HTML and XML parsers have pathological inputs (a few kilobytes that take gigabytes or
minutes), and guarding against each trick is a race the next trick wins. So every parse
of a fetched body (article pages, listing pages, feeds and their item titles, sitemaps)
runs in a worker process of a pebble pool, and the event loop only waits for its answer:

* the worker's address space is capped (``RLIMIT_AS``, ``memory_mb`` above what it holds
  when it starts), so an allocation past it fails there and the worker exits;
* each page gets ``cpu_seconds`` of CPU (``RLIMIT_CPU``, raised before each page), past
  which the kernel kills the worker;
* each page gets ``wall_seconds`` in all, past which pebble kills the worker.

A page that overruns is refused with a :class:`~monitor.errors.ParseLimitError` naming the
limit, and pebble starts a new worker. The workers are also how a check uses every core:
one per core by default. They start from a fork server (or are spawned), never forked
from the monitor itself, which runs threads; each compiles the rules once.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from pebble import ProcessExpired, ProcessPool

from monitor.config import LimitsSettings, Settings
from monitor.errors import ParseLimitError
from monitor.rules import Ruleset, rules_of

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext

__all__ = ["Workers", "worker_ruleset"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# A worker whose allocation failed exits with this code (sysexits' EX_TEMPFAIL is unrelated; any
# code a worker never otherwise uses would do). Its memory may be in any state, so it does not go on.
_OUT_OF_MEMORY = 75

# A worker's address-space limit, and what it held when it started (set as it starts).
_held = 0
_limit = 0

# The rules, in this process: compiled once in each worker as it starts (a compiled rule holds
# functions, which do not pickle), and once in the monitor when it parses in its own process.
_ruleset: Ruleset | None = None


def worker_ruleset() -> Ruleset:
    """The rules of the process a job runs in."""
    if _ruleset is None:
        raise RuntimeError("no rules compiled in this process: jobs run through Workers")
    return _ruleset


class Workers:
    """Runs parsing jobs under the limits of ``settings.limits``; use it as an async context manager.

    A job is a module-level function (it is pickled by name) that takes and returns picklable values.
    """

    def __init__(self, settings: Settings) -> None:
        self.limits = settings.limits
        self._settings = settings
        self._pool: ProcessPool | None = None

    async def __aenter__(self) -> Workers:
        if self.limits.worker_count == 0:
            _compile(self._settings)
        else:
            self._pool = ProcessPool(
                max_workers=self.limits.worker_count,
                initializer=_start_worker,
                initargs=(self._settings,),
                context=_context(),
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers now, whatever they are doing (a killed job's caller was cancelled already)."""
        if self._pool is not None:
            self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves it unannotated
            self._pool.join()
            self._pool = None

    async def run(self, url: str, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``job(*args)`` for the page at ``url``: in a worker, or here when ``workers = 0``.

        Raises :class:`ParseLimitError` when the page overran a limit; the job's own errors pass through.
        """
        if self._pool is None:
            return job(*args, **kwargs)
        future = self._pool.schedule(
            _limited, args=(self.limits.cpu_seconds, job, args, kwargs), timeout=self.limits.wall_seconds
        )
        try:
            result: T = await asyncio.wrap_future(future)
        except FutureTimeout:
            raise ParseLimitError(url, f"page took longer than {self.limits.wall_seconds:g} s to parse") from None
        except ProcessExpired as exc:
            raise ParseLimitError(url, _why_it_died(exc.exitcode, self.limits)) from None
        return result


def _why_it_died(exitcode: int | None, limits: LimitsSettings) -> str:
    if exitcode == _OUT_OF_MEMORY:
        return f"page exceeded {limits.memory_mb} MB while parsing"
    if exitcode == -signal.SIGXCPU:
        return f"page took more than {limits.cpu_seconds} s of CPU to parse"
    if exitcode is not None and exitcode < 0:
        return f"the parsing worker died of signal {signal.Signals(-exitcode).name} on this page"
    return f"the parsing worker died (exit code {exitcode}) on this page"


def _context() -> ForkServerContext | SpawnContext:
    """A fork server where there is one: new workers start in milliseconds with the modules loaded."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["monitor.prepare", "monitor.sources"])
        return context
    return multiprocessing.get_context("spawn")


def _compile(settings: Settings) -> None:
    global _ruleset  # noqa: PLW0603 - the process's rules, set once (see above)
    if _ruleset is None:
        _ruleset = rules_of(settings)


def _start_worker(settings: Settings) -> None:
    """A new worker: compile the rules, then cap its memory at what it holds now plus ``memory_mb``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the monitor handles it
    # pebble ends a worker with SIGTERM, whose Python handler would wait for the parser's C code to return (up
    # to cpu_seconds): the kernel's default ends it at once. A worker holds nothing that needs cleaning up.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    importlib.import_module("monitor.prepare")  # the jobs' modules, loaded before the address space is measured
    importlib.import_module("monitor.sources")
    _compile(settings)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a page that kills a worker leaves no core file behind
    global _held, _limit  # noqa: PLW0603 - the worker's own figures, set once as it starts
    _held = _address_space("VmSize")
    _limit = _held + settings.limits.memory_mb * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        _limit = min(_limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (_limit, hard))


def _address_space(field: str) -> int:
    """This process's virtual memory size (``VmSize``) or its peak (``VmPeak``), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _limited(cpu_seconds: int, job: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
    """Run one job in a worker with ``cpu_seconds`` more of CPU time; a failed allocation ends the worker."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    try:
        return job(*args, **kwargs)
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)
    except Exception:
        # A C parser reports a failed allocation its own way (Lexbor: "Can't parse HTML"). A job that
        # failed after its worker's address space came within a quarter of the limit ran out of memory.
        if _limit and _address_space("VmPeak") > _limit - (_limit - _held) // 4:
            os._exit(_OUT_OF_MEMORY)
        raise
