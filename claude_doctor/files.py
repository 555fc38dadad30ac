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


def project_files(folder: Path, suffixes: tuple[str, ...] = (), virtualenvs: list[Path] | None = None) -> list[Path]:
    """Files under ``folder`` (only those ending in ``suffixes``, if given), sorted, as paths that start
    with ``folder``. A key or a bug in a new file is one ``git add .`` away, so untracked files that git
    does not ignore count too. Virtualenvs left out by the walk are added to ``virtualenvs``."""
    listed = git_visible_files(folder, suffixes)
    if listed is None:
        return sorted(walk_files(folder, suffixes, virtualenvs))
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


def walk_files(folder: Path, suffixes: tuple[str, ...] = (), virtualenvs: list[Path] | None = None):
    """Every file under ``folder`` outside SKIP_DIRS and virtualenvs (each added to ``virtualenvs``)."""
    for dirpath, dirnames, filenames in os.walk(folder):
        venvs = [Path(dirpath, d) for d in dirnames if is_virtualenv(Path(dirpath, d))]
        if virtualenvs is not None:
            virtualenvs += venvs
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and Path(dirpath, d) not in venvs]
        for name in filenames:
            if not suffixes or name.endswith(suffixes):
                yield Path(dirpath, name)


def is_virtualenv(folder: Path) -> bool:
    """``pyvenv.cfg`` next to an interpreter: the file alone also turns up in source trees (templates,
    tests of venv tools), whose code is still the project's."""
    if not (folder / "pyvenv.cfg").is_file():
        return False
    return any((folder / "bin").glob("python*")) or (folder / "Scripts" / "python.exe").exists()


def resolved_paths(paths: list[Path]) -> list[Path]:
    """``[path.resolve() for path in paths]``, resolving each folder once: ``Path.resolve`` looks at
    every component of every path, which on a large tree costs more than reading its files."""
    folders: dict[str, str] = {}
    resolved = []
    for path in paths:
        folder, name = os.path.split(path)
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        real = os.path.realpath(path) if os.path.islink(path) else os.path.join(folders[folder], name)
        resolved.append(Path(real))
    return resolved


def in_skipped_dir(path: Path, folder: Path) -> bool:
    return any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1])
