"""CD301 over git history (``secrets --history``): every key ever added, in any commit of any ref, and
every key written in a commit message.

Git's patch output is shaped by the user's config: ``diff.noprefix`` and ``diff.mnemonicPrefix`` change
the ``b/`` prefix, ``color.ui=always`` and external diff or textconv drivers change the bytes,
``diff.relative`` hides files outside the current folder, ``log.showRoot=false`` hides the first
commit, ``diff.interHunkContext`` adds context lines. Each is overridden on the command line, so no
setting can make the scan blind, and paths git quotes (``"a \\"b\\".txt"``, a tab in a name) are
unquoted rather than skipped.

Merges are shown as dense combined diffs (``--cc``): the lines a merge's result has that none of its
parents has, which is exactly what a conflict resolution can introduce; what a merge brings from a
parent was already seen in the commit that added it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageProblem
from ..findings import Finding
from ..keys import redact_text
from .secrets import CANDIDATE, _key_finding, line_hits

#: Every option that a config setting could otherwise change, spelled out.
_IMMUNE = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "--no-relative",
    "--no-show-signature",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--inter-hunk-context=0",
)
_DIFFS = (
    "git",
    "-c",
    "core.quotePath=false",
    "log",
    "--all",
    "--reverse",
    "--root",
    "--text",
    "--cc",
    "-U0",
    *_IMMUNE,
    "-G",
    "sk-ant-",
    "--format=%x00commit %H %cs %s",
)
#: Commit messages that mention a key shape; ``--grep`` filters in C, so clean histories cost one walk.
_MESSAGES = (
    "git",
    "log",
    "--all",
    "--reverse",
    "--no-show-signature",
    "-z",
    "--fixed-strings",
    "--grep=sk-ant-",
    "--format=%H %cs %s%n%B",
)
_HUNK = re.compile(rb"(@@+) (?:-\d+(?:,\d+)? )+\+(\d+)")
#: git's C-style escapes in quoted paths, and the bytes they stand for
_C_ESCAPES = dict(zip(b'abtnvfr"\\', b'\a\b\t\n\v\f\r"\\', strict=True))


@dataclass
class _Commit:
    sha: str = ""
    date: str = ""
    subject: str = ""

    @classmethod
    def parse(cls, header: str) -> _Commit:
        """From ``<sha> <date> <subject>``; the subject is redacted, since it may hold a key."""
        sha, date, subject = [*header.split(" ", 2), "", ""][:3]
        return cls(sha, date, redact_text(subject))

    def described(self) -> str:
        return f"{self.sha[:10]} ({self.date}, {self.subject!r})"


def scan_history(cwd: Path | None = None) -> tuple[list[Finding], int]:
    """Every key ever added in any commit reachable from any ref, reported once, at the commit where it
    first appeared (oldest first), with the path and line it had there; then keys in commit messages.
    Returns the findings and the number of files in the commits whose diff mentions ``sk-ant-``:
    ``git log -G`` does that filtering in C, so only those commits are diffed into Python. The message
    walk runs beside it."""
    seen: set[str] = set()
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "cwd": cwd}
    with subprocess.Popen(_MESSAGES, **pipes) as messages, subprocess.Popen(_DIFFS, **pipes) as diffs:
        assert diffs.stdout is not None and diffs.stderr is not None
        findings, files = _parse_log(diffs.stdout, seen)
        diff_errors = diffs.stderr.read()
        message_log, message_errors = messages.communicate()
    _raise_on_failure(diffs.wait(), diff_errors)
    _raise_on_failure(messages.returncode, message_errors)
    return findings + list(_message_findings(message_log, seen)), files


def _raise_on_failure(returncode: int, stderr: bytes) -> None:
    if returncode != 0:
        reason = redact_text(stderr.decode("utf-8", "replace")).strip().splitlines()
        raise UsageProblem(f"git log failed: {reason[-1] if reason else 'exit ' + str(returncode)}")


def _parse_log(stream: Iterable[bytes], seen: set[str]) -> tuple[list[Finding], int]:
    """Read ``git log -p --cc`` output. A line is in the commit's result unless a parent column marks it
    removed (``-``); it is new there when a column marks it added (``+``)."""
    findings: list[Finding] = []
    paths: set[str] = set()
    commit, path, number, width, in_header = _Commit(), None, 0, 1, False
    for raw in stream:
        line = raw.rstrip(b"\n")
        if line.startswith(b"\0commit "):
            commit, path = _Commit.parse(line[8:].decode("utf-8", "replace")), None
        elif line.startswith(b"diff --"):
            in_header, path = True, None
        elif in_header and line.startswith(b"+++ "):
            path = _new_path(line[4:])
            paths.update([path] if path else [])
        elif line.startswith(b"@@"):
            in_header, (width, number) = False, _hunk_start(line)
        elif not in_header and path is not None and not line.startswith(b"\\"):  # \ No newline at end of file
            columns = line[:width]
            if b"-" in columns:
                continue
            if b"+" in columns and CANDIDATE in line:
                text = line[width:].decode("utf-8", "replace")
                findings.extend(_diff_findings(path, text, number, commit, seen))
            number += 1
    return findings, len(paths)


def _new_path(target: bytes) -> str | None:
    """The file a ``+++`` line names, without the ``b/`` prefix; None for ``/dev/null``. Git appends a
    tab to names with a space and C-quotes names with a quote, backslash or control character."""
    target = target.rstrip(b"\t")
    if target == b"/dev/null":
        return None
    if target.startswith(b'"') and target.endswith(b'"'):
        target = _unquote(target[1:-1])
    return os.fsdecode(target[2:] if target.startswith(b"b/") else target)


def _unquote(quoted: bytes) -> bytes:
    """Undo git's C-style quoting: ``\\t``, ``\\"``, ``\\\\`` and octal ``\\303\\251`` for raw bytes."""
    out, at = bytearray(), 0
    while at < len(quoted):
        byte = quoted[at]
        if byte != ord("\\") or at + 1 == len(quoted):
            out.append(byte)
            at += 1
        elif quoted[at + 1 : at + 4].isdigit():
            out.append(int(quoted[at + 1 : at + 4], 8) & 0xFF)
            at += 4
        else:
            out.append(_C_ESCAPES.get(quoted[at + 1], quoted[at + 1]))
            at += 2
    return bytes(out)


def _hunk_start(hunk: bytes) -> tuple[int, int]:
    """(prefix columns, first line in the result): ``@@`` hunks have one column, ``@@@`` two, …"""
    match = _HUNK.match(hunk)
    return (len(match.group(1)) - 1, int(match.group(2))) if match else (1, 0)


def _diff_findings(path: str, line: str, number: int, commit: _Commit, seen: set[str]) -> Iterator[Finding]:
    for hit in line_hits(path, line, number):
        if hit.secret not in seen:
            seen.add(hit.secret)
            yield _key_finding(path, number, hit, f", first committed in {commit.described()}")


def _message_findings(log: bytes, seen: set[str]) -> Iterator[Finding]:
    """Keys in commit messages (``git log -z``: one NUL-separated record per commit), each reported
    once; the message has no path, so the commit and the line of the message say where."""
    for record in log.split(b"\0"):
        header, _, body = record.decode("utf-8", "replace").partition("\n")
        commit = _Commit.parse(header)
        lines = body.split("\n")
        for number, line in enumerate(lines, 1):
            if "sk-ant-" not in line:
                continue
            for hit in line_hits("", line, number, lines[number - 2] if number > 1 else ""):
                if hit.secret not in seen:
                    seen.add(hit.secret)
                    where = f" in the message of commit {commit.described()}, line {number}"
                    yield _key_finding("", None, hit, where).at(path=None)  # no file: the message says where
