"""Which files ``claude-doctor code`` reads: the project's Python files and notebooks
(``files.project_files``), minus the config's ``exclude``."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from ...files import WalkNotes, named_path_problem, project_files, resolved_paths

SUFFIXES = (".py", ".ipynb")


def collect_files(
    targets: list[Path], exclude: list[str], root: Path | None, notes: WalkNotes | None = None
) -> tuple[list[Path], list[str]]:
    """The files to check under ``targets``, and one error line per target that cannot be checked
    (missing, a pipe, a folder that cannot be listed). A file named explicitly is always checked;
    files found by walking a folder honour ``exclude`` and leave out virtualenvs and pipes (added to
    ``notes``, for the note that says so)."""
    notes = notes if notes is not None else WalkNotes()
    files: list[Path] = []
    errors: list[str] = []
    seen: set[str] = set()
    for target in targets:
        problem = named_path_problem(target)
        if problem:
            errors.append(problem)
            continue
        if target.is_dir():
            found = [f for f in project_files(target, SUFFIXES, notes) if not _excluded(f, exclude, root)]
        else:
            found = [target]
        for path, key in zip(found, resolved_paths(found)):
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, errors + notes.unreadable


def _excluded(path: Path, patterns: list[str], root: Path | None) -> bool:
    """``exclude`` globs match the path relative to the config's folder, or any one path component."""
    if not patterns:
        return False
    try:
        relative = path.resolve().relative_to(root).as_posix() if root else path.as_posix()
    except (ValueError, OSError, RuntimeError):  # outside root, or a symlink loop (read later, and named)
        relative = path.as_posix()
    parts = Path(relative).parts
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False
