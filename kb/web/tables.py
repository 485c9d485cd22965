"""The home page's requirements rows (kb.web.home.rows_of), grouped for reading: one table per
section of the page, its link once in the caption; within it one group per statement, the page's
sentence once beside the statement's rows. The rows themselves, and their order, are unchanged."""

from __future__ import annotations

from itertools import groupby


def sections(rows: list[dict]) -> list[dict]:
    """[{heading, href, lang, statements: [{statement_id, source_text, rows}]}] in the rows' order."""
    out = []
    for (heading, href, lang), in_section in groupby(rows, key=lambda r: (r["heading"], r["href"], r["lang"])):
        statements = [{"statement_id": sid, "rows": list(group)}
                      for sid, group in groupby(in_section, key=lambda r: r["statement_id"])]
        for st in statements:
            st["source_text"] = st["rows"][0]["source_text"]
        out.append({"heading": heading, "href": href, "lang": lang, "statements": statements})
    return out
