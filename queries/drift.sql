-- The prevailing (English) page and a translation side by side, per API × condition × policy
-- variant: the actions each requires, those only one of them has, and each page's own sentence
-- (all APIs when api is empty; every translation when lang is empty). Only a page and its own
-- translation are compared. English prevails, as the translations themselves say; differences come first.
with asked as (
  select :api as api, nullif(:lang, '') as lang, (select code from language where prevails) as prevailing
),
granted as (  -- every action a current page allows, per requirement and language
  select p.page_key, r.api_name as api, r.condition_key as condition, r.variant, p.lang, sa.action,
         sn.line, sn.lead_text, s.heading, p.url || coalesce('#' || s.anchor, '') as source_url
  from requirement r
  join page p on p.id = r.page_id
  join section s on s.id = r.section_id
  join snippet sn on sn.id = r.snippet_id
  join statement st on st.snippet_id = sn.id
  join statement_action sa on sa.statement_id = st.id
  join asked
  where p.is_current and st.effect = 'Allow' and not sa.negated
    and (asked.api = '' or lower(r.api_name) = lower(asked.api))
),
translations as (
  select distinct g.page_key, g.lang from granted g join asked
  where g.lang <> asked.prevailing and (asked.lang is null or g.lang = asked.lang)
),
presence as (
  select t.page_key, t.lang as translation, g.api, g.condition, g.variant, g.action,
         max(g.lang = asked.prevailing) as in_prevailing, max(g.lang = t.lang) as in_translation
  from translations t join asked join granted g on g.page_key = t.page_key and g.lang in (asked.prevailing, t.lang)
  group by t.page_key, t.lang, g.api, g.condition, g.variant, g.action
  order by g.action
),
sentence as (  -- each page's first sentence for the requirement
  select page_key, api, condition, variant, lang, lead_text, heading, source_url,
         row_number() over (partition by page_key, api, condition, variant, lang order by line) as nth
  from granted
),
side_by_side as (
  select page_key, translation, api, condition, variant,
         group_concat(case when in_prevailing and not in_translation then action end, ' ') as only_prevailing,
         group_concat(case when in_translation and not in_prevailing then action end, ' ') as only_translation,
         group_concat(case when in_prevailing then action end, ' ') as prevailing_actions,
         group_concat(case when in_translation then action end, ' ') as translation_actions
  from presence group by page_key, translation, api, condition, variant
)
select b.translation as lang, b.page_key, b.api, b.condition, b.variant,
       b.only_prevailing is not null or b.only_translation is not null as differs,
       b.only_prevailing, b.only_translation, b.prevailing_actions, b.translation_actions,
       en.heading as prevailing_heading, tr.heading as translation_heading,
       en.lead_text as prevailing_text, tr.lead_text as translation_text,
       en.source_url as prevailing_url, tr.source_url as translation_url
from side_by_side b
join asked
left join sentence en on en.nth = 1 and en.lang = asked.prevailing and en.page_key = b.page_key and en.api = b.api
  and en.condition is b.condition and en.variant is b.variant
left join sentence tr on tr.nth = 1 and tr.lang = b.translation and tr.page_key = b.page_key and tr.api = b.api
  and tr.condition is b.condition and tr.variant is b.variant
order by differs desc, b.translation, b.page_key, b.api, b.condition is not null, b.condition, b.variant
