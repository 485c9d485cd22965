"""A source file is read only when its page is extracted again, its sha256 taken from the record of
the last build while its stat is unchanged (ingest/source_texts.py); any write to it, even one that
keeps its size and mtime, is seen; a file written moments before a build is never recorded."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest import cache, source_texts
from ingest.source_texts import SourceTexts
from ingest.sources import Source, SourceError


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _page(tmp_path: Path, name: str, text: str) -> Source:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return Source(str(path), "en", "md")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _settled(tmp_path: Path, monkeypatch, text: str) -> Source:
    """A page written well before the build (SETTLED_S shortened to keep the test quick)."""
    monkeypatch.setattr(source_texts, "SETTLED_S", 0.05)
    page = _page(tmp_path, "a.md", text)
    time.sleep(0.1)
    return page


def _recorded(page: Source) -> tuple[str, dict]:
    """A build's record after reading `page`: the page's key in it, and the record."""
    SourceTexts([page])
    return os.path.abspath(page.location), cache.load_dict(source_texts.RECORD_KEY)


def test_an_unchanged_file_is_not_read_again_and_a_rewritten_one_is(tmp_path, own_cache, monkeypatch):
    monkeypatch.setattr(source_texts, "SETTLED_S", 0.05)
    a, b = _page(tmp_path, "a.md", "# A\n\nalpha\n"), _page(tmp_path, "b.md", "# B\n\nbeta\n")
    time.sleep(0.1)
    first = SourceTexts([a, b])
    assert first.shas == [_sha("# A\n\nalpha\n"), _sha("# B\n\nbeta\n")]
    assert cache.load_dict(source_texts.RECORD_KEY) is not None

    # b rewritten with the same size and its old mtime: its ctime tells
    st = os.stat(b.location)
    Path(b.location).write_text("# B\n\nBETA\n", encoding="utf-8")
    os.utime(b.location, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = SourceTexts([a, b])
    assert again.shas == [_sha("# A\n\nalpha\n"), _sha("# B\n\nBETA\n")]
    assert 0 not in again._texts and 1 in again._texts  # a's sha from the record, b read
    assert again.text(0) == "# A\n\nalpha\n"  # read when wanted


def test_a_file_written_just_before_the_build_is_not_recorded(tmp_path, own_cache):
    a = _page(tmp_path, "a.md", "# A\n")
    SourceTexts([a])
    assert os.path.abspath(a.location) not in (cache.load_dict(source_texts.RECORD_KEY) or {})
    assert 0 in SourceTexts([a])._texts  # read again: its ctime is within SETTLED_S of the build


def test_a_record_that_disagrees_with_the_file_is_refused_and_dropped(tmp_path, own_cache, monkeypatch):
    a = _settled(tmp_path, monkeypatch, "# A\n")
    path, record = _recorded(a)
    record[path] = (*record[path][:4], _sha("something else"))  # as a file system without ctime would leave it
    cache.store_data(source_texts.RECORD_KEY, record)
    texts = SourceTexts([a])
    with pytest.raises(SourceError, match="changed while the build read it, or the record is stale"):
        texts.text(0)
    assert cache.load_dict(source_texts.RECORD_KEY) == {}
    assert SourceTexts([a]).shas == [_sha("# A\n")]


def test_without_the_cache_every_file_is_read_and_a_stale_record_made_anew(tmp_path, own_cache, monkeypatch):
    """A record that holds an older text's sha with the file's current stat (a file system that keeps
    no ctime; a hand-edited cache) would give that older text's extraction: --no-cache reads every
    file and writes the record again, so the next build is right too."""
    a = _settled(tmp_path, monkeypatch, "# A\n\nnew\n")
    path, record = _recorded(a)
    cache.store_data(source_texts.RECORD_KEY, {path: (*record[path][:4], _sha("# A\n\nold\n"))})
    assert SourceTexts([a]).shas == [_sha("# A\n\nold\n")]  # what the record says: the case --no-cache is for
    texts = SourceTexts([a], remembered=False)
    assert 0 in texts._texts and texts.shas == [_sha("# A\n\nnew\n")]
    assert cache.load_dict(source_texts.RECORD_KEY)[path][4] == _sha("# A\n\nnew\n")
    assert SourceTexts([a]).shas == [_sha("# A\n\nnew\n")]


def test_a_missing_file_is_a_source_error(tmp_path, own_cache):
    with pytest.raises(SourceError, match="cannot read"):
        SourceTexts([Source(str(tmp_path / "gone.md"), "en", "md")])


@given(st.text(alphabet=st.sampled_from("hHtTpPsS:/\t\r\n \x00\x1fx.\\"), max_size=12) | st.text(max_size=12))
def test_is_url_agrees_with_urlparse(location):
    # Source.is_url reads only the scheme; a build asks it of every page many times
    assert Source(location, "en").is_url == (urlparse(location).scheme in ("http", "https"))


@pytest.mark.parametrize("damaged", [
    5, "not a dict entry", ("a", "b"), None, "signature, 123", "signature, 'short'", "signature as a list",
])
def test_a_damaged_record_is_no_record(tmp_path, own_cache, monkeypatch, damaged):
    # another version of this code, or a damaged file, may have left anything under the record's key
    a = _settled(tmp_path, monkeypatch, "# A\n")
    signature = source_texts._signature(a.location)
    damaged = {"signature, 123": (*signature, 123), "signature, 'short'": (*signature, "abc"),
               "signature as a list": [*signature, _sha("# A\n")]}.get(damaged, damaged)  # type: ignore[call-overload]
    cache.store_data(source_texts.RECORD_KEY, {os.path.abspath(a.location): damaged})
    texts = SourceTexts([a])
    assert texts.shas == [_sha("# A\n")] and 0 in texts._texts  # read, not taken from the record
    cache.store_data(source_texts.RECORD_KEY, ["not", "a", "dict"])
    assert SourceTexts([a]).shas == [_sha("# A\n")]
