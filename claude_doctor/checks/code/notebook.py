"""Jupyter notebooks as one Python module: the code cells, IPython syntax neutralised, joined so
that names defined in one cell resolve in the next, with a map back to (cell, line)."""

from __future__ import annotations

import ast
import json
import re
import tokenize
from bisect import bisect_right
from dataclasses import dataclass

from .syntax import logical_lines, newer_syntax

#: Cell magics whose body is still Python; any other ``%%magic`` cell (bash, html, sql…) is skipped.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
#: A character IPython reads as an escape when it starts a logical line: ``%magic``, ``!shell``,
#: ``?help``, and the autocall forms ``,f a b``, ``;f a b``, ``/f a``.
_LINE_ESCAPES = frozenset("%!?,;/")
#: What IPython accepts before a trailing ``?``/``??`` (its ``_help_end_re``): ``obj``, ``%magic``, ``a.b[0]``.
_HELP_TARGET = re.compile(r"%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*\?\??$")
_LAYOUT = frozenset({tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER})
#: IPython gives up after this many constructs in one cell; so does this.
_TRANSFORM_LIMIT = 500
_PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class NotebookError(ValueError):
    """The file is not a readable notebook."""


@dataclass
class Notebook:
    """The joined Python source of a notebook's code cells. ``starts[i]`` is the first line (1-based)
    of ``cells[i]`` in ``source``; ``skipped`` lists cells left out, with why."""

    source: str
    cells: list[int]
    starts: list[int]
    skipped: list[str]

    def locate(self, line: int) -> tuple[int, int]:
        """(cell number, line within the cell) for a line of :attr:`source`."""
        index = bisect_right(self.starts, line) - 1
        return self.cells[index], line - self.starts[index] + 1


def parse_notebook(data: bytes) -> tuple[Notebook, ast.Module]:
    """Read an ``.ipynb`` and parse its code cells; cells that are not Python are skipped."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        raw_cells = document["cells"]
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON, not UTF-8, a 5,000-digit number
        raise NotebookError(f"not a Jupyter notebook ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise NotebookError("not a Jupyter notebook (JSON nested too deeply)") from None
    if not isinstance(raw_cells, list):
        raise NotebookError(f"not a Jupyter notebook (cells is {type(raw_cells).__name__}, not a list)")
    parts: list[str] = []
    cells: list[int] = []
    starts: list[int] = []
    skipped: list[str] = []
    line = 1
    for number, cell in enumerate(raw_cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = _cell_text(cell.get("source", ""))
        problem = _syntax_error(text)
        if problem is not None:  # IPython syntax is never valid Python: only then look for it
            python = python_of_cell(text)
            if python is None:
                skipped.append(f"cell {number}: a %%{cell_magic(text)} cell, not Python: not checked")
                continue
            text, problem = python, _syntax_error(python)
        if problem is not None:
            newer = newer_syntax(text, _PARSE_FLAGS)
            reason = newer or f"not valid Python ({getattr(problem, 'msg', problem)})"
            skipped.append(f"cell {number}: {reason}: {'skipped' if newer else 'not checked'}")
            continue
        text = text if text.endswith("\n") else text + "\n"
        cells.append(number)
        starts.append(line)
        parts.append(text)
        line += text.count("\n")
    source = "".join(parts)
    tree = compile(source, "<notebook>", "exec", _PARSE_FLAGS)
    return Notebook(source, cells, starts, skipped), tree


def _syntax_error(text: str) -> SyntaxError | ValueError | None:
    try:
        compile(text, "<cell>", "exec", _PARSE_FLAGS)
    except (SyntaxError, ValueError) as exc:
        return exc
    return None


def _cell_text(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def python_of_cell(text: str) -> str | None:
    """The cell with IPython syntax replaced by plain Python of the same line count (``pass`` for a
    magic, shell escape or help query; ``None`` for the value of ``x = %magic`` or ``x = !cmd``), or
    ``None`` for a cell magic whose body is not Python. Like IPython's own input transformer, the
    syntax is found on tokens, one occurrence at a time, so a ``?``, ``!`` or ``%`` inside a string
    or a comment is never taken for it."""
    if cell_magic(text) not in (None, *PYTHON_CELL_MAGICS):
        return None
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    for _ in range(_TRANSFORM_LIMIT):
        found = _first_ipython_syntax(lines)
        if found is None:
            break
        first, last, replacement = found
        ending = "\n" if lines[last].endswith("\n") else ""
        lines[first : last + 1] = [replacement + ending] + ["\n"] * (last - first)
    return "".join(lines)


def cell_magic(text: str) -> str | None:
    """The name of the cell magic a cell starts with (``bash`` for ``%%bash -c x``), if any."""
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if not first.startswith("%%"):
        return None
    return first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""


def _first_ipython_syntax(lines: list[str]) -> tuple[int, int, str] | None:
    """The first IPython construct in ``lines``: (first line, last line, 0-based) and the Python line
    that stands in for it. IPython's order: a help query ``obj?`` before a ``%magic``/``!cmd`` at the
    start of a logical line, before ``x = %magic`` / ``x = !cmd``."""
    for tokens in logical_lines(lines):
        head = _first_significant(tokens)
        if head is None:
            continue
        row, col = head.start[0] - 1, head.start[1]
        indent = lines[row][:col]
        if len(tokens) > 2 and tokens[-2].string == "?":
            last = tokens[-2].start[0] - 1
            if _HELP_TARGET.search("".join(lines[row : last + 1])[col:]):
                return row, last, indent + "pass"
        if head.string in _LINE_ESCAPES:
            return row, _end_of_continued_line(lines, row), indent + "pass"
        value = _assigned_magic(tokens)
        if value is not None:
            row = value.start[0] - 1
            return row, _end_of_continued_line(lines, row), lines[row][: value.start[1]] + "None"
    return None


def _first_significant(tokens: list[tokenize.TokenInfo]) -> tokenize.TokenInfo | None:
    for token in tokens:
        if token.type not in _LAYOUT and not token.string.isspace():
            return token
    return None


def _assigned_magic(tokens: list[tokenize.TokenInfo]) -> tokenize.TokenInfo | None:
    """The ``%``/``!`` token of ``x = %magic`` or ``x = !cmd``: right after the first ``=`` outside
    brackets (a ``%`` must be followed by a name)."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.string == "=" and depth == 0:
            rest = [t for t in tokens[index + 1 :] if not t.string.isspace() or t.type == tokenize.NEWLINE]
            if token.line.strip().startswith("=") or len(rest) < 2:
                return None
            if rest[0].string == "!" or (rest[0].string == "%" and rest[1].type == tokenize.NAME):
                return rest[0]
            return None
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}" and depth > 0:
            depth -= 1
    return None


def _end_of_continued_line(lines: list[str], row: int) -> int:
    """The last physical line of a line continued with backslashes (IPython reads them as one)."""
    while row + 1 < len(lines) and lines[row].rstrip("\r\n").endswith("\\"):
        row += 1
    return row
