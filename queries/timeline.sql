-- Since when the page states something: one row per version of the page (its dated revisions,
-- then the current page), saying whether that version documents the subject, with first_seen and
-- last_changed over all versions. subject: an API (CreateProcessingJob), with condition for one of
-- its conditions (vpc, kms_output, …), or an action (sagemaker:DescribeAlgorithm). Case-insensitive.
with asked as (
  select :subject as subject, nullif(:condition, '') as condition,
         coalesce(nullif(:lang, ''), 'en') as lang, instr(:subject, ':') > 0 as is_action
),
versions as (
  select v.* from page_version v join asked on v.lang = asked.lang
),
facts as (  -- the subject's requirement facts, per version
  select r.page_id, r.api_name, r.condition_key, r.variant, sa.action,
         -- {{placeholder}} braces are markup of the .md form, not a change of the resource
         replace(replace(coalesce(sr.resource, '*'), '{{', ''), '}}', '') as resource
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
  select v.page_key, v.ord, v.version_date, v.label, v.is_current,
         exists (select 1 from facts f where f.page_id = v.page_id)
           or exists (select 1 from api_mention m where m.page_id = v.page_id and not asked.is_action
                      and asked.condition is null and lower(m.api_name) = lower(asked.subject)) as present,
         exists (select 1 from api_mention m where m.page_id = v.page_id and m.context = 'passrole'
                 and lower(m.api_name) = lower(asked.subject)) as passes_role,
         (select group_concat(x, ', ') from (select distinct coalesce(f.condition_key, 'main policy') as x
            from facts f where f.page_id = v.page_id order by 1)) as conditions,
         (select group_concat(x, ', ') from (select distinct f.api_name as x
            from facts f where f.page_id = v.page_id order by 1)) as apis,
         (select count(distinct f.action) from facts f where f.page_id = v.page_id) as actions,
         (select group_concat(x, '|') from (select distinct f.api_name || '/' || coalesce(f.condition_key, '') || '/'
            || coalesce(f.variant, '') || '/' || f.action || '/' || f.resource as x
            from facts f where f.page_id = v.page_id order by 1)) as signature
  from versions v join asked
),
steps as (
  select s.*, coalesce(s.signature, '') is not coalesce(lag(s.signature) over w, '')
              or s.present is not lag(s.present) over w or s.passes_role is not lag(s.passes_role) over w as changed_here,
         lag(s.present) over w as present_before
  from state s
  window w as (partition by s.page_key order by s.ord)
)
select page_key, version_date, label as version, is_current, present, passes_role, conditions, apis, actions,
       changed_here and (present or present_before) as changed_here,
       min(case when present then version_date end) over p as first_seen,
       max(case when changed_here and (present or present_before) then version_date end) over p as last_changed
from steps
window p as (partition by page_key)
order by page_key, ord
