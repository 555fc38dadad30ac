"""Checking recorded streams by path: what ``stream FILE…`` and the doctor's recordings area share.

Every file named or found in a folder is opened, its exchanges checked (CD1xx); what cannot be read
becomes a one-line error and the others still run. Heavy parts (the importers, the checks) load only
when a path is checked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from .errors import DoctorError, RecordingError
from .findings import Finding

if TYPE_CHECKING:
    from .config import Config
    from .recording.model import Source


class Reader(Protocol):
    """A second reader of each file's records, in the same pass as the checks (the HTML report's
    timelines): ``watch`` may wrap ``source.records`` before they are checked, ``checked`` hears that
    the file was checked in full."""

    def watch(self, source: Source) -> None: ...

    def checked(self, source: Source) -> None: ...


SHOWN_SKIPPED = 3  #: how many skipped files the note names


def check_paths(
    paths: list[str], config: Config, skipped: list[str] | None = None, reader: Reader | None = None
) -> tuple[list[Finding], int, list[str], list[str]]:
    """Check each recording; an unreadable one becomes an error line and the others still run, and so
    does one that holds no complete exchange (a recorder killed inside its first request): it is not
    clean. Returns the findings, how many files were read, the error lines and the read warnings. A file
    found in a folder that is no recording at all is left out, and its path added to ``skipped``. A
    ``reader`` reads each file's records too, in the same pass."""
    from .checks.stream import check_source
    from .files import WalkNotes
    from .recording import find_recordings, open_source, skippable
    from .recording.model import answered

    notes = WalkNotes()
    found = find_recordings(paths, notes)
    findings: list[Finding] = []
    errors: list[str] = list(notes.unreadable)
    warnings: list[str] = notes.irregular_note()
    count = 0
    for path, in_folder in found:
        try:
            source = open_source(path)
        except RecordingError as exc:
            if not skippable(path, in_folder, exc):
                errors.append(str(exc))
            elif skipped is not None:
                skipped.append(path)
            continue
        seen: set[int] = set()
        source.records = answered(source.records, seen)
        if reader is not None:
            reader.watch(source)
        try:
            findings += check_source(source, config)
        except DoctorError as exc:
            errors.append(str(exc))
            continue
        if not seen:
            errors.append(nothing_checked(source.path, source.warnings))
            continue
        warnings += source.warnings
        count += 1
        if reader is not None:
            reader.checked(source)
    return findings, count, errors, warnings


def nothing_checked(path: str, warnings: list[str]) -> str:
    """The one error line for a file in which no request got a response, a body or an end: such a
    capture is not clean. The read problems that explain it go into that line, the first one named."""
    reasons = [re.sub(rf"^{re.escape(path)}(?::(\d+))?: ", _line_prefix, w) for w in warnings]
    if not reasons:
        why = "no request in it got a response, a body or an end"
    else:
        why = reasons[0] + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")
    return str(RecordingError(path, f"holds no complete exchange, so nothing in it was checked: {why}"))


def _line_prefix(match: re.Match) -> str:
    return f"line {match.group(1)}: " if match.group(1) else ""


def skipped_note(skipped: list[str]) -> str:
    """One line naming the first few files left out of a folder, so that a recording with a wrong
    extension or format is noticed rather than silently ignored."""
    shown = ", ".join(skipped[:SHOWN_SKIPPED]) + (", …" if len(skipped) > SHOWN_SKIPPED else "")
    what = "file that is not a recording" if len(skipped) == 1 else "files that are not recordings"
    return f"skipped {len(skipped)} {what}: {shown}"
