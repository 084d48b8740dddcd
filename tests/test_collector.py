"""The garbage collector's pause around extraction and judging: it never outlives the work, nor ends another's."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.collector import collector_paused
from monitor.config import load_config
from monitor.extract import extract
from monitor.rulecache import rules_of


@pytest.fixture
def collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


def test_the_collector_is_off_in_the_block_and_on_after_it_even_when_the_block_raises(collector_on: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="a page that broke"), collector_paused():
        raise ValueError("a page that broke")
    assert gc.isenabled()


def test_a_pause_inside_another_leaves_the_collector_off_until_the_outer_one_ends(collector_on: None) -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()  # the inner pause found it off: not its to switch back on
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    was_on = gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        if was_on:
            gc.enable()


def test_extracting_a_page_and_judging_an_article_leave_the_collector_on(collector_on: None) -> None:
    page = "<html><body><article><h1>Envoy</h1>" + "<p>Russia summoned the U.S. ambassador on Monday.</p>" * 20
    extracted = extract(page)
    assert gc.isenabled()
    ruleset = rules_of(load_config(Path(__file__).parents[1] / "config.toml"))
    assert ruleset.match(extracted.text, "Russia summons the U.S. ambassador")  # judged, not dismissed by the prefilter
    assert gc.isenabled()
