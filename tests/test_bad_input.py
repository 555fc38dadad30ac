"""Bad input, as a user meets it through ``claude-doctor stream``: exit 2 with one line naming the
file and the reason, never a traceback; huge inputs in bounded memory; and property tests that
nothing but a DoctorError ever comes out of reading and checking arbitrary or mutated files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_doctor import synth
from claude_doctor.checks.stream import check_source
from claude_doctor.config import Config
from claude_doctor.errors import DoctorError
from claude_doctor.recording import open_source
from tests.conftest import RECORDINGS, ROOT
from tests.conftest import invoke_cli as run_cli  # in-process (the fast layer)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
META = (
    b'{"k":"meta","format":"claude-doctor/recording","v":1,"recorded_at":null,"source":"hand","tool":null,'
    b'"redacted":[]}\n'
)
CLEAN = (RECORDINGS / "clean-text.jsonl").read_bytes()


def assert_one_line_error(result, path: str | Path) -> str:
    """Exit 2, one stderr line naming the file, no traceback anywhere."""
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("claude-doctor: error: ") and str(path) in lines[0]
    assert "internal error" not in lines[0]
    return lines[0]


def stream(*args: str, **kw):
    return run_cli("stream", *args, **kw)


# -- one bad file at a time ------------------------------------------------------------------------


def test_binary_garbage(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 40)
    line = assert_one_line_error(stream(str(path)), path)
    assert "binary" in line or "not a recording" in line


def test_empty_and_blank_files(tmp_path):
    for name, data in [("empty.jsonl", b""), ("blank.sse", b"\n\n  \r\n")]:
        path = tmp_path / name
        path.write_bytes(data)
        assert "empty" in assert_one_line_error(stream(str(path)), path)


def test_json_output_lists_the_error_too(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"\x00\x01\x02" * 100)
    result = stream(str(path), "--format", "json")
    assert_one_line_error(result, path)
    assert len(result.json["errors"]) == 1 and str(path) in result.json["errors"][0]


def test_truncated_last_line_is_a_warning_and_the_rest_is_still_checked(tmp_path):
    data = (RECORDINGS / "cd105-delta-before-block.jsonl").read_bytes()
    lines = data.split(b"\n")
    cut = b"\n".join(lines[:8]) + b"\n" + lines[8][: len(lines[8]) // 2]  # the cut line has no newline
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    result = stream(str(path), "--format", "json")
    assert "Traceback" not in result.stdout + result.stderr
    assert result.code == 1 and "CD105" in result.codes() and result.json["errors"] == []
    verbose = stream(str(path), "-v")
    assert "truncated" in verbose.stderr and f"{path}:9" in verbose.stderr


def test_a_json_line_that_is_not_an_object(tmp_path):
    lines = CLEAN.split(b"\n")
    path = tmp_path / "list.jsonl"
    path.write_bytes(b"\n".join([*lines[:3], b'["k","chunk"]', *lines[3:]]))
    line = assert_one_line_error(stream(str(path)), f"{path}:4")
    assert "object" in line


@pytest.mark.parametrize(
    "bad_line, words",
    [
        (b'{"k":"chunk","i":0,"t":0.5,"b64":"not base64!"}', "chunk"),
        (b'{"k":"chunk","i":-1,"t":0.5,"text":"x"}', "i"),
        (b'{"k":"chunk","i":0,"t":"soon","text":"x"}', "t"),
        (b'{"k":"chunk","i":0,"t":0.5}', "b64"),
        (b'{"k":"response","i":0,"t":0.5,"status":"200","headers":[]}', "status"),
        (b'{"k":"request","i":0,"t":0,"headers":[["a"]]}', "headers"),
        (b'{"k":"chunk","i":0,"t":0.5,"text":"x"', "JSON"),  # a complete line that is cut JSON
    ],
)
def test_bad_fields_name_the_line(tmp_path, bad_line, words):
    lines = CLEAN.split(b"\n")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join([*lines[:3], bad_line, *lines[3:]]))
    line = assert_one_line_error(stream(str(path)), f"{path}:4")
    assert words in line


def test_unknown_version(tmp_path):
    path = tmp_path / "v2.jsonl"
    path.write_bytes(CLEAN.replace(b'"v":1,', b'"v":2,', 1))
    line = assert_one_line_error(stream(str(path)), path)
    assert "v=2" in line


def test_jsonl_whose_first_line_is_not_meta(tmp_path):
    path = tmp_path / "nometa.jsonl"
    path.write_bytes(b"\n".join(CLEAN.split(b"\n")[1:]))
    assert_one_line_error(stream(str(path)), path)


def test_nonexistent_path(tmp_path):
    path = tmp_path / "nope.jsonl"
    line = assert_one_line_error(stream(str(path)), path)
    assert "no such file" in line


def test_directory_with_no_recordings(tmp_path):
    (tmp_path / "README.md").write_text("nothing here\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.jsonl").write_bytes(CLEAN)
    line = assert_one_line_error(stream(str(tmp_path)), tmp_path)
    assert "no recordings" in line


def test_broken_symlink(tmp_path):
    link = tmp_path / "gone.jsonl"
    link.symlink_to(tmp_path / "deleted.jsonl")
    assert_one_line_error(stream(str(link)), link)


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    path = tmp_path / "secret.jsonl"
    path.write_bytes(CLEAN)
    path.chmod(0)
    assert_one_line_error(stream(str(path)), path)


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x00" * 10)
    result = stream(str(bad), str(RECORDINGS / "cd106-max-tokens.jsonl"), "--format", "json")
    assert_one_line_error(result, bad)
    assert result.codes() == ["CD106"]


def test_malformed_documents_are_one_line_errors(tmp_path):
    cases = {
        "entries.har": json.dumps({"log": {"entries": [1, "x"]}}),
        "status.har": json.dumps(
            {"log": {"entries": [{"request": {"url": "u"}, "response": {"status": [200], "content": "x"}}]}}
        ),
        "b64.har": json.dumps(
            {"log": {"entries": [{"response": {"status": 200, "content": {"text": "QUJDR", "encoding": "base64"}}}]}}
        ),
        "inter.yaml": "interactions:\n- 1\n- request: x\n",
        "body.json": json.dumps({"interactions": [{"request": {}, "response": {"status": "ok", "headers": 3}}]}),
        "notjson.json": "{not json at all",
        "yaml.yaml": "interactions: [unclosed\n",
        "preamble.txt": "HTTP/1.1 100 Continue\r\n\r\n\r\n\r\nno status line here\r\n\r\n",
        "frame.trace": "== Info: x\n"
        + "".join(
            f"<= Recv {what}, {len(data)} bytes\n"
            + "".join(f"{o:04x}: {' '.join(f'{b:02x}' for b in data[o : o + 16])}\n" for o in range(0, len(data), 16))
            for what, data in [
                ("header", b"HTTP/1.1 200 OK\r\n"),
                ("header", b"te: x\r\n"),
                ("header", b"transfer-encoding: chunked\r\n"),
                ("data", b"zz\r\n"),
            ]
        ),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        assert_one_line_error(stream(str(path)), path)


def test_event_with_an_object_as_index_is_checked_not_crashed(tmp_path):
    path = tmp_path / "index.sse"
    path.write_bytes(synth.sse("content_block_delta", {"type": "content_block_delta", "index": {}, "delta": {}}))
    result = stream(str(path), "--format", "json")
    assert result.code == 1 and "CD105" in result.codes()


# -- huge inputs in bounded memory -----------------------------------------------------------------

_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run([sys.executable, "-m", "claude_doctor", *sys.argv[1:]], capture_output=True)
print(json.dumps({"code": p.returncode, "stdout": p.stdout.decode("utf-8", "replace"),
    "stderr": p.stderr.decode("utf-8", "replace"), "seconds": time.monotonic() - t,
    "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""
BIG = 300 * 2**20
MAX_RSS_MB = 150


def run_measured(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args], cwd=ROOT, env=env, capture_output=True, timeout=120, check=True
    )
    return json.loads(proc.stdout)


def write_big(path: Path, head: bytes, fill: bytes, tail: bytes) -> None:
    block = fill * (2**20 // len(fill))
    with path.open("wb") as f:
        f.write(head)
        for _ in range(BIG // len(block)):
            f.write(block)
        f.write(tail)


@pytest.fixture
def big_dir():
    with tempfile.TemporaryDirectory(dir=os.environ.get("CLAUDE_DOCTOR_BIG_TMP")) as d:
        yield Path(d)


@pytest.mark.slow
def test_300mb_sse_file_without_a_newline(big_dir):
    path = big_dir / "one-line.sse"
    write_big(path, b"event: content_block_delta\ndata: ", b"x", b"")
    out = run_measured("stream", str(path), "--format", "json")
    assert "Traceback" not in out["stdout"] + out["stderr"]
    assert out["maxrss_kb"] < MAX_RSS_MB * 1024, out["maxrss_kb"]
    assert out["seconds"] < 20
    assert out["code"] == 1, out["stderr"]
    codes = [f["code"] for f in json.loads(out["stdout"])["findings"]]
    assert "CD104" in codes  # the connection was cut mid-event


@pytest.mark.slow
def test_300mb_event_with_a_blank_line_is_flagged_oversize(big_dir):
    path = big_dir / "huge-event.sse"
    head = synth.message_start() + b"event: content_block_delta\ndata: "
    write_big(path, head, b"y", b"\n\n" + synth.MESSAGE_STOP)
    out = run_measured("stream", str(path), "--format", "json")
    assert "Traceback" not in out["stdout"] + out["stderr"]
    assert out["maxrss_kb"] < MAX_RSS_MB * 1024, out["maxrss_kb"]
    assert out["seconds"] < 20
    findings = json.loads(out["stdout"])["findings"]
    assert any(f["code"] == "CD113" and "MiB" in f["message"] for f in findings), findings


@pytest.mark.slow
def test_300mb_recording_with_one_giant_chunk_line(big_dir):
    path = big_dir / "giant.jsonl"
    head = b"\n".join(CLEAN.split(b"\n")[:3]) + b'\n{"k":"chunk","i":0,"t":0.5,"text":"data: '
    write_big(path, head, b"z", b'\\n\\n"}\n{"k":"end","i":0,"t":1.0,"reason":"eof"}\n')
    out = run_measured("stream", str(path))
    assert "Traceback" not in out["stdout"] + out["stderr"]
    assert out["maxrss_kb"] < MAX_RSS_MB * 1024, out["maxrss_kb"]
    assert out["seconds"] < 20
    assert out["code"] == 2
    lines = out["stderr"].strip().splitlines()
    assert len(lines) == 1 and f"{path}:4" in lines[0]


@pytest.mark.slow
def test_300mb_binary_file(big_dir):
    path = big_dir / "blob.bin"
    write_big(path, b"", bytes(range(256)), b"")
    out = run_measured("stream", str(path))
    assert out["code"] == 2 and out["maxrss_kb"] < MAX_RSS_MB * 1024 and out["seconds"] < 20
    assert len(out["stderr"].strip().splitlines()) == 1 and str(path) in out["stderr"]


# -- property tests --------------------------------------------------------------------------------

_PREFIXES = [
    b"",
    META,
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"== Info: x\n<= Recv header, 19 bytes\n",
    b"12:00:00.000001 <= Recv data, 40 bytes\n0000: ",
    b"* Connected\n< HTTP/1.1 200 OK\n<\n",
    b'{"log":{"entries":[',
    b"interactions:\n- ",
    b"event: message_start\ndata: ",
    b"\xef\xbb\xbfdata: ",
    b":",
]
_TOKENS = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b":", b"{", b"}", b'"', b"0", b"data: ", b"event: ", b"\xff", b"\xc3", b"0000: 0d 0a "]
)


def _check_file(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".x", delete=False) as f:
        f.write(data)
    try:
        try:
            source = open_source(f.name)
            check_source(source, Config())
        except DoctorError as exc:
            assert "\n" not in str(exc) and f.name in str(exc)
    finally:
        os.unlink(f.name)


@FAST
@given(
    prefix=st.sampled_from(_PREFIXES),
    body=st.one_of(st.binary(max_size=400), st.lists(_TOKENS | st.binary(max_size=4), max_size=60).map(b"".join)),
)
def test_arbitrary_bytes_raise_nothing_but_doctor_errors(prefix, body):
    _check_file(prefix + body)


_VALID = sorted([*RECORDINGS.glob("*.jsonl"), *(RECORDINGS / "imports").iterdir()])


@FAST
@given(
    which=st.sampled_from(_VALID),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["delete", "insert", "replace", "truncate", "dup-line"]),
            st.floats(0, 1),
            st.binary(min_size=1, max_size=8)
            | st.sampled_from([b"\n", b'"', b"{", b"null", b"-1", b"[]", b"1e999", b'"t":"x",', b"\r"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_valid_recordings_raise_nothing_but_doctor_errors(which, edits):
    data = bytearray(which.read_bytes())
    for op, where, blob in edits:
        at = int(where * len(data))
        if op == "delete":
            del data[at : at + len(blob) * 8]
        elif op == "insert":
            data[at:at] = blob
        elif op == "replace":
            data[at : at + len(blob)] = blob
        elif op == "truncate":
            del data[at:]
        else:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end + 1
            data[end:end] = data[start:end]
    _check_file(bytes(data))
