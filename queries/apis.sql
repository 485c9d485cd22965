-- The APIs whose execution-role permissions the current page documents in one language: the
-- section each one is in, whether the page gives a resource-scoped variant of its policy, the
-- conditions it documents, and whether the page lists it as passing the role (iam:PassRole).
with asked as (
  select coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang
),
current_page as (
  select page.* from page, asked where page.is_current and page.lang = asked.lang
)
select m.api_name as api, m.doc_spelling, s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       exists (select 1 from requirement r
               where r.page_id = p.id and r.api_name = m.api_name and r.variant = 'scoped') as has_scoped_variant,
       (select group_concat(key, ',') from (
          select distinct r.condition_key as key from requirement r
          where r.page_id = p.id and r.api_name = m.api_name and r.condition_key is not null
          order by r.condition_key)) as conditions,
       exists (select 1 from api_mention pr
               where pr.page_id = p.id and pr.api_name = m.api_name and pr.context = 'passrole') as passes_role
from api_mention m
join current_page p on p.id = m.page_id
left join section s on s.id = m.section_id
where m.context = 'section'
order by m.api_name
