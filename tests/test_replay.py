"""``replay``: playback at the recorded pace, the three views, markers for gaps, pings, errors and
breaks, the findings summary, pipes without control codes, and one-line errors for bad input."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys

import pytest

from claude_doctor.recording import Chunk, open_source
from claude_doctor.replay import Player, ReplayOptions, Screen

from .conftest import RECORDINGS, ROOT


def rec(name: str) -> str:
    return str(RECORDINGS / name)


def test_text_view_shows_the_text_and_ends_with_the_summary(cli) -> None:
    result = cli("replay", "--speed", "max", rec("clean-text.jsonl"))
    assert result.code == 0
    assert "Café, naïve, 日本語 and 😀" in result.stdout
    assert "[ping at t=0.47s]" in result.stdout
    assert result.stdout.rstrip().endswith("no problems found.")
    assert "\x1b" not in result.stdout + result.stderr  # a pipe gets no control codes


def test_gaps_longer_than_the_idle_threshold_are_marked(cli) -> None:
    marked = cli("replay", "--speed", "max", rec("cd102-idle-gap.jsonl"))
    unmarked = cli("replay", "--speed", "max", "--idle-gap", "60", rec("cd102-idle-gap.jsonl"))
    assert "[gap 41.3s with no bytes (idle threshold 15s)]" in marked.stdout
    assert "CD102" in marked.stdout and marked.code == 1
    assert "[gap" not in unmarked.stdout and unmarked.code == 0


@pytest.mark.parametrize(
    ("name", "marker", "code"),
    [
        ("cd104-reset-mid-event.jsonl", "[stream broke here at t=1.63s: reset", "CD104"),
        (
            "cd104-truncated-stream.jsonl",
            "[stream broke here at t=0.97s: eof, after 12 events, no message_stop]",
            "CD104",
        ),
        ("cd108-overloaded-error-event.jsonl", "[error event at t=0.87s: overloaded_error: Overloaded]", "CD108"),
        ("cd103-read-timeout.jsonl", "[stream broke here", "CD103"),
    ],
)
def test_errors_and_breaks_are_marked(cli, name: str, marker: str, code: str) -> None:
    result = cli("replay", "--speed", "max", rec(name))
    assert marker in result.stdout
    assert code in result.stdout and result.code == 1


def test_events_view_is_one_line_per_event(cli) -> None:
    result = cli("replay", "--speed", "max", "--view", "events", rec("cd105-delta-before-block.jsonl"))
    lines = [ln for ln in result.stdout.splitlines() if " #" in ln]
    assert "#1    message_start" in lines[0]
    assert "content_block_delta  [0] 'Hello'" in lines[1]
    assert "CD105" in result.stdout


def test_raw_view_writes_the_exact_body_to_stdout() -> None:
    path = rec("cd104-reset-mid-event.jsonl")
    body = b"".join(r.data for r in open_source(path).records if isinstance(r, Chunk))
    proc = subprocess.run(
        [sys.executable, "-m", "claude_doctor", "replay", "--speed", "max", "--view", "raw", path],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout == body  # byte for byte, though the body ends inside a UTF-8 character
    assert b"[stream broke here" in proc.stderr and b"CD104" in proc.stderr


def test_json_format_keeps_stdout_pure_json(cli) -> None:
    result = cli("replay", "--speed", "max", "--format", "json", rec("cd106-max-tokens.jsonl"))
    assert result.codes() == ["CD106"]
    assert "[exchange 0" in result.stderr


def test_reads_imports_and_stdin(cli) -> None:
    har = cli("replay", "--speed", "max", rec("imports/devtools.har"))
    piped = cli("replay", "--speed", "max", "-", stdin=(RECORDINGS / "imports" / "curl-N.sse").read_bytes())
    assert har.code == 0 and "[exchange 0" in har.stdout
    assert piped.code == 0
    assert "Streaming lets you show" in piped.stdout and "event: " not in piped.stdout
    assert "[end at t=?: eof]" in piped.stdout


@pytest.mark.parametrize("speed", [1.0, 2.0, 4.0])
def test_paces_at_the_recorded_times_divided_by_speed(speed: float) -> None:
    source = open_source(rec("clean-text.jsonl"))
    slept: list[float] = []
    player = Player(ReplayOptions(speed=speed), Screen(io.StringIO(), io.StringIO(), False), None, slept.append)
    player.play(source.records)
    assert math.isclose(sum(slept), 2.122 / speed, abs_tol=1e-6)  # the recording's end line is at t=2.122


def test_max_speed_never_sleeps() -> None:
    player = Player(
        ReplayOptions(speed=math.inf), Screen(io.StringIO(), io.StringIO(), False), None, lambda s: pytest.fail("slept")
    )
    player.play(open_source(rec("cd102-idle-gap.jsonl")).records)


def test_markers_are_coloured_only_when_asked() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    Screen(plain, plain, False).mark("error", "boom")
    Screen(coloured, coloured, True).mark("error", "boom")
    assert plain.getvalue() == "[boom]\n"
    assert coloured.getvalue().startswith("\x1b[31;1m[boom]")


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["/no/such/file.jsonl"], "no such file or folder"),
        (["--speed", "fast", rec("clean-text.jsonl")], "not a number"),
    ],
)
def test_bad_input_is_exit_2(cli, args: list[str], problem: str) -> None:
    result = cli("replay", *args)
    assert result.code == 2 and problem in result.stderr


def test_unreadable_recording_is_a_one_line_error(cli, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"k":"meta","format":"claude-doctor/recording","v":1}\n{"k":"chunk","i":0,"b64":"%%%"}\n\n')
    result = cli("replay", "--speed", "max", str(bad))
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "bad.jsonl" in result.stderr
