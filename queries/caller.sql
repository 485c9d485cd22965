-- What the caller of an API needs (the guide's API permissions table), one row per action: always
-- required (required_when null), or only when the request member named by the page's words is set.
-- Case-insensitive. `kb caller` answers the same.
select c.api_name as api, c.action, c.required_when, c.request_field, p.page_key, s.heading,
       p.url || coalesce('#' || s.anchor, '') as source_url, c.line
from caller_permission c
join page p on p.id = c.page_id
join section s on s.id = c.section_id
where p.is_current and lower(c.api_name) = lower(:api)
order by c.page_id, c.id
