"""Jupyter notebooks as one Python module: the code cells, IPython syntax neutralised, joined so
that names defined in one cell resolve in the next, with a map back to (cell, line)."""

from __future__ import annotations

import ast
import json
import re
from bisect import bisect_right
from dataclasses import dataclass

#: Cell magics whose body is still Python; any other ``%%magic`` cell (bash, html, sql…) is skipped.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_ASSIGNED_MAGIC = re.compile(r"^(\s*[\w.\[\], ]+=\s*)[!%]")
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
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise NotebookError(f"not a Jupyter notebook ({type(exc).__name__}: {exc})") from None
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
        text = python_of_cell(_cell_text(cell.get("source", "")))
        if text is None:
            continue
        try:
            compile(text, f"cell {number}", "exec", _PARSE_FLAGS)
        except (SyntaxError, ValueError) as exc:
            skipped.append(f"cell {number}: not valid Python ({getattr(exc, 'msg', exc)})")
            continue
        text = text if text.endswith("\n") else text + "\n"
        cells.append(number)
        starts.append(line)
        parts.append(text)
        line += text.count("\n")
    source = "".join(parts)
    tree = compile(source, "<notebook>", "exec", _PARSE_FLAGS)
    return Notebook(source, cells, starts, skipped), tree


def _cell_text(source: object) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def python_of_cell(text: str) -> str | None:
    """The cell with IPython-only lines replaced by ``pass`` (same line count, same indentation),
    or ``None`` for a cell magic whose body is not Python."""
    lines = text.split("\n")
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if name not in PYTHON_CELL_MAGICS:
            return None
    out: list[str] = []
    continued = False
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if continued:
            out.append("")
        elif _is_ipython_line(stripped):
            out.append(indent + "pass")
        elif _ASSIGNED_MAGIC.match(line):
            out.append(_ASSIGNED_MAGIC.match(line).group(1) + "None")
        else:
            out.append(line)
            continue
        continued = line.rstrip().endswith("\\")
    return "\n".join(out)


def _is_ipython_line(stripped: str) -> bool:
    """A line magic (``%time x``), shell escape (``!pip install``) or help query (``obj?``)."""
    if stripped.startswith("!="):
        return False
    return stripped.startswith(("%", "!", "?")) or (stripped.endswith("?") and not stripped.startswith("#"))
