"""Tables of what the caller of an API needs (the guide's API permissions reference): per API row,
the actions always required, and those "required only if" a request member is set.

A row's first cell names the API (a link to the API reference, or its name); its second cell is
read in order, code and text: an action after a "The following permissions are required only if
…:" sentence depends on that sentence; an action followed by "(required only if …)" depends on the
parenthesis. The request member the condition names (`VolumeKmsKeyId`) is looked up in the API's
request shape (botocore), so the fact carries its real path (ResourceConfig.VolumeKmsKeyId).
"""

from __future__ import annotations

from .catalog import ApiModel
from .contexts import ContextFinder
from .lexicon import Lexicon
from .model import Block, Section
from .pagefacts import CallerPermission
from .snippets import ACTION_TOKEN_TEXT, is_action, normalize_action


def caller_permissions(block: Block, section: Section, lex: Lexicon, api_model: ApiModel,
                       finder: ContextFinder) -> list[CallerPermission]:
    cells = block.cells or []
    if block.header or len(cells) < 2:
        return []
    apis = [a for a in finder.apis_in_block(Block(block.kind, cells[0].text, block.line, cells[0].codes,
                                                  cells[0].links))]
    if not apis:
        return []
    api = api_model.match(apis[0])
    if api is None:
        return []
    out: list[CallerPermission] = []
    for action, when, codes in _read(cells[1].parts, lex):
        out.append(CallerPermission(api, action, when, _member(api.name, codes, api_model) if when else None,
                                    section, block.line, cells[1].text))
    return out


def _read(parts: list[tuple[str, str]], lex: Lexicon) -> list[tuple[str, str | None, list[str]]]:
    """(action, the words that make it conditional or None, the code spans of those words)."""
    out: list[tuple[str, str | None, list[str]]] = []
    following: tuple[str, list[str]] | None = None  # a "the following … required only if …:" sentence
    i = 0
    while i < len(parts):
        kind, content = parts[i]
        if kind == "text" and lex.says("required_only_if", content):
            words, codes, i = _clause(parts, i)
            if content.lstrip().startswith("(") and out:  # "`kms:CreateGrant` (required only if …)"
                action, _, _ = out[-1]
                out[-1] = (action, words, codes)
            else:
                following = (words, codes)
            continue
        found = [content] if kind == "code" and is_action(content) else ACTION_TOKEN_TEXT.findall(content) \
            if kind == "text" else []
        for action in found:
            out.append((normalize_action(action), *(following or (None, []))))
        i += 1
    return out


def _clause(parts: list[tuple[str, str]], start: int) -> tuple[str, list[str], int]:
    """The condition's words from parts[start]: up to a closing parenthesis (the parenthesis form)
    or a colon (the sentence form); returns them, their code spans and where reading goes on."""
    opened = parts[start][1].lstrip().startswith("(")
    words: list[str] = []
    codes: list[str] = []
    i = start
    while i < len(parts):
        kind, content = parts[i]
        if kind == "code":
            if is_action(content) and not opened:
                break  # the sentence form ends where its actions start
            codes.append(content)
            words.append(content)
        else:
            end = content.find(")") if opened else content.find(":")
            if end >= 0:
                words.append(content[:end + 1])
                return _tidy(words), codes, i + 1
            words.append(content)
        i += 1
    return _tidy(words), codes, i


def _tidy(words: list[str]) -> str:
    return " ".join(" ".join(words).split()).strip(" :()")


def _member(api: str, codes: list[str], api_model: ApiModel) -> str | None:
    """The request path the condition's code spans name: `ResourceConfig` … `VolumeKmsKeyId` is
    ResourceConfig.VolumeKmsKeyId; a lone `VolumeKmsKeyId` is the shortest path ending with it."""
    names = [c.strip() for c in codes if c.strip().isidentifier()]
    if not names or api not in api_model.operations:
        return None
    for n in range(len(names), 0, -1):
        joined = ".".join(names[-n:])
        if api_model.field_exists(api, joined):
            return joined
    paths = api_model.request_paths(api)
    for name in reversed(names):
        ending = sorted((p for p in paths if p == name or p.endswith("." + name)), key=lambda p: (p.count("."), p))
        if ending:
            return ending[0]
    return None
