"""The parsing workers: a job's answer or error comes back, and a worker that overruns or is cut short is replaced."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.config import LimitsSettings, RuleSettings, Settings, shipped_rules
from monitor.errors import ParseLimitError, UnsupportedContentError
from monitor.fetch.fairness import PARTY
from monitor import workers
from monitor.workers import Workers, WorkersError


def refuse(url: str) -> None:
    raise UnsupportedContentError(url, "not a feed: no feed found")


def wait(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def pid() -> int:
    return os.getpid()


def blob(size: int) -> bytes:
    return bytes(size)


def held(size: int) -> int:
    return len(bytes(size))


def settings(**limits: float) -> Settings:
    return Settings(limits=LimitsSettings(workers=1, **limits))


def test_a_job_runs_in_a_worker_and_its_own_error_comes_back_as_itself() -> None:
    async def scenario() -> tuple[int, UnsupportedContentError]:
        async with Workers(settings()) as workers:
            worker = await workers.run("https://a.example/", pid)
            with pytest.raises(UnsupportedContentError) as refused:
                await workers.run("https://a.example/feed", refuse, "https://a.example/feed")
            assert await workers.run("https://a.example/", pid) == worker  # an error costs no worker
            return worker, refused.value

    worker, error = asyncio.run(scenario())
    assert worker != os.getpid()
    assert (error.url, error.reason) == ("https://a.example/feed", "not a feed: no feed found")
    assert any("in the parsing worker" in note for note in error.__notes__)


def test_a_jobs_own_error_after_a_heavy_page_is_not_taken_for_memory_exhausted() -> None:
    """The worker's peak address space is its whole life's: a page that parsed well near the limit left it high, and
    the next job's own error (a feed that was an HTML page) was reported as "page exceeded … MB", its worker killed."""

    async def scenario() -> tuple[int, int]:
        async with Workers(settings(memory_mb=64)) as workers:
            worker = await workers.run("https://a.example/heavy", pid)
            assert await workers.run("https://a.example/heavy", held, 56 * 2**20) == 56 * 2**20
            with pytest.raises(UnsupportedContentError, match="not a feed"):
                await workers.run("https://a.example/feed", refuse, "https://a.example/feed")
            return worker, await workers.run("https://a.example/", pid)

    before, after = asyncio.run(scenario())
    assert before == after  # the same worker: an error costs none


def test_a_page_past_its_deadline_is_refused_and_a_new_worker_takes_the_next() -> None:
    async def scenario() -> tuple[int, int, float]:
        # Two seconds: a deadline is wall time, and on a loaded machine a trivial job has taken over half of one.
        async with Workers(settings(wall_seconds=2)) as workers:
            first = await workers.run("https://a.example/", pid)
            started = time.monotonic()
            with pytest.raises(ParseLimitError, match=r"page took longer than 2 s to parse"):
                await workers.run("https://a.example/slow", wait, 60)
            took = time.monotonic() - started
            return first, await workers.run("https://a.example/", pid), took

    first, second, took = asyncio.run(scenario())
    assert first != second
    assert took < 10


def test_an_answer_over_answer_mb_is_refused_unread_and_a_new_worker_takes_the_next() -> None:
    """The monitor held whatever a worker answered, as large as the worker's memory: it reads none of it now."""
    async def scenario() -> tuple[int, int]:
        async with Workers(settings(answer_mb=1)) as workers:
            first = await workers.run("https://a.example/", pid)
            with pytest.raises(ParseLimitError, match=r"answer from the parsing worker \(3 MB\) exceeded 1 MB"):
                await workers.run("https://a.example/huge", blob, 3 * 2**20)
            return first, await workers.run("https://a.example/", pid)

    first, second = asyncio.run(scenario())
    assert first != second


def test_a_workers_start_does_not_count_against_its_first_page() -> None:
    # Compiled as each worker starts: thirty copies take some 3 s of CPU, past the page's 2 s; a page of nothing takes
    # a fraction of that limit even on a machine loaded twice over (1 s was too close: it failed once under load).
    shipped = shipped_rules()
    slow_to_start = shipped.model_copy(update={
        "rules": [rule.model_copy(update={"name": f"{rule.name} {copy}"}) for copy in range(30) for rule in shipped.rules],
        "limits": LimitsSettings(workers=1, wall_seconds=2.0),
    })

    async def scenario() -> int:
        async with Workers(slow_to_start) as workers:
            return await workers.run("https://a.example/", pid)

    assert asyncio.run(scenario()) != os.getpid()


def test_a_cancelled_caller_takes_its_worker_with_it_and_the_pool_goes_on() -> None:
    async def scenario() -> tuple[int, int]:
        async with Workers(settings()) as workers:
            first = await workers.run("https://a.example/", pid)
            slow = asyncio.create_task(workers.run("https://a.example/slow", wait, 30))
            await asyncio.sleep(0.3)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            return first, await workers.run("https://a.example/", pid)

    first, second = asyncio.run(scenario())
    assert first != second


def test_a_free_worker_goes_to_the_sources_in_turn_not_to_the_first_queued() -> None:
    """A hostile source's pages, each parsing close to the limits, queued before another source's page: the worker
    was first come, first served, so the other page waited behind all of them (8 × 0.4 s here; 32 pages at a CPU
    limit of 10 s, minutes). It now waits for the page being parsed and one more at most."""

    async def scenario() -> tuple[float, list[int]]:
        async with Workers(settings()) as workers:
            await workers.run("https://a.example/", pid)  # the worker is up
            party = PARTY.set("hostile")
            flood = [asyncio.create_task(workers.run(f"https://hostile.example/{n}", wait, 0.4)) for n in range(8)]
            PARTY.reset(party)
            await asyncio.sleep(0.1)  # the flood holds the worker and waits for it
            party = PARTY.set("healthy")
            started = time.monotonic()
            await workers.run("https://healthy.example/", pid)
            PARTY.reset(party)
            return time.monotonic() - started, await asyncio.gather(*flood)

    waited, flood = asyncio.run(scenario())
    assert len(flood) == 8  # the flood's pages are all parsed still
    assert waited < 1.2, f"the healthy source's page waited {waited:.1f} s for the worker"


def test_a_page_no_worker_takes_by_its_deadline_is_given_up_and_the_one_under_way_finishes() -> None:
    """A check's pages waited for a worker however long: a source whose pages each kept the workers busy nearly to
    their limits held its check, and in `once` every alert, for hours. A page is now given up where no worker has
    taken it by the check's end; the page a worker took is parsed to its end."""

    async def scenario() -> tuple[float, int]:
        async with Workers(settings()) as workers:
            await workers.run("https://a.example/", pid)  # the worker is up
            busy = asyncio.create_task(workers.run("https://a.example/slow", wait, 1.5))
            await asyncio.sleep(0.1)
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(TimeoutError):
                await workers.run_by(started + 0.3, "https://a.example/next", pid)
            waited = loop.time() - started
            return waited, await busy

    waited, worker = asyncio.run(scenario())
    assert waited < 1.0  # the deadline's 0.3 s, not the busy page's 1.5
    assert worker != os.getpid()


def test_without_workers_a_job_runs_in_this_process() -> None:
    async def scenario() -> int:
        async with Workers(Settings(limits=LimitsSettings(workers=0))) as workers:
            return await workers.run("https://a.example/", pid)

    assert asyncio.run(scenario()) == os.getpid()


def rule_names() -> tuple[str, ...]:
    return workers.worker_ruleset().names


def test_without_workers_each_pool_parses_with_its_own_configs_rules() -> None:
    """The rules were compiled once per process: a second pipeline in one process (a library user's, a test's)
    matched with the first one's rules, and alerted on what its own config never asked for."""

    async def names_under(config: Settings) -> tuple[str, ...]:
        async with Workers(config) as pool:
            return await pool.run("https://a.example/", rule_names)

    def with_rule(name: str) -> Settings:
        return Settings.model_validate({"limits": {"workers": 0}, "rules": [{"name": name, "terms": ["envoy"]}]})

    assert asyncio.run(names_under(with_rule("first"))) == ("first",)
    assert asyncio.run(names_under(with_rule("second"))) == ("second",)


def test_workers_that_cannot_start_fail_each_job_with_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection (the system refusing new processes cannot be staged here as root): every job waiting
    for a worker gets the reason, instead of waiting forever."""

    def refused(self: Workers) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(Workers, "_spawn", refused)

    async def scenario() -> list[BaseException]:
        async with Workers(settings()) as workers:
            outcomes = await asyncio.gather(*(workers.run("https://a.example/", pid) for _ in range(3)),
                                            return_exceptions=True)
        return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]

    errors = asyncio.run(scenario())
    assert len(errors) == 3
    assert all(isinstance(error, WorkersError) for error in errors)
    assert str(errors[0]) == "the parsing workers could not start: BlockingIOError: [Errno 11] Resource temporarily unavailable"


def test_workers_that_could_not_start_are_started_again_a_while_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection, as above: the system refused the first start (its limit on processes reached, for a while).
    The pool never tried again, and a daemon failed every check until it was restarted by hand."""
    spawn = Workers._spawn
    refusals = [BlockingIOError(11, "Resource temporarily unavailable")]

    def refused_once(self: Workers) -> object:
        if refusals:
            raise refusals.pop()
        return spawn(self)

    monkeypatch.setattr(Workers, "_spawn", refused_once)
    monkeypatch.setattr(workers, "RESTART_AFTER", 0.0)

    async def scenario() -> tuple[BaseException | int, int]:
        async with Workers(settings()) as pool:
            first = await asyncio.gather(pool.run("https://a.example/", pid), return_exceptions=True)
            return first[0], await pool.run("https://a.example/", pid)

    first, second = asyncio.run(scenario())
    assert isinstance(first, WorkersError)
    assert isinstance(second, int) and second != os.getpid()


def _serve_alone(settings: Settings, monitor_gone: bool) -> int | None:
    """A worker served alone, sent no rules: its exit code. Its monitor's end is closed before it starts (gone), or
    else once it is waiting, and must hear nothing from it meanwhile (no "ready" without rules)."""
    ours, theirs = socket.socketpair()
    if monitor_gone:
        ours.close()
    process = multiprocessing.get_context("spawn").Process(target=workers._serve, args=(settings, theirs))
    process.start()
    theirs.close()
    if not monitor_gone:
        ours.settimeout(2)
        with pytest.raises(TimeoutError):
            ours.recv(64)
        ours.close()
    process.join(60)
    return process.exitcode


def test_a_worker_whose_monitor_is_gone_ends_quietly() -> None:
    """A monitor that stopped while a worker started closed its socket: the worker's 'ready' met a broken pipe, and
    its traceback reached the operator's terminal at the end of `monitor once`."""
    assert _serve_alone(settings(), monitor_gone=True) == 0


def test_a_worker_never_sent_its_rules_ends_quietly_when_the_monitor_closes() -> None:
    """A monitor whose rules do not compile sends its workers none, and closes them as it stops."""
    assert _serve_alone(settings(), monitor_gone=False) == 0


def test_rules_that_do_not_compile_fail_the_pools_jobs_saying_why() -> None:
    """The rules are compiled in the monitor and sent to each worker, which compiled them itself before: a bad query
    failed each worker as it started, and the jobs heard only that a worker "exited with code 0 as it started"."""
    bad = Settings(rules=[RuleSettings(name="envoys", query="ambassador NEAR/3 @nolist")],
                   limits=LimitsSettings(workers=1))

    async def scenario() -> None:
        async with Workers(bad) as pool:
            await pool.run("https://a.example/", pid)

    with pytest.raises(WorkersError, match="could not start: ConfigError: .*nolist"):
        asyncio.run(scenario())


def test_the_workers_modules_load_without_the_http_client() -> None:
    """A worker decodes and parses but never fetches: the modules its fork server loads leave out httpx (and the
    rich console its command line pulls in), a fifth of a cold start."""
    modules = ", ".join(workers.PRELOAD)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {modules}; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert "'monitor.prepare'" in loaded
    for client in ("'httpx'", "'httpcore'", "'rich'", "'monitor.fetch.client'"):
        assert client not in loaded


def test_workers_started_before_one_could_not_start_take_jobs_and_a_restart_adds_only_the_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection, as above: the second of two workers refused. The first, started at once beside it, was
    never read ready: alive and never given a job, and counted as running when the pool started the missing again,
    so the restarted pool parsed with one worker of two for good."""
    spawn = Workers._spawn
    spawns = []

    def second_refused(self: Workers) -> object:
        spawns.append(1)
        if len(spawns) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return spawn(self)

    monkeypatch.setattr(Workers, "_spawn", second_refused)
    monkeypatch.setattr(workers, "RESTART_AFTER", 0.0)

    async def scenario() -> tuple[int, set[int]]:
        async with Workers(Settings(limits=LimitsSettings(workers=2))) as pool:
            failures = 0
            while not failures:  # the first worker's jobs, until one meets the failure (and restarts the missing)
                try:
                    await pool.run("https://a.example/", pid)
                except WorkersError:
                    failures += 1
            together = await asyncio.gather(*(pool.run(f"https://{n}.example/", wait, 0.5) for n in "ab"))
            return len(spawns), set(together)

    spawned, pids = asyncio.run(scenario())
    assert spawned == 3  # the refused one started again, and only it
    assert len(pids) == 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two cores to leave one out")
def test_one_worker_per_core_counts_the_cores_the_process_may_run_on() -> None:
    """A process allowed one core (a container's cpuset, ``taskset -c 0``) starts one worker by default: the count of
    the host's cores started as many, each with its memory, on the one core."""
    pinned = subprocess.run(
        [sys.executable, "-c", "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))});"
                               " from monitor.config import LimitsSettings; print(LimitsSettings().worker_count)"],
        # This checkout's monitor, from the folder it runs in (not tests.conftest's environment: the workers import this
        # module for its jobs, and the fixtures' modules took one past a test's 64 MB).
        capture_output=True, text=True, check=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert pinned.stdout.strip() == "1"
    assert LimitsSettings().worker_count == len(os.sched_getaffinity(0))
    assert LimitsSettings(workers=3).worker_count == 3
