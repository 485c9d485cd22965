-- Which APIs, and which of their conditions, need an IAM action, on the current page in one
-- language. The action may carry IAM wildcards (ec2:Describe*, s3:?etObject); a page statement
-- that grants a wildcard (sagemaker:*) counts for every action it covers. Case-insensitive, as IAM is.
with asked as (
  select lower(trim(:action)) as pattern, coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         nullif(:page, '') as page
)
select distinct coalesce(r.api_name, (select key from role_context c where c.id = r.context_id)) as api,
       p.page_key, r.condition_key as condition,
       coalesce((select l.label from condition_label l where l.condition_key = r.condition_key and l.lang = p.lang),
                (select l.label from condition_label l join language g on g.code = l.lang and g.prevails
                 where l.condition_key = r.condition_key)) as condition_label,
       r.variant, sa.action,
       instr(sa.action, '*') > 0 as page_grants_wildcard,
       s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url,
       sn.lead_text as source_text
from requirement r
join page p on p.id = r.page_id
join section s on s.id = r.section_id
join snippet sn on sn.id = r.snippet_id
join statement st on st.snippet_id = sn.id
join statement_action sa on sa.statement_id = st.id
join asked
where p.is_current and p.lang = asked.lang and st.effect = 'Allow' and not sa.negated
  and (asked.page is null or p.page_key = asked.page)
  and asked.pattern <> ''
  -- IAM's * and ? are GLOB's; either side may be the wildcard
  and (lower(sa.action) glob asked.pattern or asked.pattern glob lower(sa.action))
order by api, p.page_key, r.condition_key is not null, r.condition_key, r.variant, sa.action
