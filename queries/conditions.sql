-- The conditions the current pages document per API or feature context (all when api is empty;
-- one page with page = its key), with their labels: a condition is a feature of the request (a
-- private VPC, a KMS key, a streaming labeling job, …) that adds statements ("addition") or that a
-- page's main policy itself depends on ("main policy"), with the first sentence that introduces it.
with asked as (
  select :api as api, coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         nullif(:page, '') as page
),
documented as (
  select coalesce(r.api_name, c.key) as api, r.condition_key as key, sn.role, r.variant, sn.lead_text, sn.line,
         p.page_key,
         s.heading, s.anchor, p.url || coalesce('#' || s.anchor, '') as source_url,
         not exists (select 1 from requirement m where m.page_id = r.page_id and m.context_id = r.context_id
                     and m.condition_key is null) as adds_only,
         row_number() over (partition by coalesce(r.api_name, c.key), r.condition_key
                            order by not exists (select 1 from requirement m where m.page_id = r.page_id
                                                 and m.context_id = r.context_id and m.condition_key is null),
                                     p.page_key, sn.line, r.id) as nth
  from requirement r
  join page p on p.id = r.page_id
  join role_context c on c.id = r.context_id
  join snippet sn on sn.id = r.snippet_id
  join section s on s.id = r.section_id
  join asked
  where p.is_current and p.lang = asked.lang and r.condition_key is not null
    and (asked.page is null or p.page_key = asked.page)
    and (asked.api = '' or lower(r.api_name) = lower(asked.api) or lower(c.key) = lower(asked.api))
)
select d.api, c.key,
       coalesce((select l.label from condition_label l where l.condition_key = c.key and l.lang = asked.lang),
                (select l.label from condition_label l join language g on g.code = l.lang and g.prevails
                 where l.condition_key = c.key)) as label,
       (select json_group_object(l.lang, l.label) from condition_label l where l.condition_key = c.key) as labels,
       case when d.role in ('baseline', 'scoped') and d.variant is not null then 'main policy' else 'addition' end
         as applies_to,
       d.lead_text as source_text, d.heading, d.anchor as section_anchor, d.source_url
from documented d
join condition c on c.key = d.key
join asked
where d.nth = 1  -- a condition documented for both variants, or on several pages: the first sentence about it
-- in the order of kb requirements: the pages that give the main policy first
order by d.api, d.adds_only, d.page_key, d.line
