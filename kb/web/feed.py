"""The change log as an Atom feed: GET /-/changes.atom[?page=KEY][&api=NAME][&lang=LANG]

One entry per step between two versions of a page (a dated revision, a refresh, a rebuild) that
changed at least one fact, newest first; its lines are `kb changes`'s (kb.history.summarize), each
change linking the section it was read in. `page` narrows to one page, `api` to the changes of one
API (a step none of whose changes concern it is left out), `lang` to one language's page; an unknown
one is a 400 naming the valid ones, as the CLI refuses it. The feed's own words (title, entry
titles) are the lexicon's, in `lang` or the prevailing language.

Entry ids are built from what the step is (page, language, both versions' text hashes, date), so a
rebuilt KB — whose row ids may differ — does not make a reader see old changes as new.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import markupsafe
from datasette.utils.asgi import Response

from .. import DB_NAME, __version__, history, query
from ..query import Invalid, KBError

ATOM = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 200
PATH = "/-/changes.atom"


def _stamp(date: str | None) -> str:
    """An RFC 3339 time from a stored date (YYYY-MM-DD, or an ISO time with or without a zone)."""
    if not date:
        return "1970-01-01T00:00:00Z"
    if len(date) == 10:
        return date + "T00:00:00Z"
    date = date.replace(" ", "T")
    return date if date.endswith("Z") or "+" in date[10:] or date[10:].count("-") else date + "Z"


def _web(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def _entry_id(t: dict) -> str:
    what = "|".join([t["page_key"], t["lang"], t["from"]["sha256"] or "", t["to"]["sha256"] or "", t["to"]["date"] or ""])
    return "urn:sha256:" + hashlib.sha256(what.encode("utf-8")).hexdigest()


def _content(changes: list[dict]) -> str:
    """The changes as HTML, one item per line of `kb changes`, linking the section each was read in
    (escaped here; the XML writer escapes the whole once more as element text)."""
    items = []
    for line, group in zip(history.summarize(changes), history.grouped(changes)):
        src = group[0].get("after_source") or group[0].get("before_source") or {}
        url = _web(src.get("url"))
        text = markupsafe.escape(line)
        if url:
            text += markupsafe.Markup(' — <a href="{}">{}</a>').format(url, src.get("heading") or url)
        items.append(markupsafe.Markup("<li>{}</li>").format(text))
    return str(markupsafe.Markup("<ul>{}</ul>").format(markupsafe.Markup("").join(items)))


def _narrow(conn, page: str | None, api: str | None, lang: str | None) -> tuple[str | None, str | None, str | None]:
    """The asked page key, API and language, checked against the change log (as `kb changes`
    checks its own); an Invalid naming every one the KB does not know."""
    checker = query.Checker(conn, lang, pages=False)
    page = checker.page(page, "versions_any")
    if api:
        names = [r[0] for r in conn.execute("""select api_name from page_change where api_name is not null
                                               union select name from api order by 1""")]
        found = next((n for n in names if n.lower() == api.lower()), None)
        if found is None:
            dym, near = checker.maybe(api, names)
            checker.add("api", api, "error_unknown_change_api", near, dym=dym)
        api = found
    checker.done()
    return page, api, lang or None


def atom(conn, base_url: str, page: str | None = None, api: str | None = None, lang: str | None = None) -> bytes:
    """The feed document: every step with a change (of `api`, when given), newest first."""
    page, api, lang = _narrow(conn, page, api, lang)
    words = query.ui(conn, lang or query.prevailing_language(conn))
    names = {x["code"]: x["name"] for x in query.languages(conn)}
    urls = {(r[0], r[1]): r[2] for r in conn.execute("select page_key, lang, url from page where is_current")}
    steps = []
    # the log's order (by date, then as recorded): two steps recorded within a second keep theirs
    for order, t in enumerate(history.changes(conn, lang=lang, page_key=page)["transitions"]):
        changes = [c for c in t["changes"] if api is None or c["api"] == api]
        if changes:
            steps.append((t, changes, order))
    steps.sort(key=lambda s: (_stamp(s[0]["to"]["date"]), s[2]), reverse=True)
    steps = steps[:MAX_ENTRIES]

    asked = {k: v for k, v in (("page", page), ("api", api), ("lang", lang)) if v}
    self_url = base_url + PATH + ("?" + urlencode(asked) if asked else "")
    feed = ET.Element("feed", xmlns=ATOM)
    title = words.get("feed_title", "changes") + (f" · {api}" if api else "") + (f" · {page}" if page else "")
    ET.SubElement(feed, "title").text = title
    ET.SubElement(feed, "id").text = self_url
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=base_url + "/")
    ET.SubElement(feed, "updated").text = _stamp(steps[0][0]["to"]["date"]) if steps else _built(conn)
    ET.SubElement(ET.SubElement(feed, "author"), "name").text = "sagemaker-roles-kb"
    ET.SubElement(feed, "generator", version=__version__).text = "sagemaker-roles-kb"
    for t, changes, _ in steps:
        entry = ET.SubElement(feed, "entry")
        label = words.get("feed_entry", "{page} ({language}): {from_date} → {to_date}, {changes} changes")
        ET.SubElement(entry, "title").text = label.format(
            page=t["page_key"], language=names.get(t["lang"], t["lang"]), from_date=(t["from"]["date"] or "")[:10],
            to_date=(t["to"]["date"] or "")[:10], changes=len(changes))
        ET.SubElement(entry, "id").text = _entry_id(t)
        ET.SubElement(entry, "updated").text = _stamp(t["to"]["date"])
        page_url = _web(urls.get((t["page_key"], t["lang"])))
        if page_url:
            ET.SubElement(entry, "link", rel="alternate", type="text/html", href=page_url)
        since = (t["to"]["date"] or "")[:10]
        ET.SubElement(entry, "link", rel="related", type="text/html", href=base_url + f"/{DB_NAME}/changes?" + urlencode(
            {"since": since, "lang": t["lang"], "kind": ""}))
        ET.SubElement(entry, "category", term=t["origin"])
        ET.SubElement(entry, "summary").text = "\n".join(history.summarize(changes))
        ET.SubElement(entry, "content", type="html").text = _content(changes)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _built(conn) -> str:
    row = conn.execute("select max(recorded_at) from page_transition").fetchone() if query.has_table(
        conn, "page_transition") else None
    return _stamp(row[0] if row else None)


async def changes_atom(request, datasette):
    try:
        db = datasette.get_database(DB_NAME)
    except KeyError:
        return Response.json({"error": f"no database named {DB_NAME!r} is being served"}, status=503)
    base = datasette.absolute_url(request, "/").rstrip("/")
    q = request.args
    try:
        body = await db.execute_fn(lambda conn: atom(conn, base, q.get("page") or None, q.get("api") or None,
                                                     q.get("lang") or None))
    except Invalid as exc:
        return Response.json(exc.to_json(), status=400)
    except KBError as exc:
        return Response.json({"ok": False, "error": str(exc), "status": 400}, status=400)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


ROUTES = [(r"^/-/changes\.atom$", changes_atom)]
