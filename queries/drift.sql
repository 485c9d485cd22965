-- The English and the Japanese page side by side, per API × condition × policy variant: the
-- actions each requires, those only one of them has, and each page's own sentence (all APIs when
-- api is empty). English prevails, as the Japanese page itself says; differences come first.
with asked as (
  select :api as api
),
granted as (  -- every action a current page allows, per requirement and language
  select r.api_name as api, r.condition_key as condition, r.variant, p.lang, sa.action,
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
presence as (
  select api, condition, variant, action, max(lang = 'en') as in_en, max(lang = 'ja') as in_ja
  from granted group by api, condition, variant, action
  order by action
),
sentence as (  -- each page's first sentence for the requirement
  select api, condition, variant, lang, lead_text, heading, source_url,
         row_number() over (partition by api, condition, variant, lang order by line) as nth
  from granted
),
side_by_side as (
  select api, condition, variant,
         group_concat(case when in_en and not in_ja then action end, ' ') as only_en,
         group_concat(case when in_ja and not in_en then action end, ' ') as only_ja,
         group_concat(case when in_en then action end, ' ') as en_actions,
         group_concat(case when in_ja then action end, ' ') as ja_actions
  from presence group by api, condition, variant
)
select b.api, b.condition, b.variant,
       b.only_en is not null or b.only_ja is not null as differs,
       b.only_en, b.only_ja, b.en_actions, b.ja_actions,
       en.heading as en_heading, ja.heading as ja_heading,
       en.lead_text as en_text, ja.lead_text as ja_text,
       en.source_url as en_url, ja.source_url as ja_url
from side_by_side b
left join sentence en on en.nth = 1 and en.lang = 'en' and en.api = b.api
  and en.condition is b.condition and en.variant is b.variant
left join sentence ja on ja.nth = 1 and ja.lang = 'ja' and ja.api = b.api
  and ja.condition is b.condition and ja.variant is b.variant
order by differs desc, b.api, b.condition is not null, b.condition, b.variant
