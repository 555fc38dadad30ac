"""``# noqa`` comments, flake8/ruff style: ``# noqa`` silences every rule on the line,
``# noqa: CD201, CD213`` only those (codes or rule names)."""

from __future__ import annotations

import re

_NOQA = re.compile(r"#\s*noqa(?P<colon>\s*:\s*(?P<codes>[A-Za-z0-9_,\s-]+))?", re.IGNORECASE)
ALL = frozenset({"*"})


def noqa_codes(line: str) -> frozenset[str] | None:
    """The codes a line's ``# noqa`` silences (``ALL`` for a bare one), or ``None`` without one."""
    if "noqa" not in line.lower():
        return None
    match = _NOQA.search(line)
    if match is None:
        return None
    if not match.group("colon"):
        return ALL
    codes = frozenset(c.strip() for c in re.split(r"[,\s]+", match.group("codes")) if c.strip())
    return codes or ALL


def silences(line: str, code: str, name: str) -> bool:
    """Whether ``line`` carries a noqa for the rule ``code`` (or its name)."""
    codes = noqa_codes(line)
    if codes is None:
        return False
    return codes is ALL or code in {c.upper() for c in codes} or name in {c.lower() for c in codes}
