-- Full-text search over every section of the current pages (the whole guide and both roles pages; one
-- page with page = its key). The index is
-- trigram: any substring of three characters or more matches, Japanese included (no word breaks
-- needed); a one- or two-character query falls back to LIKE. Matches are marked ⟦…⟧ in snippet.
with asked as (
  select trim(:q) as q,
         replace(replace(replace(trim(:q), '\', '\\'), '%', '\%'), '_', '\_') as escaped  -- for LIKE
)
select p.lang, p.page_key, s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       snippet(section_fts, -1, '⟦', '⟧', '…', 64) as snippet,
       bm25(section_fts) as rank
from asked, section_fts
join section s on s.id = section_fts.rowid
join page p on p.id = s.page_id
where p.is_current and length(asked.q) >= 3 and (:page = '' or p.page_key = :page)
  -- quoted as one phrase: the query is text to find, never FTS syntax
  and section_fts match '"' || replace(asked.q, '"', '""') || '"'
union all
select p.lang, p.page_key, s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       case when instr(lower(s.body), lower(asked.q)) > 0
            then '…' || replace(substr(s.body, max(1, instr(lower(s.body), lower(asked.q)) - 30), 64),
                                asked.q, '⟦' || asked.q || '⟧') || '…'
            else replace(s.heading, asked.q, '⟦' || asked.q || '⟧') end as snippet,
       0 as rank
from asked, section s
join page p on p.id = s.page_id
where p.is_current and length(asked.q) between 1 and 2 and (:page = '' or p.page_key = :page)
  and (s.heading like '%' || asked.escaped || '%' escape '\' or s.body like '%' || asked.escaped || '%' escape '\')
order by rank, lang, section_anchor
