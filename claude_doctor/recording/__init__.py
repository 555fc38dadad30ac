"""Recordings: the v1 format (``jsonl``), the importers, and :func:`open_source`, which tells them
apart by content, not by file name."""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import RecordingError
from . import importers
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
_TRACE = re.compile(rb"^(?:\d\d:\d\d:\d\d\.\d+ )?(?:== Info:|=> Send|<= Recv)", re.MULTILINE)
_SSE_FIELD = re.compile(rb"^(?:event|data|id|retry)(?::|\r?\n)|^:", re.MULTILINE)


class NotARecording(RecordingError):
    """The content is no recording format at all (as opposed to a recording that is broken): a file
    found in a folder is then skipped, while a file named on the command line is still an error."""


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
    head = _peek(stream, path)
    if head.startswith(GZIP_MAGIC):  # any format, gzip-compressed: told by content like the rest
        return _sniff(_Gunzipped(io.BufferedReader(_Rewound(head, stream)), path), path)
    if not head.strip():
        raise NotARecording(path, "empty file")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") and b'"k":"meta"' in text.split(b"\n", 1)[0].replace(b" ", b""):
        return read_recording(io.BufferedReader(_Rewound(head, stream)), path)
    if text.startswith(b"HTTP/"):
        return importers.import_curl_include(stream, text, path)
    if _TRACE.search(head[:4096]):
        return importers.import_curl_trace(stream, head, path)
    if re.match(rb"^(?:\* |> |< )", text):
        return importers.import_curl_verbose(stream, text, path)
    if _SSE_FIELD.match(text):
        return importers.import_raw_sse(stream, head, path)
    if text.startswith(b"{") or re.search(rb"^interactions:", head, re.MULTILINE):
        return _whole_document(stream, head, path)
    raise NotARecording(path, _unknown_reason(head))


def _unknown_reason(head: bytes) -> str:
    if b"\0" in head:
        return (
            "binary data, not a recording (expected a claude-doctor recording, SSE text, curl output, HAR or a "
            "vcrpy cassette)"
        )
    return (
        "not a recording or a known capture (expected a claude-doctor recording, SSE text, curl -i/-v/--trace "
        "output, HAR or a vcrpy cassette)"
    )


def _whole_document(stream: IO[bytes], head: bytes, path: str) -> Source:
    rest = stream.read(importers.MAX_WHOLE_FILE)
    if len(head) + len(rest) >= importers.MAX_WHOLE_FILE and stream.read(1):
        raise RecordingError(
            path, f"larger than {importers.MAX_WHOLE_FILE // 2**20} MiB; HAR and cassette files are read whole"
        )
    data = head + rest
    doc = _load_json(data, path) if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else _load_yaml(data, path)
    if not isinstance(doc, dict):
        raise NotARecording(path, "not a recording, HAR file or vcrpy cassette (the JSON is not an object)")
    log = doc.get("log")
    if isinstance(log, dict) and "entries" in log:
        return importers.import_har(doc, path)
    if "interactions" in doc:
        return importers.import_vcr(doc, path)
    if isinstance(doc.get("request"), dict) and isinstance(doc.get("response"), dict):
        return importers.import_vcr({"interactions": [doc]}, path)  # one exchange (ddapm-test-agent)
    if doc.get("k") == "meta":
        return read_recording(io.BytesIO(data), path)
    if isinstance(log, dict):
        raise NotARecording(path, "JSON with a log object but no log.entries, so not a HAR file")
    raise NotARecording(path, "JSON that is neither a recording, a HAR file nor a vcrpy cassette")


def _load_json(data: bytes, path: str) -> object:
    try:
        return json.loads(data)
    except RecursionError:
        raise RecordingError(path, "JSON nested too deeply to read") from None
    except (ValueError, UnicodeDecodeError):
        first = data.split(b"\n", 1)[0]
        try:
            json.loads(first)
        except (ValueError, UnicodeDecodeError):
            raise NotARecording(path, "not valid JSON") from None
        raise NotARecording(path, "JSON Lines whose first line is not a claude-doctor recording meta line") from None


def _load_yaml(data: bytes, path: str) -> object:
    import yaml  # only cassettes need it

    try:
        return yaml.load(data, Loader=_cassette_loader())  # a SafeLoader: no object is built
    except RecursionError:
        raise RecordingError(path, "YAML nested too deeply to read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, yaml.constructor.ConstructorError) and exc.problem:
            raise RecordingError(path, f"cannot read the YAML{where}: {exc.problem}") from None  # a tag
        raise RecordingError(path, f"not valid YAML{where}") from None


@functools.cache
def _cassette_loader() -> type:
    """``yaml.SafeLoader`` that also reads the ``!!python/…`` tags older vcrpy cassettes carry as the
    plain string they wrap: aiohttp's header names (``!!python/object/apply:multidict._multidict.istr
    [Accept]``) and Python 2's ``!!python/unicode``. Nothing is imported or called; any other Python
    tag is an error."""
    import yaml

    def plain_value(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if suffix in ("unicode", "str") and isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if suffix.startswith("object/apply:multidict.") and isinstance(node, yaml.SequenceNode):
            items = loader.construct_sequence(node, deep=True)
            if len(items) == 1 and isinstance(items[0], str):
                return items[0]
        raise yaml.constructor.ConstructorError(None, None, f"unsupported tag !!python/{suffix}", node.start_mark)

    class CassetteLoader(yaml.SafeLoader):
        pass

    CassetteLoader.add_multi_constructor("tag:yaml.org,2002:python/", plain_value)
    return CassetteLoader


class _Gunzipped:
    """A gzip-compressed input read as its content. A cut or corrupt file becomes the one-line
    error every unreadable input gets, wherever the reading stops."""

    def __init__(self, compressed: IO[bytes], path: str) -> None:
        self._file = gzip.GzipFile(fileobj=compressed, mode="rb")
        self._path = path

    def _guard(self, read, size: int) -> bytes:
        try:
            return read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise RecordingError(self._path, f"gzip-compressed file is cut off or corrupt ({exc})") from None

    def read(self, size: int = -1) -> bytes:
        return self._guard(self._file.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guard(self._file.readline, size)

    def seekable(self) -> bool:
        return False  # read once, front to back: no look-ahead at the end

    def close(self) -> None:
        self._file.close()


class _Rewound(io.RawIOBase):
    """The sniffed head followed by the rest of the stream, readable line by line."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
