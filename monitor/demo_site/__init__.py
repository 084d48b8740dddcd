"""The demo's sample news sites, served offline on loopback addresses.

Each outlet gets its own address (127.0.0.1, .2, .3) so the archive sees three
sites, and its own page template, so the extractor meets three layouts. The
articles themselves are data (``articles.toml``); the templates below add the
boilerplate a real site wraps around them (navigation, related links,
newsletter boxes, footers) that extraction must leave out.
"""

from __future__ import annotations

import html
import json
import threading
import tomllib
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any


@dataclass(frozen=True)
class DemoArticle:
    outlet: str
    path: str
    title: str
    byline: str
    published: datetime
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    discovery: str  # rss | atom | listing
    host: str

    @property
    def feed_path(self) -> str:
        return {"rss": "/feed.xml", "atom": "/atom.xml", "listing": "/news/"}[self.discovery]


def load_sample() -> tuple[list[Outlet], list[DemoArticle]]:
    data = tomllib.loads(files(__package__).joinpath("articles.toml").read_text(encoding="utf-8"))
    outlets = [Outlet(o["slug"], o["name"], o["discovery"], f"127.0.0.{n}") for n, o in enumerate(data["outlets"], 1)]
    articles = [
        DemoArticle(a["outlet"], a["path"], a["title"], a["byline"], datetime.fromisoformat(a["published"]),
                    tuple(a["paragraphs"]))
        for a in data["articles"]
    ]
    return outlets, articles


_e = html.escape


def _chrome(outlet: Outlet, title: str, body: str, head: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)} | {_e(outlet.name)}</title>{head}</head>
<body><header class="site-header"><a class="logo" href="/">{_e(outlet.name)}</a>
<nav class="menu"><ul><li><a href="/world/">World</a></li><li><a href="/business/">Business</a></li>
<li><a href="/sport/">Sport</a></li><li><a href="/culture/">Culture</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav>
</header>{body}
<div class="newsletter"><h3>Get the morning briefing</h3><p>Sign up for our newsletter and never miss a story.</p>
<form><input type="email" placeholder="Your e-mail"><button>Sign up</button></form></div>
<footer><p>© 2021 {_e(outlet.name)}. All rights reserved.</p><p><a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></p></footer>
</body></html>"""


def _related(articles: list[DemoArticle], current: DemoArticle) -> str:
    items = "".join(
        f'<li><a href="{_e(a.path)}">{_e(a.title)}</a></li>' for a in articles if a.outlet == current.outlet and a is not current
    )
    return f'<aside class="related"><h3>Read more</h3><ul>{items}</ul></aside>'


def render_article(outlet: Outlet, article: DemoArticle, siblings: list[DemoArticle], base: str) -> str:
    paragraphs = "".join(f"<p>{_e(p)}</p>" for p in article.paragraphs)
    when = article.published.isoformat()
    canonical = f'<link rel="canonical" href="{base}{_e(article.path)}">'
    if outlet.slug == "meridian":  # a WordPress-style theme
        body = f"""<main id="content"><article class="post type-post">
<header class="entry-header"><h1 class="entry-title">{_e(article.title)}</h1>
<div class="entry-meta"><span class="byline">{_e(article.byline)}</span> <time class="entry-date published" datetime="{when}">{article.published:%B %d, %Y}</time></div></header>
<div class="share-buttons"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">E-mail</a></div>
<div class="entry-content">{paragraphs}</div></article>{_related(siblings, article)}</main>"""
        return _chrome(outlet, article.title, body, canonical + f'<meta property="og:title" content="{_e(article.title)}">')
    if outlet.slug == "harbour":  # a newsroom CMS with JSON-LD
        ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
                         "datePublished": when, "author": {"@type": "Person", "name": article.byline},
                         "publisher": {"@type": "Organization", "name": outlet.name}})
        body = f"""<div class="page"><div class="story"><h1 class="story-headline">{_e(article.title)}</h1>
<p class="story-byline">{_e(article.byline)} · <time datetime="{when}">{article.published:%d %b %Y %H:%M} UTC</time></p>
<div class="story-body" itemprop="articleBody">{paragraphs}</div>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div></div>
{_related(siblings, article)}</div>"""
        return _chrome(outlet, article.title, body, canonical + f'<script type="application/ld+json">{ld}</script>'
                       f'<meta property="article:published_time" content="{when}">')
    body = f"""<main><div class="article"><h1>{_e(article.title)}</h1><div class="meta">{_e(article.byline)}, {article.published:%Y-%m-%d}</div>
<div class="article-text">{paragraphs}</div><div class="comments"><h3>Comments (0)</h3><p>Be the first to comment.</p></div></div>
{_related(siblings, article)}</main>"""
    return _chrome(outlet, article.title, body, canonical)


def render_discovery(outlet: Outlet, articles: list[DemoArticle], base: str) -> tuple[str, str]:
    """The outlet's feed or listing page, with its content type."""
    own = sorted((a for a in articles if a.outlet == outlet.slug), key=lambda a: a.published, reverse=True)
    if outlet.discovery == "rss":
        items = "".join(
            f"<item><title>{_e(a.title)}</title><link>{base}{_e(a.path)}</link><guid>{base}{_e(a.path)}</guid>"
            f"<pubDate>{format_datetime(a.published)}</pubDate></item>"
            for a in own
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{_e(outlet.name)}</title>'
                f"<link>{base}/</link><description>Latest news</description>{items}</channel></rss>",
                "application/rss+xml; charset=utf-8")
    if outlet.discovery == "atom":
        entries = "".join(
            f'<entry><title>{_e(a.title)}</title><link href="{base}{_e(a.path)}"/><id>{base}{_e(a.path)}</id>'
            f"<updated>{a.published.isoformat()}</updated></entry>"
            for a in own
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{_e(outlet.name)}</title><id>{base}/</id><updated>2021-06-17T07:00:00Z</updated>{entries}</feed>",
                "application/atom+xml; charset=utf-8")
    links = "".join(f'<div class="teaser"><h2 class="headline"><a href="{_e(a.path)}">{_e(a.title)}</a></h2></div>' for a in own)
    return _chrome(outlet, "Latest news", f'<main><h1>Latest news</h1>{links}<p><a href="/news/?page=2">Older stories</a></p></main>'), "text/html; charset=utf-8"


class DemoWeb:
    """Serves the sample outlets on 127.0.0.1-3 (ports picked by the OS) until closed."""

    def __init__(self) -> None:
        self.outlets, self.articles = load_sample()
        self._servers: list[ThreadingHTTPServer] = []
        self.bases: dict[str, str] = {}

    def __enter__(self) -> DemoWeb:
        for outlet in self.outlets:
            server = ThreadingHTTPServer((outlet.host, 0), self._handler(outlet))
            server.daemon_threads = True
            self.bases[outlet.slug] = f"http://{outlet.host}:{server.server_address[1]}"
            # Polled for the stop every 50 ms: at the default half second, closing the three servers took 0.75 s of
            # the demo's five.
            threading.Thread(target=server.serve_forever, args=(0.05,), name=f"demo-{outlet.slug}", daemon=True).start()
            self._servers.append(server)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _handler(self, outlet: Outlet) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                base = web.bases[outlet.slug]
                path = self.path.split("?", 1)[0]
                page: tuple[str, str] | None = None
                if path == "/robots.txt":
                    page = "User-agent: *\nDisallow: /private/\n", "text/plain"
                elif path == outlet.feed_path:
                    page = render_discovery(outlet, web.articles, base)
                else:
                    own = [a for a in web.articles if a.outlet == outlet.slug]
                    for article in own:
                        if article.path == path:
                            page = render_article(outlet, article, own, base), "text/html; charset=utf-8"
                if page is None:
                    self.send_error(404)
                    return
                body = page[0].encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", page[1])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo prints its own story of what happened

        return Handler
