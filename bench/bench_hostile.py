"""Hostile input (issue 13): each reader and the extractor on about 1 MB of each shape in
bench/hostile_inputs.py, with the slowest shape of each; every one should take well under 1 s."""

from __future__ import annotations

import time

from .hostile_inputs import extractor_pages, html_inputs, markdown_inputs, text_inputs


def timed(fn) -> tuple[float, str]:
    t = time.perf_counter()
    try:
        fn()
        outcome = "read"
    except ValueError as exc:  # ReaderError: refused with a reason (too deep, no heading, …)
        outcome = f"refused: {str(exc)[:60]}"
    return time.perf_counter() - t, outcome


def run() -> dict[str, list[tuple[str, int, float, str]]]:
    from ingest.catalog import ApiModel
    from ingest.extract import extract
    from ingest.readers.html import read_html
    from ingest.readers.markdown import read_markdown
    from ingest.readers.text import read_text

    model = ApiModel()
    _ = model.operations
    out: dict[str, list[tuple[str, int, float, str]]] = {"markdown": [], "html": [], "text": [], "extract": []}
    for name, text in markdown_inputs().items():
        out["markdown"].append((name, len(text), *timed(lambda t=text: read_markdown(t, lang="en"))))
    for name, text in html_inputs().items():
        out["html"].append((name, len(text), *timed(lambda t=text: read_html(t, lang="en"))))
    for name, text in text_inputs().items():
        out["text"].append((name, len(text), *timed(lambda t=text: read_text(t, lang="en"))))
    for name, (text, lang) in extractor_pages().items():
        page = read_markdown(text, lang=lang)
        out["extract"].append((name, len(text), *timed(lambda p=page: extract(p, model))))
    return out


def main() -> None:
    for part, rows in run().items():
        worst = max(rows, key=lambda r: r[2])
        print(f"{part}: {len(rows)} shapes of ~1 MB, slowest {worst[0]} {worst[2] * 1000:.0f} ms")
        for name, size, took, outcome in rows:
            print(f"  {name:<20} {size / 1e6:5.2f} MB {took * 1000:8.1f} ms  {outcome}")


if __name__ == "__main__":
    main()
