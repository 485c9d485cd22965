-- What the caller of an API needs (the guide's API permissions table), one row per action: always
-- required (required_when null), or only when the request member named by the page's words is set.
-- Case-insensitive. From the current pages in `lang` (empty: the prevailing language); where no page
-- in that language has the table's row for the API, from the prevailing language's pages, which
-- prevail (`lang` says which pages answered). `kb caller` answers the same.
with asked as (
  select coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang
),
answering as (
  select case when exists (select 1 from caller_permission c join page p on p.id = c.page_id
                           where p.is_current and p.lang = asked.lang and lower(c.api_name) = lower(:api))
              then asked.lang else (select code from language where prevails) end as lang
  from asked
)
select c.api_name as api, c.action, c.required_when, c.request_field, p.lang, p.page_key, s.heading,
       p.url || coalesce('#' || s.anchor, '') as source_url, c.line, c.cell_text
from answering
join caller_permission c
join page p on p.id = c.page_id and p.is_current and p.lang = answering.lang
join section s on s.id = c.section_id
where lower(c.api_name) = lower(:api)
order by c.page_id, c.id
