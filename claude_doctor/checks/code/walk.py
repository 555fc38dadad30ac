"""Which files ``claude-doctor code`` reads: what git would track (``.gitignore`` honoured), or,
outside a repository, every Python file and notebook except virtualenvs, caches and vendored trees."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

SUFFIXES = (".py", ".ipynb")
SKIP_DIRS = frozenset(
    {
        ".venv",
        "venv",
        "site-packages",
        "node_modules",
        ".git",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        ".hg",
        ".svn",
    }
)


def collect_files(targets: list[Path], exclude: list[str], root: Path | None) -> tuple[list[Path], list[str]]:
    """The files to check under ``targets``, and one error line per target that does not exist.
    A file named explicitly is always checked; files found by walking a folder honour ``exclude``."""
    files: list[Path] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for target in targets:
        if target.is_file():
            found = [target]
        elif target.is_dir():
            found = [f for f in _walk(target) if not _excluded(f, exclude, root)]
        else:
            errors.append(f"{target}: no such file or directory")
            continue
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, errors


def _walk(folder: Path) -> list[Path]:
    listed = _git_files(folder)
    if listed is None:
        return sorted(_plain_walk(folder))
    return [path for path in listed if not _in_skipped_dir(path, folder) and path.is_file()]


def _git_files(folder: Path) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files under ``folder``; ``None`` outside a git work tree."""
    try:
        proc = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
                "--",
                *(f"*{suffix}" for suffix in SUFFIXES),
            ],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = sorted({name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name})
    return [folder / name for name in names if name.endswith(SUFFIXES)]


def _plain_walk(folder: Path):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not (Path(dirpath, d) / "pyvenv.cfg").exists()]
        for name in filenames:
            if name.endswith(SUFFIXES):
                yield Path(dirpath, name)


def _in_skipped_dir(path: Path, folder: Path) -> bool:
    return any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1])


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
