"""Alert rendering: pure functions from :class:`AlertContent` to an e-mail (no I/O).

Everything in an alert except the rule names and the addresses comes from
fetched pages, which are hostile input. Three rules follow from that:

* a header never carries page text unsanitised: control characters (CR and LF
  above all, which would start a new header such as ``Bcc:``), format
  characters and lone surrogates are removed and the length is capped.
  :class:`email.message.EmailMessage` refuses CR/LF itself only on patched
  Pythons (CVE-2024-6923), so the cleaning is done here for every version;
* the HTML part escapes every value and links only http(s) URLs;
* the text part (also printed to the console) drops control characters, so a
  passage cannot smuggle terminal escape sequences into a log.

Messages are ``multipart/alternative`` (plain text first, HTML second), UTF-8
throughout; headers are RFC 2047-encoded by the ``SMTP`` policy, so Cyrillic
names survive any server.
"""

from __future__ import annotations

import html
import itertools
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from typing import ClassVar, Literal

from monitor.display import printable
from monitor.models import AlertContent, AlertCopy
from monitor.rules import highlight_spans

SUBJECT_PREFIX = "[monitor]"
# A burst's notification on a channel at most: services cut or refuse long ones (Telegram's limit is 4,096).
BURST_CHARS = 2000
# What a digest quotes in full, in characters of its text part (the HTML part takes about as much again): a source's
# flood of a thousand matching stories made a digest of 41 MB, past what mail servers accept (often 10 to 25 MB), so
# it was refused on every retry with every other alert in it, and rendering it held the event loop for 15 s. Past it
# a story gets a line (its headline and link), and past DIGEST_LINE_CHARS of those it is counted.
DIGEST_CHARS = 300_000
DIGEST_LINE_CHARS = 100_000
LIST_ID = "monitor alerts <alerts.monitor.local>"
MAX_SUBJECT = 160  # characters; long enough for a headline, short enough for a phone's list view
MAX_PASSAGE = 2000  # a runaway "passage" (a whole article) is cut, not mailed in full
TEXT_WIDTH = 76

# Unicode categories never allowed in a header: controls, format characters
# (bidi overrides, zero-width joiners), line/paragraph separators, surrogates.
_HEADER_BANNED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})

_HTML_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;"
    "font-size:15px;line-height:1.45;color:#1a1a1a;margin:0;padding:12px}"
    ".box{max-width:640px;margin:0 auto}"
    "blockquote{margin:8px 0 12px;padding:4px 12px;border-left:3px solid #c0c0c0;color:#333}"
    "mark{background:#ffe27a;color:inherit;padding:0 1px}"
    ".meta{color:#666;font-size:13px}"
    ".followup{background:#eef4ff;border:1px solid #c5d6f5;padding:6px 10px;border-radius:4px}"
    "h1{font-size:19px;margin:4px 0 10px}h2{font-size:16px;margin:18px 0 6px}"
    "ul{padding-left:18px}li{margin-bottom:6px}"
)


def clean_header(value: str, limit: int = MAX_SUBJECT) -> str:
    """``value`` made safe for one header line: no controls, single spaces, at most ``limit`` characters."""
    kept = "".join(
        " " if char in "\r\n\t" else char
        for char in value
        if char in "\r\n\t" or unicodedata.category(char) not in _HEADER_BANNED
    )
    # "=?" opens an RFC 2047 encoded-word, which the e-mail package decodes when the header is
    # set, after this cleaning: "=?utf-8?q?=0D=0ABcc:...?=" in a page's title became a real
    # header. A space keeps the text readable and the word inert.
    single = " ".join(kept.split()).replace("=?", "= ?")
    if len(single) <= limit:
        return single
    return single[: limit - 1].rstrip() + "…"


class _Subject(UnstructuredHeader, BaseHeader):
    """A Subject folded so that a mail client shows its words as they were written.

    The e-mail package (of Python 3.11) folds a long non-ASCII subject into encoded-words with the space between two
    of them outside both, where RFC 2047 has a reader drop it: "между Россией и США состоялся" arrived as
    "...и СШАсостоялся" in 3 headlines of 10, and a curly quote in an English headline doubled a space. Its words
    of ASCII before the first other character stay plain (a filter on "[monitor]" still reads them); the rest is
    encoded by the legacy :class:`email.header.Header`, which keeps each space inside an encoded-word.
    """

    max_count: ClassVar[Literal[1]] = 1  # one Subject, as the registry's own

    def fold(self, *, policy: Policy) -> str:
        text = str(self)
        if text.isascii() or getattr(policy, "utf8", False):  # no encoded-words: the package folds at spaces
            return super().fold(policy=policy)
        first = next(index for index, char in enumerate(text) if not char.isascii())
        plain = text.rfind(" ", 0, first)
        header = Header(header_name=self.name)
        if plain > 0:
            header.append(text[:plain], "us-ascii")  # Header puts the space back between the two parts
        header.append(text[plain + 1 :], "utf-8")
        folded = header.encode(linesep=policy.linesep, maxlinelen=policy.max_line_length or 0)
        return f"{self.name}: {folded}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("subject", _Subject)
MAIL_POLICY = policy.SMTP.clone(header_factory=_HEADERS)
"""The policy every message monitor sends is written with: SMTP's, with :class:`_Subject`."""


# Chat services read a message's text as their own markup whatever Apprise is told: Discord, Mattermost and Zulip get
# "plain text" as it is and render it as Markdown, with mentions. A page's "@everyone", "@here", "@channel", "@room"
# or "<@123>" notified every member of the channel, and its "[Reuters](https://elsewhere)" was a link under a label
# of the page's choosing. A mention opens with "@", a Markdown link's target or reference follows "]": a zero-width
# space after either makes them plain words: after an "@" outside the text's URLs (a link's own "@" path stays
# clickable), after a "]" anywhere, URLs included (a URL-like word could hide a "[label](url)"; an IPv6 address's
# "]:port" is broken up too).
_CHAT_LINK = re.compile(r"\](?=[(\[:])")
_CHAT_MENTION = re.compile(r"(https?://\S+)|@(?=[\w*&!])")
_INERT = "\u200b"


def chat_inert(text: str) -> str:
    """``text`` that no chat service reads as a mention or a link: see :data:`_CHAT_LINK`, :data:`_CHAT_MENTION`."""
    text = _CHAT_LINK.sub("]" + _INERT, text)
    return _CHAT_MENTION.sub(lambda found: found.group(1) or "@" + _INERT, text)


def _passage(value: str) -> str:
    """A passage cleaned and capped; whitespace runs collapse so quoting stays tidy."""
    text = " ".join(printable(value).split())
    return text if len(text) <= MAX_PASSAGE else text[: MAX_PASSAGE - 1].rstrip() + "…"


def _segments(passage: str, terms: Iterable[str]) -> list[tuple[str, bool]]:
    """``passage`` cut into (text, is_matched_term) pieces, for highlighting in either format."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in highlight_spans(passage, terms):
        if start > position:
            pieces.append((passage[position:start], False))
        pieces.append((passage[start:end], True))
        position = end
    if position < len(passage):
        pieces.append((passage[position:], False))
    return pieces


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "date unknown"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def subject_for(content: AlertContent) -> str:
    """``[monitor] <rules>: <headline>``; a follow-up says so before the headline."""
    headline = ("Follow-up: " if content.follow_up else "") + (content.headline or "(no headline)")
    return _subject(content.rules, headline)


def _subject(rules: Sequence[str], headline: str) -> str:
    return clean_header(f"{SUBJECT_PREFIX} {', '.join(rules) or 'alert'}: {headline}")


def _rules_of(contents: Sequence[AlertContent]) -> list[str]:
    """The rules a group of alerts matched, each once, in the order first met."""
    return list(dict.fromkeys(rule for content in contents for rule in content.rules))


def _stories(contents: Sequence[AlertContent]) -> str:
    """A group of alerts counted by story: "1 story", "12 stories"."""
    count = len({content.story_id for content in contents})
    return f"{count} {'story' if count == 1 else 'stories'}"


_Passages = list[tuple[str, tuple[str, ...], list[str]]]  # (passage, matched terms, the outlets quoted)


def _by_rule(content: AlertContent, rules: Sequence[str] | None = None) -> list[tuple[str, _Passages]]:
    """The alert's passages grouped under each rule (in ``rules`` order when given), each once with its outlets."""
    grouped: dict[str, dict[str, tuple[tuple[str, ...], list[str]]]] = {rule: {} for rule in (rules or content.rules)}
    for mention in content.mentions:
        if mention.rule in grouped:
            _, outlets = grouped[mention.rule].setdefault(_passage(mention.passage), (mention.terms, []))
            outlet = _named(mention.outlet, mention.site)
            if outlet and outlet not in outlets:
                outlets.append(outlet)
    return [
        (rule, [(passage, terms, outlets) for passage, (terms, outlets) in passages.items()])
        for rule, passages in grouped.items() if passages
    ]


_FOLLOW_UP_NOTE = "Follow-up: this story was alerted on before; these passages are new."


# ------------------------------------------------------------------ plain text


def _source(copy: AlertCopy) -> str:
    """Who reported it: the outlet's name with its host ("Meridian News (meridian.example)"), else the host."""
    return _named(copy.outlet, copy.site)


def _named(outlet: str, site: str) -> str:
    """An outlet's name with the host it was read on: a page names itself, and a copier's page claiming to be
    "Reuters" was quoted as Reuters's."""
    site, outlet = clean_header(site, 200), clean_header(outlet or "", 200)
    return f"{outlet} ({site})" if outlet and site and outlet.lower() != site.lower() else outlet or site


_SAME_TEXT = "(the same text)"  # a folded copy's label: its own headline is not kept


def _copy_text(copy: AlertCopy) -> str:
    title, url = _SAME_TEXT if copy.folded else clean_header(copy.title, 300), clean_header(copy.url, 2000)
    return f"  * {title}\n    {_source(copy)}, {_when(copy.published)}\n    {url}"


def _story_text(content: AlertContent, rules: Sequence[str] | None = None) -> str:
    lines: list[str] = []
    if content.follow_up:
        lines += [_FOLLOW_UP_NOTE, ""]
    lines.append(clean_header(content.headline or "(no headline)", 500))
    for rule, passages in _by_rule(content, rules):
        lines += ["", f"{clean_header(rule, 100)}:"]
        for passage, terms, outlets in passages:
            marked = "".join(f"*{text}*" if hit else text for text, hit in _segments(passage, terms))
            lines.append(textwrap.fill(marked, TEXT_WIDTH, initial_indent="> ", subsequent_indent="> "))
            if outlets:
                lines.append(f"  ({clean_header(', '.join(outlets), 300)})")
    if content.more_mentions:
        lines += ["", _more(content.more_mentions, "passage")]
    for index, copy in enumerate(content.copies):
        if index <= 1:
            lines += ["", "Reported by:" if index == 0 else "Also reported by:"]
        lines.append(_copy_text(copy))
    if content.more_copies:
        lines.append(f"  {_more(content.more_copies, 'copy', 'copies')}")
    return "\n".join(lines)


def _more(count: int, noun: str, plural: str = "") -> str:
    """The note for what an alert leaves out: the archive holds it (``monitor search``, the story's articles)."""
    return f"… and {count} more {noun if count == 1 else plural or noun + 's'} in the archive"


def render_text(content: AlertContent) -> str:
    """The alert as plain text: its subject line, then the body of the message's text part."""
    return f"{subject_for(content)}\n\n{_story_text(content)}\n"


def render_notification(content: AlertContent) -> tuple[str, str]:
    """The alert as a channel's notification: its subject, and a body giving the story's link first, as a service
    cuts what passes its length (Discord at 2,000 characters) and an alert's passages and copies run far longer."""
    _, url = _story_ref(content)
    return subject_for(content), (f"{url}\n\n" if url else "") + f"{_story_text(content)}\n"


def in_turn(contents: Sequence[AlertContent]) -> list[AlertContent]:
    """The alerts one source after another (the configured source that stored each story's first copy), each
    source's in their order: the order in which a budget (a digest's, a burst's) is spent, so that one source's
    flood of alerts, queued first, cannot push another source's alert out of the message."""
    by_source: dict[str, list[AlertContent]] = {}
    for content in contents:
        by_source.setdefault(content.copies[0].source if content.copies else "", []).append(content)
    return [content for turn in itertools.zip_longest(*by_source.values()) for content in turn if content is not None]


def _story_ref(content: AlertContent) -> tuple[str, str | None]:
    """A story's headline and first link, cleaned: what a message that cannot quote it shows."""
    headline = clean_header(content.headline or "(no headline)", 300)
    return headline, clean_header(content.copies[0].url, 500) if content.copies else None


def _story_line(content: AlertContent) -> str:
    """A story in one line (and its first link)."""
    headline, url = _story_ref(content)
    return f"* {headline}" + (f"\n  {url}" if url else "")


def render_burst(contents: Sequence[AlertContent], limit: int = BURST_CHARS) -> tuple[str, str]:
    """One notification for a burst of alerts on a channel: a title, and a line per story (its headline and first
    link), the sources in turn, while they fit in ``limit`` characters; the rest are counted, they are in the
    archive and the e-mail."""
    title = _subject(_rules_of(contents), f"{_stories(contents)} at once")
    lines: list[str] = []
    size = 0
    for shown, content in enumerate(in_turn(contents)):
        line = _story_line(content)
        if size + len(line) + 1 > limit:
            lines.append(_more(len(contents) - shown, "alert"))
            break
        lines.append(line)
        size += len(line) + 1
    return title, "\n".join(lines) + "\n"


# ------------------------------------------------------------------ HTML


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _link(url: str, label: str) -> str:
    """An anchor for http(s) URLs only: a ``javascript:`` URL from a page stays inert text."""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}">{_e(label)}</a>'
    return _e(label)


def _copy_html(copy: AlertCopy) -> str:
    url = clean_header(copy.url, 2000)
    return (
        f"<li>{_link(url, _SAME_TEXT if copy.folded else clean_header(copy.title, 300) or url)}<br>"
        f'<span class="meta">{_e(_source(copy))} · {_e(_when(copy.published))}</span></li>'
    )


def _story_html(content: AlertContent, rules: Sequence[str] | None = None, heading: str = "h1") -> str:
    parts: list[str] = []
    if content.follow_up:
        parts.append(f'<p class="followup">{_e(_FOLLOW_UP_NOTE)}</p>')
    parts.append(f"<{heading}>{_e(clean_header(content.headline or '(no headline)', 500))}</{heading}>")
    for rule, passages in _by_rule(content, rules):
        parts.append(f'<p class="meta">{_e(clean_header(rule, 100))}</p>')
        for passage, terms, outlets in passages:
            quoted = "".join(f"<mark>{_e(text)}</mark>" if hit else _e(text) for text, hit in _segments(passage, terms))
            cite = f'<br><cite class="meta">{_e(clean_header(", ".join(outlets), 300))}</cite>' if outlets else ""
            parts.append(f"<blockquote>{quoted}{cite}</blockquote>")
    if content.more_mentions:
        parts.append(f'<p class="meta">{_e(_more(content.more_mentions, "passage"))}</p>')
    if content.copies:
        first, *others = content.copies
        parts.append(f"<p>Reported by:</p><ul>{_copy_html(first)}</ul>")
        if others:
            parts.append(f"<p>Also reported by:</p><ul>{''.join(_copy_html(c) for c in others)}</ul>")
    if content.more_copies:
        parts.append(f'<p class="meta">{_e(_more(content.more_copies, "copy", "copies"))}</p>')
    return "\n".join(parts)


def _html_page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_HTML_STYLE}</style></head>\n"
        f'<body><div class="box">\n{body}\n</div></body></html>\n'
    )


def _digest_shares(contents: Sequence[AlertContent]) -> tuple[dict[int, dict[str, str]], set[int]]:
    """The alerts a digest quotes in full, with their text under each rule (rendered to be measured, so kept), and
    those it lists in a line, within its budgets, the sources in turn."""
    quoted: dict[int, dict[str, str]] = {}
    listed: set[int] = set()
    full, lines = DIGEST_CHARS, DIGEST_LINE_CHARS
    for content in in_turn(contents):
        if full > 0:
            texts = {rule: _story_text(content, [rule]) for rule in content.rules}
            size = sum(map(len, texts.values()))
            if size <= full:
                quoted[content.alert_id] = texts
                full -= size
                continue
            full = 0  # no more are tried: sizing a story costs its rendering, and a flood has thousands
        lines -= len(_story_line(content))
        if lines < 0:
            break
        listed.add(content.alert_id)
    return quoted, listed


def _story_line_html(content: AlertContent) -> str:
    headline, url = _story_ref(content)
    return _link(url, headline) if url else _e(headline)


# ------------------------------------------------------------------ messages


def _message(
    *, subject: str, text: str, html_body: str, sender: str, recipients: Sequence[str],
    message_id: str, date: datetime, thread: str | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = subject
    message["From"] = clean_header(sender, 320)
    message["To"] = ", ".join(clean_header(address, 320) for address in recipients)
    message["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=UTC))
    message["Message-ID"] = clean_header(message_id, 250)
    if thread:
        message["References"] = thread
    message["List-Id"] = LIST_ID
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the monitor
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(_html_page(subject, html_body), subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _story_thread(content: AlertContent) -> str:
    """A ``References`` value shared by every alert of one story, so mail clients thread follow-ups."""
    domain = content.message_id.rstrip(">").rpartition("@")[2] or "monitor"
    return f"<story-{content.story_id}@{clean_header(domain, 200)}>"


def render_message(
    content: AlertContent, *, sender: str, recipients: Sequence[str], date: datetime | None = None
) -> EmailMessage:
    """One alert as an e-mail; ``date`` (default: when the alert was queued) becomes the Date header.

    The Message-ID is the alert's own, stable across retries, so the one repeat
    at-least-once delivery allows is recognisable as the same message.
    """
    subject = subject_for(content)
    return _message(
        subject=subject,
        text=_story_text(content) + "\n",
        html_body=_story_html(content),
        sender=sender,
        recipients=recipients,
        message_id=content.message_id,
        date=date or content.created,
        thread=_story_thread(content),
    )


def render_refused(
    content: AlertContent, *, sender: str, recipients: Sequence[str], date: datetime | None = None
) -> EmailMessage:
    """A stand-in for an alert the mail server refused for its content: that it exists, and where to read it.

    Nothing of the pages goes in it, neither headline nor passage nor link, since any of them can be what the filter
    refused (a hostile copy joined to a real story puts its blocklisted link in the story's alert): only the rules
    that matched (the operator's names), the counts, the alert's number and each reporting site, defanged
    (``wire[.]example``, as threat reports write hosts so that no filter or client reads them as links). It goes under
    the alert's Message-ID: it is the one message of the alert that was delivered.
    """
    rules = ", ".join(content.rules) or "no rule"
    subject = clean_header(f"{SUBJECT_PREFIX} {rules}: an alert refused by the mail server")
    sites = ", ".join(dict.fromkeys(clean_header(copy.site, 200).replace(".", "[.]") for copy in content.copies))
    lines = [
        f"Alert {content.alert_id} (story {content.story_id}) matched {clean_header(rules, 300)}: "
        f"{len(content.mentions) + content.more_mentions} passage(s) on "
        f"{len(content.copies) + content.more_copies} page(s), reported by {sites or 'no site'}.",
        "",
        "The mail server refused the alert for what it quotes (its reply is the alert's last_error in the archive),",
        "so it is sent as this notice. Read it in the archive:",
        f"  sqlite3 monitor.db \"SELECT title, url FROM articles WHERE story_id = {content.story_id}\"",
    ]
    text = "\n".join(lines)
    return _message(subject=subject, text=text + "\n", html_body=f"<pre>{_e(text)}</pre>", sender=sender,
                    recipients=recipients, message_id=content.message_id, date=date or content.created,
                    thread=_story_thread(content))


def render_digest(
    contents: Sequence[AlertContent], *, sender: str, recipients: Sequence[str], message_id: str, date: datetime
) -> EmailMessage:
    """Every alert of one digest run in one message, grouped by rule (a story appears under each rule it matched).

    Quoted in full while the stories fit in :data:`DIGEST_CHARS`, then a line each, the sources taking turns
    (:func:`in_turn`): the message stays one a mail server accepts, whatever a source floods it with.
    """
    rules = _rules_of(contents)
    headline = f"Digest {_when(date)[:10]}: {_stories(contents)}"
    subject = _subject(rules, headline)
    quoted, listed = _digest_shares(contents)
    texts, htmls = [headline], [f"<h1>{_e(headline)}</h1>"]
    for rule in rules:
        name = clean_header(rule, 100)
        stories = [content for content in contents if rule in content.rules]
        texts.append(f"\n{'=' * 8} {name} ({len(stories)}) {'=' * 8}")
        htmls.append(f"<h2>{_e(name)}</h2>")
        for content in stories:
            if content.alert_id in quoted:
                texts += ["", quoted[content.alert_id][rule], "", "-" * 40]
                htmls += [_story_html(content, [rule], heading="h3"), "<hr>"]
            elif content.alert_id in listed:
                texts += ["", _story_line(content)]
                htmls.append(f"<p>{_story_line_html(content)}</p>")
    if left := len(contents) - len(quoted) - len(listed):
        texts += ["", _more(left, "alert")]
        htmls.append(f'<p class="meta">{_e(_more(left, "alert"))}</p>')
    return _message(
        subject=subject,
        text="\n".join(texts) + "\n",
        html_body="\n".join(htmls),
        sender=sender,
        recipients=recipients,
        message_id=message_id,
        date=date,
    )
