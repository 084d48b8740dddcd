"""From a fetched page to an Article: which URL it is stored under, which URLs are its aliases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import SourceSettings
from monitor.extract import extract
from monitor.models import Article, Link, Page
from monitor.pipeline import page_to_article

SOURCE = SourceSettings(name="Wire", kind="feed", url="https://news.example/feed.xml")
WHEN = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
STORY = " ".join(
    f"Sentence {n} of a report on the ambassadors returning to their posts after talks in Geneva." for n in range(8)
)


def page(url: str, canonical: str | None = None, text: str = STORY) -> Page:
    head = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    html = f"<html><head><title>Envoys return</title>{head}</head><body><article><p>{text}</p></article></body></html>"
    return Page(url=url, requested_url=url, status=200, content_type="text/html", body=html.encode(), text=html)


def article_of(fetched: Page, link: Link) -> Article | None:
    return page_to_article(fetched, extract(fetched.text, fetched.url), link, SOURCE, WHEN)


def test_a_page_is_stored_under_its_link_when_nothing_else_is_declared() -> None:
    link = Link("https://news.example/world/envoys")
    article = article_of(page(link.url), link)
    assert article is not None
    assert (article.url, article.aliases, article.site) == (link.url, (), "news.example")


def test_a_same_site_canonical_url_wins_and_the_fetched_url_becomes_an_alias() -> None:
    link = Link("https://news.example/amp/world/envoys")
    article = article_of(page(link.url, canonical="/world/envoys-return"), link)
    assert article is not None
    assert article.url == "https://news.example/world/envoys-return"
    assert article.aliases == (link.url,)


def test_a_canonical_url_on_another_site_is_ignored() -> None:
    link = Link("https://news.example/world/envoys")
    article = article_of(page(link.url, canonical="https://other.example/envoys"), link)
    assert article is not None
    assert (article.url, article.aliases) == (link.url, ())


def test_a_redirected_link_is_stored_under_the_final_url_with_the_link_as_alias() -> None:
    link = Link("https://news.example/r/123")
    article = article_of(page("https://NEWS.example:443/world/envoys#top"), link)
    assert article is not None
    assert article.url == "https://news.example/world/envoys"
    assert article.aliases == (link.url,)


@pytest.mark.parametrize("text", ["Subscribe to read the full story.", ""])
def test_a_page_without_article_text_gives_no_article(text: str) -> None:
    link = Link("https://news.example/world/paywalled")
    assert article_of(page(link.url, text=text), link) is None
