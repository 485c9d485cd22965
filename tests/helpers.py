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
