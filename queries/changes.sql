-- What changed on the pages, newest first: one row per changed fact (an API, an iam:PassRole
-- entry, a condition, a policy variant, an action, an action's resources, a scoping rule), with the
-- versions it lies between and the page's sentence on the side that has it. A step between two
-- versions comes from the dated revisions (origin revision), a refresh that fetched a changed live
-- page (refresh, with its run), or a rebuild that met a changed snapshot (build).
-- since: YYYY-MM-DD, steps dated on or after it (empty: all); lang, kind (action_added, api_*, …) filter.
with asked as (
  select nullif(:since, '') as since, nullif(:lang, '') as lang, nullif(:kind, '') as kind
)
select t.to_date as date, t.page_key, t.lang, t.origin, t.run_id as refresh_run,
       t.from_label as from_version, t.to_label as to_version,
       c.kind, c.api_name as api, c.condition_key as condition, c.variant, c.action, c.field,
       c.before_json as before, c.after_json as after,
       json_extract(coalesce(c.after_source_json, c.before_source_json), '$.url') as source_url,
       json_extract(coalesce(c.after_source_json, c.before_source_json), '$.text') as source_text
from page_change c
join page_transition t on t.id = c.transition_id
join asked
where (asked.since is null or t.to_date >= asked.since)
  and (asked.lang is null or t.lang = asked.lang)
  and (asked.kind is null or c.kind like replace(asked.kind, '*', '%'))
order by t.to_date desc, t.id desc, c.id
