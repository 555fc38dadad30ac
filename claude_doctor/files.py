"""Which files of a project are looked at: what git would take (tracked, plus untracked files it does
not ignore), or outside a repository every file but virtualenvs, caches and vendored trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def project_files(folder: Path, suffixes: tuple[str, ...] = ()) -> list[Path]:
    """Files under ``folder`` (only those ending in ``suffixes``, if given), sorted, as paths that start
    with ``folder``. A key or a bug in a new file is one ``git add .`` away, so untracked files that git
    does not ignore count too."""
    listed = git_visible_files(folder, suffixes)
    if listed is None:
        return sorted(walk_files(folder, suffixes))
    return [path for path in listed if not in_skipped_dir(path, folder) and path.is_file()]


def git_visible_files(folder: Path, suffixes: tuple[str, ...] = ()) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files under ``folder``; ``None`` outside a git work tree."""
    pathspecs = [f"*{suffix}" for suffix in suffixes]
    command = ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"]
    try:
        proc = subprocess.run([*command, *pathspecs], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = sorted({name for name in os.fsdecode(proc.stdout).split("\0") if name})
    return [folder / name for name in names if not suffixes or name.endswith(suffixes)]


def walk_files(folder: Path, suffixes: tuple[str, ...] = ()):
    """Every file under ``folder`` outside SKIP_DIRS and virtualenvs (folders holding ``pyvenv.cfg``)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not (Path(dirpath, d) / "pyvenv.cfg").exists()]
        for name in filenames:
            if not suffixes or name.endswith(suffixes):
                yield Path(dirpath, name)


def in_skipped_dir(path: Path, folder: Path) -> bool:
    return any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1])
