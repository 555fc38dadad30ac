"""CD301–CD303: find Anthropic credentials in files, recordings, git history and `.env` files.

Speed comes from never starting detect-secrets' per-line machinery on a file that cannot hold a key: a
file is read as bytes and skipped unless it contains ``sk-ant-``, one of its three base64 spellings or
(after a NUL byte) its UTF-16 spelling, all C-speed ``bytes.find``, and a line reaches the detect-secrets plugin
only when ``KEY_RE`` finds a key shape in it, so placeholders in docs never even import detect-secrets.
The plugin (``secrets_plugin.AnthropicKeyDetector``) then decides, and each match carries
detect-secrets' identity (file, SHA-1 of the secret) for baselines.

No message, error or exception built here ever holds a key: only :func:`keys.fingerprint` output.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, RecordingError, UsageProblem
from ..findings import Finding
from ..keys import (
    CREDENTIAL_HEADERS,
    KEY_RE,
    REDACTED_RE,
    UTF16_MARK,
    find_base64_keys,
    find_keys,
    find_keys_in_bytes,
    fingerprint,
    has_base64_mark,
    is_binary,
    key_kind,
    redact_text,
)
from ..noqa import silences
from .secrets_rules import ANTHROPIC_KEY, ENV_NOT_IGNORED, KEY_IN_RECORDING, key_fix, recording_fix

if TYPE_CHECKING:
    from ..files import WalkNotes
    from ..secrets_plugin import AnthropicKeyDetector

CANDIDATE = b"sk-ant-"
_RECORDING_MARK = b'"claude-doctor/recording"'
_HEADER_NAMES = tuple(name.encode() for name in CREDENTIAL_HEADERS)
#: ``.env.example`` and friends are meant to be committed.
_TEMPLATE_PARTS = frozenset({"example", "sample", "template", "tmpl", "dist", "defaults"})
_ENV_VARIABLE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?[\"']?((?:ANTHROPIC|CLAUDE)_[A-Z0-9_]*(?:KEY|TOKEN))[\"']?[ \t]*[=:]",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Hit:
    """One key on one line: 1-based column, the secret (kept in memory only) and its SHA-1."""

    column: int
    secret: str
    secret_hash: str


@lru_cache(maxsize=1)
def _detector() -> AnthropicKeyDetector:
    from ..secrets_plugin import AnthropicKeyDetector

    return AnthropicKeyDetector()


def _allowlisted(path: str, line: str, previous: str) -> bool:
    """detect-secrets' inline allowlist (``pragma: allowlist secret``, or ``pragma: allowlist nextline
    secret`` on the line above), honoured so existing annotations keep working."""
    from detect_secrets.filters.allowlist import is_line_allowlisted
    from detect_secrets.util.code_snippet import CodeSnippet

    return is_line_allowlisted(path, line, CodeSnippet([previous, line], 0, 1))


def line_hits(path: str, line: str, number: int, previous: str = "") -> list[Hit]:
    """Keys on one line, through the detect-secrets plugin; ``noqa: CD301`` and the detect-secrets
    allowlist pragma silence the line."""
    if not KEY_RE.search(line):
        return []
    line = line.rstrip()
    found = _detector().analyze_line(filename=path, line=line, line_number=number)
    if not found or _silenced(path, line, previous):
        return []
    hits = [Hit(line.find(s.secret_value) + 1, s.secret_value, s.secret_hash) for s in found if s.secret_value]
    return sorted(hits, key=lambda hit: hit.column)


def _silenced(path: str, line: str, previous: str) -> bool:
    return silences(line, ANTHROPIC_KEY.code, ANTHROPIC_KEY.name) or _allowlisted(path, line, previous)


def key_message(secret: str, where: str = "", *, encoding: str = "") -> str:
    """``Anthropic API key sk-ant-api03-…XYAA, 108 chars`` plus context (``base64-encoded Anthropic …``
    with an ``encoding``); never the key."""
    what = f"Anthropic {key_kind(secret)} {fingerprint(secret)}{where}"
    return f"{encoding} {what}" if encoding else what


def _key_finding(path: str, number: int | None, hit: Hit, where: str = "", *, encoding: str = "") -> Finding:
    """CD301 with the revoke-and-replace advice for this kind of credential."""
    return Finding(
        ANTHROPIC_KEY,
        key_message(hit.secret, where, encoding=encoding),
        path=path,
        line=number,
        column=hit.column if number is not None else None,
        fix=key_fix(hit.secret),
        extra={"secret_hash": hit.secret_hash},
    )


# -- files ----------------------------------------------------------------------------------------


def scan_files(paths: list[Path], warnings: list[str] | None = None) -> tuple[list[Finding], list[str]]:
    """CD301 for keys in files (CD302 when the file is a recording). Returns the findings and one-line
    errors for files that cannot be read; a file over ``MAX_SCAN_BYTES`` or a pipe is left out with a
    line in ``warnings`` (an error when no list is given)."""
    from ..files import MAX_SCAN_BYTES, NotRegularFile, TooLarge, read_regular

    findings: list[Finding] = []
    errors: list[str] = []
    for path in paths:
        try:
            data = read_regular(path, MAX_SCAN_BYTES)
        except (NotRegularFile, TooLarge) as exc:
            (warnings if warnings is not None else errors).append(redact_text(str(exc)))
            continue
        except InputError as exc:
            errors.append(redact_text(str(exc)))
            continue
        findings.extend(scan_bytes(data, str(path)))
    return findings, errors


def scan_bytes(data: bytes, path: str) -> list[Finding]:
    """The findings for one file's content: keys as text, in UTF-16 text, in binary data and inside
    base64. A text file that holds none costs four ``bytes.find`` (``sk-ant-`` and its base64
    spellings) and one ``memchr`` for a NUL (UTF-16 is looked for only where there are NULs)."""
    if data.startswith(b"{") and _RECORDING_MARK in data[:4096].split(b"\n", 1)[0]:
        return list(recording_findings(data, path))
    findings: list[Finding] = []
    if CANDIDATE in data:
        plain = _binary_key_findings(data, path) if is_binary(data) else _file_key_findings(data.split(b"\n"), path)
        findings.extend(plain)
    if is_binary(data) and UTF16_MARK in data:  # UTF-16 text is full of NULs; memchr skips text files fast
        findings.extend(_text_key_findings(_utf16_text(data).split("\n"), path, ", in UTF-16 text"))
    if has_base64_mark(data):
        findings.extend(_base64_key_findings(data, path))
    return findings


def _file_key_findings(lines: list[bytes], path: str) -> Iterator[Finding]:
    for index, raw in enumerate(lines):
        if CANDIDATE not in raw:
            continue
        previous = lines[index - 1].decode("utf-8", "replace") if index else ""
        for hit in line_hits(path, raw.decode("utf-8", "replace"), index + 1, previous):
            yield _key_finding(path, index + 1, hit)


def _text_key_findings(lines: list[str], path: str, where: str) -> Iterator[Finding]:
    for index, line in enumerate(lines):
        if "sk-ant-" in line:
            for hit in line_hits(path, line, index + 1, lines[index - 1] if index else ""):
                yield _key_finding(path, index + 1, hit, where)


def _utf16_text(data: bytes) -> str:
    """UTF-16 as Windows writes it (PowerShell, Notepad): by its BOM, else by the byte order that puts
    ``sk-ant-`` on character boundaries."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    order = "le" if data.find(UTF16_MARK) % 2 == 0 else "be"
    return data.decode(f"utf-16-{order}", "replace")


def _binary_key_findings(data: bytes, path: str) -> list[Finding]:
    """Lines mean nothing in a binary file: a key there is given by its byte offset."""
    return [
        _key_finding(path, None, Hit(0, key, _sha1(key)), f", at byte {offset:,} of a binary file")
        for offset, key in find_keys_in_bytes(data)
    ]


def _base64_key_findings(data: bytes, path: str) -> Iterator[Finding]:
    """Keys inside base64 runs, at the run's start; ``noqa``/allowlist pragmas on that line apply."""
    binary = is_binary(data)
    for offset, key in find_base64_keys(data):
        start = data.rfind(b"\n", 0, offset) + 1
        hit = Hit(offset - start + 1, key, _sha1(key))
        if binary:
            yield _key_finding(path, None, hit, f", at byte {offset:,} of a binary file", encoding="base64-encoded")
            continue
        end = data.find(b"\n", offset)
        line = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        previous = data[data.rfind(b"\n", 0, start - 1) + 1 : start - 1].decode("utf-8", "replace") if start else ""
        if not _silenced(path, line, previous):
            yield _key_finding(path, data.count(b"\n", 0, start) + 1, hit, encoding="base64-encoded")


# -- recordings (CD302) ---------------------------------------------------------------------------


def recording_findings(data: bytes, path: str) -> Iterator[Finding]:
    """Unredacted credential headers and keys in a v1 recording, each credential reported once (at its
    first line) however many exchanges repeat it."""
    seen: set[str] = set()
    encoded = has_base64_mark(data)
    for number, raw in enumerate(data.split(b"\n"), 1):
        lowered = raw.lower()
        if (
            CANDIDATE not in raw
            and not (encoded and has_base64_mark(raw))
            and not any(name in lowered for name in _HEADER_NAMES)
        ):
            continue
        obj = _json_object(raw)
        exchange = obj.get("i") if isinstance(obj.get("i"), int) else None
        for what, secret, column in _recorded_credentials(obj, raw, path, number):
            if secret in seen:
                continue
            seen.add(secret)
            yield Finding(
                KEY_IN_RECORDING,
                f"{what} in the recording: {_describe(secret)}",
                path=path,
                line=number,
                column=column,
                exchange=exchange,
                fix=recording_fix(secret),
                extra={"secret_hash": _sha1(secret)},
            )
    for exchange, event, secret in _streamed_keys(data, path):
        if secret not in seen:
            seen.add(secret)
            yield Finding(
                KEY_IN_RECORDING,
                f"unredacted key in the streamed text, spread over its deltas: {_describe(secret)}",
                path=path,
                event=event,
                exchange=exchange,
                fix=recording_fix(secret),
                extra={"secret_hash": _sha1(secret)},
            )


def _streamed_keys(data: bytes, path: str) -> Iterator[tuple[int, int, str]]:
    """Keys in the text the SDK assembles from a block's deltas, as ``(exchange, event, key)``: a key
    echoed 12 characters a delta is on no line whole. Only recordings with deltas are decoded (the
    recording modules are imported then); one whose lines stop parsing is looked at up to there, its
    lines having all been scanned one by one."""
    if b"_delta" not in data:
        return
    from ..recording.jsonl import read_recording
    from ..recording.redaction import redacted_chunks

    found: list[tuple[int, int, str]] = []
    try:
        for _ in redacted_chunks(read_recording(io.BytesIO(data), path).records, found):
            pass
    except RecordingError:
        pass
    for exchange, event, candidate in found:
        for _, key in find_keys(candidate):
            yield exchange, event, key


def _json_object(raw: bytes) -> dict:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):  # the line's text is still searched for keys
        return {}
    return obj if isinstance(obj, dict) else {}


def _recorded_credentials(obj: dict, raw: bytes, path: str, number: int) -> Iterator[tuple[str, str, int | None]]:
    """(what, credential, column) for each credential on one line: headers, keys in the JSON text, and
    keys inside a base64 ``b64`` body or chunk (binary bytes the recorder could not write as text)."""
    kind = obj.get("k")
    if kind in ("request", "response"):
        for name, value in _pairs(obj.get("headers")):
            if name.lower() in CREDENTIAL_HEADERS and value.strip() and not REDACTED_RE.fullmatch(value.strip()):
                keys = [hit.secret for hit in line_hits(path, value, number)]
                for secret in keys or [value.strip()]:
                    yield f"unredacted `{name.lower()}` {kind} header", secret, None
    for hit in line_hits(path, raw.decode("utf-8", "replace"), number):
        yield f"unredacted key in a `{kind or 'unknown'}` line", hit.secret, hit.column
    for offset, key in find_base64_keys(raw):
        yield f"unredacted base64-encoded key in a `{kind or 'unknown'}` line", key, offset + 1


def _pairs(headers: object) -> Iterator[tuple[str, str]]:
    if isinstance(headers, list):
        for pair in headers:
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair):
                yield pair[0], pair[1]


def _describe(secret: str) -> str:
    return key_message(secret) if secret.startswith("sk-ant-") else f"a value {fingerprint(secret)}"


def _sha1(secret: str) -> str:
    return hashlib.sha1(secret.encode("utf-8")).hexdigest()


# -- .env files (CD303) ---------------------------------------------------------------------------


def is_env_file(path: Path) -> bool:
    """``.env``, ``.env.local``, ``prod.env``, ``.envrc``; not ``.env.example``-style templates."""
    name = path.name.lower()
    if not (name in (".env", ".envrc") or name.startswith(".env.") or name.endswith(".env")):
        return False
    return not _TEMPLATE_PARTS.intersection(re.split(r"[._-]", name))


def env_findings(paths: Iterable[Path]) -> list[Finding]:
    """CD303 for each `.env`-style file that sets an Anthropic credential variable and that git does
    not ignore. Silent outside a git repository (nothing to ignore it with)."""
    candidates: dict[str, tuple[str, int]] = {}
    for path in paths:
        if is_env_file(path):
            variable = _env_variable(path)
            if variable is not None:
                candidates[str(path)] = variable
    if not candidates:
        return []
    ignored = _git_ignored(list(candidates))
    if ignored is None:
        return []
    return [
        Finding(
            ENV_NOT_IGNORED,
            f"sets {variable} (line {line}) and git does not ignore it",
            path=path,
            line=line,
        )
        for path, (variable, line) in candidates.items()
        if path not in ignored
    ]


def _env_variable(path: Path) -> tuple[str, int] | None:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return None
    match = _ENV_VARIABLE.search(text)
    if match is None:
        return None
    return match.group(1), text.count("\n", 0, match.start()) + 1


def _git_ignored(paths: list[str]) -> set[str] | None:
    """The subset of ``paths`` git ignores (tracked files never are), or None outside a repository."""
    proc = subprocess.run(
        ["git", "check-ignore", "-z", "--stdin"],
        input="\0".join(paths).encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode not in (0, 1):
        return None
    return {os.fsdecode(p) for p in proc.stdout.split(b"\0") if p}


# -- which files ----------------------------------------------------------------------------------


def git_files(*pathspecs: str, notes: WalkNotes | None = None) -> list[Path]:
    """The files `secrets` scans by default: tracked files under the current directory, plus untracked
    `.env`-style files git does not ignore (the ones a careless `git add .` would commit). Pipes and
    the like go to ``notes``."""
    from ..files import WalkNotes, regular_files

    tracked = _git_lines(["ls-files", "-z", "--", *pathspecs])
    untracked = _git_lines(["ls-files", "-z", "--others", "--exclude-standard", "--", *pathspecs])
    paths = [Path(p) for p in tracked] + [Path(p) for p in untracked if is_env_file(Path(p))]
    return regular_files(list(dict.fromkeys(paths)), notes if notes is not None else WalkNotes())


def _git_lines(args: list[str]) -> list[str]:
    proc = subprocess.run(["git", "-c", "core.quotepath=off", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageProblem(f"git {args[0]} failed: {reason[-1] if reason else 'exit ' + str(proc.returncode)}")
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def expand(paths: Iterable[Path], notes: WalkNotes) -> list[Path]:
    """Files named on the command line as they are; a directory means its git-tracked files (every file
    under it outside a repository). A named path that is missing or no regular file, and a folder that
    cannot be listed, is an error line in ``notes.unreadable``; the others are still scanned."""
    from ..files import named_path_problem

    out: list[Path] = []
    for path in paths:
        problem = named_path_problem(path)
        if problem:
            notes.unreadable.append(redact_text(problem))
        elif path.is_dir():
            out.extend(_directory_files(path, notes))
        else:
            out.append(path)
    return out


def _directory_files(folder: Path, notes: WalkNotes) -> list[Path]:
    """Git's view of the folder; outside a repository (or without git) every file under it, skipping
    virtualenvs and caches as the doctor's walk does."""
    from ..files import walk_files

    try:
        return git_files(str(folder), notes=notes)
    except (UsageProblem, OSError):
        return sorted(walk_files(folder, notes=notes))


# -- baselines ------------------------------------------------------------------------------------


def load_baseline(path: Path) -> set[tuple[str, str]]:
    """The (file, secret SHA-1) pairs a detect-secrets baseline accepts. The plugin type is left out
    on purpose: a key a stock baseline accepted as "Base64 High Entropy String" is the same secret.
    Like ``detect-secrets-hook``, every entry is accepted whatever its audit label; unlike it, the file
    is never rewritten (no line-number churn)."""
    from detect_secrets.core.secrets_collection import SecretsCollection

    try:
        collection = SecretsCollection.load_from_baseline(json.loads(path.read_bytes()))
    except OSError as exc:
        raise InputError(str(path), f"cannot read baseline ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(str(path), 'not a detect-secrets baseline (no valid "results")') from None
    return {(_normal(filename), secret.secret_hash) for filename, secret in collection}


def _normal(path: str) -> str:
    return Path(os.path.normpath(path)).as_posix()


def accepted_by(baseline: set[tuple[str, str]], finding: Finding) -> bool:
    """Whether a detect-secrets baseline already lists this finding's secret in this file."""
    secret_hash = finding.extra.get("secret_hash")
    return bool(secret_hash and finding.path) and (_normal(finding.path or ""), secret_hash) in baseline
