"""Anthropic credential shapes, fingerprints and redaction: the one place that knows what a key
looks like. Used by recording redaction, the secrets checks and every message that mentions a key."""

from __future__ import annotations

import base64
import itertools
import re

#: Fixed-length shapes (the Console's keys): 93 body characters then ``AA``.
FIXED_LENGTH = {"api03": 108, "admin01": 110}
#: OAuth tokens have no published length; at least 40 body characters.
_KEY_SHAPE = r"sk-ant-(?:(?:api03|admin01)-[A-Za-z0-9_-]{93}AA|(?:oat01|ort01)-[A-Za-z0-9_-]{40,})"
#: In text, a key-shaped run followed by one more key character is a longer string, not a key.
KEY_RE = re.compile(_KEY_SHAPE + r"(?![A-Za-z0-9_-])")
_KEY_BYTES_RE = re.compile(KEY_RE.pattern.encode("ascii"))
#: In binary data the byte after a key means nothing (1 in 4 is a letter, a digit, ``-`` or ``_``):
#: there a key is its prefix and length alone.
_BINARY_KEY_RE = re.compile(_KEY_SHAPE.encode("ascii"))
#: ``sk-ant-`` in UTF-16: these 13 bytes occur in little- and big-endian text alike.
UTF16_MARK = "sk-ant-".encode("utf-16-le")[:-1]
#: Anything that starts like a key, for redaction, which must err on the side of hiding.
KEYISH_RE = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
KEYISH_BYTES_RE = re.compile(rb"sk-ant-[A-Za-z0-9_-]{8,}")
#: the end of a byte string that may be the start of a key continued in the next chunk
KEY_START_AT_END_RE = re.compile(rb"s(?:k(?:-(?:a(?:n(?:t(?:-[A-Za-z0-9_-]*)?)?)?)?)?)?\Z")

CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})
#: What the recording writer leaves in place of a credential value (docs/recording-format.md, rule 3).
REDACTED_RE = re.compile(r"\[REDACTED len=\d+\]")

#: What each key kind is, for messages.
KINDS = {
    "api03": "API key",
    "admin01": "Admin API key",
    "oat01": "OAuth access token",
    "ort01": "OAuth refresh token",
}

# Placeholder words. Each is 7+ characters (or spelled with separators) so that a random 93-character
# body contains one by chance less than once in ~10^8 keys: a real key is never waved through.
_PLACEHOLDER_WORDS = re.compile(
    r"your[-_]?(?:api[-_]?|admin[-_]?|oauth[-_]?)?(?:key|token)|(?:key|token)[-_]?here|placeholder|example"
    r"|redacted|replace[-_]?me|change[-_]?me|insert[-_]?(?:key|token|here)|not[-_]?a[-_]?real|x{7,}",
    re.IGNORECASE,
)
#: Fewer distinct characters than this in the body is a typed fake (a random body has ~49 of 64).
_MIN_DISTINCT = 8
#: An ascending run this long (``abcdefgh``, ``12345678``) is typed, not random.
_SEQUENCE_RUN = 8


def fingerprint(secret: str) -> str:
    """A safe stand-in for a credential: its prefix, its last four characters and its length,
    e.g. ``sk-ant-api03-…XYAA, 108 chars``. Never enough to use the key."""
    secret = secret.strip()
    match = re.match(r"(sk-ant-[a-z]+\d\d-)", secret)
    prefix = match.group(1) if match else ""
    tail = secret[-4:] if len(secret) >= 16 else ""
    return f"{prefix}…{tail}, {len(secret)} chars"


def redacted_value(value: str) -> str:
    """The recording format's stand-in for a credential header value (docs/recording-format.md, rule 3)."""
    return f"[REDACTED len={len(value)}]"


def redact_text(text: str) -> str:
    """Replace every key-like run in ``text`` with its redacted stand-in."""
    if "sk-ant-" not in text:
        return text
    return KEYISH_RE.sub(_redacted_unless_fingerprint, text)


def _redacted_unless_fingerprint(match: re.Match[str]) -> str:
    """A fingerprint (``sk-ant-admin01-…U9AA, 110 chars``) is already safe: leave it as it is."""
    if match.string.startswith("…", match.end()) and re.fullmatch(r"sk-ant-[a-z]+\d\d-", match.group(0)):
        return match.group(0)
    return redacted_value(match.group(0))


def redact_pieces(pieces: list[bytes]) -> list[bytes]:
    """Redact keys in the concatenation of ``pieces`` (consecutive chunks) while keeping each piece's
    boundaries: a key that spans pieces is replaced inside the piece where it starts, so no piece
    carries any part of it."""
    joined = b"".join(pieces)
    if b"sk-ant-" not in joined:
        return pieces
    edits = [
        (m.start(), m.end(), redacted_value(m.group().decode("ascii")).encode("ascii"))
        for m in KEYISH_BYTES_RE.finditer(joined)
    ]
    return edit_pieces(pieces, edits)


def edit_pieces(pieces: list[bytes], edits: list[tuple[int, int, bytes]]) -> list[bytes]:
    """Apply ``(start, stop, replacement)`` edits, sorted and apart, given as offsets in the joined
    ``pieces``, keeping each piece's boundaries: a replacement goes into the piece where its span
    starts and the span's bytes leave every piece."""
    joined = b"".join(pieces)
    ends = list(itertools.accumulate(map(len, pieces)))
    out = [bytearray() for _ in pieces]

    def spread(start: int, stop: int) -> None:
        begin = 0
        for k, end in enumerate(ends):
            lo, hi = max(start, begin), min(stop, end)
            if lo < hi:
                out[k] += joined[lo:hi]
            begin = end

    pos = 0
    for start, stop, replacement in edits:
        spread(pos, start)
        owner = next((k for k, end in enumerate(ends) if start < end), len(pieces) - 1)
        out[owner] += replacement
        pos = stop
    spread(pos, len(joined))
    return [bytes(piece) for piece in out]


def redact_headers(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], set[str]]:
    """Redact credential headers, keeping the header names so "header missing" stays diagnosable.
    Returns the new pairs and the lower-cased names that were redacted."""
    out: list[tuple[str, str]] = []
    names: set[str] = set()
    for name, value in headers:
        lower = name.lower()
        if lower in CREDENTIAL_HEADERS and not value.startswith("[REDACTED"):
            out.append((name, redacted_value(value)))
            names.add(lower)
        else:
            out.append((name, redact_text(value)))
    return out, names


def kind_of(key: str) -> str:
    """``api03``, ``admin01``, ``oat01``, ``ort01`` (a key of the ``KINDS``), or ``""``."""
    kind = key.split("-", 3)[2] if key.startswith("sk-ant-") and key.count("-") >= 3 else ""
    return kind if kind in KINDS else ""


def key_kind(key: str) -> str:
    """``API key``, ``Admin API key``, … from the key's prefix."""
    return KINDS.get(kind_of(key), "key")


def _body(key: str) -> str:
    """The random part: after ``sk-ant-<kind>-``, without the fixed ``AA`` tail of api03/admin01."""
    kind, body = key.split("-", 3)[2:]
    return body[:-2] if kind in FIXED_LENGTH else body


def _has_sequence(body: str) -> bool:
    run = 1
    for before, after in itertools.pairwise(body):
        run = run + 1 if ord(after) == ord(before) + 1 else 1
        if run >= _SEQUENCE_RUN:
            return True
    return False


def is_placeholder(key: str) -> bool:
    """Whether a key-shaped string is a typed fake (the CD301 placeholder rules): a body of one
    repeated character or a handful of them, YOUR-KEY-HERE-style words, or an alphabet run. Shorter
    fakes (``sk-ant-...``, ``sk-ant-api03-xxxx``, ``<…>``, ``${…}``) never match ``KEY_RE`` at all."""
    body = _body(key)
    return len(set(body)) < _MIN_DISTINCT or bool(_PLACEHOLDER_WORDS.search(body)) or _has_sequence(body)


def find_keys(text: str) -> list[tuple[int, str]]:
    """Every real-looking key in ``text`` as ``(offset, key)``; placeholders left out."""
    if "sk-ant-" not in text:
        return []
    return [(m.start(), m.group(0)) for m in KEY_RE.finditer(text) if not is_placeholder(m.group(0))]


def find_keys_in_bytes(data: bytes) -> list[tuple[int, str]]:
    """Every real-looking key in raw bytes as ``(byte offset, key)``, placeholders left out. Bytes with
    a NUL in them are binary, where a key followed by a byte that could continue it is still a key."""
    if b"sk-ant-" not in data:
        return []
    pattern = _BINARY_KEY_RE if is_binary(data) else _KEY_BYTES_RE
    found = [(m.start(), m.group().decode("ascii")) for m in pattern.finditer(data)]
    return [(offset, key) for offset, key in found if not is_placeholder(key)]


def is_binary(data: bytes) -> bool:
    """git's test: a NUL byte. (UTF-16 text has them too, but never an ASCII ``sk-ant-``.)"""
    return b"\0" in data


# -- base64 ---------------------------------------------------------------------------------------


def _base64_marks(text: bytes) -> tuple[bytes, ...]:
    """The base64 characters of ``text`` that do not depend on its neighbours, at each of the three
    alignments it can have in the encoded bytes: a plain byte search then finds an encoded key."""
    marks = []
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + text + b"\0\0\0")
        first, end = -(-8 * pad // 6), 8 * (pad + len(text)) // 6
        marks.append(encoded[first:end])
    return tuple(marks)


#: ``sk-ant-`` base64-encoded (standard or URL-safe alphabet, which agree on these characters).
BASE64_MARKS = _base64_marks(b"sk-ant-")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
_URL_SAFE = bytes.maketrans(b"-_", b"+/")


def has_base64_mark(data: bytes) -> bool:
    """Whether ``data`` may hold a base64-encoded key: three ``bytes.find`` on the common path."""
    return any(mark in data for mark in BASE64_MARKS)


def find_base64_keys(data: bytes) -> list[tuple[int, str]]:
    """Keys inside base64 runs (a Kubernetes ``Secret``, a ``.env`` value, a ``Basic`` header, a
    recording's ``b64`` field) as ``(offset of the run, key)``: each run holding an encoded ``sk-ant-``
    is decoded from its start and searched like any bytes. Base64 of anything else never decodes to a key."""
    if not has_base64_mark(data):
        return []
    found = []
    for run in _BASE64_RUN.finditer(data):
        if has_base64_mark(run.group()):
            found += [(run.start(), key) for _, key in find_keys_in_bytes(_decode_base64(run.group()))]
    return found


def _decode_base64(run: bytes) -> bytes:
    """Decode a run of either alphabet, padded or not; a run cut one character past a group boundary
    loses that character (it holds less than a byte)."""
    chars = run.rstrip(b"=").translate(_URL_SAFE)
    chars = chars[: len(chars) - 1] if len(chars) % 4 == 1 else chars
    try:
        return base64.b64decode(chars + b"=" * (-len(chars) % 4), validate=True)
    except ValueError:  # binascii.Error
        return b""
