"""Score and time article extractors on two corpora, side by side.

    python benchmarks/extraction.py [--corpus PATH] [--reader-corpus PATH] [--held-out DIR ...]
        [--limit N] [--repeat N] [--only NAME ...]

Two corpora, read from ``../shared/corpus`` (a missing one is reported and skipped):

- extraction-dev (990 pages), scored as its README says: every ``with`` snippet found in the
  extracted text is a true positive (missing: a false negative), every ``without`` snippet found
  is a false positive, after collapsing white space; precision, recall and F1 over all snippets.
- readability-pages (130 reader-mode pages), scored by word shingles: the sets of four
  consecutive words (lower-cased) of the extracted text and of the expected text; precision and
  recall are the shared shingles' share of each, per page, and the table shows their means and
  the mean per-page F1. Its expected text is Readability's own output, a peer's, not a gold one.

- ``--held-out DIR`` (any number): pages none of us chose, each ``NAME.html`` with its expected
  article text in ``NAME.txt`` (in the folder itself, or in its ``html/`` and ``txt/`` folders, as
  other extraction projects ship their test pages), scored by shingles like the reader-mode pages,
  in a table of their own; they are left out of the speed ratio, which stays the two corpora's.

Both tables count the lost pages: our text with less than a tenth of the page's expected
content (snippets or shingles) where trafilatura finds at least half of it; and of those the
empty pages, whose text is nothing or under a line (50 characters), not another part of the
page. Then the speed ratio over both corpora. For timing, all pages are decoded first, each extractor is warmed up on one
page, and only the extraction call is timed, in this process. The extractors take turns every
few pages, so that a machine whose speed drifts weighs on all of them alike; with ``--repeat``
each page keeps its fastest time.
Peers (trafilatura, readability-lxml, newspaper4k, resiliparse) are benchmark-only dependencies;
an extractor whose package is missing is reported and skipped. ``trafilatura`` is its plain
``extract`` call (text only); ``trafilatura-metadata`` asks it for the metadata monitor's
extraction also gives, the same work.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("benchmarks.extraction")

Extractor = Callable[[str, str], str]
_SPACES = re.compile(r"\s+")
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w.:-]+)""", re.IGNORECASE)
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "extraction-dev"


READER_CORPUS = DEFAULT_CORPUS.parent / "readability-pages"
READER_URL = "http://fakehost/test/page.html"  # the URL Readability's own tests give every page
_WORD = re.compile(r"\w+")
_SHINGLE = 4  # words
_TURN = 25  # pages an extractor extracts before the next one takes its turn
_LOST = 0.1  # share of a page's expected content below which the page is lost
_FOUND = 0.5  # share the peer must find for our loss to count
_EMPTY = 50  # characters of text under which a page came out empty


@dataclass(frozen=True)
class Page:
    """One corpus page, decoded once so decoding is never part of the timing.

    Snippet pages have ``with_`` and ``without``; reader-mode pages the ``expected`` text.
    """

    url: str
    html: str
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    expected: str = ""
    name: str = ""  # what a report calls the page: its folder, where the URL says nothing
    metadata: dict[str, str] = field(default_factory=dict)  # reader-mode pages: Readability's title, byline...


@dataclass(frozen=True)
class Result:
    """One extractor's score and speed over the corpus."""

    name: str
    version: str
    precision: float
    recall: float
    f1: float
    lost: tuple[str, ...]  # pages where it finds almost nothing of what trafilatura finds
    empty: tuple[str, ...]  # pages where it gives no text, or a line, and trafilatura the article
    seconds: float  # extracting the corpus once, each page at its best time
    pages_per_second: float
    p50_ms: float
    p95_ms: float
    slowest: tuple[float, str]


def collapse(text: str) -> str:
    """White space collapsed, as the corpus README prescribes for comparing snippets."""
    return _SPACES.sub(" ", text).strip()


def decode(raw: bytes) -> str:
    """Decode a page the way a fetcher would: UTF-8, else the declared charset, else cp1252."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _CHARSET.search(raw[:4096])
    if match:
        try:
            return raw.decode(match.group(1).decode("ascii"), "replace")
        except LookupError:
            pass
    return raw.decode("cp1252", "replace")


def load_corpus(corpus: Path, limit: int | None = None) -> list[Page]:
    """Read and decode the corpus pages (the first ``limit`` of them)."""
    entries = json.loads((corpus / "expectations.json").read_text(encoding="utf-8"))
    pages = []
    for entry in entries[:limit]:
        with gzip.open(corpus / entry["file"]) as handle:
            html = decode(handle.read())
        pages.append(Page(entry["url"], html, tuple(entry["with"]), tuple(entry["without"])))
    return pages


_BLOCK_START = re.compile(
    r"<(?=(?:p|div|li|h[1-6]|br|tr|td|th|dt|dd|pre|blockquote|figure|section|article)[\s/>])",
    re.IGNORECASE,
)


def load_reader_pages(corpus: Path, limit: int | None = None) -> list[Page]:
    """Read the reader-mode pages and the plain text of their expected article."""
    from selectolax.lexbor import LexborHTMLParser

    pages = []
    for folder in sorted(p for p in (corpus / "pages").iterdir() if p.is_dir())[:limit]:
        with gzip.open(folder / "source.html.gz") as handle:
            html = decode(handle.read())
        with gzip.open(folder / "expected.html.gz") as handle:
            expected_html = handle.read().decode("utf-8")
        # A line break before each block, so that two blocks' words never run together.
        markup = LexborHTMLParser(_BLOCK_START.sub("\n<", expected_html))
        text = markup.root.text() if markup.root else ""
        declared = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
        metadata = {key: str(declared[name]) for key, name in _READER_FIELDS.items() if declared.get(name)}
        pages.append(Page(READER_URL, html, expected=text, name=folder.name, metadata=metadata))
    return pages


def load_held_out(folder: Path, limit: int | None = None) -> list[Page]:
    """Pages with their expected text beside them: ``NAME.html`` and ``NAME.txt``, or ``html/NAME.html`` and
    ``txt/NAME.txt``. A page without its text is skipped."""
    html_folder, text_folder = (folder / "html", folder / "txt") if (folder / "html").is_dir() else (folder, folder)
    pages = []
    for source in sorted(html_folder.glob("*.html"))[:limit]:
        expected = text_folder / f"{source.stem}.txt"
        if expected.is_file():
            text = expected.read_text(encoding="utf-8", errors="replace")
            pages.append(Page(f"http://example.com/{source.stem}", decode(source.read_bytes()), expected=text,
                              name=source.stem))
    return pages


# The metadata fields compared, and their names in the reader-mode pages' expected-metadata.json.
_READER_FIELDS = {"title": "title", "byline": "byline", "published": "publishedTime", "outlet": "siteName",
                  "language": "lang"}
_BY = re.compile(r"^\s*by\s+", re.IGNORECASE)


def _monitor_fields(html: str, url: str) -> dict[str, str]:
    from monitor.extract import extract

    page = extract(html, url)
    published = page.published.isoformat() if page.published else ""
    return {"title": page.title or "", "byline": page.byline or "", "published": published,
            "outlet": page.outlet or "", "language": page.language or ""}


def _trafilatura_fields(html: str, url: str) -> dict[str, str]:
    import trafilatura

    document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    if document is None or isinstance(document, dict):
        return {}
    values = {"title": document.title, "byline": document.author, "published": document.date,
              "outlet": document.sitename, "language": document.language}
    return {key: str(value) for key, value in values.items() if value}


def field_is_right(name: str, ours: str, expected: str) -> bool:
    """Whether a metadata value reads as the expected one. Titles: one holds the other, the shorter at least half
    the longer (Readability keeps a site's name that others cut off); bylines: the expected one, without its "By",
    starts with ours (Readability keeps a date or a role after the name); dates: the same day; languages: the same
    two letters; outlet names: the same."""
    ours, expected = collapse(ours).lower(), collapse(expected).lower()
    if not ours:
        return False
    if name == "title":
        short, long = sorted((ours, expected), key=len)
        return short in long and 2 * len(short) >= len(long)
    if name == "byline":
        return _BY.sub("", expected).startswith(ours)
    if name == "published":
        return ours[:10] == expected[:10]
    if name == "language":
        return ours[:2] == expected[:2]
    return ours == expected


def metadata_table(pages: list[Page]) -> str:
    """How often monitor and trafilatura (asked for its metadata) give each field the reader-mode pages declare, and
    give it right: a Markdown table."""
    readers = [("monitor", _monitor_fields), ("trafilatura-metadata", _trafilatura_fields)]
    lines = ["| field | pages that declare it | " + " | ".join(f"{name}: right / given" for name, _ in readers) + " |",
             "| --- | ---: |" + " ---: |" * len(readers)]
    found = [[reader(page.html, page.url) for page in pages] for _, reader in readers]
    for name in _READER_FIELDS:
        declared = [(i, page.metadata[name]) for i, page in enumerate(pages) if name in page.metadata]
        cells = []
        for values in found:
            given = sum(1 for i, _ in declared if values[i].get(name))
            right = sum(field_is_right(name, values[i].get(name, ""), expected) for i, expected in declared)
            cells.append(f"{right} / {given}")
        lines.append(f"| {name} | {len(declared)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shingles(text: str) -> set[tuple[str, ...]]:
    """The runs of four consecutive words of a text, lower-cased (its words, if fewer)."""
    words = _WORD.findall(text.lower())
    if len(words) < _SHINGLE:
        return {(word,) for word in words}
    return {tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def page_shingle_score(page: Page, text: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of one page's text against its expected text."""
    ours, expected = shingles(text), shingles(page.expected)
    shared = len(ours & expected)
    precision = shared / len(ours) if ours else 0.0
    recall = shared / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def shingle_score(pages: list[Page], texts: list[str]) -> tuple[float, float, float]:
    """Mean per-page precision, recall and F1 (each page weighs the same, whatever its size)."""
    scores = [page_shingle_score(p, t) for p, t in zip(pages, texts, strict=True)]
    precision, recall, f1 = (statistics.fmean(column) for column in zip(*scores, strict=True))
    return precision, recall, f1


def page_recall(page: Page, text: str) -> float:
    """The share of a page's expected content found in a text: snippets, else shingles."""
    if page.with_:
        found = collapse(text)
        return sum(collapse(s) in found for s in page.with_) / len(page.with_)
    if page.expected:
        return page_shingle_score(page, text)[1]
    return 1.0


def lost_pages(pages: list[Page], ours: list[str], peer: list[str]) -> list[str]:
    """Pages where we find under a tenth of the content and the peer at least half of it."""
    return [
        page.name or page.url
        for page, text, other in zip(pages, ours, peer, strict=True)
        if page_recall(page, text) < _LOST and page_recall(page, other) >= _FOUND
    ]


def empty_pages(pages: list[Page], ours: list[str], peer: list[str]) -> list[str]:
    """Pages where our text is empty or a line (a lost page may still hold a story, another part of the page), and
    the peer's is more, with at least half of the content."""
    return [
        page.name or page.url
        for page, text, other in zip(pages, ours, peer, strict=True)
        if len(collapse(text)) < _EMPTY <= len(collapse(other)) and page_recall(page, other) >= _FOUND
    ]


def score(pages: list[Page], texts: list[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 over every snippet of the corpus."""
    tp = fn = fp = 0
    for page, text in zip(pages, texts, strict=True):
        found = collapse(text)
        for snippet in page.with_:
            if collapse(snippet) in found:
                tp += 1
            else:
                fn += 1
        fp += sum(collapse(snippet) in found for snippet in page.without)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass
class _Timing:
    """One extractor's texts and best time per page, over the rounds so far."""

    name: str
    version: str
    extractor: Extractor
    texts: list[str]
    times: list[float]


def _time_call(timing: _Timing, pages: list[Page], index: int) -> None:
    """Extract one page, timing the call alone; keep the page's best time."""
    page = pages[index]
    start = time.perf_counter()
    try:
        text = timing.extractor(page.html, page.url) or ""
    except Exception:  # a peer's crash on one page counts as empty text
        logger.debug("%s failed on %s", timing.name, page.url, exc_info=True)
        text = ""
    timing.times[index] = min(timing.times[index], time.perf_counter() - start)
    timing.texts[index] = text


def run(
    extractors: list[tuple[str, str, Extractor]], pages: list[Page], repeat: int = 1
) -> list[Result]:
    """Warm up, then time each extraction call alone and score the texts.

    With ``repeat`` > 1 the corpus is extracted that many times and each page keeps its fastest
    time, as ``timeit`` does: on a machine shared with other work, the slower runs measure the
    neighbours, not the extractor. The extractors take turns every :data:`_TURN` pages, the
    first to go changing each round: this machine's speed drifts by half within minutes, and
    with a pass over the corpus each, as before, the ratio to trafilatura ranged from 7.3× to
    13.2× in three runs of one code. Taking turns on every page instead would charge each
    call with the caches the other extractor left cold, a fixed cost that weighs most on the
    fastest.
    """
    timings = []
    for name, version, extractor in extractors:
        extractor(pages[0].html, pages[0].url)
        best = [float("inf")] * len(pages)
        timings.append(_Timing(name, version, extractor, [""] * len(pages), best))
    for turn in range(repeat):
        shift = turn % len(timings)
        order = timings[shift:] + timings[:shift]
        for first in range(0, len(pages), _TURN):
            for timing in order:
                for index in range(first, min(first + _TURN, len(pages))):
                    _time_call(timing, pages, index)
    peer = next((t.texts for t in timings if t.name == "trafilatura"), None)
    return [_result(timing, pages, peer) for timing in timings]


def _result(timing: _Timing, pages: list[Page], peer: list[str] | None) -> Result:
    scorer = score if pages[0].with_ or pages[0].without else shingle_score
    precision, recall, f1 = scorer(pages, timing.texts)
    lost = lost_pages(pages, timing.texts, peer) if peer is not None else []
    empty = empty_pages(pages, timing.texts, peer) if peer is not None else []
    ordered = sorted(timing.times)
    slowest = max(zip(timing.times, (p.name or p.url for p in pages), strict=True))
    return Result(
        name=timing.name,
        version=timing.version,
        precision=precision,
        recall=recall,
        f1=f1,
        lost=tuple(lost),
        empty=tuple(empty),
        seconds=sum(timing.times),
        pages_per_second=len(pages) / sum(timing.times),
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        slowest=(slowest[0] * 1000, slowest[1]),
    )


def _monitor() -> Extractor:
    from monitor.extract import extract

    return lambda html, url: extract(html, url).text


def _trafilatura() -> Extractor:
    import trafilatura

    return lambda html, url: trafilatura.extract(html, url=url) or ""


def _trafilatura_metadata() -> Extractor:
    """trafilatura asked for what monitor's extraction also gives: the title, author, date and site name beside
    the text (the plain call above skips most of its metadata)."""
    import trafilatura

    def run_one(html: str, url: str) -> str:
        document = trafilatura.bare_extraction(html, url=url, with_metadata=True)
        return (document.text if document is not None and not isinstance(document, dict) else "") or ""

    return run_one


def _readability() -> Extractor:
    from readability import Document

    def run_one(html: str, url: str) -> str:
        from selectolax.lexbor import LexborHTMLParser

        summary = Document(html, url=url).summary(html_partial=True)
        return LexborHTMLParser(summary).text(separator="\n")

    return run_one


def _newspaper() -> Extractor:
    from newspaper import Article

    def run_one(html: str, url: str) -> str:
        article = Article(url, fetch_images=False)
        article.download(input_html=html)
        article.parse()
        return str(article.text)

    return run_one


def _resiliparse() -> Extractor:
    from resiliparse.extract.html2text import extract_plain_text

    return lambda html, url: extract_plain_text(html, main_content=True)


# name -> (distribution whose version is shown, factory)
EXTRACTORS: dict[str, tuple[str, Callable[[], Extractor]]] = {
    "monitor": ("monitor", _monitor),
    "trafilatura": ("trafilatura", _trafilatura),
    "trafilatura-metadata": ("trafilatura", _trafilatura_metadata),
    "readability-lxml": ("readability-lxml", _readability),
    "newspaper4k": ("newspaper4k", _newspaper),
    "resiliparse": ("resiliparse", _resiliparse),
}


def _version(distribution: str) -> str:
    """The installed version; for monitor run from a checkout, the package's own."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        if distribution == "monitor":
            import monitor

            return monitor.__version__
        return "?"


def format_table(results: list[Result]) -> str:
    """A Markdown table, ready for the README."""
    lines = [
        "| extractor | version | precision | recall | F1 | lost pages | empty pages | pages/s | ms/page p50 "
        "| ms/page p95 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.version} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} "
            f"| {len(r.lost)} | {len(r.empty)} | {r.pages_per_second:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="extraction-dev folder")
    parser.add_argument(
        "--reader-corpus", type=Path, default=READER_CORPUS, help="readability-pages folder"
    )
    parser.add_argument("--held-out", type=Path, nargs="+", default=[], metavar="DIR",
                        help="folders of NAME.html pages with their expected text in NAME.txt")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each")
    parser.add_argument("--only", nargs="+", choices=sorted(EXTRACTORS), help="extractors to run")
    parser.add_argument(
        "--repeat", type=int, default=1, help="extract the corpus N times, keep each page's best"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("monitor").setLevel(logging.CRITICAL)
    corpora: list[tuple[str, list[Page]]] = []
    if (args.corpus / "expectations.json").is_file():
        corpora.append(("extraction-dev (snippets)", load_corpus(args.corpus, args.limit)))
    else:
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
    if (args.reader_corpus / "pages").is_dir():
        pages = load_reader_pages(args.reader_corpus, args.limit)
        corpora.append(("readability-pages (shingles)", pages))
    else:
        print(f"corpus not found: {args.reader_corpus}", file=sys.stderr)
    held_out = []
    for folder in args.held_out:
        pages = load_held_out(folder, args.limit)
        if pages:
            held_out.append((f"held-out {folder.name} (shingles)", pages))
        else:
            print(f"no page with its expected text in {folder}", file=sys.stderr)
    if not corpora and not held_out:
        return 2
    extractors = []
    for name in args.only or list(EXTRACTORS):
        distribution, factory = EXTRACTORS[name]
        try:
            extractors.append((name, _version(distribution), factory()))
        except ImportError as error:
            print(f"skipping {name}: {error}", file=sys.stderr)
    if not extractors:
        print("no extractor to run", file=sys.stderr)
        return 2
    totals: dict[str, tuple[int, float]] = {}  # name -> pages, seconds over every corpus
    for title, pages in corpora + held_out:
        print(f"\n{len(pages)} pages of {title}", file=sys.stderr)
        results = run(extractors, pages, max(args.repeat, 1))
        if title.startswith("held-out"):  # not part of the speed ratio
            print(f"\n{title}\n\n{format_table(results)}")
            continue
        for result in results:
            slowest_ms, slowest_url = result.slowest
            print(
                f"{result.name}: F1 {result.f1:.3f}, slowest {slowest_ms:.1f} ms {slowest_url}",
                file=sys.stderr,
            )
            if result.lost:
                print(f"{result.name} lost: {' '.join(result.lost)}", file=sys.stderr)
            count, seconds = totals.get(result.name, (0, 0.0))
            totals[result.name] = (count + len(pages), seconds + result.seconds)
        print(f"\n{title}\n\n{format_table(results)}")
    reader_pages = next((pages for title, pages in corpora if title.startswith("readability")), None)
    if reader_pages is not None and any(name.startswith("trafilatura") for name in totals):
        print(f"\nreadability-pages metadata, against Readability's own\n\n{metadata_table(reader_pages)}")
    if "monitor" in totals:
        ours = totals["monitor"][0] / totals["monitor"][1]
        for name, (count, seconds) in totals.items():
            if name != "monitor":
                print(f"\nmonitor: {ours / (count / seconds):.1f}x {name}'s pages/s, both corpora")
    return 0


if __name__ == "__main__":
    sys.exit(main())
