"""What the home page hands the policy panel (static/policy-panel.js) besides its choice: the words
of the page's language and the downloads it offers, as JSON in data attributes (no inline script).

The words are the lexicon's [ui] keys that start with `panel_`, and a few the home page shares with
the panel; a language whose lexicon lacks one gets the prevailing language's (kb.query.ui).
"""

from __future__ import annotations

import json

# Words of the home page the panel uses too.
SHARED_WORDS = ("conditions", "scoped", "copy_label", "copied_label", "variant_scoped", "variant_default", "col_action",
                "group_apis", "group_features", "in_prevailing_only")

# The policy as files. `from` names the member of the /-/policy answer the file holds ("policy": the
# document, written as JSON); a format the writer adds (`kb policy --format …`) is one more entry here,
# naming the member its text comes in, and one `panel_download_<format>` word in each lexicon.
DOWNLOADS = [
    {"format": "json", "label": "panel_download_json", "filename": "{apis}-role-policy.json",
     "mime": "application/json", "from": "policy"},
    {"format": "role", "label": "panel_download_role", "filename": "{apis}-role.json",
     "mime": "application/json", "from": "formats.role"},
    {"format": "cloudformation", "label": "panel_download_cloudformation", "filename": "{apis}-role.yaml",
     "mime": "application/yaml", "from": "formats.cloudformation"},
    {"format": "terraform", "label": "panel_download_terraform", "filename": "{apis}-role.tf",
     "mime": "text/plain", "from": "formats.terraform"},
    {"format": "cli", "label": "panel_download_cli", "filename": "{apis}-role.sh",
     "mime": "text/x-shellscript", "from": "formats.cli"},
]


def words(ui: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in ui.items() if k.startswith("panel_") or k in SHARED_WORDS}


def context(ui: dict[str, str]) -> dict[str, str]:
    """Template variables; the template autoescapes them into the section's data attributes."""
    return {"panel_words": json.dumps(words(ui), ensure_ascii=False),
            "panel_downloads": json.dumps(DOWNLOADS, ensure_ascii=False)}
