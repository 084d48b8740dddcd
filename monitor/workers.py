"""Parsing of untrusted bytes in worker processes, each page under hard limits.

HTML and XML parsers have pathological inputs (a few kilobytes that take gigabytes or
minutes), and guarding against each trick is a race the next trick wins. So every parse
of a fetched body (article pages, listing pages, feeds and their item titles, sitemaps)
runs in a worker process, and the event loop only waits for its answer on the worker's socket:

* the worker's address space is capped (``RLIMIT_AS``, ``memory_mb`` above what it holds
  when it starts), so an allocation past it fails there and the worker exits;
* each page gets ``cpu_seconds`` of CPU (``RLIMIT_CPU``, raised before each page), past
  which the kernel kills the worker;
* each page gets ``wall_seconds`` in all, past which the monitor kills the worker;
* each page's answer may take ``answer_mb`` on its way back, past which the monitor kills the
  worker rather than read it: the monitor holds what it reads, and a worker's answer can be as large as its memory;
* a free worker goes to the sources waiting for one in turn (:class:`~monitor.fetch.fairness.FairSlots`, each job
  counted as its check's source's): a hostile source's pages queued first cannot make another source's wait behind
  all of them, each close to the limits.

A page that overruns is refused with a :class:`~monitor.errors.ParseLimitError` naming the
limit, and a new worker takes the dead one's place. No thread waits on a worker, and the loop
never blocks on one: it writes each page to the worker's socket and reads the answer back as the
socket is ready, however long the page, however busy the worker. The workers are also how a check uses every core:
one per core by default. They start from a fork server (or are spawned), never forked
from the monitor itself, which runs threads; each is sent the rules the monitor compiled.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import os
import pickle
import re
import resource
import signal
import socket
import struct
import traceback
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from monitor.config import LimitsSettings, Settings
from monitor.errors import MonitorError, ParseLimitError
from monitor.fetch.fairness import FairSlots
from monitor.rulecache import rules_of
from monitor.rules import Ruleset
from monitor.tempfiles import missing_temp_folder

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

# Seconds to wait for a worker whose socket closed to exit, before it is killed.
_EXIT_WAIT = 1.0

# Seconds after the workers could not start before a job starts them again: what stopped them (the system's limit on
# processes reached, memory short) may pass, and a daemon that never tried again failed every check until restarted.
RESTART_AFTER = 60.0

# A message between the monitor and a worker: its length, then that many bytes of pickle.
_LENGTH = struct.Struct("!Q")

# The modules of the jobs a worker runs: its fork server loads them once, so a worker starts with them. tldextract
# is imported by its first use (see monitor.fetch.urls), and every worker uses it.
PRELOAD = ("monitor.prepare", "monitor.sources", "tldextract")

# The rules, in this process: in a worker, those the monitor sent it as it started; in the monitor, compiled for each
# pool opened when it parses in its own process.
_ruleset: Ruleset | None = None


def worker_ruleset() -> Ruleset:
    """The rules of the process a job runs in."""
    if _ruleset is None:
        raise RuntimeError("no rules compiled in this process: jobs run through Workers")
    return _ruleset


class WorkersError(MonitorError):
    """The parsing workers could not be started (the fork server or a process could not be made)."""


class Workers:
    """Runs parsing jobs under the limits of ``settings.limits``; use it as an async context manager.

    A job is a module-level function (it is pickled by name) that takes and returns picklable values.
    """

    def __init__(self, settings: Settings) -> None:
        self.limits = settings.limits
        self._count = settings.limits.worker_count  # asked for on every job: counting the cores is not free
        self._max_answer = settings.limits.answer_mb * 2**20
        self._settings = settings
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()  # None: no worker could start
        # Who gets the next free worker: the sources waiting, in turn. The idle queue alone is first come, first served,
        # and a check queues its pages as they arrive: a source's 32 pages, each parsing for its CPU limit, made
        # another source's feed and then its article wait behind all of them (30 s at a 1 s limit, 5 min at 10 s).
        self._turns = FairSlots(max(self._count, 1))
        self._failure: WorkersError | None = None
        self._failed_at = 0.0  # loop time of the failure
        self._all: set[_Worker] = set()
        self._closed = False
        self._context = process_context()
        self._starting: set[asyncio.Task[None]] = set()
        self._rules: bytes | None = None  # the compiled rules as sent to each worker, pickled once

    @property
    def in_process(self) -> bool:
        """Whether jobs run in this process (``workers = 0``): the pool compiled the rules here as it opened."""
        return self._count == 0

    async def __aenter__(self) -> Workers:
        """Start the workers in the background: the first start launches the fork server, which loads the
        modules (half a second), and the checks fetch their sources meanwhile; a job waits for a worker."""
        if self.in_process:
            _compile(self._settings)
        else:
            self._start(self._count)
        return self

    def _start(self, count: int) -> None:
        task = asyncio.create_task(self._start_workers(count))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _start_workers(self, count: int) -> None:
        """Start ``count`` workers at once, each taking jobs once it says it is ready: a page's deadline is the page's
        alone, never a worker's start (the fork, the rules received). Started one after another, each waited for the
        one before to compile its rules: the second worker of a ``once`` came a quarter of a second later."""
        loop = asyncio.get_running_loop()
        # The rules are compiled here (or were) while the fork server loads its modules, and sent to the workers: each
        # compiled them itself before, a quarter of a second for the shipped ones, which its first page waited for.
        rules = asyncio.ensure_future(asyncio.to_thread(self._rules_message))
        started: list[_Worker] = []
        refused: Exception | None = None
        try:
            for _ in range(count):
                try:
                    worker = await asyncio.to_thread(self._spawn)
                except Exception as exc:  # noqa: BLE001 - raised below, once those started take jobs
                    refused = exc
                    break
                self._all.add(worker)
                started.append(worker)
            # Those started take jobs even when the next could not start: left unread, they stayed in the pool, alive
            # and never given a job, and a restart counted them as running.
            message = await rules
            await asyncio.gather(*(self._take_when_ready(loop, worker, message) for worker in started))
            if refused is not None:
                raise refused
        except Exception as exc:  # noqa: BLE001 - told to every job waiting for a worker, instead of a hang
            self._failure = WorkersError(f"the parsing workers could not start: {type(exc).__name__}: {exc}")
            self._failed_at = loop.time()
            self._idle.put_nowait(None)
        finally:
            rules.cancel()  # a start stopped first leaves the compiling's outcome to no one

    def _rules_message(self) -> bytes:
        if self._rules is None:
            self._rules = _message(rules_of(self._settings))
        return self._rules

    async def _take_when_ready(self, loop: asyncio.AbstractEventLoop, worker: _Worker, rules: bytes) -> None:
        """Send ``worker`` the rules, and give it jobs once it says it is ready."""
        try:
            await loop.sock_sendall(worker.channel, rules)
            await _receive(loop, worker.channel, self._max_answer)
        except (EOFError, OSError):
            worker.process.join(_EXIT_WAIT)
            raise ChildProcessError(f"a worker exited with code {worker.process.exitcode} as it started") from None
        self._idle.put_nowait(worker)

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers now, whatever they are doing (a killed job's caller was cancelled already)."""
        self._closed = True
        for task in list(self._starting):
            task.cancel()  # a worker being started then finds its socket closed, and ends
        for worker in self._all:
            worker.retire()
        self._all.clear()

    async def run(self, url: str, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``job(*args)`` for the page at ``url``: in a worker, or here when ``workers = 0``.

        Raises :class:`ParseLimitError` when the page overran a limit; the job's own errors pass through.
        """
        return await self.run_by(None, url, job, *args, **kwargs)

    async def run_by(self, start_by: float | None, url: str, job: Callable[P, T], *args: P.args,
                     **kwargs: P.kwargs) -> T:
        """:meth:`run`, given up with :class:`TimeoutError` where no worker has taken the page by ``start_by`` (loop
        time; None: no bound). A check's pages wait for a worker no longer than the check may last: a source whose
        pages each kept a worker busy nearly to its limits held its check, and in ``once`` every alert, for hours."""
        if self.in_process:
            return job(*args, **kwargs)
        async with asyncio.timeout_at(start_by):
            await self._turns.acquire()
        try:
            return await self._run(url, job, *args, **kwargs)
        finally:
            self._turns.release()

    async def _run(self, url: str, job: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The job on the next idle worker (a turn is held: at most one waiter per worker)."""
        worker = await self._idle.get()
        if worker is None:
            self._idle.put_nowait(None)  # for the next job that waits
            assert self._failure is not None
            failure = self._failure
            self._restart_if_due()
            raise failure
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(self.limits.wall_seconds, worker.overran)
        try:
            await loop.sock_sendall(worker.channel, _message((self.limits.cpu_seconds, job, args, kwargs)))
            ok, value = pickle.loads(await _receive(loop, worker.channel, self._max_answer))
        except (EOFError, OSError):  # the worker died: a limit ended it
            worker.process.join(_EXIT_WAIT)  # its exit code says which limit; a kill now would hide it
            self._replace(worker)
            raise ParseLimitError(url, worker.why_it_died(self.limits)) from None
        except _AnswerTooLarge as exc:  # the worker is left mid-answer: it goes, its answer unread
            self._replace(worker)
            raise ParseLimitError(url, f"page's answer from the parsing worker ({exc.size / 2**20:.0f} MB) exceeded "
                                       f"{self.limits.answer_mb} MB (limits.answer_mb)") from None
        except BaseException:  # the caller was cancelled mid-page (a stop): the worker goes with the page
            self._replace(worker)
            raise
        finally:
            deadline.cancel()
        self._idle.put_nowait(worker)
        if not ok:
            raise value
        return cast(T, value)

    def _restart_if_due(self) -> None:
        """Start the workers again, :data:`RESTART_AFTER` seconds after they could not start; the job that asks
        still fails, the next ones get the new workers (or the new failure)."""
        starting = any(not task.done() for task in self._starting)
        if self._closed or starting or asyncio.get_running_loop().time() - self._failed_at < RESTART_AFTER:
            return
        for dead in [worker for worker in self._all if not worker.process.is_alive()]:
            dead.retire()
            self._all.discard(dead)
        queued = [self._idle.get_nowait() for _ in range(self._idle.qsize())]
        for idle in queued:  # the failure's marks go, the workers that are ready stay
            if idle is not None:
                self._idle.put_nowait(idle)
        self._failure = None
        self._start(self._count - len(self._all))

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        with theirs:  # the worker holds its own copy once started
            try:
                process = self._context.Process(target=_serve, args=(self._settings, theirs), name="monitor-parser",
                                                daemon=True)
                process.start()
            except BaseException:
                ours.close()
                raise
        ours.setblocking(False)
        return _Worker(process, ours)

    def _replace(self, worker: _Worker) -> None:
        worker.retire()
        self._all.discard(worker)
        if not self._closed:
            self._start(1)  # the fork server runs by now: a new worker starts in milliseconds


class _Worker:
    """One parsing process and the monitor's end of its socket (non-blocking)."""

    def __init__(self, process: BaseProcess, channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self.timed_out = False

    def overran(self) -> None:
        """The page's wall-clock deadline passed: kill the worker, whose closed socket ends its page's wait."""
        self.timed_out = True
        self.process.kill()

    def retire(self) -> None:
        """Kill the worker if it still runs, and let go of it and its socket."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.channel.close()

    def why_it_died(self, limits: LimitsSettings) -> str:
        if self.timed_out:
            return f"page took longer than {limits.wall_seconds:g} s to parse (limits.wall_seconds)"
        return _why_it_died(self.process.exitcode, limits)


def _message(value: object) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


class _AnswerTooLarge(Exception):
    """A worker's answer is longer than the monitor reads."""

    def __init__(self, size: int) -> None:
        super().__init__(f"an answer of {size} bytes")
        self.size = size


async def _receive(loop: asyncio.AbstractEventLoop, channel: socket.socket, limit: int) -> bytearray:
    """The next message's bytes, read as they arrive; :class:`EOFError` if the other end closed (a worker died),
    :class:`_AnswerTooLarge`, before any of it is read, if it is longer than ``limit``."""
    (size,) = _LENGTH.unpack(await _receive_exactly(loop, channel, _LENGTH.size))
    if size > limit:
        raise _AnswerTooLarge(size)
    return await _receive_exactly(loop, channel, size)


async def _receive_exactly(loop: asyncio.AbstractEventLoop, channel: socket.socket, size: int) -> bytearray:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = await loop.sock_recv_into(channel, view[got:])
        if count == 0:
            raise EOFError("the other end closed")
        got += count
    return data


def _read_message(channel: socket.socket) -> bytearray | None:
    """In a worker: the next message's bytes, waiting for them; None once the monitor closed its end."""
    header = _read_exactly(channel, _LENGTH.size)
    return None if header is None else _read_exactly(channel, _LENGTH.unpack(header)[0])


def _read_exactly(channel: socket.socket, size: int) -> bytearray | None:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = channel.recv_into(view[got:])
        if count == 0:
            return None
        got += count
    return data


def _serve(settings: Settings, channel: socket.socket) -> None:
    """A worker's life: start (rules received, limits set), then answer one job after another until the socket
    closes. A monitor that closed its end (it stopped while this worker started or worked, or its rules did not
    compile) wants no answer: the worker ends quietly, where a broken pipe printed a traceback on the operator's
    terminal."""
    try:
        _answer_jobs(settings, channel)
    except (BrokenPipeError, ConnectionResetError):
        return


def _answer_jobs(settings: Settings, channel: socket.socket) -> None:
    if not _start_worker(settings, channel):
        return
    channel.sendall(_message(None))  # ready: the monitor starts a page's clock from here
    while (message := _read_message(channel)) is not None:
        cpu_seconds, job, args, kwargs = pickle.loads(message)
        del message  # the page's bytes, which the job need not hold twice
        try:
            answer: tuple[bool, Any] = (True, _limited(cpu_seconds, job, args, kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, as the job's own error
            exc.add_note(f"in the parsing worker:\n{traceback.format_exc()}")
            answer = (False, exc)
        try:
            reply = _message(answer)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an answer that does not pickle
            reply = _message((False, RuntimeError(f"{type(answer[1]).__name__} cannot cross to the monitor: {exc}")))
        channel.sendall(reply)


def _why_it_died(exitcode: int | None, limits: LimitsSettings) -> str:
    """The limit a page overran, with the key that sets it: `extract` of a 15 MB file said "page exceeded 256 MB"
    and not where 256 came from."""
    if exitcode == _OUT_OF_MEMORY:
        return f"page exceeded {limits.memory_mb} MB while parsing (limits.memory_mb)"
    if exitcode == -signal.SIGXCPU:
        return f"page took more than {limits.cpu_seconds} s of CPU to parse (limits.cpu_seconds)"
    if exitcode is not None and exitcode < 0:
        return f"the parsing worker died of signal {signal.Signals(-exitcode).name} on this page"
    return f"the parsing worker died (exit code {exitcode}) on this page"


def process_context() -> ForkServerContext | SpawnContext:
    """A fork server where there is one: new workers start in milliseconds with the modules loaded.

    The fork server listens on a socket in a temporary folder. A container with a read-only root and only its
    archive's volume writable (``docker run --read-only``) has none, and every worker failed to start ("No usable
    temporary directory found"): workers are then spawned, each loading its modules itself, which needs no file.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        missing = missing_temp_folder()
        if missing is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(PRELOAD))
            return context
        log.warning("the parsing workers start without a fork server, more slowly: %s (set TMPDIR to a writable"
                    " folder, or mount one on /tmp: docker run --tmpfs /tmp)", missing)
    return multiprocessing.get_context("spawn")


def _compile(settings: Settings) -> None:
    """The rules of a pool without workers, in this process (set once, a second pipeline in one process matched with
    the first one's rules)."""
    global _ruleset  # noqa: PLW0603 - the process's rules (see above)
    _ruleset = rules_of(settings)


def _start_worker(settings: Settings, channel: socket.socket) -> bool:
    """A new worker: take the rules the monitor sends, then cap its memory at what it holds now plus ``memory_mb``;
    False if the monitor closed its end first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the monitor handles it
    for module in PRELOAD:  # the jobs' modules, loaded before the address space is measured
        importlib.import_module(module)
    rules = _read_message(channel)
    if rules is None:
        return False
    global _ruleset, _held, _limit  # noqa: PLW0603 - the worker's own rules and figures, set once as it starts
    _ruleset = pickle.loads(rules)
    del rules
    _held, _limit = cap_memory(settings.limits.memory_mb * 2**20)
    return True


def cap_memory(extra: int) -> tuple[int, int]:
    """Cap this process's address space at what it holds now plus ``extra`` bytes (within the hard limit), and leave
    no core file when it dies (a page, or a service's answer, that kills it leaves none behind); what it held, and
    the cap."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    held = address_space("VmSize")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = held + extra if hard == resource.RLIM_INFINITY else min(held + extra, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return held, limit


def address_space(field: str = "VmSize") -> int:
    """This process's virtual memory size (``VmSize``) or its peak (``VmPeak``), in bytes (read before each page:
    the file is read whole and searched, half the time of reading it line by line)."""
    with open("/proc/self/status", "rb") as status:
        found = re.search(rb"^" + field.encode() + rb":\s*(\d+) kB", status.read(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(found.group(1)) * 1024


def _limited(cpu_seconds: int, job: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
    """Run one job in a worker with ``cpu_seconds`` more of CPU time; a failed allocation ends the worker."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    peak = address_space("VmPeak") if _limit else 0
    try:
        return job(*args, **kwargs)
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)
    except Exception:
        # A C parser reports a failed allocation its own way (Lexbor: "Can't parse HTML").
        if _limit and ran_out_of_memory(_held, _limit, peak):
            os._exit(_OUT_OF_MEMORY)
        raise


def ran_out_of_memory(held: int, limit: int, peak_before: int) -> bool:
    """Whether a job that failed (a library may report a failed allocation as its own error) ran out of memory under
    :func:`cap_memory`'s cap: it took the address space to a new peak, past ``peak_before``, within a quarter of the
    room the cap gave. (The peak is the process's: a heavy page parsed well before left it high, and a later job's own
    error, a feed that was an HTML page, was taken for memory exhausted.)"""
    now = address_space("VmPeak")
    return peak_before < now and now > limit - (limit - held) // 4
