"""Recordings: the v1 format (``jsonl``), the importers, and :func:`open_source`, which tells them
apart by content, not by file name."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import RecordingError
from . import importers
from .importers import NotARecording, Peek, Rewound
from .jsonl import RecordingWriter, read_recording, write_source
from .model import Chunk, End, Meta, Record, Request, Response, Source

if TYPE_CHECKING:
    from ..files import WalkNotes

__all__ = [
    "Chunk",
    "End",
    "Meta",
    "NotARecording",
    "Record",
    "RecordingWriter",
    "Request",
    "Response",
    "Source",
    "find_recordings",
    "open_source",
    "read_recording",
    "skippable",
    "write_source",
]

SNIFF_BYTES = 64 * 1024
RECORDING_SUFFIXES = {".jsonl", ".sse", ".txt", ".har", ".yaml", ".yml", ".json", ".trace", ".log"}
#: a suffix that only says the file is compressed (langchain keeps its cassettes as ``.yaml.gz``)
COMPRESSED_SUFFIX = ".gz"
GZIP_MAGIC = b"\x1f\x8b"
#: names that claim a recording format: such a file is a broken recording when it does not read as one
CLAIMING_SUFFIXES = {".jsonl", ".sse", ".har"}


def open_source(path: str) -> Source:
    """Open a recording or an import by sniffing its content. ``-`` reads standard input.

    Raises :class:`RecordingError` (one line naming the file and the problem) for anything that is
    not readable as one of the supported formats."""
    from ..errors import InputError
    from ..files import open_regular

    if path == "-":
        source = _sniff(sys.stdin.buffer, "<stdin>")
        source.records = _closing(source.records, None, source.path)
        return source
    if os.path.isdir(path):
        raise RecordingError(path, "is a directory (give its files, or use `stream DIR`)")
    try:
        stream = open_regular(path)  # closed when the records are exhausted
    except InputError as exc:
        raise RecordingError(path, exc.problem) from None
    try:
        source = _sniff(stream, path)
    except BaseException:
        stream.close()
        raise
    source.records = _closing(source.records, stream, path)
    return source


def _closing(records: Iterator[Record], stream: IO[bytes] | None, path: str) -> Iterator[Record]:
    """The records, then the file closed. A line of JSON nested 100,000 deep overflows the parser's
    recursion in whichever reader meets it: that is this file's one-line error, not an internal one."""
    try:
        yield from records
    except RecursionError:
        raise RecordingError(path, "JSON nested too deeply to read") from None
    finally:
        if stream is not None:
            stream.close()


def _peek(stream: IO[bytes], path: str) -> bytes:
    try:
        return stream.read(SNIFF_BYTES)
    except OSError as exc:
        raise RecordingError(path, f"read failed: {exc.strerror or exc}") from None


def _sniff(stream: IO[bytes], path: str) -> Source:
    """The source the first format in :data:`importers.FORMATS` that recognises the content reads."""
    head = _peek(stream, path)
    if head.startswith(GZIP_MAGIC):  # any format, gzip-compressed: told by content like the rest
        return _sniff(_Gunzipped(io.BufferedReader(Rewound(head, stream)), path), path)
    if not head.strip():
        raise NotARecording(path, "empty file")
    peek = Peek(stream, head, path)
    for fmt in importers.FORMATS:  # read when called: the one table of formats
        if fmt.sniff(peek):
            return fmt.read(peek)
    raise NotARecording(path, importers.unknown_reason(peek))


class _Gunzipped:
    """A gzip-compressed input read as its content. A cut or corrupt file becomes the one-line
    error every unreadable input gets, wherever the reading stops."""

    def __init__(self, compressed: IO[bytes], path: str) -> None:
        import gzip  # (and zlib: only a compressed input needs them)
        import zlib

        self._file = gzip.GzipFile(fileobj=compressed, mode="rb")
        self._path = path
        self._errors = (OSError, EOFError, zlib.error)

    def _guard(self, read, size: int) -> bytes:
        try:
            return read(size)
        except self._errors as exc:
            raise RecordingError(self._path, f"gzip-compressed file is cut off or corrupt ({exc})") from None

    def read(self, size: int = -1) -> bytes:
        return self._guard(self._file.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guard(self._file.readline, size)

    def seekable(self) -> bool:
        return False  # read once, front to back: no look-ahead at the end

    def close(self) -> None:
        self._file.close()


def find_recordings(paths: list[str], notes: WalkNotes | None = None) -> list[tuple[str, bool]]:
    """Expand directories into the files under them that may be recordings (sorted, hidden ones
    skipped). Each path comes with whether it was found in a folder rather than named: see
    :func:`skippable`. Folders that cannot be listed and pipes found in folders go to ``notes``."""
    from ..files import WalkNotes, note_unlisted, regular_files

    notes = notes if notes is not None else WalkNotes()
    found: list[tuple[str, bool]] = []
    for path in paths:
        if path != "-" and os.path.isdir(path):
            for root, dirs, files in os.walk(path, onerror=lambda exc: note_unlisted(exc, notes)):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                names = [Path(root, f) for f in sorted(files) if format_suffix(f) in RECORDING_SUFFIXES and f[0] != "."]
                found += [(str(name), True) for name in regular_files(names, notes)]
        else:
            found.append((path, False))
    return found


def skippable(path: str, in_folder: bool, error: RecordingError) -> bool:
    """Whether a file that failed to open is left out instead of reported: "a folder means every
    recording in it", so a stray config.json or notes.txt next to the recordings is no error. A file
    named on the command line, or whose name claims a recording format (``.jsonl``, ``.sse``,
    ``.har``), is reported: it was meant to be read."""
    return in_folder and isinstance(error, NotARecording) and format_suffix(path) not in CLAIMING_SUFFIXES


def format_suffix(name: str) -> str:
    """The suffix that names a file's format, under any ``.gz``: ``.yaml`` for ``test_x.yaml.gz``."""
    path = Path(name.lower())
    return path.with_suffix("").suffix if path.suffix == COMPRESSED_SUFFIX else path.suffix
