"""Which files can hold a CD2xx finding, told from their text before it is parsed.

Every CD2xx rule needs a name that the module binds with an ``import`` statement spelling a module
out: the SDK (``anthropic``, or a client or factory that another checked module exports), ``asyncio``,
or a web framework's response class. A file whose text holds no such statement cannot hold a finding,
whatever it parses to, so it is not parsed at all: in a large tree that is most files, and parsing is
most of the cost. Nor is a syntax error in such a file reported: there is nothing to check in it.
When rules are selected (``--select``), only their needs count, so a file none of them can fire in is
not parsed either. Each check in ``units/`` states its ``need``, which follows what it and
:mod:`.resolve` require before it reports; ``tests/test_code_prefilter.py`` checks that filtering never
changes the findings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .checker import CHECKS
from .context import Need

if TYPE_CHECKING:
    from .project import Project

#: The end of the text before a module name in an import of it: ``from anthropic``, or ``import`` then
#: only names, dots, commas and ``as`` (``import os, anthropic.types as t``).
_IMPORT_BEFORE = re.compile(r"(?:\bfrom[ \t\f]+|\bimport\b[\w. \t\f,]*)\Z")
_CONTINUATION = re.compile(r"\\(?:\r\n|\r|\n)")


#: Each rule's need: its check's (``Check.need``, beside the check in ``units/``).
NEEDS: dict[str, Need] = {rule.code: check.need for check in CHECKS for rule in check.rules}
#: Each need once, for the question "can any rule fire?" (most rules need just a client).
_DISTINCT_NEEDS = tuple(dict.fromkeys(NEEDS.values()))


def may_hold_finding(text: str, project: Project | None = None, codes: frozenset[str] | None = None) -> bool:
    """Whether any CD2xx rule (of ``codes``, the selected ones; ``None``: all) can fire in a module (or a
    notebook's joined cells) with this text."""
    found = ModuleText(text, project)
    needs = _DISTINCT_NEEDS if codes is None else dict.fromkeys(n for c, n in NEEDS.items() if c in codes)
    return any(need.met(found) for need in needs)


def possible_rules(text: str, project: Project | None = None) -> frozenset[str]:
    """The codes of the rules that can fire in a module with this text."""
    found = ModuleText(text, project)
    return frozenset(code for code, need in NEEDS.items() if need.met(found))


class ModuleText:
    """A module's text as Python reads its names (NFKC: ``ａsyncio`` is ``asyncio``), with what has
    been looked up in it so far (several rules ask the same)."""

    def __init__(self, text: str, project: Project | None) -> None:
        self.text = text if text.isascii() else unicodedata.normalize("NFKC", text)
        self.project = project
        self._imports: dict[str, bool] = {}
        self._names: dict[str, bool] = {}
        self._client: bool | None = None

    def has_client(self) -> bool:
        if self._client is None:
            self._client = self.imports("anthropic") or (self.project is not None and self.project.may_use(self.text))
        return self._client

    def imports(self, module: str) -> bool:
        if module not in self._imports:
            self._imports[module] = imports(self.text, module)
        return self._imports[module]

    def names(self, name: str) -> bool:
        if name not in self._names:
            self._names[name] = names(self.text, name)
        return self._names[name]


def imports(text: str, module: str) -> bool:
    """Whether ``text`` may hold ``import module``/``from module …`` (or of a submodule, or among other
    names): the whole word right after ``from``, or after ``import`` and only names, dots, commas and
    ``as``, on one logical line. Comments and strings count too: a superset is safe."""
    return any(_IMPORT_BEFORE.search(_line_before(text, start)) for start in _word_starts(text, module))


def names(text: str, name: str) -> bool:
    """Whether ``text`` may read ``name`` as an attribute (``asyncio.run``) or import it (``from asyncio
    import get_event_loop, run``): the whole word, after ``.``, ``,``, ``(`` or ``import`` and only
    blanks, line breaks and comments. A superset is safe."""
    return any(_after_dot_or_import(text, start) for start in _word_starts(text, name))


def _after_dot_or_import(text: str, index: int) -> bool:
    while index > 0:
        char = text[index - 1]
        if char in "\r\n" and "#" in _physical_line_before(text, index - 1):
            return True  # the line before ends in a comment (or holds a "#" in a string): may be
        if char not in " \t\f\r\n\\":
            return char in ".,(" or (text.endswith("import", 0, index) and not _is_name_char(text, index - 7))
        index -= 1
    return False


def _physical_line_before(text: str, end: int) -> str:
    start = text.rfind("\n", 0, end)
    start = max(start, text.rfind("\r", start + 1, end))
    return text[start + 1 : end]


def _is_name_char(text: str, index: int) -> bool:
    return index >= 0 and (text[index].isalnum() or text[index] == "_")


def _word_starts(text: str, word: str) -> Iterator[int]:
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if _whole_word(text, start, end):
            yield start
        start = text.find(word, end)


def _whole_word(text: str, start: int, end: int) -> bool:
    return not (_is_name_char(text, start - 1) or (end < len(text) and _is_name_char(text, end)))


def _line_before(text: str, index: int) -> str:
    """The text from the start of ``index``'s logical line up to ``index``: physical lines that end in
    a backslash continue onto the next, so they are joined."""
    start = index
    while True:
        newline = text.rfind("\n", 0, start)
        newline = max(newline, text.rfind("\r", newline + 1, start))  # a lone CR ends a line too
        if newline < 0:
            start = 0
            break
        end = newline - 1 if text[newline] == "\n" and text[newline - 1 : newline] == "\r" else newline
        if text[end - 1 : end] != "\\":
            start = newline + 1
            break
        start = end - 1
    return _CONTINUATION.sub(" ", text[start:index])
