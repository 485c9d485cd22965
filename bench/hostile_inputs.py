"""About 1 MB of hostile input for each reader and for the extractor (issue 13): the shapes that
made a backtracking pattern, a recursive walk or a search under every element slow. Used by
bench/bench_hostile.py (figures) and tests/test_hostile_input.py (a generous bound)."""

from __future__ import annotations

MB = 1_000_000
API = "## CreateModel API: Execution Role Permissions\n\n"


def _fill(unit: str, size: int = MB) -> str:
    return unit * max(1, size // len(unit))


def markdown_inputs() -> dict[str, str]:
    return {
        "anchor_spaces": "# T <a" + " " * MB + "x>\n\ntext\n",
        "anchor_tags": "# T " + _fill("<a ") + ">\n",
        "next_line_anchor": "# T\n" + _fill("<a id ") + "\n",
        "html_block_lt": "# T\n\n<div>\n" + _fill("<") + "\n",
        "nested_quotes": "# T\n\n" + ">" * MB + " x\n",
        "nested_lists": "# T\n\n" + "".join("  " * i + "- x\n" for i in range(1000)) * 2,
        "emphasis": "# T\n\n" + _fill("*_") + "\n",
        "brackets": "# T\n\n" + _fill("[") + _fill("](") + "\n",
        "backticks": "# T\n\n" + _fill("`a") + "\n",
        "escapes": "# T\n\n" + _fill("\\") + "\n",
        "table": "# T\n\n| a | b |\n|---|---|\n" + _fill("| `x` | <a name='y'> |\n"),
        "headings": _fill("# `a` <a name=\"b\"></a>\n\n"),
        "front_matter": "---\n" + _fill("---  \n") + "# T\n",
        "tab_labels": "# T\n\n#### [ " + "[ " * (MB // 2) + "\n",
    }


def html_inputs() -> dict[str, str]:
    head = '<html><body><div id="main-col-body"><h1>T</h1>'
    tail = "</div></body></html>"
    return {
        "deep_spans": head + "<span>" * 8000 + "<div>x</div>" + "</span>" * 8000 + tail,
        "deep_but_allowed": head + ("<span>" * 90 + "<div>x</div>" + "</span>" * 90) * 500 + tail,
        "wide_inline": head + _fill("<span><b>x</b> <code>s3:GetObject</code></span>") + tail,
        "paragraphs": head + _fill("<p>If you specify a private VPC, add the following</p>") + tail,
        "tables": head + ("<table>" + "<tr><td>" * 40 + "x" + "</td></tr>" * 40 + "</table>") * 1200 + tail,
        "notes": head + _fill('<div class="awsdocs-note"><h6>Note</h6><p>x</p></div>') + tail,
        "lt_run": head + _fill("<") + tail,
        "unclosed": head + _fill("<p><span>x") + tail,
        "attributes": head + "<a " + _fill('id="w1a1a1" ') + ">x</a>" + tail,
        "build_ids": head + _fill('<span id="w1a1a1a1a1a1a1a1a1a1a1_">x</span>') + tail,
        "headings": head + _fill("<h2>CreateModel API</h2><pre>{}</pre>") + tail,
    }


def text_inputs() -> dict[str, str]:
    title = "Title\n\nPage\n\n"
    return {
        "one_line": title + _fill("a b ") + "\n",
        "items": title + _fill("1. x\n"),
        "indents": title + "".join(" " * (i % 2000) + "• x\n" for i in range(MB // 1000)) ,
        "labels": title + _fill("Note\n"),
        "json_lines": title + _fill("{\"a\": [\n"),
        "quoted_run": title + '"a"' + _fill(', "a"') + ', "a\n',
        "urls": title + _fill("(https://x (") + "\n",
        "headings": _fill("Heading\n\n"),
        "digits": title + "1" * MB + ". x\n",
    }


def extractor_pages() -> dict[str, tuple[str, str]]:
    """name → (markdown text, language): API sections whose prose and snippets are hostile."""
    scoping = API + "scope the policy as follows:\n\n"
    return {
        "camel_bullets": (scoping + _fill("+ Scope `s3:GetObject` to the CreateModel request's Ab" + "C" * 30 + ".\n"),
                          "en"),
        "camel_run": (scoping + "+ CreateModel " + _fill("AbC") + ".\n", "en"),
        "dotted": (API + _fill("A.B.") + "\n", "en"),
        "actions": (API + "If you specify a private VPC, " + _fill("a:B a-b:C ") + "\n", "en"),
        "kms_domain": (API + "pass an AWS KMS customer managed key " + _fill("as the ") + "\n", "en"),
        "prose_requirement": (API + _fill("must also have the ") + "`s3:GetObject`\n", "en"),
        "passrole": ("# T\n\n`iam:PassRole` " + _fill("CreateModel CreateTrainingJob ") + "\n", "en"),
        "deep_snippet": (API + "```\n" + "[" * 5000 + "]" * 5000 + "\n```\n", "en"),
        "big_snippet": (API + "```\n{\"Statement\": [" + _fill('{"Effect": "Allow", "Action": "s3:GetObject"},')
                        + "{}]}\n```\n", "en"),
        "many_snippets": (API + _fill('```\n{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}\n```\n\n'),
                          "en"),
        "unclosed_snippet": (API + "```\n" + _fill('{"a": "b,\n') + "\n```\n", "en"),
        "japanese": ("# T\n\n## CreateModel API: 実行ロールのアクセス許可\n\n" + _fill("プライベート VPC を指定する場合、"),
                     "ja"),
    }
