-- What the execution role needs for one API, from the current page in one language.
-- The page's main policy (its resource-scoped variant when scoped = 1 and the page has one; the
-- default policy otherwise), plus the statements of each chosen condition. One row per statement,
-- action and resource, in the page's order, each citing its section and the page's own sentence.
with asked as (
  select :api as api,
         coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         ',' || replace(:conditions, ' ', '') || ',' as conditions,  -- ',vpc,kms_input,': whole keys only
         :scoped = '1' as scoped
),
current_page as (
  select page.* from page, asked where page.is_current and page.lang = asked.lang
),
api as (  -- the model's spelling; the page's own misspelling is accepted too
  select m.api_name as name
  from api_mention m join current_page p on p.id = m.page_id, asked
  where lower(m.api_name) = lower(asked.api) or lower(m.doc_spelling) = lower(asked.api)
  limit 1
),
api_requirement as (
  select r.* from requirement r join current_page p on p.id = r.page_id join api on api.name = r.api_name
),
variant as (  -- no scoped variant on the page: its main policy answers
  select case when asked.scoped and exists (select 1 from api_requirement where variant = 'scoped')
              then 'scoped' else 'default' end as name
  from asked
)
-- distinct: a resource printed twice in one statement is one row
select distinct r.api_name as api, p.lang, r.variant, r.condition_key as condition,
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
join variant v on r.variant is null or r.variant = v.name
join current_page p on p.id = r.page_id
join section s on s.id = r.section_id
join snippet sn on sn.id = r.snippet_id
join statement st on st.snippet_id = sn.id
join statement_action sa on sa.statement_id = st.id
left join statement_resource sr on sr.statement_id = st.id
join asked
where r.condition_key is null or instr(asked.conditions, ',' || r.condition_key || ',') > 0
order by sn.line, st.ord, sa.id, sr.ord
