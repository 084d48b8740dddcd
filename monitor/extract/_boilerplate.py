"""Class and id names that mark boilerplate: the vocabulary and how names are read.

Templates name their parts after what they are ("share-bar", "related-posts", "comment-list");
reading those names is the cheapest strong signal an extractor has. Names are matched by word
(split on "-" and "_"), since substrings mislead ("ad" in "header", "nav" in "canvas").
"""

from __future__ import annotations

import re
from functools import lru_cache

# Characters of an element's names (class, id, itemprop, role) that are read. A template's run to a few hundred
# (utility classes); a hostile page's to megabytes, each judgement of which was cached in the worker for later
# pages, until the worker ran out of memory on some other site's page.
NAMES_READ = 300
# Words of class and id names (split on "-" and "_") that mark boilerplate.
_BOILERPLATE_WORDS = frozenset(
    {
        "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "skip", "toolbar",
        "masthead", "share", "shares", "sharebar", "sharethis", "social", "socials", "related",
        "recommended", "recirc", "popular", "trending", "outbrain", "taboola", "newsletter",
        "subscribe", "subscription", "signup", "promo", "ad", "ads", "adv", "advert", "advertising",
        "advertisement", "sponsored", "cookie", "cookies", "consent", "gdpr", "banner", "popup",
        "modal", "comment", "comments", "commentlist", "disqus", "respond", "forum", "footer", "sidebar",
        "widgets", "caption", "captions", "credit", "credits", "byline", "author", "dateline",
        "timestamp", "bio", "tags", "tagcloud", "taglist", "pagination", "pager", "rating",
        "tweet", "twitter", "instagram", "facebook", "copyright", "legend", "disclaimer",
        "lightbox", "playlist", "carousel", "login", "signin", "like", "likes",
    }
)  # fmt: skip
# ("forum" is what some CMSs, SPIP among them, call the readers' comments under a story; a forum's own
# thread, left without prose by it, is read again as it is.)
# Parts of words that mark boilerplate wherever they occur ("BorlabsCookie", "postcomment"; but
# "commentary" is an opinion column). Regular expressions.
_BOILERPLATE_INFIXES = (
    "sharing", "social", "sociable", "related", "newsletter", "advert", "sponsor", "cookie",
    "consent", "comment(?!ar)", "metadata", "postmeta", "rating", "dsgvo",
)  # fmt: skip
# Words that also start container names (Blogger's "date-outer", WordPress's "tag-x"): they mark
# boilerplate only at the end of a name ("entry-date", "post-meta").
_BOILERPLATE_LAST_WORDS = frozenset({"date", "time", "meta", "tag"})
# Whole names only: page builders call every content box "elementor-widget".
_BOILERPLATE_NAMES = ("widget", "widget-area")
_NAME_SPLIT = re.compile(r"[-_]+")
# Names that describe a state rather than a part: BEM modifiers ("Section--Ads"), "has-sidebar".
_STATE_PREFIXES = tuple(
    word + mark for word in ("has", "with", "no", "without", "is", "show", "hide") for mark in "-_"
)
_BOILERPLATE_INFIX = re.compile("|".join(_BOILERPLATE_INFIXES))
# Never a wrapper of the story, however much prose they hold (a long comment thread).
_CERTAIN_BOILERPLATE = re.compile(
    "comment(?!ar)|disqus|respond|cookie|consent|newsletter|gdpr|dsgvo|lightbox|login"
)
_LAST_NAMES = _BOILERPLATE_LAST_WORDS | frozenset(_BOILERPLATE_NAMES)  # a whole name
_LAST_SUFFIXES = tuple(mark + word for word in _BOILERPLATE_LAST_WORDS for mark in "-_")
# Every word that can make a name boilerplate, whatever its place: a marker without any of them
# (and without an infix) names none.
_HINT_WORDS = _BOILERPLATE_WORDS | _BOILERPLATE_LAST_WORDS | {"widget"}
# Marks a story container; such a node is only dropped when it is small.
_CONTAINER_WORDS = frozenset(
    {"article", "content", "entry", "story", "post", "main", "text", "body"}
)


@lru_cache(maxsize=8192)
def is_boilerplate(marker: str) -> bool:
    """Whether class and id names mark boilerplate (cached: templates repeat their names).

    A third of the calls meet a marker for the first time (a post's own id and classes, a
    site's first page), and six markers in seven name no boilerplate at all: such a marker is
    told by its words and infixes at once. Only one with a hint of boilerplate is judged name
    by name (a state like "has-sidebar", a BEM modifier, may clear it), each name cached too:
    names recur from site to site ("container", "entry-content", "share-buttons").
    """
    lowered = marker.lower()
    if (
        _HINT_WORDS.isdisjoint(lowered.replace("_", " ").replace("-", " ").split())
        and _BOILERPLATE_INFIX.search(lowered) is None
    ):
        return False
    return any(map(_is_boilerplate_name, lowered.split()))


@lru_cache(maxsize=16384)
def _is_boilerplate_name(name: str) -> bool:
    if name.startswith(_STATE_PREFIXES):
        return False
    name = name.partition("--")[0]
    return (
        name in _LAST_NAMES
        or name.endswith(_LAST_SUFFIXES)
        or not _BOILERPLATE_WORDS.isdisjoint(name.replace("_", "-").split("-"))
        or _BOILERPLATE_INFIX.search(name) is not None
    )


@lru_cache(maxsize=8192)
def is_certain_boilerplate(marker: str) -> bool:
    """Whether names mark a part that never wraps the story, however much prose it holds."""
    return _CERTAIN_BOILERPLATE.search(marker.lower()) is not None


@lru_cache(maxsize=8192)
def names_container(marker: str) -> bool:
    """Whether a name reads like a story container ("entry-content", not "entry-meta")."""
    for name in marker.lower().split():
        words = _NAME_SPLIT.split(name)
        if words[-1] not in _BOILERPLATE_WORDS and not _CONTAINER_WORDS.isdisjoint(words):
            return True
    return False
