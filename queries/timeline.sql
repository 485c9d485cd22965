-- Since when a page states something: one row per version of the page (its dated revisions, then
-- the current page), saying whether that version documents the subject, with first_seen and
-- last_changed over all versions. subject: an API (CreateProcessingJob), with condition for one of
-- its conditions (vpc, kms_output, …), or an action (sagemaker:DescribeAlgorithm). Case-insensitive.
-- page: the page key (empty: the page of that language with the most versions). Resources compare
-- by their stored shape (statement_resource.shape): example regions, accounts and {{ }} are notation.
-- `kb timeline` runs this very query.
with asked as (
  select :subject as subject, nullif(:condition, '') as condition,
         coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         instr(:subject, ':') > 0 as is_action
),
chosen as (
  select coalesce(nullif(:page, ''), (
    select v.page_key from page_version v join asked on v.lang = asked.lang
    group by v.page_key order by count(*) desc, v.page_key limit 1)) as page_key
),
versions as (
  select v.* from page_version v join asked on v.lang = asked.lang join chosen on v.page_key = chosen.page_key
),
facts as (  -- the subject's requirement facts, per version
  select r.page_id, r.api_name, r.condition_key, r.variant,
         case when sa.negated then 'NotAction ' else '' end
           || case when st.effect = 'Allow' then '' else st.effect || ' ' end || sa.action as action_key,
         case when st.resource_given then sr.shape else '(no Resource on the page)' end as shape
  from requirement r
  join statement st on st.snippet_id = r.snippet_id
  join statement_action sa on sa.statement_id = st.id
  left join statement_resource sr on sr.statement_id = st.id
  join asked
  where r.page_id in (select page_id from versions)
    and case when asked.is_action then lower(sa.action) = lower(asked.subject)
             else lower(r.api_name) = lower(asked.subject)
                  and (asked.condition is null or r.condition_key = asked.condition) end
),
state as (
  select v.page_key, v.ord, v.version_date, v.label, v.date_source, v.is_current,
         exists (select 1 from requirement r where r.page_id = v.page_id and not asked.is_action
                 and lower(r.api_name) = lower(asked.subject)) as documented,
         exists (select 1 from api_mention m where m.page_id = v.page_id and not asked.is_action
                 and m.context = 'passrole' and lower(m.api_name) = lower(asked.subject)) as passes_role,
         exists (select 1 from facts f where f.page_id = v.page_id) as has_facts,
         (select group_concat(x, ', ') from (select distinct r.condition_key as x from requirement r
            where r.page_id = v.page_id and not asked.is_action and lower(r.api_name) = lower(asked.subject)
              and r.condition_key is not null order by 1)) as conditions,
         (select group_concat(x, ', ') from (select distinct f.api_name as x
            from facts f where f.page_id = v.page_id order by 1)) as apis,
         (select group_concat(x, ', ') from (select distinct f.action_key as x
            from facts f where f.page_id = v.page_id order by 1)) as action_list,
         (select count(distinct f.action_key) from facts f where f.page_id = v.page_id) as action_count,
         (select count(*) from (select distinct f.api_name, f.condition_key, f.variant
            from facts f where f.page_id = v.page_id)) as requirements,
         coalesce((select group_concat(x, '|') from (select distinct f.api_name || '/' || coalesce(f.condition_key, '')
            || '/' || coalesce(f.variant, '') || '/' || f.action_key || '/' || coalesce(f.shape, '') as x
            from facts f where f.page_id = v.page_id order by 1)), '') as signature,
         asked.is_action, asked.condition
  from versions v join asked
),
judged as (
  select s.*,
         case when s.is_action or s.condition is not null then s.has_facts
              else s.documented or s.passes_role end as present,
         -- an API's state includes whether it is in the PassRole list; an action's or a condition's does not
         s.signature || case when s.is_action or s.condition is not null then '' else '#' || s.passes_role end
           as state_key
  from state s
),
steps as (
  select j.*, j.state_key is not lag(j.state_key) over w and j.ord > 0 as changed_here,
         lag(j.present) over w as present_before
  from judged j
  window w as (partition by j.page_key order by j.ord)
)
select page_key, ord, version_date, label as version, date_source, is_current, present, documented,
       passes_role, conditions, apis, action_list, action_count, requirements, changed_here,
       min(case when present then version_date end) over p as first_seen,
       coalesce(max(case when changed_here then version_date end) over p,
                min(case when present then version_date end) over p) as last_changed
from steps
window p as (partition by page_key)
order by page_key, ord
