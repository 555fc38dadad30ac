"""The table of import formats is what sniffing reads: each bundled capture is claimed by the row of
its own format, and a format added as one row is read by ``open_source`` with nothing else changed."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from claude_doctor.recording import Chunk, End, Meta, Source, importers, open_source
from claude_doctor.recording.importers import Format, Peek
from tests.conftest import RECORDINGS

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "importers"


def claiming_row(path: Path) -> str:
    """The name of the first row of the table whose sniff says yes to the file."""
    with path.open("rb") as stream:
        peek = Peek(stream, stream.read(64 * 1024), str(path))
        return next(fmt.name for fmt in importers.FORMATS if fmt.sniff(peek))


@pytest.mark.parametrize(
    "path, row, kind",
    [
        (RECORDINGS / "clean-text.jsonl", "recording", "recording"),
        (RECORDINGS / "imports" / "curl-N.sse", "sse", "sse"),
        (RECORDINGS / "imports" / "curl-i.txt", "curl-i", "curl-i"),
        (RECORDINGS / "imports" / "curl-trace.trace", "curl-trace", "curl-trace"),
        (RECORDINGS / "imports" / "devtools.har", "har", "har"),
        (RECORDINGS / "imports" / "cassette.yaml", "vcr", "vcr"),
        (CORPUS / "ddtrace_test_agent.json", "vcr-exchange", "vcr"),
    ],
)
def test_each_capture_is_claimed_by_the_row_of_its_format(path: Path, row: str, kind: str) -> None:
    assert claiming_row(path) == row
    assert open_source(str(path)).kind == kind


def test_row_names_are_unique() -> None:
    names = [fmt.name for fmt in importers.FORMATS]
    assert len(names) == len(set(names)) >= 9


def test_a_format_added_as_one_row_is_read_by_open_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the row, the file is no recording; with it, the row's importer reads it."""
    capture = tmp_path / "capture.txt"
    capture.write_bytes(b"TOY-CAPTURE 1\nevent: ping\ndata: {}\n\n")
    with pytest.raises(importers.NotARecording, match="not a recording or a known capture"):
        open_source(str(capture))

    def read_toy(peek: Peek) -> Source:
        body = (peek.raw + peek.stream.read()).split(b"\n", 1)[1]
        return Source(peek.path, "toy", Meta(source="import:toy"), iter([Chunk(0, None, body), End(0, None, "eof")]))

    module = types.ModuleType("toy")  # the one module a format is: a sniff and a read
    module.sniff = lambda peek: peek.text.startswith(b"TOY-CAPTURE ")
    module.read = read_toy
    monkeypatch.setitem(sys.modules, f"{importers.__name__}.toy", module)
    monkeypatch.setattr(importers, "FORMATS", (*importers.FORMATS, Format("toy", "toy")))
    source = open_source(str(capture))
    assert (source.kind, [r.data for r in source.records if isinstance(r, Chunk)]) == (
        "toy",
        [b"event: ping\ndata: {}\n\n"],
    )
