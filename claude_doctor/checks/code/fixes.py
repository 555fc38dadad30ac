"""``claude-doctor code --fix``: apply the mechanical fixes (CD202, CD203, CD214, CD219) as byte
edits of the original text, so formatting and comments stay as they were. A file is only written
when the edited text still parses."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from ...findings import Finding
from .checker import Options
from .runner import Unreadable, check_source, decode_source


def apply_edits(source: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    """``source`` with non-overlapping byte edits applied."""
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text.encode("utf-8") + source[end:]
    return source


def fix_file(path: Path, options: Options, wanted: Callable[[Finding], bool]) -> int:
    """Fix what can be fixed in one ``.py`` file in place; returns the number of findings fixed.
    Notebooks and files not in UTF-8 are left alone."""
    if path.suffix != ".py":
        return 0
    try:
        data = path.read_bytes()
        text = decode_source(data)
    except (OSError, Unreadable):
        return 0
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    if bom + text.encode("utf-8") != data:
        return 0
    source, fixed = fix_source(text.encode("utf-8"), options, wanted, str(path))
    if fixed:
        path.write_bytes(bom + source)
    return fixed


def fix_source(
    source: bytes, options: Options, wanted: Callable[[Finding], bool], path: str, rounds: int = 20
) -> tuple[bytes, int]:
    """Apply every wanted fix: per round, all findings whose edits do not overlap, re-checking in
    between because offsets move. Returns the new source and how many findings were fixed."""
    fixed = 0
    for _ in range(rounds):
        try:
            findings = check_source(source.decode("utf-8"), path, options)
        except Unreadable:
            break
        batch = _non_overlapping([f for f in findings if f.extra.get("edits") and wanted(f)])
        if not batch:
            break
        candidate = apply_edits(source, [edit for finding in batch for edit in finding.extra["edits"]])
        if not _parses(candidate):
            batch = batch[:1]
            candidate = apply_edits(source, list(batch[0].extra["edits"]))
            if not _parses(candidate):
                break
        source, fixed = candidate, fixed + len(batch)
    return source, fixed


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


def _parses(source: bytes) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True
