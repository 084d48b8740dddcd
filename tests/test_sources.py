"""Discovery from feeds, sitemaps and listing pages served on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from httpserver import LocalWeb, local_web  # noqa: F401 - fixture

from monitor.config import FetchSettings, SourceSettings
from monitor.fetch import Fetcher
from monitor.models import Discovery

RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>World</title>
<item><title>Envoy recalled</title><link>/world/1?utm_source=rss#top</link>
<pubDate>Mon, 06 May 2024 10:00:00 +0300</pubDate></item>
<item><title>Swap</title><link>{origin}/world/2</link></item>
<item><title>Swap again</title><link>{origin}/world/2?fbclid=abc</link></item>
</channel></rss>"""


def check(web: LocalWeb, source: SourceSettings, **validators: Any) -> Discovery:
    async def go() -> Discovery:
        fetch_settings = FetchSettings(timeout=2.0, delay=0.0, robots=False)
        async with Fetcher(fetch_settings, [web.origin]) as fetcher:
            from monitor.sources import discover

            values = {"etag": None, "last_modified": None, "body_hash": None, **validators}
            return await discover(source, fetcher, **values)

    return asyncio.run(go())


def test_rss_links_are_canonical_deduplicated_and_dated(local_web: LocalWeb) -> None:
    local_web.route("/rss", RSS.format(origin=local_web.origin), content_type="application/rss+xml")
    found = check(local_web, SourceSettings(name="w", kind="feed", url=local_web.url("/rss")))
    assert [link.url for link in found.links] == [local_web.url("/world/1"), local_web.url("/world/2")]
    assert found.links[0].title == "Envoy recalled"
    assert found.links[0].published == datetime(2024, 5, 6, 7, 0, tzinfo=timezone.utc)


def test_listing_page_resolves_relative_links_against_base_href(local_web: LocalWeb) -> None:
    html = '<base href="/news/"><h3><a href="one">One</a></h3><h3><a href="/video/2">V</a></h3>'
    local_web.route("/list", html)
    source = SourceSettings(name="p", kind="page", url=local_web.url("/list"), links="h3 a", exclude="/video/")
    found = check(local_web, source)
    assert [(link.url, link.title) for link in found.links] == [(local_web.url("/news/one"), "One")]
