"""The key-leak corpus: templates under ``positive/`` (one real-shaped key each, in a different context)
and ``negative/`` (placeholders and near misses), with ``@@MARKER@@``s filled in at run time by fresh
fake keys. Nothing key-shaped is ever committed, so this repository's own hook stays quiet.

A template ``name.ext.tmpl`` becomes ``name.ext``; a leading ``dot.`` becomes ``.`` (``dot.env`` → ``.env``).
"""

from __future__ import annotations

import base64
import secrets
import string
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALPHABET = string.ascii_letters + string.digits + "_-"


def fake_key(kind: str = "api03", body: int = 93, tail: str = "AA") -> str:
    """A key of the real shape with a random body: nothing can tell it from a live one, but it is none."""
    return f"sk-ant-{kind}-{''.join(secrets.choice(ALPHABET) for _ in range(body))}{tail}"


def marker_values() -> dict[str, str]:
    """Fresh values for every marker the templates use."""
    return {
        "API03": fake_key("api03"),
        "ADMIN01": fake_key("admin01"),
        "OAT01": fake_key("oat01", 95),
        "ORT01": fake_key("ort01", 95),
        "FULLX": "sk-ant-api03-" + "x" * 93 + "AA",
        "SEQ": "sk-ant-api03-" + (string.ascii_letters + string.digits)[:62] + "abcdefghijklmnopqrstuvwxyzABCDE" + "AA",
        "SHORT": fake_key("api03", 92),
        "ADMIN_SHORT": fake_key("admin01", 91),
        "BB": fake_key("api03", tail="BB"),
        "OAT_SHORT": fake_key("oat01", 30),
        "OAT_WORDS": "sk-ant-oat01-your-oauth-token-here-" + "0" * 40,
        **_base64_near_misses(),
    }


def _base64_near_misses() -> dict[str, str]:
    """Base64 that must not decode to a key: placeholders, a wrong length, a redaction, random bytes."""
    texts = {
        "FULLX_B64": "sk-ant-api03-" + "x" * 93 + "AA",
        "SHORT_B64": fake_key("api03", 92),
        "REDACTED_B64": "[REDACTED len=108]",
        "WORDS_B64": "sk-ant-api03-YOUR_KEY_HERE",
    }
    values = {marker: base64.b64encode(text.encode()).decode() for marker, text in texts.items()}
    values["RANDOM_B64"] = base64.b64encode(secrets.token_bytes(81)).decode()
    return values


def target_name(template: Path) -> str:
    name = template.name.removesuffix(".tmpl")
    return "." + name[4:] if name.startswith("dot.") else name


def templates(kind: str) -> list[Path]:
    """The templates of one side of the corpus: ``positive`` or ``negative``."""
    return sorted((HERE / kind).glob("*.tmpl"))


def materialize(kind: str, dest: Path, values: dict[str, str]) -> dict[str, list[str]]:
    """Write one side of the corpus into ``dest``; returns each file's name and the markers' values in it."""
    dest.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for template in templates(kind):
        text = template.read_text("utf-8")
        used = [value for marker, value in values.items() if f"@@{marker}@@" in text]
        for marker, value in values.items():
            text = text.replace(f"@@{marker}@@", value)
        name = target_name(template)
        (dest / name).write_text(text, "utf-8")
        written[name] = used
    return written
