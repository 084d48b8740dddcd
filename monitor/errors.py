"""One exception tree for the whole package.

    MonitorError
     ├── ConfigError(path)           bad config.toml (carries the TOML path of each problem)
     ├── ArchiveError(path)          the archive cannot be opened, read or written; says what to do
     ├── FetchError(url)             one URL could not be fetched
     │    ├── BlockedURLError        refused by the security rules (scheme, private address)
     │    ├── RobotsDisallowedError  refused by robots.txt
     │    ├── ResponseTooLargeError  decoded body exceeded max_bytes
     │    ├── UnsupportedContentError content type we do not process
     │    ├── RedirectError          a redirect loop, or too many hops
     │    └── HTTPStatusError(status, retry_after)
     └── DeliveryError               an alert could not be handed to SMTP
          ├── TransientDeliveryError  retry later (connection refused, 4xx)
          └── PermanentDeliveryError  retry later too, but worth a louder log (5xx)

Third-party exceptions are wrapped only at the edges, with the cause chained.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """config.toml is invalid; ``problems`` holds one ``key: message`` line each.

    ``path`` is the file, when the problems came from one: it is printed once, before
    each problem, so the problems themselves never repeat it.
    """

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        super().__init__("; ".join(f"{path}: {problem}" if path else problem for problem in problems))


class ArchiveError(MonitorError):
    """An SQLite error (or a missing file or folder) of the archive at ``path``, as one actionable line."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


class FetchError(MonitorError):
    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{message} ({url})")


class BlockedURLError(FetchError):
    pass


class RobotsDisallowedError(FetchError):
    pass


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
        super().__init__(url, f"HTTP {status}")


class DeliveryError(MonitorError):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass
