"""About 1 MB of hostile input for each reader and for the extractor (issue 13): the shapes that
made a backtracking pattern, a recursive walk or a search under every element slow. Used by
bench/bench_hostile.py (figures) and tests/test_hostile_input.py (a generous bound)."""

from __future__ import annotations

MB = 1_000_000
API = "## CreateModel API: Execution Role Permissions\n\n"


def _fill(unit: str, size: int) -> str:
    return unit * max(1, size // len(unit))


def markdown_inputs(size: int = MB) -> dict[str, str]:
    return {
        "anchor_spaces": "# T <a" + " " * size + "x>\n\ntext\n",
        "anchor_tags": "# T " + _fill("<a ", size) + ">\n",
        "next_line_anchor": "# T\n" + _fill("<a id ", size) + "\n",
        "html_block_lt": "# T\n\n<div>\n" + _fill("<", size) + "\n",
        "nested_quotes": "# T\n\n" + ">" * size + " x\n",
        "nested_lists": "# T\n\n" + "".join("  " * i + "- x\n" for i in range(int(size ** 0.5))),
        "emphasis": "# T\n\n" + _fill("*_", size) + "\n",
        "brackets": "# T\n\n" + _fill("[", size) + _fill("](", size) + "\n",
        "backticks": "# T\n\n" + _fill("`a", size) + "\n",
        "escapes": "# T\n\n" + _fill("\\", size) + "\n",
        "table": "# T\n\n| a | b |\n|---|---|\n" + _fill("| `x` | <a name='y'> |\n", size),
        "headings": _fill("# `a` <a name=\"b\"></a>\n\n", size),
        "front_matter": "---\n" + _fill("---  \n", size) + "# T\n",
        "tab_labels": "# T\n\n#### [ " + "[ " * (size // 2) + "\n",
    }


def html_inputs(size: int = MB) -> dict[str, str]:
    head = '<html><body><div id="main-col-body"><h1>T</h1>'
    tail = "</div></body></html>"
    return {
        "deep_spans": head + "<span>" * 8000 + "<div>x</div>" + "</span>" * 8000 + tail,
        "deep_but_allowed": head + ("<span>" * 90 + "<div>x</div>" + "</span>" * 90) * (size // 2000) + tail,
        "wide_inline": head + _fill("<span><b>x</b> <code>s3:GetObject</code></span>", size) + tail,
        "paragraphs": head + _fill("<p>If you specify a private VPC, add the following</p>", size) + tail,
        "tables": head + ("<table>" + "<tr><td>" * 40 + "x" + "</td></tr>" * 40 + "</table>") * (size // 800) + tail,
        "notes": head + _fill('<div class="awsdocs-note"><h6>Note</h6><p>x</p></div>', size) + tail,
        "lt_run": head + _fill("<", size) + tail,
        "unclosed": head + _fill("<p><span>x", size) + tail,
        "attributes": head + "<a " + _fill('id="w1a1a1" ', size) + ">x</a>" + tail,
        "build_ids": head + _fill('<span id="w1a1a1a1a1a1a1a1a1a1a1_">x</span>', size) + tail,
        "headings": head + _fill("<h2>CreateModel API</h2><pre>{}</pre>", size) + tail,
    }


def text_inputs(size: int = MB) -> dict[str, str]:
    title = "Title\n\nPage\n\n"
    return {
        "one_line": title + _fill("a b ", size) + "\n",
        "items": title + _fill("1. x\n", size),
        "indents": title + "".join(" " * (i % 2000) + "• x\n" for i in range(size // 1000)) ,
        "labels": title + _fill("Note\n", size),
        "json_lines": title + _fill("{\"a\": [\n", size),
        "quoted_run": title + '"a"' + _fill(', "a"', size) + ', "a\n',
        "urls": title + _fill("(https://x (", size) + "\n",
        "headings": _fill("Heading\n\n", size),
        "digits": title + "1" * size + ". x\n",
    }


def extractor_pages(size: int = MB) -> dict[str, tuple[str, str]]:
    """name → (markdown text, language): API sections whose prose and snippets are hostile."""
    scoping = API + "scope the policy as follows:\n\n"
    return {
        "camel_bullets": (scoping + _fill("+ Scope `s3:GetObject` to the CreateModel request's Ab" + "C" * 30 + ".\n", size),
                          "en"),
        "camel_run": (scoping + "+ CreateModel " + _fill("AbC", size) + ".\n", "en"),
        "dotted": (API + _fill("A.B.", size) + "\n", "en"),
        "actions": (API + "If you specify a private VPC, " + _fill("a:B a-b:C ", size) + "\n", "en"),
        "kms_domain": (API + "pass an AWS KMS customer managed key " + _fill("as the ", size) + "\n", "en"),
        "prose_requirement": (API + _fill("must also have the ", size) + "`s3:GetObject`\n", "en"),
        "passrole": ("# T\n\n`iam:PassRole` " + _fill("CreateModel CreateTrainingJob ", size) + "\n", "en"),
        "deep_snippet": (API + "```\n" + "[" * 5000 + "]" * 5000 + "\n```\n", "en"),
        "big_snippet": (API + "```\n{\"Statement\": [" + _fill('{"Effect": "Allow", "Action": "s3:GetObject"},', size)
                        + "{}]}\n```\n", "en"),
        "many_snippets": (API + _fill('```\n{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}\n```\n\n', size),
                          "en"),
        "unclosed_snippet": (API + "```\n" + _fill('{"a": "b,\n', size) + "\n```\n", "en"),
        "japanese": ("# T\n\n## CreateModel API: 実行ロールのアクセス許可\n\n" + _fill("プライベート VPC を指定する場合、", size),
                     "ja"),
    }
