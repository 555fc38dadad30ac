"""Anthropic credential shapes, fingerprints and redaction: the one place that knows what a key
looks like. Used by recording redaction, the secrets checks and every message that mentions a key."""

from __future__ import annotations

import re

#: Fixed-length shapes (protocol.md §8): 93 body characters then ``AA``.
FIXED_LENGTH = {"api03": 108, "admin01": 110}
#: OAuth tokens have no published length; at least 40 body characters.
KEY_RE = re.compile(
    r"sk-ant-(?:(?:api03|admin01)-[A-Za-z0-9_-]{93}AA|(?:oat01|ort01)-[A-Za-z0-9_-]{40,})(?![A-Za-z0-9_-])"
)
#: Anything that starts like a key, for redaction, which must err on the side of hiding.
KEYISH_RE = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")

CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"})


def fingerprint(secret: str) -> str:
    """A safe stand-in for a credential: its prefix, its last four characters and its length,
    e.g. ``sk-ant-api03-…XYAA, 108 chars``. Never enough to use the key."""
    secret = secret.strip()
    match = re.match(r"(sk-ant-[a-z]+\d\d-)", secret)
    prefix = match.group(1) if match else ""
    tail = secret[-4:] if len(secret) >= 16 else ""
    return f"{prefix}…{tail}, {len(secret)} chars"


def redacted_value(value: str) -> str:
    """The recording format's stand-in for a credential header value (recording-format.md rule 3)."""
    return f"[REDACTED len={len(value)}]"


def redact_text(text: str) -> str:
    """Replace every key-like run in ``text`` with its redacted stand-in."""
    if "sk-ant-" not in text:
        return text
    return KEYISH_RE.sub(lambda m: redacted_value(m.group(0)), text)


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
