"""SIGTERM and SIGHUP stop a command as Ctrl-C does.

Python turns SIGINT into KeyboardInterrupt, and ``asyncio.run`` turns the first one into the cancellation of
its main task, so that ``finally`` blocks and ``async with`` exits run: ``monitor once`` interrupted still
delivers what it queued and closes its archive. SIGTERM (``kill``, ``docker stop``, systemd, a CI runner's
timeout) had its default action instead: the process ended at once, exit 143 and not a word. Here it gets
the same two steps, raising :class:`~monitor.errors.Terminated`, which the CLI reports in one line; so has SIGHUP
(the terminal or ssh session ``once`` ran in closed), unless it is ignored, as ``nohup`` has it.

The daemon installs its own handlers while it runs (it stops on SIGINT, SIGTERM and SIGHUP with a grace
period, exit 0); these cover every other command, and the daemon before and after its loop.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

from monitor.errors import Terminated

T = TypeVar("T")


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _stop_signals() -> list[signal.Signals]:
    """SIGTERM, and SIGHUP (a terminal or ssh session closed under ``once``) unless ignored: ``nohup`` ignores it so
    that the command runs on, and it does."""
    return [signal.SIGTERM] + ([signal.SIGHUP] if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN else [])


def terminate_as_interrupt() -> None:
    """From now on, SIGTERM and SIGHUP raise :class:`Terminated` where the program is, as SIGINT raises
    KeyboardInterrupt."""
    for signum in _stop_signals():
        signal.signal(signum, _raise_terminated)


def run_stoppable(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, where SIGTERM cancels ``main`` as Ctrl-C does, then raises :class:`Terminated`.

    Raised from a signal handler in the middle of the event loop, Terminated would skip the coroutine's own
    cleanup; cancelled, the coroutine unwinds through it (a write in flight ends between two transactions).
    A second SIGTERM while it unwinds changes nothing: the stop is already under way, and bounded.
    """
    return asyncio.run(_stoppable(main))


async def _stoppable(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    asked: list[int] = []

    def stop(signum: int) -> None:
        if not asked:
            asked.append(signum)
            task.cancel()

    signals = _stop_signals()
    previous = {signum: signal.getsignal(signum) for signum in signals}
    for signum in signals:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await main
    except asyncio.CancelledError:
        if asked:
            raise Terminated(asked[0]) from None
        raise
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)  # which restores SIG_DFL, not the handler before it
            if handler is not None:
                signal.signal(signum, handler)
