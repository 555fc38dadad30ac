"""Every CD1xx rule through the real CLI: the bundled recordings fire exactly the code in their
name, and hand-built near misses stay silent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from claude_doctor import sdk_limits, synth
from claude_doctor.recording import RecordingWriter
from tests.conftest import RECORDINGS
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

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
    url: str = "https://api.anthropic.com/v1/messages",
) -> Path:
    """A one-exchange recording, written with the same writer the capture paths use."""
    request = request if request is not None else {"model": "claude-sonnet-4-6", "max_tokens": 512, "stream": True}
    with path.open("wb") as f:
        w = RecordingWriter(f, "hand")
        w.request(0, 0.0, "POST", url, request_headers or [], json.dumps(request).encode())
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


def test_cd106_without_the_request_says_the_limit_is_unknown(tmp_path):
    raw = tmp_path / "curl-N.sse"  # curl -N output: the body alone
    raw.write_bytes(b"".join(synth.text_message(["a"], "max_tokens")))
    (finding,) = run_cli("stream", str(raw), "--format", "json").json["findings"]
    assert finding["code"] == "CD106"
    assert "(the request's max_tokens is not in the recording)" in finding["message"]
    assert "None" not in finding["message"]


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


def _with_block(block: dict) -> list[bytes]:
    """A clean message whose first block is ``block`` (started and stopped), then a text block."""
    return [
        synth.message_start(),
        synth.block_start(0, block),
        synth.delta(0, {"type": "compaction_delta", "content": "summary"}),
        synth.block_stop(0),
        *synth.text_block(1, ["a"]),
        synth.message_delta(),
        synth.MESSAGE_STOP,
    ]


BETA_MARKERS = {
    "header": {"request_headers": [("anthropic-beta", "compact-2026-01-12")]},
    # client.beta.messages in many SDK versions; recorders such as vcrpy often drop the header
    "query": {"url": "https://api.anthropic.com/v1/messages?beta=true"},
    "body field": {
        "request": {"model": "m", "max_tokens": 512, "stream": True, "context_management": {"edits": []}},
    },
}


@pytest.mark.parametrize("marker", sorted(BETA_MARKERS))
def test_cd116_beta_requests_are_checked_against_the_beta_types(tmp_path, marker):
    known = write_recording(
        tmp_path / "known.jsonl", paced(_with_block({"type": "compaction"})), **BETA_MARKERS[marker]
    )
    unknown = write_recording(tmp_path / "new.jsonl", paced(_with_block({"type": "hologram"})), **BETA_MARKERS[marker])
    assert codes_for(known) == []
    findings = run_cli("stream", str(unknown), "--format", "json").json["findings"]
    assert [f["code"] for f in findings] == ["CD116"]  # compaction_delta is known; the block is not
    assert findings[0]["message"].startswith("Unknown content block type 'hologram'")


def test_cd116_beta_types_without_a_beta_request_say_so(tmp_path):
    path = write_recording(tmp_path / "p.jsonl", paced(_with_block({"type": "compaction"})))
    messages = [f["message"] for f in run_cli("stream", str(path), "--format", "json").json["findings"]]
    assert len(messages) == 2
    assert messages[0].startswith("Content block type 'compaction' is a beta type")
    assert messages[1].startswith("Delta type 'compaction_delta' is a beta type")
    assert all("no anthropic-beta header, no ?beta=true" in m for m in messages)


def _checked_in_a_fresh_process(*paths: Path, without_sdk: bool = False) -> list[str]:
    """Per recording: the findings' messages up to their first parenthesis, and whether the check
    imported anthropic. ``without_sdk`` makes ``import anthropic`` fail, as where it is not installed."""
    no_sdk = "sys.modules['anthropic'] = None\n" if without_sdk else ""
    script = (
        "import sys\n" + no_sdk + "from claude_doctor.checks.stream import check_source\n"
        "from claude_doctor.config import Config\n"
        "from claude_doctor.recording import open_source\n"
        "for path in sys.argv[1:]:\n"
        "    found = check_source(open_source(path), Config())\n"
        "    print([f.message.split(' (')[0] for f in found], sys.modules.get('anthropic') is not None)\n"
    )
    command = [sys.executable, "-c", script, *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()


BETA_TYPES_SAID = str(
    ["Content block type 'compaction' is a beta type", "Delta type 'compaction_delta' is a beta type"]
)


def test_cd116_reads_the_sdk_only_for_a_type_outside_the_core_set(tmp_path):
    """Importing anthropic takes about a second: a clean stream must not pay for it."""
    clean = write_recording(tmp_path / "clean.jsonl", paced(synth.text_message(["a"])))
    plain = write_recording(tmp_path / "plain.jsonl", paced(_with_block({"type": "compaction"})))
    assert _checked_in_a_fresh_process(clean, plain) == ["[] False", f"{BETA_TYPES_SAID} True"]


def test_cd116_without_the_sdk_uses_its_own_lists(tmp_path):
    plain = write_recording(tmp_path / "plain.jsonl", paced(_with_block({"type": "compaction"})))
    beta = write_recording(tmp_path / "beta.jsonl", paced(_with_block({"type": "compaction"})), **BETA_MARKERS["query"])
    assert _checked_in_a_fresh_process(plain, beta, without_sdk=True) == [f"{BETA_TYPES_SAID} False", "[] False"]


def test_cd116_fallback_lists_never_claim_a_type_the_installed_sdk_lacks():
    """Without a readable SDK the checks use these lists: they must not silence what the SDK would
    not parse, and the reader must still find the SDK's types (a changed SDK layout fails here)."""
    for beta in (False, True):
        installed = sdk_limits.sdk_vocabulary(beta)
        fallback = sdk_limits.FALLBACK[beta]
        assert installed.source.startswith("the installed anthropic ")
        assert fallback.events <= installed.events
        assert fallback.deltas <= installed.deltas
        assert fallback.blocks <= installed.blocks
    assert sdk_limits.beta_request_fields() >= sdk_limits.FALLBACK_BETA_FIELDS


def test_cd105_a_block_the_message_ends_without_stopping(tmp_path):
    start, *deltas, _stop = synth.text_block(0, ["Hello", " wor"])
    events = [synth.message_start(), start, *deltas, synth.message_delta("max_tokens"), synth.MESSAGE_STOP]
    findings = run_cli("stream", str(write_recording(tmp_path / "o.jsonl", paced(events))), "--format", "json").json[
        "findings"
    ]
    assert [(f["code"], f["event"]) for f in findings] == [("CD105", 5), ("CD106", 5)]
    assert findings[0]["message"].startswith("Block 0 (text) has no content_block_stop before message_delta")


@pytest.mark.parametrize(
    "parts, code, says",
    [
        (['{"city": "Par'], "CD117", "its input JSON is unfinished after 13 characters"),
        ([], "CD117", "no input JSON arrived; the SDK raises nothing and returns the input of its content_block_start"),
        (['{"city": "Paris"}'], "CD105", "its input JSON is whole, so the SDK returns it as sent"),
    ],
)
def test_cd117_a_tool_block_still_open_when_the_message_ends(tmp_path, parts, code, says):
    start, *deltas, _stop = synth.tool_use_block(1, "get_weather", parts)
    events = [
        synth.message_start(),
        *synth.text_block(0, ["Let me look."]),
        start,
        *deltas,
        synth.message_delta("max_tokens"),
        synth.MESSAGE_STOP,
    ]
    result = run_cli("stream", str(write_recording(tmp_path / "t.jsonl", paced(events))), "--format", "json")
    (finding,) = (f for f in result.json["findings"] if f["code"] != "CD106")
    assert finding["code"] == code
    assert finding["message"].startswith(
        "Tool block 1 (tool_use get_weather) has no content_block_stop before message_delta (stop_reason max_tokens)"
    )
    assert says in finding["message"]


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
