"""The policy writer's and the audit's sentences, in the language asked: the lexicons' [ui] words
`policy_<key>` (kb.query.ui — a language lacking one gets the prevailing language's), filled with
their parameters. `kb policy`, `kb audit`, the HTTP routes and the home page's panel show the same
sentence."""

from __future__ import annotations

from .. import query


class Words:
    def __init__(self, conn, lang: str):
        self.ui = query.ui(conn, lang) if conn is not None else {}

    @classmethod
    def plain(cls) -> Words:
        """Words without a KB (a caller parsing documents of its own): every sentence said plainly."""
        return cls(None, "")

    def __call__(self, key: str, **params) -> str:
        template = self.ui.get(f"policy_{key}")
        if template is None:  # a KB built before the word existed: say it plainly, never fail
            return f"{key}: " + "; ".join(f"{k} {v}" for k, v in params.items())
        return template.format(**params)
