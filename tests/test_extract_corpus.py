"""Corpus regression: extraction quality on ../shared/corpus/extraction-dev must not fall.

Skipped where the shared corpus is absent (it is never copied into the repository). Scoring is
the benchmark's own (benchmarks/extraction.py), so the test and the published table agree.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from monitor.extract import extract

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "extraction-dev"
F1_FLOOR = 0.92  # pinned a little below the best measured F1; raise it when quality improves

pytestmark = pytest.mark.skipif(
    not (CORPUS / "expectations.json").is_file(), reason=f"corpus not found at {CORPUS}"
)


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "extraction_benchmark", ROOT / "benchmarks" / "extraction.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_corpus_f1_stays_above_the_floor(caplog: pytest.LogCaptureFixture) -> None:
    bench = _benchmark()
    pages = bench.load_corpus(CORPUS)
    texts, slowest = [], (0.0, "")
    with caplog.at_level(logging.ERROR, logger="monitor.extract"):
        for page in pages:
            start = time.perf_counter()
            texts.append(extract(page.html, page.url).text)
            slowest = max(slowest, (time.perf_counter() - start, page.url))
    precision, recall, f1 = bench.score(pages, texts)
    seconds, url = slowest
    print(
        f"P {precision:.3f} R {recall:.3f} F1 {f1:.3f}; slowest page {seconds * 1000:.0f} ms {url}"
    )
    assert not caplog.records, "extraction fell back to its catch-all on a corpus page"
    assert f1 >= F1_FLOOR
