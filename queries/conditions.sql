-- The conditions the current page documents per API (all APIs when api is empty), with both
-- labels: a condition is a feature of the request (a private VPC, a KMS key, …) that adds
-- statements ("addition") or that the page's main policy itself depends on ("main policy").
with asked as (
  select :api as api, coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang
),
documented as (
  select r.api_name as api, r.condition_key as key, sn.role, sn.lead_text, sn.line, s.heading, s.anchor,
         p.url || coalesce('#' || s.anchor, '') as source_url,
         row_number() over (partition by r.api_name, r.condition_key order by sn.line, r.id) as nth
  from requirement r
  join page p on p.id = r.page_id
  join snippet sn on sn.id = r.snippet_id
  join section s on s.id = r.section_id
  join asked
  where p.is_current and p.lang = asked.lang and r.condition_key is not null
    and (asked.api = '' or lower(r.api_name) = lower(asked.api))
)
select d.api, c.key,
       coalesce((select l.label from condition_label l where l.condition_key = c.key and l.lang = asked.lang),
                (select l.label from condition_label l join language g on g.code = l.lang and g.prevails
                 where l.condition_key = c.key)) as label,
       (select json_group_object(l.lang, l.label) from condition_label l where l.condition_key = c.key) as labels,
       case when d.role in ('baseline', 'scoped') then 'main policy' else 'addition' end as applies_to,
       d.lead_text as source_text, d.heading, d.anchor as section_anchor, d.source_url
from documented d
join condition c on c.key = d.key
join asked
where d.nth = 1  -- a condition documented for both variants: the page's first sentence about it
order by d.api, d.line  -- in the page's order
