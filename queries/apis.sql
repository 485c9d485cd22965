-- The APIs whose execution-role permissions the current pages of one language document (every
-- page, or one: page = its key): the first section that documents each, whether a page gives a
-- resource-scoped variant of its policy, its conditions, whether a page lists it as passing the
-- role (iam:PassRole), and the pages that document it.
with asked as (
  select coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang, nullif(:page, '') as page
),
current_page as (
  select page.* from page, asked
  where page.is_current and page.lang = asked.lang and (asked.page is null or page.page_key = asked.page)
),
documented as (  -- an API's own permissions section first, then the other pages, in page order
  select r.api_name as api, p.id as page_id, p.page_key, r.section_id,
         row_number() over (partition by r.api_name
                            order by exists (select 1 from api_mention m where m.section_id = r.section_id
                                             and m.context = 'section') desc, p.page_key, r.id) as nth
  from requirement r join current_page p on p.id = r.page_id
  where r.api_name is not null
)
select d.api, coalesce((select m.doc_spelling from api_mention m join current_page p on p.id = m.page_id
                        where m.api_name = d.api and m.context = 'section' limit 1), d.api) as doc_spelling,
       s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       exists (select 1 from requirement r join current_page q on q.id = r.page_id
               where r.api_name = d.api and r.variant = 'scoped') as has_scoped_variant,
       (select group_concat(key, ',') from (
          select distinct r.condition_key as key from requirement r join current_page q on q.id = r.page_id
          where r.api_name = d.api and r.condition_key is not null
          order by r.condition_key)) as conditions,
       exists (select 1 from api_mention pr join current_page q on q.id = pr.page_id
               where pr.api_name = d.api and pr.context = 'passrole') as passes_role,
       (select group_concat(page_key, ',') from (select distinct x.page_key from documented x where x.api = d.api
                                                 order by x.page_key)) as pages
from documented d
join current_page p on p.id = d.page_id
join section s on s.id = d.section_id
where d.nth = 1
order by d.api
