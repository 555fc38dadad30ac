"""``claude-doctor code --fix``: apply the mechanical fixes (CD202, CD203, CD214, CD219) as byte
edits of the original text, so formatting and comments stay as they were, in ``.py`` files and in
notebook cells. A file is only written when the edited text still parses, and every finding of those
rules that is left as it was is named, with why: a fix is never skipped silently."""

from __future__ import annotations

import ast
import copy
import itertools
import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...findings import Finding
from .checker import Options
from .notebook import Notebook, NotebookError, parse_notebook, python_of_cell
from .runner import Unreadable, check_notebook, check_source, decode_source

#: The rules whose findings carry edits (when the code's shape allows one).
FIXABLE = frozenset({"CD202", "CD203", "CD214", "CD219"})
#: How often a file is re-checked after a round of edits (offsets move, one fix can uncover another).
ROUNDS = 20

Edit = tuple[int, int, str]


@dataclass
class FixResult:
    """How many findings were fixed in one file, and one line per fixable finding left as it was."""

    fixed: int = 0
    not_fixed: list[str] = field(default_factory=list)


def apply_edits(source: bytes, edits: list[Edit]) -> bytes:
    """``source`` with non-overlapping byte edits applied."""
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text.encode("utf-8") + source[end:]
    return source


def fix_file(path: Path, options: Options, wanted: Callable[[Finding], bool]) -> FixResult:
    """Fix what can be fixed in one ``.py`` file or notebook, in place. A file that cannot be read or
    parsed is left to the check that follows, which reports it."""
    try:
        data = path.read_bytes()
        if path.suffix == ".ipynb":
            return _fix_notebook(path, data, options, wanted)
        text = decode_source(data)
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        if bom + text.encode("utf-8") != data:
            findings = check_source(text, str(path), options)
            return FixResult(0, _not_fixed(findings, wanted, "the file is not UTF-8: fix it by hand"))
        source, fixed, left = fix_source(text.encode("utf-8"), options, wanted, str(path))
    except (OSError, Unreadable):
        return FixResult()
    if fixed:
        path.write_bytes(bom + source)
    return FixResult(fixed, _not_fixed(left, wanted))


def fix_source(
    source: bytes, options: Options, wanted: Callable[[Finding], bool], path: str
) -> tuple[bytes, int, list[Finding]]:
    """Apply every wanted fix to a module's text. Returns the new text, how many findings were fixed
    and the findings left in it."""

    def edited(text: bytes, edits: list[Edit]) -> bytes | str:
        candidate = apply_edits(text, edits)
        return candidate if _parses(candidate) else "the edited code would not parse"

    return _fix_rounds(source, lambda text: check_source(text.decode("utf-8"), path, options), edited, wanted)


def _fix_rounds(state, findings_of, edited, wanted: Callable[[Finding], bool]):
    """Rounds of: check, take every wanted finding whose edits overlap no other's, apply them at once
    (or, when the result does not parse, the first that does alone). ``edited(state, edits)`` is the
    new state, or why it was refused. Returns (state, fixed count, findings left)."""
    fixed = 0
    refused: dict[tuple, str] = {}
    findings = findings_of(state)
    for _ in range(ROUNDS):
        candidates = [f for f in findings if f.extra.get("edits") and wanted(f) and _key(f) not in refused]
        batch = _non_overlapping(candidates)
        if not batch:
            break
        result = edited(state, [edit for finding in batch for edit in finding.extra["edits"]])
        if isinstance(result, str):
            result, batch = _first_that_applies(state, batch, edited, refused)
        if result is None:
            continue  # each of the batch is refused now; findings it overlapped get their turn
        state, fixed = result, fixed + len(batch)
        findings = findings_of(state)
    for finding in findings:
        if _key(finding) in refused:
            finding.extra["refused"] = refused[_key(finding)]
    return state, fixed, findings


def _first_that_applies(state, batch: list[Finding], edited, refused: dict[tuple, str]):
    """The state after the first finding of ``batch`` whose edits apply alone; the others tried
    before it are ``refused`` (with why) so later rounds do not try them again."""
    for finding in batch:
        result = edited(state, list(finding.extra["edits"]))
        if not isinstance(result, str):
            return result, [finding]
        refused[_key(finding)] = result
    return None, []


def _key(finding: Finding) -> tuple:
    return finding.code, finding.cell, finding.line, finding.column, finding.message


def _not_fixed(findings: list[Finding], wanted: Callable[[Finding], bool], why: str | None = None) -> list[str]:
    """One line per finding of a fixable rule still there after fixing, saying why."""
    lines = []
    for finding in findings:
        if finding.code not in FIXABLE or not wanted(finding):
            continue
        reason = why or finding.extra.get("refused")
        if reason is None:
            reason = (
                "its edit was not applied"
                if finding.extra.get("edits")
                else "no safe automatic edit for this form: change it by hand"
            )
        where = f"cell {finding.cell}:{finding.line}" if finding.cell else f"{finding.line}"
        lines.append(f"{finding.path}:{where}:{finding.column}: {finding.code} not fixed: {reason}")
    return lines


def _non_overlapping(findings: list[Finding]) -> list[Finding]:
    taken: list[tuple[int, int]] = []
    batch = []
    for finding in findings:
        spans = [(start, end) for start, end, _ in finding.extra["edits"]]
        if any((s < e2 and s2 < e) or s == s2 for s, e in spans for s2, e2 in taken):
            continue
        taken.extend(spans)
        batch.append(finding)
    return batch


def _parses(source: bytes | str, flags: int = 0) -> bool:
    try:
        compile(source, "<fixed>", "exec", ast.PyCF_ONLY_AST | flags)
    except (SyntaxError, ValueError):
        return False
    return True


# -- notebooks -------------------------------------------------------------------------------------


@dataclass
class _Cells:
    """A notebook being fixed: its JSON document (cells edited in place) and how to write it back."""

    document: dict
    layout: dict

    def text(self, index: int) -> str:
        source = self.document["cells"][index].get("source", "")
        return "".join(source) if isinstance(source, list) else str(source)

    def set_text(self, index: int, text: str) -> None:
        cell = self.document["cells"][index]
        cell["source"] = re.findall(r"[^\n]*\n|[^\n]+$", text) if isinstance(cell.get("source"), list) else text

    def dump(self) -> bytes:
        return _dump(self.document, self.layout).encode("utf-8")


def _fix_notebook(path: Path, data: bytes, options: Options, wanted: Callable[[Finding], bool]) -> FixResult:
    """Fix a notebook's code cells, writing the JSON back in its own layout (indent, key order,
    escaping, final newline); a notebook whose layout cannot be reproduced byte for byte is not
    rewritten, and says so."""
    shown = str(path)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return FixResult()
    layout = _layout_of(document, data)
    cells = _Cells(document, layout or {})

    def findings_of(cells: _Cells) -> list[Finding]:
        return check_notebook(cells.dump(), shown, options)[0]

    if layout is None:
        why = "the notebook's JSON layout could not be kept, so it is not rewritten: fix it by hand"
        return FixResult(0, _not_fixed(findings_of(cells), wanted, why))
    cells, fixed, left = _fix_rounds(cells, findings_of, _edit_cells, wanted)
    if fixed:
        path.write_bytes(cells.dump())
    return FixResult(fixed, _not_fixed(left, wanted))


def _edit_cells(cells: _Cells, edits: list[Edit]) -> _Cells | str:
    """The notebook with ``edits`` (offsets into its joined source) applied to its cells' own text,
    or why not: an edit may only touch lines that are plain Python in the cell as written."""
    try:
        notebook, _ = parse_notebook(cells.dump())
    except (NotebookError, SyntaxError, ValueError):
        return "the notebook could not be parsed again"
    source = notebook.source.encode("utf-8")
    starts = _line_starts(source)
    per_cell: dict[int, list[Edit]] = {}
    for start, end, text in edits:
        located = _cell_span(notebook, cells, source, starts, start, end)
        if isinstance(located, str):
            return located
        index, cell_start, cell_end = located
        per_cell.setdefault(index, []).append((cell_start, cell_end, text))
    fixed = _Cells(copy.deepcopy(cells.document), cells.layout)
    for index, cell_edits in per_cell.items():
        text = apply_edits(fixed.text(index).encode("utf-8"), cell_edits).decode("utf-8")
        python = python_of_cell(text)
        if python is None or not _parses_cell(python):
            return f"cell {index + 1} would not parse after the edit"
        fixed.set_text(index, text)
    return fixed


def _cell_span(notebook: Notebook, cells: _Cells, source: bytes, starts: list[int], start: int, end: int):
    """(cell index, start, end) in the cell's own UTF-8 text for a span of the joined source, or why
    there is none."""
    first_line = bisect_right(starts, start)
    last_line = bisect_right(starts, max(start, end - 1))
    number, first_in_cell = notebook.locate(first_line)
    if notebook.locate(last_line)[0] != number:
        return "the edit spans two cells"
    own = cells.text(number - 1).encode("utf-8").split(b"\n")
    joined = source.split(b"\n")
    for line in range(first_line, last_line + 1):
        in_cell = line - first_line + first_in_cell
        if in_cell > len(own) or own[in_cell - 1] != joined[line - 1]:
            return "the line has IPython syntax (a magic, shell escape or help query)"

    def own_offset(line: int, offset: int) -> int:
        in_cell = line - first_line + first_in_cell
        return sum(len(text) + 1 for text in own[: in_cell - 1]) + offset - starts[line - 1]

    length = len(b"\n".join(own))
    return number - 1, own_offset(first_line, start), min(own_offset(last_line, end), length)


def _line_starts(source: bytes) -> list[int]:
    return [0] + [match.end() for match in re.finditer(rb"\n", source)]


def _parses_cell(text: str) -> bool:
    return _parses(text, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _layout_of(document: dict, data: bytes) -> dict | None:
    """The ``json.dumps`` arguments (and final newline) that write ``document`` back as ``data``
    exactly; ``None`` when none does."""
    for layout in _LAYOUTS:
        if _dump(document, layout).encode("utf-8") == data:
            return layout
    return None


#: The ways notebooks are written, nbformat's own first (indent 1, sorted keys, UTF-8, final newline).
_LAYOUTS = [
    {"indent": indent, "sort_keys": sort_keys, "ensure_ascii": ascii_only, "newline": newline}
    for indent, sort_keys, ascii_only, newline in itertools.product(
        (1, 2, 4, None), (True, False), (False, True), ("\n", "")
    )
]


def _dump(document: dict, layout: dict) -> str:
    options = {key: value for key, value in layout.items() if key != "newline"}
    return json.dumps(document, **options) + layout.get("newline", "")
