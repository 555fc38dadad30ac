"""Clients that other modules of the checked project hand out: ``from .llm import get_client``.

Before any file is checked, one pass over the files being checked records, per module, the
module-level names that are an SDK client (``client = AsyncAnthropic()``) or a function returning
one (``def get_client() -> AnthropicVertex``). Only files whose bytes mention ``anthropic`` are
parsed: a module that never imports the SDK cannot build a client. One level deep: a factory that
calls another module's factory is not followed.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InputError
from ...files import MAX_SOURCE_BYTES, read_regular, resolved_paths
from .resolve import Client, Coroutine, Factory, Function, Resolver, Value

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

#: A module that can build a client imports the SDK itself (the SDK's own modules import relatively).
_IMPORTS_SDK = re.compile(rb"^[ \t]*(?:from[ \t]+anthropic\b|import[ \t]+anthropic\b)", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    """``exports``: a module's file (resolved path) -> its client names and factories;
    ``files``: every ``.py`` file checked, so an import resolves to the module Python would load."""

    exports: dict[str, dict[str, Value]]
    files: frozenset[str]
    names: frozenset[str] = frozenset()  #: every exported name, to tell which files may use one

    def may_use(self, text: str) -> bool:
        """Whether a module's text names an exported client or factory (so it must be checked even
        when it never mentions ``anthropic``)."""
        return any(name in text for name in self.names)

    def lookup(self, importer: str, module: str | None, level: int, name: str) -> Value | None:
        """What ``from <level dots><module> import <name>`` in the file ``importer`` gives, if the
        module is one of the project's files and exports a client under that name."""
        if name not in self.names:
            return None
        for candidate in _candidates(Path(importer).parent, module, level):
            if candidate in self.files:
                return self.exports.get(candidate, {}).get(name)
        return None


def with_project(options, paths: list[Path], pool: Pool | None = None):
    """``options`` (a checker ``Options``) carrying the index of ``paths``; a ``pool`` of worker
    processes reads the files while this one resolves their paths."""
    return dataclasses.replace(options, project=build_project(paths, pool))


def build_project(paths: list[Path], pool: Pool | None = None) -> Project:
    python = [path for path in paths if path.suffix == ".py"]
    pending = pool.map_async(_module_exports, python) if pool is not None else None
    files = resolved_paths(python)
    per_file = pending.get() if pending is not None else map(_module_exports, python)
    exports = {real: found for real, found in zip(files, per_file) if found}
    names = frozenset(name for found in exports.values() for name in found)
    return Project(exports, frozenset(files), names)


def _module_exports(path: Path) -> dict[str, Value]:
    """The module-level names of one file that are clients or client factories."""
    try:
        data = read_regular(path, MAX_SOURCE_BYTES)  # within the limit the file's own check keeps
    except InputError:
        return {}
    if b"anthropic" not in data or not _IMPORTS_SDK.search(data):
        return {}
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}  # the check of the file itself reports why it cannot be read
    # Class bodies cannot bind a module-level name; skipping them halves the work.
    tree.body = [stmt for stmt in tree.body if not isinstance(stmt, ast.ClassDef)]
    resolver = Resolver(tree)
    found: dict[str, Value] = {}
    for name in resolver.module.bindings:
        exported = _exported(resolver, resolver.lookup(name, resolver.module))
        if exported is not None:
            found[name] = exported
    return found


def _exported(resolver: Resolver, value: Value | None) -> Value | None:
    """A client as another module sees it (its timeout and origin belong to this module), or a
    factory of one."""
    if isinstance(value, Client):
        return _foreign(value)
    if not isinstance(value, Function):
        return None
    returned = resolver.return_value(value.node)
    if isinstance(returned, Client):
        return Factory(_foreign(returned))
    if isinstance(returned, Coroutine) and isinstance(returned.inner, Client):
        return Factory(Coroutine(_foreign(returned.inner), None))
    return None


def _foreign(client: Client) -> Client:
    return Client(client.is_async, client.class_name, None, None, timeout_known=False)


def _candidates(folder: Path, module: str | None, level: int) -> list[str]:
    """The files ``from <level dots><module> import …`` may load, nearest first."""
    parts = module.split(".") if module else []
    if level:
        base = folder
        for _ in range(level - 1):
            base = base.parent
        bases = [base]
    else:
        bases = [folder, *folder.parents]
    found = []
    for base in bases:
        target = base.joinpath(*parts)
        if parts:
            found.append(f"{target}.py")
        found.append(str(target / "__init__.py"))
    return found
