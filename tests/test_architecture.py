"""The package's layering, read from its source: modules import downwards only.

Every ``import`` and ``from … import`` is read with ``ast``, the ones inside functions included (the
commands import lazily, to keep start-up fast, and a lazy import is still a dependency). Two rules
keep the code a newcomer can follow: no two modules need each other (no import cycle), and
``claude_doctor/commands/`` is the top layer: only ``cli.py``, which loads a command by name, reaches
into it, so a command never borrows another command's logic and shared logic lives below them."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import claude_doctor

PACKAGE = Path(claude_doctor.__file__).parent
ROOT = PACKAGE.name
COMMANDS = f"{ROOT}.commands"


def module_name(path: Path) -> str:
    """``claude_doctor/report/human.py`` → ``claude_doctor.report.human``; a package's ``__init__.py``
    is the package itself."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, module: str) -> Iterator[str]:
    """Every module name ``path`` imports at run time, at any depth, absolute or relative (an import
    under ``if TYPE_CHECKING:`` is for the type checker only and never runs). ``from . import x`` names
    both the package and ``x``; the graph keeps whichever is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports. A package is its ``__init__.py``, and that is its front
    door: it may hand out its own modules (``recording.open_source``, ``claude_doctor.recording_client``)
    while they import what it defines, so an edge from a package to a module inside it is not a
    dependency. Every other edge is, lazy imports included."""
    paths = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        named = {name for name in imported_names(path, module) if name in paths}
        graph[module] = {name for name in named if not name.startswith(f"{module}.") and name != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None (an iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    graph = import_graph()
    # the reader sees what this is about (or the test would pass on an empty graph): every module, and
    # function-level imports (``options`` loads the key redaction only when a text may hold a key), but
    # not a type-only one (``resolve`` names ``project`` for its annotations only)
    assert len(graph) > 50 and f"{ROOT}.keys" in graph[f"{ROOT}.options"]
    assert f"{ROOT}.checks.code.project" not in graph[f"{ROOT}.checks.code.resolve"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_only_the_cli_imports_from_the_commands() -> None:
    """Commands sit on top: one command reaching into another (or a lower module into a command)
    means logic that belongs below them both."""
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in import_graph().items()
        for name in names
        if (name == COMMANDS or name.startswith(f"{COMMANDS}.")) and module != f"{ROOT}.cli"
    )
    assert not offenders, "\n".join(offenders)
