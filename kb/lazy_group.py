"""A click group whose subcommands live in their own modules, imported only when called,
so that a quick query never pays for the policy writer, the fetcher or the web server; its errors
are one line (kb.cli_errors)."""

from __future__ import annotations

import importlib

from .cli_errors import OneLineGroup


class LazyGroup(OneLineGroup):
    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}  # command name → "module:attribute"

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)
