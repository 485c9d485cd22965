"""Shared fixtures: one KB built from the shipped sources (data/sources.toml) per session."""

import pytest

from ingest.build import build
from ingest.sources import load_sources


@pytest.fixture(scope="session")
def kb_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("kb") / "kb.db"
    build(load_sources(), path)
    return path


@pytest.fixture(scope="session")
def shipped_kb(kb_db):
    return kb_db
