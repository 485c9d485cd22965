-- The APIs the current page says the execution role is passed to (its iam:PassRole list), in one
-- language: the API model's spelling, the page's own spelling when it differs (a typo on the page),
-- and whether the page also documents the API's permissions in a section of its own.
with asked as (
  select coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang, nullif(:page, '') as page
)
select m.api_name as api,
       group_concat(distinct nullif(m.doc_spelling, m.api_name)) as page_spelling,
       exists (select 1 from api_mention d
               where d.page_id = p.id and d.api_name = m.api_name and d.context = 'section') as has_permissions_section,
       s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url
from api_mention m
join page p on p.id = m.page_id
left join section s on s.id = m.section_id
join asked
where p.is_current and p.lang = asked.lang and m.context = 'passrole'
  and (asked.page is null or p.page_key = asked.page)
group by m.api_name
order by m.api_name
