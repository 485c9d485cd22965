-- Per current page: its code blocks, the policies among them by kind, and the execution-role
-- policies tied to a role context (an API, or the feature the page documents). `kb coverage`
-- answers the same, with the snippets it could not place.
select p.page_key, p.lang,
       count(sn.id) filter (where sn.snippet_index is not null) as code_blocks,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind is not null) as policy_snippets,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'execution_role') as execution_role,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'caller') as caller,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'trust') as trust,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'key') as key,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'bucket') as bucket,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'vpc_endpoint') as vpc_endpoint,
       count(sn.id) filter (where sn.snippet_index is not null and sn.kind = 'other') as other,
       count(sn.id) filter (where sn.kind = 'execution_role' and sn.snippet_index is not null
                            and (exists (select 1 from snippet_context x where x.snippet_id = sn.id)
                                 or exists (select 1 from requirement r where r.snippet_id = sn.id))) as attributed
from page p
left join snippet sn on sn.page_id = p.id
where p.is_current and (:page = '' or p.page_key = :page)
group by p.id
order by p.page_key, p.lang
