-- Whose execution role the current pages document (one page with page = its key): the API whose
-- request carries the role ARN, with that request member (botocore's), or the feature a page
-- documents; the pages and conditions of each. `kb roles` answers the same.
with asked as (
  select coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang, nullif(:page, '') as page
)
select c.key, c.api_name as api, c.role_member, c.feature,
       (select group_concat(x, ',') from (select distinct p2.page_key as x from requirement r2
          join page p2 on p2.id = r2.page_id where r2.context_id = c.id and p2.is_current and p2.lang = asked.lang
          and (asked.page is null or p2.page_key = asked.page) order by 1)) as pages,
       (select group_concat(x, ',') from (select distinct r2.condition_key as x from requirement r2
          join page p2 on p2.id = r2.page_id where r2.context_id = c.id and p2.is_current and p2.lang = asked.lang
          and (asked.page is null or p2.page_key = asked.page) and r2.condition_key is not null order by 1)) as conditions
from role_context c join asked
where exists (select 1 from requirement r join page p on p.id = r.page_id
              where r.context_id = c.id and p.is_current and p.lang = asked.lang
                and (asked.page is null or p.page_key = asked.page))
order by c.api_name is null, c.key
