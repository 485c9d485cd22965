-- What the execution role needs for an API (or a feature context of `roles`), from every current
-- page of one language that documents it, or from one page (page = its key). Per page: its main
-- policy (its resource-scoped variant when scoped = 1 and that page has one; the default policy
-- otherwise), plus the statements of each chosen condition. One row per statement, action and
-- resource, page by page in the page's order, each citing its page, section and sentence.
-- A resource the page does not give is null (resource_given 0). `kb requirements` answers the same.
with asked as (
  select :api as api,
         coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         ',' || replace(:conditions, ' ', '') || ',' as conditions,  -- ',vpc,kms_input,': whole keys only
         :scoped = '1' as scoped,
         nullif(:page, '') as page
),
current_page as (
  select page.* from page, asked
  where page.is_current and page.lang = asked.lang and (asked.page is null or page.page_key = asked.page)
),
named as (  -- the model's spelling (a page's own misspelling accepted), or a feature context's key
  select coalesce(
    (select r.api_name from requirement r join current_page p on p.id = r.page_id, asked
     where lower(r.api_name) = lower(asked.api) limit 1),
    (select m.api_name from api_mention m join current_page p on p.id = m.page_id, asked
     where lower(m.doc_spelling) = lower(asked.api) limit 1),
    (select c.key from role_context c, asked where lower(c.key) = lower(asked.api))) as name
),
api_requirement as (
  select r.* from requirement r
  join current_page p on p.id = r.page_id
  join role_context c on c.id = r.context_id
  join named
  where r.api_name = named.name or c.key = named.name
),
scoped_page as (  -- the pages that give a resource-scoped variant
  select distinct page_id from api_requirement where variant = 'scoped'
)
-- distinct: a resource printed twice in one statement is one row
select distinct r.api_name as api, p.page_key, p.lang, r.variant, r.condition_key as condition,
       coalesce((select l.label from condition_label l where l.condition_key = r.condition_key and l.lang = p.lang),
                (select l.label from condition_label l join language g on g.code = l.lang and g.prevails
                 where l.condition_key = r.condition_key)) as condition_label,
       st.id as statement_id, st.effect, sa.action, sa.negated,
       sr.resource, st.resource_given,  -- resource null: the page gives none (resource_given 0)
       st.condition_json as condition_block,
       s.anchor as section_anchor, s.heading,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       sn.lead_text as source_text
from api_requirement r
join asked
join current_page p on p.id = r.page_id
join section s on s.id = r.section_id
join snippet sn on sn.id = r.snippet_id
join statement st on st.snippet_id = sn.id
join statement_action sa on sa.statement_id = st.id
left join statement_resource sr on sr.statement_id = st.id
where (r.variant is null
       or r.variant = case when asked.scoped and r.page_id in (select page_id from scoped_page) then 'scoped'
                           else 'default' end)
  and (r.condition_key is null or instr(asked.conditions, ',' || r.condition_key || ',') > 0)
-- the pages that give the context's main policy first, then the pages that only add to it
order by not exists (select 1 from requirement m where m.page_id = r.page_id and m.context_id = r.context_id
                     and m.condition_key is null),
         p.page_key, sn.line, r.id, st.ord, sa.id, sr.ord
