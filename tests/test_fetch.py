"""The fetcher against a real HTTP server on 127.0.0.1: politeness, caps, timeouts, redirects."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from httpserver import LocalWeb, local_web  # noqa: F401 - fixture

from monitor.config import FetchSettings
from monitor.errors import RobotsDisallowedError
from monitor.fetch import Fetcher
from monitor.models import NotModified, Page

T = TypeVar("T")


def settings(**changes: Any) -> FetchSettings:
    values: dict[str, Any] = {"timeout": 2.0, "delay": 0.0, "max_bytes": 100_000, "robots": False}
    values.update(changes)
    return FetchSettings(**values)


def fetch(web: LocalWeb, path: str, fetch_settings: FetchSettings | None = None, **kwargs: Any) -> Page | NotModified:
    async def go() -> Page | NotModified:
        async with Fetcher(fetch_settings or settings(), [web.origin]) as fetcher:
            return await fetcher.fetch(web.url(path), **kwargs)

    return run(go())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_fetch_returns_decoded_page_with_validators(local_web: LocalWeb) -> None:
    local_web.route("/a", "<p>Привет</p>", etag='"v1"', last_modified="Mon, 06 May 2024 10:00:00 GMT")
    page = fetch(local_web, "/a")
    assert isinstance(page, Page)
    assert page.text == "<p>Привет</p>"
    assert (page.etag, page.last_modified) == ('"v1"', "Mon, 06 May 2024 10:00:00 GMT")
    assert local_web.requests[0].headers["user-agent"] == settings().user_agent
    assert local_web.requests[0].headers["accept-encoding"] == "gzip, deflate, br"


def test_conditional_request_answered_304_is_not_modified(local_web: LocalWeb) -> None:
    local_web.route("/feed", "<rss/>", content_type="text/xml", etag='"v1"')
    result = fetch(local_web, "/feed", etag='"v1"', kind="source")
    assert result == NotModified(url=local_web.url("/feed"))
    assert local_web.requests[0].headers["if-none-match"] == '"v1"'


def test_robots_disallowed_url_is_skipped_not_fetched(local_web: LocalWeb) -> None:
    local_web.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    local_web.route("/private/a", "secret")
    with pytest.raises(RobotsDisallowedError):
        fetch(local_web, "/private/a", settings(robots=True))
    assert local_web.hits("/private/a") == 0
