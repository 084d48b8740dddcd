"""One exception tree for the whole package.

    MonitorError
     ├── ConfigError(path)           bad config.toml (carries the TOML path of each problem)
     ├── BadArgumentError            a command's argument that cannot be right (a URL that does not parse)
     │    └── SearchQueryError       a search query FTS5 cannot parse
     ├── ArchiveError(path)          the archive cannot be opened, read or written; says what to do
     │    ├── ArchiveLockedError     another monitor run holds the archive (or its lock cannot be taken), or another
     │    │                          process held its write lock past the busy timeout
     │    └── ArchiveMovedError      the archive's file was deleted or replaced while monitor had it open
     ├── FetchError(url, reason)     one URL could not be fetched; ``reason`` names the cause
     │    ├── NetworkError           no answer from the server (worth retrying)
     │    │    ├── DNSError          the host name does not resolve
     │    │    ├── RefusedError      the server refused the connection
     │    │    ├── FetchTimeoutError no complete answer within the deadline
     │    │    └── TLSError          TLS handshake or certificate failed
     │    ├── BlockedURLError        refused by the security rules (scheme, private address)
     │    ├── RobotsDisallowedError  refused by robots.txt, which was read and says so
     │    ├── RobotsUnreachableError robots.txt could not be read: nothing is fetched until it can
     │    ├── ResponseTooLargeError  decoded body exceeded max_bytes
     │    ├── UnsupportedContentError content type we do not process
     │    ├── RedirectError          a redirect loop, or too many hops
     │    ├── HTTPStatusError(status, retry_after)
     │    │    └── DeferredError     not requested: the host asked (429/503, Retry-After) to wait, and it is not over
     │    └── ParseLimitError        parsing the page overran a worker's limits (memory, CPU, time)
     └── DeliveryError               an alert could not be handed to SMTP
          ├── TransientDeliveryError  retry later (connection refused, 4xx)
          └── PermanentDeliveryError  retry later too, but worth a louder log (5xx)
               └── MessageRefusedError  the message itself cannot go (not renderable): a digest is split
                    └── ContentRefusedError  refused by the server (5xx to DATA): an alert alone goes as a notice

Third-party exceptions are wrapped only at the edges, with the cause chained.

Outside the tree, ``Terminated`` (a KeyboardInterrupt) is SIGTERM or SIGHUP turned into what Ctrl-C raises, so
that a command stops as gracefully on them as on Ctrl-C.
"""

from __future__ import annotations

import signal
from http import HTTPStatus


class MonitorError(Exception):
    """Base of every error monitor raises on purpose.

    Errors cross process boundaries (a parsing worker raises, the pipeline records), so each
    pickles as its attributes: the default, which calls ``type(error)(*error.args)``, would
    fail for every error whose constructor takes other arguments than its message.
    """

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(kind: type[MonitorError], args: tuple[object, ...], attributes: dict[str, object]) -> MonitorError:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(attributes)
    return error


class ConfigError(MonitorError):
    """config.toml is invalid; ``problems`` holds one ``key: message`` line each.

    ``path`` is the file, when the problems came from one: it is printed once, before
    each problem, so the problems themselves never repeat it.
    """

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        super().__init__("; ".join(f"{path}: {problem}" if path else problem for problem in problems))


class BadArgumentError(MonitorError):
    """An argument only the application can judge (a URL the WHATWG parser refuses): a usage error, exit 2."""


class ArchiveError(MonitorError):
    """An SQLite error (or a missing file or folder) of the archive at ``path``, as one actionable line."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class ArchiveLockedError(ArchiveError):
    """Another process holds the archive: a passing condition, so what could not be written is worth another try."""


class ArchiveMovedError(ArchiveError):
    """The file at the archive's path is no longer the one open: what is written goes to a file nobody will read."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, systemd) or SIGHUP (its terminal closed) asked a command to stop.

    A KeyboardInterrupt, so that every path that stops cleanly on Ctrl-C stops so on these too: killed by the
    signal's default action instead, ``monitor once`` ended with exit 143 (or 129) and not a word, its alerts
    undelivered.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def said(self) -> str:
        """The line a stop by this signal ends with."""
        return "hung up (SIGHUP)" if self.signum == signal.SIGHUP else "terminated (SIGTERM)"


class SearchQueryError(BadArgumentError):
    """A full-text search query SQLite's FTS5 cannot parse: bad usage, exit 2, as any argument that cannot be right."""


ERROR_CHARS = 500


def shortened(text: str, limit: int = ERROR_CHARS) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis saying so: an error that quotes a server's answer (a
    content type, a chunk-size line) held 100 kB of it, stored and logged for each of a hostile feed's links."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class FetchError(MonitorError):
    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.reason = shortened(message)
        super().__init__(f"{self.reason} ({shortened(url)})")


class NetworkError(FetchError):
    """The server gave no answer: a passing condition as a rule, so worth another try."""


class DNSError(NetworkError):
    pass


class RefusedError(NetworkError):
    pass


class FetchTimeoutError(NetworkError):
    pass


class TLSError(NetworkError):
    pass


class BlockedURLError(FetchError):
    pass


class RobotsDisallowedError(FetchError):
    pass


class RobotsUnreachableError(FetchError):
    """robots.txt answered 5xx or could not be fetched: RFC 9309 says to fetch nothing of the site for now."""


class ResponseTooLargeError(FetchError):
    pass


class UnsupportedContentError(FetchError):
    pass


class RedirectError(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, f"HTTP {status} {_phrase(status)}".rstrip())


class DeferredError(HTTPStatusError):
    """Not requested: the URL's host answered 429 or 503 with ``Retry-After``, and that wait is not over. Nothing
    is known of the URL itself, so it is no failure of the link: the pipeline leaves it for a later check."""


class ParseLimitError(FetchError):
    """A page whose parsing overran a worker's memory, CPU or time: refused for good, its worker replaced."""


def _phrase(status: int) -> str:
    """The reason phrase of a standard status ("Not Found"), so that a person need not look it up."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class DeliveryError(MonitorError):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


class MessageRefusedError(PermanentDeliveryError):
    """The message itself is refused: by the server (5xx to DATA: a content filter's verdict on what it quotes, or
    its size), or by the renderer (an alert it cannot render).

    Any alert of a digest can be the cause (a hostile page's blocklisted link), so the outbox splits such a digest
    rather than retry it whole (:func:`monitor.alerts.outbox.deliver_due`).
    """


class ContentRefusedError(MessageRefusedError):
    """The server refused the message for what it holds (5xx to DATA): an alert refused alone is sent as a notice
    that quotes none of it (:func:`monitor.alerts.render.render_refused`)."""
