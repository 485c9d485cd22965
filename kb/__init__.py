"""The read side: questions answered from a built knowledge base (SQLite), by the `kb` command,
the Datasette plugin (kb.web) and the policy writer (kb.policy). Nothing here imports the write
side (`ingest`): the KB file, whose tables kb.schema defines, is where the two meet."""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.2.0"

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SHIPPED_DB = DATA_DIR / "kb.db"


def default_db() -> Path:
    """The KB the commands read and write by default: $KB_DB, else data/kb.db of this checkout
    (read when asked, so a test or a shell can point it elsewhere)."""
    return Path(os.environ.get("KB_DB") or SHIPPED_DB)

# Datasette serves the KB under this database name, whatever the file is called.
DB_NAME = "kb"
