"""One notification through Apprise, in a process of its own: ``python -m monitor.notifier``.

The monitor hands a notification over here (a JSON object on standard input: the Apprise URL, the title and body
already made inert, the socket timeout, the memory the answer may take) and reads the outcome back (a JSON object on
standard output). In the monitor's own process the call could be neither stopped nor bounded:

* a service that trickled its answer held the call's thread, and its connection, for good: a thread given up on at
  the channel's lease stayed with the service, one more at each retry. A process is killed at the lease;
* Apprise reads a service's answer whole: a webhook answering 500 MB took the monitor's process to 1.1 GB. Here the
  address space is capped, and such an answer fails this process alone.

It imports Apprise and the standard library only, so that it starts in a fraction of a second.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import apprise

_WHY_CHARS = 300  # of Apprise's own words, in last_error and the line `once` ends with


def notify(url: str, title: str, body: str, timeout: float) -> dict[str, str]:
    """Notify; the outcome: ``{"outcome": "sent"}``, or ``"refused"`` (try again later) or ``"invalid"`` (the URL
    names no service Apprise knows) with ``"why"``.

    Apprise's own limits (4 s to connect, 4 s to read) would cut off a service that answers in the channel's time,
    and its own limit on a call (``service_timeout``) runs the call in a thread pool of its own: both are set aside.
    A notification longer than the service takes is cut to its length (``overflow=truncate``) unless the URL says
    otherwise: handed over whole by default, it was refused at every retry by Discord (2,000 characters), Telegram
    (4,096) or Mattermost. The text is said to be plain, and Apprise escapes it into a service's own format.
    """
    asset = apprise.AppriseAsset(service_timeout=0)
    service = apprise.Apprise.instantiate(url, asset=asset)
    if service is None:
        return {"outcome": "invalid", "why": f"not a URL Apprise can notify: {_scheme_of(url)}"}
    service.socket_connect_timeout = service.socket_read_timeout = timeout
    # Apprise reads a URL's parameter names in any case ("?Overflow=split" splits).
    if not any(name.lower() == "overflow" for name in parse_qs(urlsplit(url).query, keep_blank_values=True)):
        service.overflow_mode = apprise.OverflowMode.TRUNCATE
    notifier = apprise.Apprise(asset=asset)
    notifier.add(service)
    said = _Warnings()
    logging.getLogger("apprise").addHandler(said)
    if notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
        return {"outcome": "sent"}
    # Apprise returns only False; why the service refused, or could not be reached, it logs.
    why = "; ".join(dict.fromkeys(said.lines))[:_WHY_CHARS] or "(Apprise said nothing more)"
    return {"outcome": "refused", "why": why}


def _scheme_of(url: str) -> str:
    """The URL's scheme, the rest left out (it may hold a token); a value with none (a variable set to a token alone,
    or to a word) was shown as "bogus://...", a scheme it does not have."""
    if "://" not in url:
        return "it has no scheme:// (as in json://host/path or tgram://token/chat)"
    return f"{url.split('://', 1)[0]}://..."


class _Warnings(logging.Handler):
    """What Apprise warned of while notifying: why the service refused, or could not be reached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().strip().rstrip("."))


def _cap_memory(megabytes: int) -> None:
    """Let this process take ``megabytes`` beyond what it holds now (its interpreter and Apprise)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        held = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = held + megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def main() -> None:
    request: dict[str, Any] = json.loads(sys.stdin.buffer.read())
    _cap_memory(int(request["memory_mb"]))
    try:
        answer = notify(request["url"], request["title"], request["body"], float(request["timeout"]))
    except MemoryError:
        answer = {"outcome": "refused", "why": f"the service's answer took more than {request['memory_mb']} MB"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
