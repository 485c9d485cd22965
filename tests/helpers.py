"""Small helpers the test modules share."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode


class Client:
    """datasette.client driven from synchronous tests, on one event loop."""

    def __init__(self, ds):
        self.ds = ds
        self.loop = asyncio.new_event_loop()

    def get(self, path, **kwargs):
        return self.loop.run_until_complete(self.ds.client.get(path, **kwargs))

    def rows(self, name, **params):
        r = self.get(f"/kb/{name}.json?" + urlencode({**params, "_shape": "array"}))
        assert r.status_code == 200, r.text
        return r.json()

    def close(self) -> None:
        self.loop.close()


def without_ids(value):
    """An answer with its row ids left out: they link to the KB's rows, which a rebuild renumbers
    (a patched page's rows take new ids, ingest/patch.py); what the answer says is the rest."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if not (isinstance(k, str) and (k == "id" or k.endswith("_id")))}
    return [without_ids(v) for v in value] if isinstance(value, list) else value
