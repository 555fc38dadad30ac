"""Checking files: read, decode, parse (scripts and notebooks), run the checker, apply ``# noqa``,
and spread many files over the machine's cores. Never imports the code it checks."""

from __future__ import annotations

import ast
import importlib.metadata
import io
import multiprocessing
import os
import re
import tokenize
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...errors import InputError
from ...files import MAX_NOTEBOOK_BYTES, MAX_SOURCE_BYTES, NotRegularFile, TooLarge, read_regular
from ...findings import Finding
from ...noqa import silences
from .checker import Checker, Hit, Options
from .notebook import NotebookError, parse_notebook
from .prefilter import may_hold_finding
from .project import with_project
from .syntax import newer_syntax

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 48


class Unreadable(Exception):
    """A file that cannot be checked; the message is the one-line reason."""


class NewerSyntax(Unreadable):
    """Valid code for a newer Python than this one: skipped with a warning, not an input error."""


@dataclass
class FileResult:
    """``warnings`` name what was not checked (a notebook cell, the whole file when ``skipped``)."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    lines: int = 0
    skipped: bool = False


def sdk_major() -> int | None:
    """The major version of the ``anthropic`` installed for this interpreter, read from its metadata
    (the SDK itself takes over a second to import); ``None`` when it cannot be told."""
    try:
        version = importlib.metadata.version("anthropic")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    match = re.match(r"\s*(\d+)\.", version or "")
    return int(match.group(1)) if match else None


def decode_source(data: bytes) -> str:
    """Python source text: UTF-8 (BOM allowed) or the encoding its PEP 263 cookie declares."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    not_utf8 = Unreadable(f"not UTF-8 text (byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start})")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        raise not_utf8 from None
    if encoding.replace("-", "_").lower() in ("utf_8", "utf_8_sig"):
        raise not_utf8 from None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise Unreadable(f"cannot decode as {encoding} ({exc})") from None


def parse_source(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        newer = newer_syntax(text)
        if newer:
            raise NewerSyntax(f"{newer}: skipped") from None
        raise Unreadable(_syntax_problem(text, exc)) from None
    except ValueError as exc:
        raise Unreadable(f"not Python source ({exc})") from None
    except (RecursionError, MemoryError):
        raise Unreadable("too deeply nested to parse") from None


def _syntax_problem(text: str, exc: SyntaxError) -> str:
    """The one-line reason; a NUL byte makes the parser give up before it counts lines, so it is
    located here."""
    if exc.lineno is not None:
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    if "\0" in text:
        line = text.count("\n", 0, text.index("\0")) + 1
        return f"not Python source: a NUL byte on line {line}"
    return f"not Python source ({exc.msg})"


def check_source(text: str, path: str, options: Options) -> list[Finding]:
    """Findings for one Python module's text (``# noqa`` applied; edits in ``extra["edits"]``)."""
    if not may_hold_finding(text, options.project, options.rules):
        return []  # no rule can fire, whatever the text parses to (prefilter.py): it is not parsed
    tree = parse_source(text)
    source = text.encode("utf-8")
    hits = Checker(tree, source, options, path).run()
    lines = source.split(b"\n")
    return [_finding(hit, path, lines) for hit in hits if not _silenced(hit, lines)]


def check_notebook(data: bytes, path: str, options: Options) -> tuple[list[Finding], list[str]]:
    """Findings for a notebook's code cells, each with its cell number and line in the cell (and
    any ``extra["edits"]`` as offsets into the joined source, :attr:`Notebook.source`)."""
    try:
        notebook, tree = parse_notebook(data)
    except NotebookError as exc:
        raise Unreadable(str(exc)) from None
    notes = [f"{path}: {reason}" for reason in notebook.skipped]
    if not may_hold_finding(notebook.source, options.project, options.rules):
        return [], notes
    source = notebook.source.encode("utf-8")
    hits = Checker(tree, source, replace(options, notebook=True), path).run()
    lines = source.split(b"\n")
    findings = []
    for hit in hits:
        if _silenced(hit, lines):
            continue
        cell, line = notebook.locate(hit.line)
        finding = _finding(hit, path, lines)
        findings.append(finding.at(cell=cell, line=line))
    return findings, notes


def _silenced(hit: Hit, lines: list[bytes]) -> bool:
    text = lines[hit.line - 1].decode("utf-8", "replace") if hit.line <= len(lines) else ""
    return silences(text, hit.rule.code, hit.rule.name)


def _finding(hit: Hit, path: str, lines: list[bytes]) -> Finding:
    line = lines[hit.line - 1] if hit.line <= len(lines) else b""
    column = len(line[: hit.col].decode("utf-8", "replace")) + 1
    return Finding(
        hit.rule,
        hit.message,
        path=path,
        line=hit.line,
        column=column,
        fix=hit.fix,
        extra={"edits": hit.edits} if hit.edits else {},
    )


def check_file(path: Path, options: Options) -> FileResult:
    """One file, as a result that crosses process boundaries."""
    shown = str(path)
    try:
        data = read_regular(path, MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_SOURCE_BYTES)
    except (NotRegularFile, TooLarge) as exc:  # a pipe found in a folder, generated code: left out, said
        return FileResult(shown, warnings=[str(exc)], skipped=True)
    except InputError as exc:
        return FileResult(shown, error=str(exc))
    try:
        if path.suffix == ".ipynb":
            findings, notes = check_notebook(data, shown, options)
            return FileResult(shown, findings, warnings=notes, lines=data.count(b"\n") + 1)
        text = decode_source(data)
        return FileResult(shown, check_source(text, shown, options), lines=text.count("\n") + 1)
    except NewerSyntax as exc:
        return FileResult(shown, warnings=[f"{shown}: {exc}"], skipped=True)
    except Unreadable as exc:
        return FileResult(shown, error=f"{shown}: {exc}")
    except RecursionError:
        return FileResult(shown, error=f"{shown}: too deeply nested to check")
    except Exception as exc:  # one file must not end the run; a bug report needs the file and the error
        return FileResult(shown, error=f"{shown}: internal error in claude-doctor ({type(exc).__name__}: {exc})")


def check_files(paths: list[Path], options: Options, jobs: int | None = None) -> list[FileResult]:
    """Every file's result, in order; many files are checked by one process per core."""
    jobs = jobs or os.cpu_count() or 1
    if jobs < 2 or len(paths) < PARALLEL_MIN_FILES or "fork" not in multiprocessing.get_all_start_methods():
        options = with_project(options, paths)  # clients other checked modules hand out (project.py)
        return [check_file(path, options) for path in paths]
    chunks = [paths[i::jobs] for i in range(jobs)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        options = with_project(options, paths, pool)  # the workers read the files for it too
        parts = pool.starmap(_check_chunk, [(chunk, options) for chunk in chunks])
    by_path = {result.path: result for part in parts for result in part}
    return [by_path[str(path)] for path in paths]


def _check_chunk(paths: list[Path], options: Options) -> list[FileResult]:
    return [check_file(path, options) for path in paths]
