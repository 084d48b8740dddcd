"""Publication dates written in a page's visible text ("6. August 2009", "June 16, 2021 | 5:40 PM").

Used only when the page gives no date in JSON-LD, ``<meta>``, ``<time>`` or its URL: a date in
the text is weaker evidence, and for an alert a wrong date is worse than none. The rule that
keeps it from guessing:

- only the byline zone is read: the text just around the headline, where the byline and
  dateline sit, never the story below it nor the sidebars (whose dates belong to other
  stories). The headline is the ``<h1>`` that reads as the page's title. An ``<h1>`` that is
  a logo sits by the masthead's date of today: on a page without a headline ``<h1>``, the
  first ``<h2>`` or ``<h3>`` that reads as the title (a blog post's, the blog's name having
  the ``<h1>``) is the headline, but only the text after it is read, never the masthead above;
- only complete, unambiguous dates count: a day, a month and a four-digit year, with the month
  named (English, German, French, Russian, Spanish, Portuguese, Italian, Dutch, Polish; "28 de
  abril de 2022"), or in day-first dotted form (``06.08.2009``, and ``28.01.22`` with two digits
  each, a year of this century), or year first (ISO ``2009-08-06``, ``2009/08/06``,
  ``2009年8月6日``); the date must exist in the calendar;
- a slashed date with the year last (06/08/2009) is day-first in most of the world and
  month-first in the US: it is read only where its order is settled, by a part above 12 (no
  month) or by the page's language, every one but English writing the day first. On an
  English page 06/08/2009 is never read;
- a date labelled as an update ("Updated", "Aktualisiert", "mis à jour", "обновлено") is not
  the publication, and is passed over;
- of several dates in the zone within a week of each other ("Published June 1, 2021, updated
  June 3, 2021") the earliest is the publication; dates further apart are not one story's
  publication and update but several stories' or events' dates, and none is taken;
- the dates after the headline (its byline) come before those above it: past a kicker line,
  the text above a headline is often the end of a list of other stories' teasers, each with
  its date (a few days older than the story's, so within the week);
- where the byline zone gives none (the date line sits below a long lead or at the story's
  end, or the page has no headline), a date labelled as the publication's ("Veröffentlicht
  am", "Published:", "posted on", "Datum:", "opublikowano") is read anywhere in the page's text
  down to the end of the story's container, the first one; not below it, where comments carry
  labels of their own (:func:`find_labelled_date`);
- a time of day right after the date is kept ("5:40 PM", "17:40"); with no zone given, the
  date and time are taken as UTC, as for structured dates without a zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12,
    "dec": 12,
    # German
    "januar": 1, "jänner": 1, "februar": 2, "märz": 3, "mär": 3, "mai": 5, "juni": 6, "juli": 7,
    "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    # French
    "janvier": 1, "janv": 1, "février": 2, "févr": 2, "fév": 2, "mars": 3, "avril": 4, "avr": 4,
    "juin": 6, "juillet": 7, "juil": 7, "août": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "déc": 12,
    # Russian (genitive, as dates write them, and the usual abbreviations)
    "января": 1, "янв": 1, "февраля": 2, "фев": 2, "марта": 3, "мар": 3, "апреля": 4, "апр": 4,
    "мая": 5, "июня": 6, "июн": 6, "июля": 7, "июл": 7, "августа": 8, "авг": 8, "сентября": 9,
    "сен": 9, "сент": 9, "октября": 10, "окт": 10, "ноября": 11, "ноя": 11, "декабря": 12,
    "дек": 12,
    # Spanish, Portuguese, Italian, Dutch, Polish (genitive): full names only, their
    # abbreviations being English words ("set", "ago") or other months' ("mar")
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "novembro": 11, "dezembro": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
    "stycznia": 1, "lutego": 2, "marca": 3, "kwietnia": 4, "maja": 5, "czerwca": 6, "lipca": 7,
    "sierpnia": 8, "września": 9, "października": 10, "listopada": 11, "grudnia": 12,
}  # fmt: skip
_UPDATE_WITHIN = timedelta(days=7)  # the widest gap between a publication and its update line
_UPDATE = re.compile(r"updated|aktualisiert|mis à jour|modifié|обновлен|изменен", re.IGNORECASE)
_LABEL_REACH = 20  # characters before a date where its label is looked for
_WEEKDAYS = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi"
    r"|vendredi|samedi|dimanche|понедельник|вторник|среда|четверг|пятница|суббота|воскресенье)"
)
_WEEKDAY = re.compile(rf"\b{_WEEKDAYS}\.?,?\s*$", re.IGNORECASE)
# What says a date is the publication's: "Veröffentlicht am", "Published:", "Datum:", "posted on".
# Each is found by str.find, in C (a regular expression's scan is 20 times slower), by its stem
# without the first letter, which may be a capital, sparing a lower-cased copy of the text.
_PUBLISHED_LABELS = (
    "published", "posted", "veröffentlicht", "publiziert", "erschienen", "publié", "publicado",
    "pubblicato", "opublikowano", "datum",
)  # fmt: skip
_LABEL_TAIL = re.compile(rf"(?:\s+(?:on|am|le|el|il))?\s*:?\s*(?:{_WEEKDAYS}\.?,?\s*)?", re.IGNORECASE)
LABELLED_READ = 30_000  # characters of a page's text (white space as in the source) searched for a labelled date
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
_YEAR = r"((?:19|20)\d{2})(?!\d)"
# Its runs of white space and separators are taken whole (possessive): given back a character at a time to the next
# run, a date followed by 30,000 spaces took seconds (a page's worth of them, a worker's CPU limit).
_TIME = r"(?:\s*+г\.)?(?:[\s,|•·–—-]*+(?:(?:at|um|à|в)\s*+)?(\d{1,2}):(\d{2})(?::\d{2})?(?!\d)\s*+([ap]\.?\s?m\b\.?)?)?"
_DATES = (
    # 6. August 2009 · 1er mars 2020 · 16 июня 2021 г. · 16 June 2021 · 28 de abril de 2022
    ("dmy", rf"(?<!\d)(\d{{1,2}})(?:\.|er|st|nd|rd|th|º)?\s+(?:de\s+)?({_MONTH})\.?,?\s+(?:del?\s+)?{_YEAR}{_TIME}"),
    # June 16, 2021 | 5:40 PM
    ("mdy", rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}{_TIME}"),
    # 06.08.2009 (day first wherever dots are used) · 2009-08-06
    ("dots", rf"(?<![\d.])(\d{{1,2}})\.(\d{{1,2}})\.{_YEAR}{_TIME}"),
    ("iso", rf"(?<!\d)((?:19|20)\d{{2}})-(\d{{2}})-(\d{{2}})(?!\d){_TIME}"),
    # 28.01.22: day first, as above; both parts of two digits, the year this century's
    ("dots2", rf"(?<![\w.])(\d{{2}})\.(\d{{2}})\.(\d{{2}})(?![\d.]){_TIME}"),
    # 2013/12/28: the year first, then the month, everywhere
    ("ymd", rf"(?<![\w/])((?:19|20)\d{{2}})/(\d{{1,2}})/(\d{{1,2}})(?![\d/]){_TIME}"),
    # 14/01/2020 or 2/26/2015: read only where the order is settled (see _slashed)
    ("slash", rf"(?<![\w/.])(\d{{1,2}})/(\d{{1,2}})/{_YEAR}(?!/){_TIME}"),
    # 2016年10月14日 · 2022년 4월 28일
    ("cjk", r"((?:19|20)\d{2})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]" + _TIME),
)
_DATE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _DATES), re.IGNORECASE)
_GROUPS = {name: _DATE.groupindex[name] for name, _ in _DATES}
_ANY_YEAR = re.compile(r"(?:19|20)\d\d|\d\.\d\d\.\d")  # what each of _DATES holds


def before_date(text: str) -> str:
    """The text up to its first complete date and its weekday (a byline with its dateline)."""
    match = _DATE.search(text)
    return _WEEKDAY.sub("", text[: match.start()]).strip() if match else text


def find_date(after: str, language: str | None = None, before: str = "") -> datetime | None:
    """The publication date written in a byline zone's text (after the headline, and before it), or None.

    ``language`` (the page's primary language subtag) settles the order of a slashed date.
    Every date has a four-digit year or a dotted two-digit one: a zone without either (two in
    three) is passed over by a search that skips from digit to digit in C, many times faster
    than the full pattern.
    """
    found_after = _dates(after, language)
    found_before = _dates(before, language) if before else []
    found = found_after + found_before
    if not found or max(found) - min(found) > _UPDATE_WITHIN:
        return None
    return min(found_after or found_before)


def find_labelled_date(text: str, language: str | None = None) -> datetime | None:
    """The first date in a page's text that a label calls the publication's, or None.

    Read where the byline zone gave none (the date line sits below a long lead, or at the
    story's end, or the page has no headline): a date right after "Veröffentlicht am",
    "Published:", "Datum:" or "posted on" (not after "Stand", "Updated", which date a
    revision) is the publication's, complete and its order settled as in the zone. Only the
    text down to the end of the story is given: below it, comments have labels of their own.
    """
    text = text[:LABELLED_READ]
    starts = []
    for label in _PUBLISHED_LABELS:
        stem = label[1:]
        start = text.find(stem, 1)
        while start >= 0:
            first = text[start - 1]
            if first.lower() == label[0] and (start == 1 or not text[start - 2].isalnum()):
                starts.append((start - 1, start + len(stem)))  # a word, not a part of one
            start = text.find(stem, start + 1)
    for _, end in sorted(starts):
        tail = _LABEL_TAIL.match(text, end)
        match = _DATE.match(text, tail.end()) if tail is not None else None
        if match is not None and (parsed := _parse(match, language)) is not None:
            return parsed
    return None


def _dates(zone: str, language: str | None) -> list[datetime]:
    """The complete dates in a text, but those labelled as updates."""
    if _ANY_YEAR.search(zone) is None:
        return []
    return [
        parsed
        for match in _DATE.finditer(zone)
        if _UPDATE.search(zone, max(match.start() - _LABEL_REACH, 0), match.start()) is None
        and (parsed := _parse(match, language)) is not None
    ]


def _parse(match: re.Match[str], language: str | None) -> datetime | None:
    kind = match.lastgroup or ""
    first = _GROUPS[kind] + 1
    day_s, month_s, year_s, hour_s, minute_s, meridiem = match.groups()[first - 1 : first + 5]
    if kind == "mdy":
        day_s, month_s = month_s, day_s
    elif kind in ("iso", "ymd", "cjk"):
        day_s, year_s = year_s, day_s
    elif kind == "dots2":
        year_s = "20" + year_s
    elif kind == "slash":
        day_s, month_s = _slashed(int(day_s), int(month_s), language)
    month = _MONTHS[month_s.lower()] if kind in ("dmy", "mdy") else int(month_s)
    hour, minute = (int(hour_s), int(minute_s)) if hour_s else (0, 0)
    if meridiem and 1 <= hour <= 12:
        hour = hour % 12 + (12 if meridiem.lower().startswith("p") else 0)
    try:
        return datetime(int(year_s), month, int(day_s), hour, minute, tzinfo=UTC)
    except ValueError:
        return None


def _slashed(first: int, second: int, language: str | None) -> tuple[str, str]:
    """A slashed date's day and month: a part above 12 is the day; else the language says, every
    language but English writing the day first (English is month-first in the US and day-first
    elsewhere). Where nothing settles it, an impossible day is returned."""
    if first > 12 or (second <= 12 and language and language != "en"):
        return str(first), str(second)
    if second > 12:
        return str(second), str(first)
    return "0", "0"
