"""The kinds of finding and of change the KB records: the vocabulary `kb check --kind`, `kb changes
--kind` and their canned queries accept (with any other kind a KB holds), and the schema describes.
ingest writes only these (tests/test_cli_consistency.py reads its sources to check)."""

FINDING_KINDS = (
    "invalid_json", "repaired_json", "snippet_too_deep", "snippet_too_large", "api_name_typo",
    "unknown_request_field", "unknown_action", "unclassified_condition", "duplicate_resource", "drift",
    "duplicate_section", "conflicting_sections", "pages_disagree", "passrole_lists_disagree",
)

CHANGE_KINDS = (
    "api_added", "api_removed", "passrole_added", "passrole_removed", "condition_added", "condition_removed",
    "variant_added", "variant_removed", "action_added", "action_removed", "resource_changed",
    "scoping_added", "scoping_removed", "scoping_changed",
)
