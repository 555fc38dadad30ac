"""Which files ``claude-doctor code`` reads: the project's Python files and notebooks
(``files.project_files``), minus the config's ``exclude``."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from ...files import project_files, resolved_paths

SUFFIXES = (".py", ".ipynb")


def collect_files(
    targets: list[Path], exclude: list[str], root: Path | None, virtualenvs: list[Path] | None = None
) -> tuple[list[Path], list[str]]:
    """The files to check under ``targets``, and one error line per target that does not exist.
    A file named explicitly is always checked; files found by walking a folder honour ``exclude``
    and leave out virtualenvs (added to ``virtualenvs``, for the note that says so)."""
    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for target in targets:
        if target.is_file():
            found = [target]
        elif target.is_dir():
            found = [f for f in project_files(target, SUFFIXES, virtualenvs) if not _excluded(f, exclude, root)]
        else:
            errors.append(f"{target}: no such file or directory")
            continue
        for path, key in zip(found, resolved_paths(found)):
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, errors


def _excluded(path: Path, patterns: list[str], root: Path | None) -> bool:
    """``exclude`` globs match the path relative to the config's folder, or any one path component."""
    if not patterns:
        return False
    try:
        relative = path.resolve().relative_to(root).as_posix() if root else path.as_posix()
    except ValueError:
        relative = path.as_posix()
    parts = Path(relative).parts
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False
