"""A key pasted into the wrong place on the command line is never echoed back: click's own usage errors
("Invalid value for '--format': …", "No such option '--…'") pass through the same redaction as findings,
for every command."""

from __future__ import annotations

import pytest

from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)
from tests.secrets_corpus.corpus import fake_key

KEY = fake_key()
SECRET = KEY.removeprefix("sk-ant-api03-")

#: Where a key lands when pasted into the wrong place, and the error each place gives.
CLICK_ERRORS = [
    (("secrets", "--format", KEY), "Invalid value for '--format'"),
    (("secrets", f"--format={KEY}"), "Invalid value for '--format'"),
    (("secrets", "--fail-on", KEY), "Invalid value for '--fail-on'"),
    (("secrets", f"--{KEY}"), "No such option"),
    ((f"--{KEY}",), "No such option"),
    (("--format", KEY, "rules"), "Invalid value for '--format'"),
    (("rules", "--format", KEY), "Invalid value for '--format'"),
    (("stream", "--idle-gap", KEY, "recordings"), "Invalid value for '--idle-gap'"),
    (("serve", "--port", KEY), "Invalid value for '--port'"),
    (("replay", "--speed", KEY, "recordings"), "Invalid value for '--speed'"),
    (("record", f"--{KEY}"), "No such option"),
    (("doctor", f"--format{KEY}"), "No such option"),
    (("code", f"--{KEY}=1"), "No such option"),
]

#: Errors this project writes itself; already redacted, kept here so that they stay so.
OWN_ERRORS = [
    (("secrets", "--select", KEY), "unknown rule '[REDACTED len=108]'"),
    (("code", f"--ignore={KEY}"), "unknown rule '[REDACTED len=108]'"),
    (("explain", KEY), "unknown rule '[REDACTED len=108]'"),
    ((KEY,), "[REDACTED len=108]: no such folder"),
    (("secrets", "--baseline", KEY), "[REDACTED len=108]: cannot read baseline"),
]


def case(args: tuple[str, ...], error: str) -> object:
    """A test case named by its command line, with ``KEY`` standing in for the key."""
    return pytest.param(args, error, id=" ".join(args).replace(KEY, "KEY"))


def shows_no_part_of_the_key(output: str) -> bool:
    """No 8 consecutive characters of the key's random part anywhere (a fingerprint's last 4 are fine)."""
    return not any(SECRET[at : at + 8] in output for at in range(len(SECRET) - 7))


@pytest.mark.parametrize(("args", "error"), [case(*c) for c in CLICK_ERRORS + OWN_ERRORS])
def test_usage_error_with_a_key_in_the_argument_never_shows_it(args: tuple[str, ...], error: str) -> None:
    result = run_cli(*args)
    assert result.code == 2, result.stderr
    assert error in result.stderr
    assert shows_no_part_of_the_key(result.stdout + result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_click_errors_keep_their_usage_line_and_hint() -> None:
    result = run_cli("secrets", "--format", KEY)
    assert result.stderr.splitlines() == [
        "Usage: python -m claude_doctor secrets [OPTIONS] [FILES]...",
        "Try 'python -m claude_doctor secrets --help' for help.",
        "",
        "Error: Invalid value for '--format': '[REDACTED len=108]' is not one of 'human', 'json', 'sarif'.",
    ]
