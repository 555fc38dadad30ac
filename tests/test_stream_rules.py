"""Every CD1xx rule through the real CLI: the bundled recordings fire exactly the code in their
name, and hand-built near misses stay silent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from claude_doctor import synth
from claude_doctor.recording import RecordingWriter
from tests.conftest import RECORDINGS, run_cli

STREAM_CODES = [f"CD{n}" for n in range(101, 118)]
EXAMPLES = sorted(p for p in RECORDINGS.glob("*.jsonl"))


def write_recording(
    path: Path,
    chunks: list[tuple[float | None, bytes]],
    *,
    status: int | None = 200,
    headers: list[tuple[str, str]] | None = None,
    request: dict | None = None,
    request_headers: list[tuple[str, str]] | None = None,
    end: tuple[float | None, str] | None = None,
    head_t: float | None = 0.4,
) -> Path:
    """A one-exchange recording, written with the same writer the capture paths use."""
    request = request if request is not None else {"model": "claude-sonnet-4-6", "max_tokens": 512, "stream": True}
    with path.open("wb") as f:
        w = RecordingWriter(f, "hand")
        w.request(
            0, 0.0, "POST", "https://api.anthropic.com/v1/messages", request_headers or [], json.dumps(request).encode()
        )
        if status is not None:
            w.response(
                0,
                head_t,
                status,
                "OK",
                "HTTP/1.1",
                headers if headers is not None else [("content-type", "text/event-stream")],
            )
        for t, data in chunks:
            w.chunk(0, t, data)
        last = chunks[-1][0] if chunks else head_t
        end_t, reason = end or ((last or 0) + 0.01 if last is not None else None, "eof")
        w.end(0, end_t, reason)
    return path


def paced(events: list[bytes], start: float = 0.5, step: float = 0.05) -> list[tuple[float, bytes]]:
    return [(start + n * step, e) for n, e in enumerate(events)]


def codes_for(path: Path, *args: str) -> list[str]:
    result = run_cli("stream", str(path), "--format", "json", *args)
    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result.codes()


# -- the bundled examples --------------------------------------------------------------------------


def test_every_stream_rule_has_an_example_recording():
    named = {p.name[:5].upper() for p in EXAMPLES if p.name.startswith("cd")}
    assert named == set(STREAM_CODES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_recording_fires_exactly_its_code(path: Path):
    result = run_cli("stream", str(path), "--format", "json")
    found = set(result.codes())
    if path.name.startswith("clean"):
        assert found == set() and result.code == 0, result.stdout
    else:
        expected = path.name[:5].upper()
        assert found == {expected}, result.stdout
        severity = result.json["findings"][0]["severity"]
        assert result.code == (1 if severity in ("error", "warning") else 0)


def test_whole_folder_reports_each_failure_and_fails():
    result = run_cli("stream", str(RECORDINGS), "--format", "json")
    assert result.code == 1
    assert set(result.codes()) == set(STREAM_CODES)
    assert result.json["summary"]["files"] == len(list(RECORDINGS.rglob("*.*")))


def test_findings_name_the_event_and_time():
    finding = run_cli("stream", str(RECORDINGS / "cd105-delta-before-block.jsonl"), "--format", "json").json[
        "findings"
    ][0]
    assert finding["event"] == 2 and finding["t"] == pytest.approx(0.47)
    assert "IndexError" in finding["message"] and finding["fix"]


def test_multi_exchange_findings_name_their_exchange():
    result = run_cli("stream", str(RECORDINGS / "cd109-rate-limited-then-retried.jsonl"), "--format", "json")
    (finding,) = result.json["findings"]
    assert finding["exchange"] == 0
    assert "retry-after: 23" in finding["message"] and "anthropic-ratelimit-requests-remaining: 0" in finding["message"]


def test_human_output_is_ruff_like_with_fix_and_summary():
    result = run_cli("stream", str(RECORDINGS / "cd104-truncated-stream.jsonl"))
    lines = result.stdout.splitlines()
    assert re.match(r"^\S+cd104-truncated-stream\.jsonl@event 12 \(t=0\.97s\): CD104 \[E\] ", lines[0])
    assert lines[1].startswith("  fix: ")
    assert lines[-1] == "Found 1 problem in 1 file: 1 error."


# -- near misses: each rule stays silent where it must ---------------------------------------------


def test_cd101_silent_when_streaming_and_error_for_huge_max_tokens(tmp_path):
    message = [(30.0, synth.json_message("hi"))]
    json_head = [("content-type", "application/json")]
    small = write_recording(
        tmp_path / "small.jsonl", message, headers=json_head, request={"model": "claude-sonnet-4-6", "max_tokens": 512}
    )
    huge = write_recording(
        tmp_path / "huge.jsonl", message, headers=json_head, request={"model": "claude-sonnet-4-6", "max_tokens": 21334}
    )
    opus = write_recording(
        tmp_path / "opus.jsonl", message, headers=json_head, request={"model": "claude-opus-4-0", "max_tokens": 8193}
    )
    findings = {p.name: run_cli("stream", str(p), "--format", "json").json["findings"] for p in (small, huge, opus)}
    assert [(f["code"], f["severity"]) for f in findings["small.jsonl"]] == [("CD101", "warning")]
    assert [(f["code"], f["severity"]) for f in findings["huge.jsonl"]] == [("CD101", "error")]
    assert [(f["code"], f["severity"]) for f in findings["opus.jsonl"]] == [("CD101", "error")]


def test_cd102_gap_just_under_threshold_and_idle_gap_option(tmp_path):
    events = synth.text_message(synth.WORDS[:4])
    path = write_recording(tmp_path / "gap.jsonl", paced(events[:3]) + paced(events[3:], start=0.6 + 14.9))
    assert codes_for(path) == []
    assert codes_for(path, "--idle-gap", "10") == ["CD102"]


def test_cd102_config_in_pyproject(tmp_path):
    events = synth.text_message(synth.WORDS[:4])
    write_recording(tmp_path / "gap.jsonl", paced(events[:3]) + paced(events[3:], start=8.0))
    (tmp_path / "pyproject.toml").write_text("[tool.claude-doctor]\nidle-gap = 5\n")
    result = run_cli("stream", "gap.jsonl", "--format", "json", cwd=tmp_path)
    assert result.codes() == ["CD102"]


def test_cd103_owns_the_final_silence(tmp_path):
    events = synth.text_message(synth.WORDS[:4])
    path = write_recording(tmp_path / "t.jsonl", paced(events[:4]), end=(60.0, "timeout"))
    assert codes_for(path) == ["CD103"]  # no CD102 for the same silence, no CD104


def test_cd104_not_for_complete_or_error_streams(tmp_path):
    events = synth.text_message(synth.WORDS[:4])
    complete = write_recording(tmp_path / "ok.jsonl", paced(events))
    errored = write_recording(tmp_path / "err.jsonl", paced(events[:4] + [synth.error_event()]))
    cancelled = write_recording(tmp_path / "cancel.jsonl", paced(events[:4]), end=(1.0, "cancelled"))
    assert codes_for(complete) == []
    assert codes_for(errored) == ["CD108"]
    assert codes_for(cancelled) == ["CD104"]


def test_cd104_for_an_empty_event_stream(tmp_path):
    path = write_recording(tmp_path / "empty.jsonl", [])
    result = run_cli("stream", str(path), "--format", "json")
    assert result.codes() == ["CD104"]
    assert "AssertionError" in result.json["findings"][0]["message"]


def test_cd105_not_for_a_stream_merely_cut_short(tmp_path):
    events = synth.text_message(synth.WORDS[:4])
    path = write_recording(tmp_path / "cut.jsonl", paced(events[:3]))  # block never stopped
    assert codes_for(path) == ["CD104"]


@pytest.mark.parametrize(
    "events, what",
    [
        ([synth.message_start(), *synth.text_block(1, ["x"]), synth.message_delta(), synth.MESSAGE_STOP], "index 1"),
        (
            [
                synth.message_start(),
                synth.message_start(),
                *synth.text_block(0, ["x"]),
                synth.message_delta(),
                synth.MESSAGE_STOP,
            ],
            "second message_start",
        ),
        (
            [
                synth.message_start(),
                *synth.text_block(0, ["x"]),
                synth.message_delta(),
                synth.MESSAGE_STOP,
                synth.delta(0, {"type": "text_delta", "text": "late"}),
            ],
            "after message_stop",
        ),
        ([synth.message_start(), synth.block_stop(0), synth.message_delta(), synth.MESSAGE_STOP], "before its"),
    ],
)
def test_cd105_grammar_violations(tmp_path, events, what):
    result = run_cli("stream", str(write_recording(tmp_path / "g.jsonl", paced(events))), "--format", "json")
    assert result.codes() == ["CD105"]
    assert what in result.json["findings"][0]["message"].replace("A second", "second")


def test_cd106_cd107_only_for_their_stop_reasons(tmp_path):
    for reason, expected in [
        ("end_turn", []),
        ("tool_use", []),
        ("stop_sequence", []),
        ("max_tokens", ["CD106"]),
        ("pause_turn", ["CD107"]),
        ("model_context_window_exceeded", ["CD107"]),
    ]:
        path = write_recording(tmp_path / f"{reason}.jsonl", paced(synth.text_message(["a"], reason)))
        assert codes_for(path) == expected, reason


def test_cd106_on_a_non_streaming_message_too(tmp_path):
    path = write_recording(
        tmp_path / "m.jsonl",
        [(1.0, synth.json_message("a", "max_tokens"))],
        headers=[("content-type", "application/json")],
        request={"model": "m", "max_tokens": 5, "stream": True},
    )
    assert sorted(codes_for(path)) == ["CD106", "CD115"]


@pytest.mark.parametrize(
    "status, code",
    [
        (429, "CD109"),
        (401, "CD110"),
        (403, "CD110"),
        (529, "CD111"),
        (500, "CD111"),
        (503, "CD111"),
        (400, "CD112"),
        (404, "CD112"),
        (413, "CD112"),
        (409, None),
        (200, None),
    ],
)
def test_http_status_rules(tmp_path, status, code):
    body = synth.error_body("api_error", "boom") if status != 200 else b"".join(synth.text_message(["a"]))
    ctype = "application/json" if status != 200 else "text/event-stream"
    path = write_recording(tmp_path / "s.jsonl", [(0.5, body)], status=status, headers=[("content-type", ctype)])
    assert codes_for(path) == ([code] if code else [])


def test_cd111_names_an_html_gateway(tmp_path):
    path = write_recording(
        tmp_path / "g.jsonl",
        [(0.5, b"<html><body>502 Bad Gateway</body></html>")],
        status=502,
        headers=[("content-type", "text/html")],
    )
    message = run_cli("stream", str(path), "--format", "json").json["findings"][0]["message"]
    assert "HTML" in message and "502" in message


@pytest.mark.parametrize(
    "body, what",
    [
        (b"\xef\xbb\xbf" + b"".join(synth.text_message(["a"])), "BOM"),
        (b"".join(synth.text_message(["a"]))[:-1], "no blank line"),
        (b"".join(synth.text_message(["a"]))[:-2], "no blank line"),
        (b"event: message_start\ndata: {not json}\n\n" + b"".join(synth.text_message(["a"])[1:]), "not JSON"),
        (b"".join(synth.text_message(["a"])).replace(b"event: ping", b"event: pong", 1), "data.type"),
        (b"".join(synth.text_message(["café"])).replace("é".encode(), b"\xff"), "UTF-8"),
    ],
)
def test_cd113_framing_problems(tmp_path, body, what):
    result = run_cli("stream", str(write_recording(tmp_path / "f.jsonl", [(0.5, body)])), "--format", "json")
    assert "CD113" in result.codes()
    assert any(what in f["message"] for f in result.json["findings"] if f["code"] == "CD113")


def test_cd113_silent_for_comments_crlf_and_split_characters(tmp_path):
    raw = b"".join(synth.text_message(["caf\u00e9 \U0001f600"])).replace(b"\n", b"\r\n")
    raw = b": keep-alive comment\r\n\r\n" + raw
    chunks = [(0.5 + n * 0.001, raw[n : n + 3]) for n in range(0, len(raw), 3)]
    assert codes_for(write_recording(tmp_path / "ok.jsonl", chunks)) == []


def test_cd114_needs_a_long_exchange_and_a_late_first_byte(tmp_path):
    events = synth.text_message(["a"])
    late = write_recording(tmp_path / "late.jsonl", [(9.5 + n * 0.01, e) for n, e in enumerate(events)], head_t=9.4)
    short = write_recording(tmp_path / "short.jsonl", [(1.5 + n * 0.01, e) for n, e in enumerate(events)], head_t=1.4)
    steady = write_recording(tmp_path / "steady.jsonl", [(1 + n, e) for n, e in enumerate(events)])
    assert codes_for(late) == ["CD114"]
    assert codes_for(short) == []
    assert codes_for(steady) == []


def test_cd115_only_when_stream_was_asked(tmp_path):
    msg = [(1.0, synth.json_message("a"))]
    head = [("content-type", "application/json")]
    asked = write_recording(tmp_path / "a.jsonl", msg, headers=head)
    assert codes_for(asked) == ["CD115"]


def test_cd116_silent_with_a_beta_header(tmp_path):
    events = synth.text_message(["a"])
    events.insert(1, synth.block_start(0, {"type": "compaction", "content": ""}))
    events.insert(2, synth.block_stop(0))
    plain = write_recording(tmp_path / "p.jsonl", paced(events))
    beta = write_recording(tmp_path / "b.jsonl", paced(events), request_headers=[("anthropic-beta", "compact-2026")])
    assert "CD116" in codes_for(plain)
    assert "CD116" not in codes_for(beta)


@pytest.mark.parametrize(
    "parts, fires",
    [
        ([], False),
        (['{"a": 1}'], False),
        (['{"a": ', "1}"], False),
        (['{"a": '], True),
        (['{"a": NaN}'], True),
        (["[1,]"], True),
    ],
)
def test_cd117_strict_json_at_block_stop(tmp_path, parts, fires):
    events = [
        synth.message_start(),
        *synth.tool_use_block(0, "t", parts),
        synth.message_delta("tool_use"),
        synth.MESSAGE_STOP,
    ]
    assert codes_for(write_recording(tmp_path / "t.jsonl", paced(events))) == (["CD117"] if fires else [])
