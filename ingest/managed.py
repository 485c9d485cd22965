"""A page saying that a managed policy grants what a role needs ("All of these permissions can be
granted with the `AmazonSageMakerGroundTruthExecution` managed policy except: …"): the policy,
the page's sentence, its exceptions (the list that follows an "except"), and the role contexts of
its section. The policy's name is a code span or link the sentence prints right beside the
lexicon's words for a managed policy, or the last part of a link to the policy's ARN
(…:policy/Name); an API name is never taken for one."""

from __future__ import annotations

import re

from .contexts import ContextFinder
from .lexicon import Lexicon
from .model import LIST_ITEM, Block, Section
from .pagefacts import ManagedPolicyRef

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{7,120}$")  # IAM policy names as AWS writes its managed ones
_ARN_TAIL = re.compile(r":policy/(?:service-role/)?([A-Za-z0-9+=,.@_-]{1,128})")
_MD_LINK = re.compile(r"^\[\s*([^\]]{1,200}?)\s*\]\(([^)\s]{1,500})\)$")  # a link the page put inside a code span
_WINDOW = 40  # characters either side of a name in which the managed-policy words must stand


def reference(section: Section, blocks: list[Block], pos: int, lex: Lexicon,
              finder: ContextFinder) -> ManagedPolicyRef | None:
    block = blocks[pos]
    name = _policy_name(block, lex, finder)
    if name is None:
        return None
    exceptions: list[str] = []
    if lex.says("managed_policy_except", block.text):
        for item in blocks[pos + 1:]:
            if item.kind != LIST_ITEM:
                break
            exceptions.append(item.text)
    return ManagedPolicyRef(name, block.text, exceptions, section, block.line)


def _policy_name(block: Block, lex: Lexicon, finder: ContextFinder) -> str | None:
    # (name, how it prints in the text): a link to the policy's ARN first, it names the policy for sure
    candidates: list[tuple[str, str]] = [(m.group(1), link.text) for link in block.links
                                         if (m := _ARN_TAIL.search(link.href))]
    for text in [*block.codes, *(link.text for link in block.links)]:
        word = text.strip().strip("`").strip()
        m = _MD_LINK.match(word)
        if m:
            tail = _ARN_TAIL.search(m.group(2))
            candidates.append((tail.group(1) if tail else m.group(1), word))
        else:
            candidates.append((word, word))
    for name, printed in candidates:
        if not _NAME.match(name) or finder.api_model.match(name) is not None:
            continue
        at = _word_at(block.text, printed)
        window = block.text[max(at - _WINDOW, 0): at + len(printed) + _WINDOW] if at >= 0 else ""
        if window and lex.says("managed_policy", window):
            return name
    return None


def _word_at(text: str, word: str) -> int:
    """Where `word` prints as a word of its own (`SageMaker`, not the middle of
    AmazonSageMakerGroundTruthExecution); -1 if nowhere."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return at
        at = text.find(word, end)  # names are letters and digits: one starting inside this one is no word
    return -1
