-- Errors in the current pages themselves and drift between them: API names the page misspells,
-- request fields the API model does not have, snippets that are not valid JSON, resources printed
-- twice, and what the English and Japanese pages disagree on. Empty lang or kind: all of them.
select f.kind, f.severity, f.subject, f.detail, f.lang, f.page_key, f.section_heading as heading, f.section_anchor,
       f.page_url || coalesce('#' || f.section_anchor, '') as source_url, f.line
from finding_rows f
where (f.is_current or f.is_current is null)
  and (:lang = '' or f.lang = :lang)
  and (:kind = '' or f.kind = :kind)
  and (:page = '' or f.page_key = :page)
order by f.severity = 'error' desc, f.kind, f.lang, coalesce(f.line, 0), f.across_pages, f.page_id, f.id
