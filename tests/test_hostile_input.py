"""Each reader and the extractor on hostile input (issue 13): every shape of bench/hostile_inputs.py
(the backtracking, recursion and search-under-every-element cases) is read, or refused with a
reason, in linear time — four times the input takes at most GROWTH times as long (a quadratic
shape takes 16 times, an exponential one never ends) — and within an absolute bound at SIZE.
`make bench` prints the 1 MB figures."""

from __future__ import annotations

import gc
import time
from functools import cache

import pytest

from bench.hostile_inputs import extractor_pages, html_inputs, markdown_inputs, text_inputs
from ingest.catalog import ApiModel
from ingest.collector import collector_paused
from ingest.extract import extract
from ingest.model import ReaderError
from ingest.readers.html import read_html
from ingest.readers.markdown import read_markdown
from ingest.readers.text import read_text

SIZE = 200_000
GROWTH = 8.0  # linear: 4; quadratic: 16
FLOOR = 0.02  # seconds: below this, timings are noise
ABSOLUTE = 20.0  # seconds at SIZE, whatever the machine's load


def _timed(fn) -> float:
    """Seconds of one run, the garbage collector held off (its passes land on whichever run
    crosses a threshold and would be counted as the reader's)."""
    gc.collect()
    with collector_paused():
        t = time.perf_counter()
        try:
            fn()
        except ReaderError as exc:  # refused with a reason is an answer too
            assert str(exc)
        return time.perf_counter() - t


def _growth(run, make) -> tuple[float, float]:
    """(seconds at SIZE / 4, seconds at SIZE), each the best of up to nine when they look
    super-linear (a machine others share makes single timings jump: the whole suite on both cores
    once timed a linear shape at 8.0 times)."""
    small, big = make(SIZE // 4), make(SIZE)
    t_small, t_big = _timed(lambda: run(small)), _timed(lambda: run(big))
    for _ in range(8):
        if t_big <= GROWTH * max(t_small, FLOOR):
            break
        t_small, t_big = min(t_small, _timed(lambda: run(small))), min(t_big, _timed(lambda: run(big)))
    return t_small, t_big


@cache
def _model() -> ApiModel:
    model = ApiModel()
    _ = model.operations
    return model


READERS = {
    "markdown": (lambda t: read_markdown(t, lang="en"), markdown_inputs),
    "html": (lambda t: read_html(t, lang="en"), html_inputs),
    "text": (lambda t: read_text(t, lang="ja"), text_inputs),
}
CASES = [(reader, name) for reader, (_, shapes) in READERS.items() for name in shapes(1000)]


@pytest.mark.parametrize(("reader", "shape"), CASES, ids=[f"{r}-{s}" for r, s in CASES])
def test_a_reader_on_a_hostile_shape_is_linear(reader, shape):
    read, shapes = READERS[reader]
    t_small, t_big = _growth(read, lambda size: shapes(size)[shape])
    assert t_big < ABSOLUTE and t_big <= GROWTH * max(t_small, FLOOR), \
        f"{reader} {shape}: {t_small:.3f}s at {SIZE // 4} characters, {t_big:.3f}s at {SIZE}"


@pytest.mark.parametrize("shape", list(extractor_pages(1000)))
def test_the_extractor_on_a_hostile_page_is_linear(shape):
    def page(size):
        text, lang = extractor_pages(size)[shape]
        return read_markdown(text, lang=lang)

    t_small, t_big = _growth(lambda p: extract(p, _model()), page)
    assert t_big < ABSOLUTE and t_big <= GROWTH * max(t_small, FLOOR), \
        f"extract {shape}: {t_small:.3f}s at {SIZE // 4} characters, {t_big:.3f}s at {SIZE}"


def test_the_issues_30_capital_page_builds_in_under_a_second(tmp_path):
    from ingest.build import build
    from ingest.sources import Source

    page = tmp_path / "camel.md"
    page.write_text("# T\n\n## CreateModel API: Execution Role Permissions\n\n```\n"
                    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
                    '"Resource": "*"}]}\n```\n\nscope the policy as follows:\n\n'
                    "+ Scope `s3:GetObject` to the CreateModel request's Ab" + "C" * 30 + ".\n", encoding="utf-8")
    _model()
    report = build([Source(str(page), "en")], tmp_path / "kb.db", use_cache=False)
    extract_s = report.timings[0].extract_s + report.timings[0].read_s
    assert extract_s < 1.0, extract_s  # was 89 s (×1.8 per capital)
