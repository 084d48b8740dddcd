"""Alert rendering (pure): structure, headers, escaping, highlighting, hostile page text."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from monitor.alerts import render_digest, render_message, render_text
from monitor.alerts.render import MAX_SUBJECT, clean_header
from monitor.models import AlertContent, AlertCopy, Mention

WHEN = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


def content(
    headline: str = "Russia recalls ambassador",
    passage: str = "Russia recalled its ambassador from Washington, the Kremlin said.",
    terms: tuple[str, ...] = ("ambassador",),
    *,
    rule: str = "ambassadors",
    copies: tuple[AlertCopy, ...] = (AlertCopy("Russia recalls ambassador", "wire.example", "https://wire.example/1", WHEN),),
    follow_up: bool = False,
    alert_id: int = 7,
) -> AlertContent:
    return AlertContent(
        alert_id=alert_id, story_id=alert_id, message_id=f"<alert-{alert_id}.story-{alert_id}@monitor>", headline=headline,
        created=WHEN, follow_up=follow_up, rules=(rule,), mentions=(Mention(rule, passage, terms, True),),
        copies=copies,
    )


def message_of(alert: AlertContent) -> EmailMessage:
    """Render, serialise as SMTP would, and parse back: what a mail client sees."""
    raw = bytes(render_message(alert, sender="monitor@example.org", recipients=["a@example.org", "b@example.org"]))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None
    return str(body.get_content())


def test_message_is_multipart_alternative_with_the_headers_users_filter_on() -> None:
    message = message_of(content())
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    assert message["Subject"] == "[monitor] ambassadors: Russia recalls ambassador"
    assert message["Message-ID"] == "<alert-7.story-7@monitor>"
    assert message["List-Id"] == "monitor alerts <alerts.monitor.local>"
    assert message["Date"] == "Fri, 01 Mar 2024 06:00:00 +0000"
    assert message["To"] == "a@example.org, b@example.org"
    assert message["Auto-Submitted"] == "auto-generated"


def test_matched_terms_are_highlighted_in_both_parts() -> None:
    message = message_of(content(passage="The Ambassador's return to Moscow was announced.", terms=("ambassador",)))
    assert "*Ambassador's*" in part(message, "plain") or "*Ambassador*" in part(message, "plain")
    assert "<mark>Ambassador" in part(message, "html")


def test_cyrillic_survives_headers_and_bodies() -> None:
    headline, passage = "Посол России отозван из Вашингтона", "Посол Анатолий Антонов покинул Вашингтон."
    message = message_of(content(headline, passage, ("посол",), rule="послы"))
    assert message["Subject"] == f"[monitor] послы: {headline}"
    assert passage in part(message, "plain").replace("*", "") and headline in part(message, "html")
    assert "<mark>Посол</mark>" in part(message, "html")
    assert bytes(render_message(content(headline), sender="m@example.org", recipients=["a@example.org"])).isascii()


def test_everything_from_pages_is_escaped_in_html() -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="steal()">'
    alert = content(
        headline=f"Envoy {hostile}",
        passage=f"The ambassador said {hostile} in Moscow.",
        copies=(
            AlertCopy(f"Copy {hostile}", 'evil.example"><b>', "javascript:alert(1)", None),
            AlertCopy("Fine", "ok.example", 'https://ok.example/a?x=1&y="2"', WHEN),
        ),
    )
    html = part(message_of(alert), "html")
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html.split("<body>")[1].split("Copy")[0]
    assert 'href="javascript:' not in html
    assert 'href="https://ok.example/a?x=1&amp;y=&quot;2&quot;"' in html


def test_subject_is_one_capped_line_without_controls() -> None:
    headline = "Envoy\r\nBcc: victim@example.org\x00\x1b[31m\u202e\u2028" + "x" * 500
    subject = str(message_of(content(headline))["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\x1b" not in subject and "\u202e" not in subject
    assert len(subject) <= MAX_SUBJECT and subject.endswith("…")
    assert subject.startswith("[monitor] ambassadors: Envoy Bcc: victim@example.org[31m")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\r\nb", "a b"),
        ("a\nTo: x@y", "a To: x@y"),
        ("tab\there", "tab here"),
        ("zero\u200bwidth", "zerowidth"),
        ("lone \ud800 surrogate", "lone surrogate"),
        ("  spaced   out  ", "spaced out"),
    ],
)
def test_clean_header(raw: str, clean: str) -> None:
    assert clean_header(raw) == clean


def test_text_rendering_for_the_console_has_no_terminal_escapes() -> None:
    text = render_text(content(passage="The ambassador \x1b]0;pwned\x07said \x1b[2J hello in Moscow."))
    assert "\x1b" not in text and "\x07" not in text
    assert text.startswith("[monitor] ambassadors: Russia recalls ambassador\n\n")
    assert "*ambassador*" in text


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_overrides_are_stripped_from_both_bodies() -> None:
    """An RTL override makes 'moc.elgoog' read as 'google.com': a page must not reorder what a reader sees."""
    passage = "The ambassador said \u202emoc.elpmaxe\u202c and \u2067Moscow\u2069 \u202aagreed\u202b\u202d.\u2066"
    message = message_of(content(passage=passage))
    for body in (part(message, "plain"), part(message, "html"), render_text(content(passage=passage))):
        assert not set(BIDI_CONTROLS) & set(body), body
    assert "moc.elpmaxe" in part(message, "plain") and "Moscow" in part(message, "html")


def test_every_copy_is_listed_with_outlet_time_and_link() -> None:
    copies = (
        AlertCopy("Wire headline", "wire.example", "https://wire.example/1", WHEN),
        AlertCopy("Daily headline", "daily.example", "https://daily.example/2", None),
        AlertCopy("Herald headline", "herald.example", "https://herald.example/3", WHEN),
    )
    text = render_text(content(copies=copies))
    assert text.index("Reported by:") < text.index("Wire headline") < text.index("Also reported by:")
    assert text.index("Also reported by:") < text.index("Daily headline") < text.index("Herald headline")
    assert "daily.example, date unknown" in text and "wire.example, 2024-03-01 06:00 UTC" in text
    assert all(copy.url in text for copy in copies)


def test_a_copy_is_named_by_its_outlet_when_the_page_gives_one() -> None:
    copies = (AlertCopy("Wire headline", "wire.example", "https://wire.example/1", WHEN, outlet="Wire Service"),)
    message = message_of(content(copies=copies))
    assert "Wire Service (wire.example), 2024-03-01 06:00 UTC" in part(message, "plain")
    assert "Wire Service (wire.example) · 2024-03-01 06:00 UTC" in part(message, "html")


def test_follow_up_says_so() -> None:
    alert = content(follow_up=True)
    assert message_of(alert)["Subject"] == "[monitor] ambassadors: Follow-up: Russia recalls ambassador"
    assert "Follow-up: this story was alerted on before" in render_text(alert)


def test_digest_groups_stories_under_each_rule() -> None:
    recall = content(alert_id=1)
    swap = content("Journalist freed", "A prisoner swap with Russia freed him, Washington said.", ("prisoner swap",),
                   rule="prisoner swap", alert_id=2)
    message = render_digest([recall, swap], sender="m@example.org", recipients=["a@example.org"],
                            message_id="<digest-1@monitor>", date=WHEN)
    assert message["Subject"] == "[monitor] ambassadors, prisoner swap: Digest 2024-03-01: 2 stories"
    assert message["Message-ID"] == "<digest-1@monitor>"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.index("ambassadors (1)") < text.index("Russia recalls") < text.index("prisoner swap (1)")
    assert text.index("prisoner swap (1)") < text.index("Journalist freed")
