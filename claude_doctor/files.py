"""Which files of a project are looked at: what git would take (tracked, plus untracked files it does
not ignore), or outside a repository every file but virtualenvs, caches and vendored trees; and the
one way every command opens a file: regular files only (a named pipe would block forever), within a
stated size, with a one-line reason naming the file when it cannot be read."""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .errors import InputError

MIB = 1 << 20
#: Python files larger than this are not parsed: the syntax tree holds about 100 times the file in
#: memory, and a file that big is generated code (as linters skip), not code anyone wrote.
MAX_SOURCE_BYTES = 2 * MIB
#: Notebooks are mostly outputs (images as base64), so they may be larger than source files.
MAX_NOTEBOOK_BYTES = 32 * MIB
#: Files scanned for keys are read whole; larger ones (datasets, media, archives) are left out with a note.
MAX_SCAN_BYTES = 64 * MIB
#: Text read to look for a traceback (``explain``): the last this many bytes of a log are kept.
MAX_TEXT_BYTES = 1 * MIB

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)
_REASONS = {
    errno.ENOENT: "no such file or folder",
    errno.ELOOP: "a symlink loop (too many levels of symbolic links)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class NotRegularFile(InputError):
    """A pipe, socket or device: never read (a FIFO blocks until someone writes, /dev/zero never ends)."""


class TooLarge(InputError):
    """A file over the size a command reads whole; left out with a note, as linters skip generated files."""


@dataclass
class WalkNotes:
    """What walking folders left out, so that each is said rather than silently dropped: virtualenvs,
    folders that could not be listed (error lines) and files that are not regular files."""

    virtualenvs: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    irregular: list[str] = field(default_factory=list)

    def irregular_note(self) -> list[str]:
        """One line naming the pipes, devices and sockets skipped (none if there were none)."""
        if not self.irregular:
            return []
        shown = ", ".join(self.irregular[:3]) + (", …" if len(self.irregular) > 3 else "")
        count = len(self.irregular)
        what = "file that is not a regular file" if count == 1 else "files that are not regular files"
        return [f"skipped {count} {what} (a named pipe, socket or device): {shown}"]


def printable(text: str) -> str:
    """``text`` safe to print on one line: a newline or other control character in a file name is
    shown escaped (``\\n``), and so is what :func:`valid_utf8` escapes."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def valid_utf8(text: str) -> str:
    """``text`` that encodes as UTF-8: bytes of a file name that were not UTF-8 (kept by Python as lone
    surrogates, which no UTF-8 output can hold) are shown as ``\\xff``, so JSON and SARIF stay valid."""
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code >= 0xD800 else repr(match.group())[1:-1]


def os_reason(exc: OSError) -> str:
    """Why a file could not be opened, in the words the user needs (a loop is not "no such file")."""
    return _REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is ("a named pipe (FIFO)"); ``None`` for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")


def named_path_problem(path: Path | str) -> str | None:
    """Why a path named on the command line cannot be checked (``None`` for a regular file or a folder):
    one line naming it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"{path}: {os_reason(exc)}"
    kind = kind_of(mode)
    if kind is None or stat.S_ISDIR(mode):
        return None
    return f"{path}: {kind}, not a regular file: not read"


def open_regular(path: Path | str, limit: int | None = None) -> BinaryIO:
    """Open a file for reading, refusing anything but a regular file (opened without blocking, then
    checked: a FIFO swapped in after a look would still hang a plain ``open``) and, given ``limit``, a
    file larger than that. Raises :class:`InputError` (or a subclass) with a one-line reason."""
    shown = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(shown, "is a folder" if exc.errno == errno.EISDIR else os_reason(exc)) from None
    try:
        info = os.fstat(fd)
        kind = kind_of(info.st_mode)
        if kind is not None:
            raise NotRegularFile(shown, f"{kind}, not a regular file: not read")
        if limit is not None and info.st_size > limit:
            raise TooLarge(shown, f"larger than {limit // MIB} MiB ({info.st_size / MIB:,.0f} MiB): not checked")
        return os.fdopen(fd, "rb")  # O_NONBLOCK changes nothing for a regular file
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` of them (:func:`open_regular`'s errors; a read error too)."""
    with open_regular(path, limit) as stream:
        try:
            size = os.fstat(stream.fileno()).st_size
            data = stream.read(size + 1)  # not read(limit + 1): that allocates the limit for every file
            if len(data) > size:  # it grew since it was looked at
                data += stream.read(limit + 1 - len(data))
        except OSError as exc:
            raise InputError(str(path), f"cannot read ({os_reason(exc)})") from None
    if len(data) > limit:
        raise TooLarge(str(path), f"larger than {limit // MIB} MiB: not checked")
    return data


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


def project_files(folder: Path, suffixes: tuple[str, ...] = (), notes: WalkNotes | None = None) -> list[Path]:
    """Files under ``folder`` (only those ending in ``suffixes``, if given), sorted, as paths that start
    with ``folder``. A key or a bug in a new file is one ``git add .`` away, so untracked files that git
    does not ignore count too. What the walk leaves out (virtualenvs, unreadable folders, pipes) goes
    into ``notes``."""
    notes = notes if notes is not None else WalkNotes()
    listed = git_visible_files(folder, suffixes, notes)
    if listed is None:
        return sorted(walk_files(folder, suffixes, notes))
    return regular_files([path for path in listed if not in_skipped_dir(path, folder)], notes)


def regular_files(paths: list[Path], notes: WalkNotes) -> list[Path]:
    """The paths that are regular files (or that cannot be looked at, so that reading them names the
    problem); pipes, sockets and devices go to ``notes``. A file git lists that is gone was deleted
    in the work tree: nothing to check."""
    kept = []
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError:
            kept.append(path)
            continue
        if stat.S_ISREG(mode):
            kept.append(path)
        elif not stat.S_ISDIR(mode):  # a submodule is a folder git lists; it is not a file to check
            notes.irregular.append(str(path))
    return kept


_GIT_UNREADABLE = re.compile(r"could not open directory '(.*)': (.*)")


def git_visible_files(
    folder: Path, suffixes: tuple[str, ...] = (), notes: WalkNotes | None = None
) -> list[Path] | None:
    """Tracked and untracked-but-not-ignored files under ``folder``; ``None`` outside a git work tree.
    A folder git could not list is added to ``notes`` (git only warns, and its files would be missed)."""
    import subprocess  # only a folder walk asks git: reading named files (stream, the hook) never does

    pathspecs = [f"*{suffix}" for suffix in suffixes]
    command = ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"]
    try:
        proc = subprocess.run([*command, *pathspecs], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    if notes is not None:
        for match in _GIT_UNREADABLE.finditer(os.fsdecode(proc.stderr)):
            where = folder / match.group(1).rstrip("/")
            notes.unreadable.append(f"{where}: cannot list the folder ({match.group(2).strip().lower()})")
    names = sorted({name for name in os.fsdecode(proc.stdout).split("\0") if name})
    return [folder / name for name in names if not suffixes or name.endswith(suffixes)]


def walk_files(folder: Path, suffixes: tuple[str, ...] = (), notes: WalkNotes | None = None) -> list[Path]:
    """Every regular file under ``folder`` outside SKIP_DIRS and virtualenvs; what is left out goes
    into ``notes`` (a folder that cannot be listed is an error line there, and the rest is walked).
    Pipes are left out here, not only refused by :func:`open_regular`, as some checks read files
    with a plain ``open`` (the project index of clients)."""
    notes = notes if notes is not None else WalkNotes()
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=lambda exc: note_unlisted(exc, notes)):
        venvs = [Path(dirpath, d) for d in dirnames if is_virtualenv(Path(dirpath, d))]
        notes.virtualenvs += venvs
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and Path(dirpath, d) not in venvs]
        found += [Path(dirpath, name) for name in filenames if not suffixes or name.endswith(suffixes)]
    return regular_files(found, notes)


def note_unlisted(exc: OSError, notes: WalkNotes) -> None:
    """``os.walk``'s ``onerror``: a folder it could not list becomes an error line naming it."""
    notes.unreadable.append(f"{exc.filename}: cannot list the folder ({os_reason(exc)})")


def is_virtualenv(folder: Path) -> bool:
    """``pyvenv.cfg`` next to an interpreter: the file alone also turns up in source trees (templates,
    tests of venv tools), whose code is still the project's."""
    try:
        if not (folder / "pyvenv.cfg").is_file():
            return False
        return any((folder / "bin").glob("python*")) or (folder / "Scripts" / "python.exe").exists()
    except OSError:  # a folder that cannot be read is not taken for a virtualenv; the walk names it
        return False


def resolved_paths(paths: list[Path]) -> list[str]:
    """``[str(path.resolve()) for path in paths]``, resolving each folder once: ``Path.resolve`` looks
    at every component of every path, which on a large tree costs more than reading its files."""
    folders: dict[str, str] = {}
    resolved = []
    for path in paths:
        folder, name = os.path.split(path)
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        resolved.append(os.path.realpath(path) if os.path.islink(path) else os.path.join(folders[folder], name))
    return resolved


def in_skipped_dir(path: Path, folder: Path) -> bool:
    return any(part in SKIP_DIRS for part in path.relative_to(folder).parts[:-1])
