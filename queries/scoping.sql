-- How the current page says to scope an API's resources: which actions, to which request field
-- of which API (all APIs when api is empty). A field the API model does not have is flagged, with
-- the model's real path when one is known: the page's errata, in the page's own sentence.
with asked as (
  select :api as api, coalesce(nullif(:lang, ''), (select code from language where prevails)) as lang,
         nullif(:page, '') as page
)
select r.api_name as api,
       (select group_concat(value, ' ') from json_each(r.actions_json)) as actions,
       r.request_api, r.field_path as field, r.in_api_model, r.suggested_path as suggested_field,
       r.source_text, s.heading, s.anchor as section_anchor,
       p.url || coalesce('#' || s.anchor, '') as source_url
from scoping_rule r
join page p on p.id = r.page_id
join section s on s.id = r.section_id
join asked
where p.is_current and p.lang = asked.lang and (asked.page is null or p.page_key = asked.page)
  and (asked.api = '' or lower(r.api_name) = lower(asked.api))
order by r.api_name, r.line, r.page_id, r.id
