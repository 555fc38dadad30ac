"""Fuzzing every input path with hypothesis: whatever the bytes, the tool answers with its own typed
errors (a ``DoctorError`` naming the file, or the documented per-file error result) and never a
traceback; through the CLI it exits 0, 1 or 2 and prints no traceback.

Complements ``test_sse.py`` (the SSE decoder on arbitrary bytes and splits) and ``test_bad_input.py``
(byte-level mutations of whole recordings and imports): here the mutations know the formats (JSON and
YAML trees of HAR files and cassettes, header and hex-dump lines of curl output, fields of recording
lines, tokens of Python sources, lines of real tracebacks), so they reach the code behind the parsers.

Budget: ``max_examples`` is small by default (CI). For a nightly-size run set
``CLAUDE_DOCTOR_FUZZ_EXAMPLES``, for example::

    CLAUDE_DOCTOR_FUZZ_EXAMPLES=100000 python -m pytest tests/test_fuzz.py -p no:cacheprovider -x

(about 100k examples per target; the CLI targets run a twentieth of that, each example being a
subprocess). A failure prints the minimal reproducer; add it as a regression test below.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import string
import sys
import tempfile
import time
import tokenize
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from claude_doctor import tracebacks
from claude_doctor.checks.code.checker import Options
from claude_doctor.checks.code.runner import Unreadable, check_file, check_notebook, check_source
from claude_doctor.checks.secrets import scan_bytes
from claude_doctor.checks.stream import check_source as check_stream
from claude_doctor.config import Config
from claude_doctor.errors import DoctorError
from claude_doctor.recording import open_source
from tests.conftest import RECORDINGS, ROOT, run_cli

EXAMPLES = int(os.environ.get("CLAUDE_DOCTOR_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)
CLI_FUZZ = settings(FUZZ, max_examples=max(2, EXAMPLES // 20))
IMPORTS = RECORDINGS / "imports"
CODE_CASES = sorted((ROOT / "tests" / "code_cases").glob("*.py"))


def _read_and_check(data: bytes, suffix: str = ".x") -> None:
    """Read ``data`` as a file the way ``stream`` does; only a one-line DoctorError naming it may escape."""
    with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as f:
        f.write(data)
    try:
        try:
            check_stream(open_source(f.name), Config())
        except DoctorError as exc:
            assert "\n" not in str(exc) and f.name in str(exc), str(exc)
    finally:
        os.unlink(f.name)


# -- JSON/YAML trees: HAR files, vcrpy cassettes (YAML and JSON), recording lines ----------------

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from([0, -1, 1e308, "", "0", "200", "text/event-stream", "gzip", "br", "base64", "chunked"])
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _apply_edit(items: list, op: str, where: float, extra: object) -> bool:
    """Delete, duplicate, swap or insert ``extra`` at the relative position ``where`` (0..1) of
    ``items``; returns False for any other op, which the caller applies itself."""
    at = min(int(where * len(items)), len(items) - 1)
    if op == "delete":
        if len(items) > 1:
            del items[at]
    elif op == "dup":
        items.insert(at, items[at])
    elif op == "swap":
        if at + 1 < len(items):
            items[at], items[at + 1] = items[at + 1], items[at]
    elif op == "insert":
        items.insert(at, extra)
    else:
        return False
    return True


def _mutate_tree(data: st.DataObject, doc: object, count: int) -> object:
    """Replace, delete or retype ``count`` nodes chosen at random paths of ``doc`` (in place)."""
    for _ in range(count):
        parent, key, node = None, None, doc
        while isinstance(node, (dict, list)) and node and data.draw(st.integers(0, 3)) > 0:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, data.draw(st.sampled_from(keys))
            node = node[key]
        if parent is None:
            continue
        op = data.draw(st.sampled_from(["replace", "delete", "wrap", "empty"]))
        if op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = [node]
        elif op == "empty":
            parent[key] = type(node)() if isinstance(node, (dict, list, str)) else None
        else:
            parent[key] = data.draw(JSONISH)
    return doc


def _har() -> dict:
    return json.loads((IMPORTS / "devtools.har").read_bytes())


def _cassette() -> dict:
    return yaml.safe_load((IMPORTS / "cassette.yaml").read_bytes())


@FUZZ
@given(data=st.data(), count=st.integers(1, 6))
def test_har_with_mutated_fields(data, count):
    _read_and_check(json.dumps(_mutate_tree(data, _har(), count)).encode(), ".har")


@FUZZ
@given(data=st.data(), count=st.integers(1, 6), as_json=st.booleans())
def test_vcr_cassette_with_mutated_fields(data, count, as_json):
    doc = _mutate_tree(data, _cassette(), count)
    if as_json:
        _read_and_check(json.dumps(doc, default=repr).encode(), ".json")
    else:
        _read_and_check(yaml.safe_dump(doc, allow_unicode=True).encode(), ".yaml")


_RECORDINGS = sorted(RECORDINGS.glob("*.jsonl"))


@FUZZ
@given(which=st.sampled_from(_RECORDINGS), data=st.data(), lines=st.integers(1, 4))
def test_recording_lines_with_mutated_fields(which, data, lines):
    rows = [json.loads(line) for line in which.read_bytes().splitlines() if line.strip()]
    for _ in range(lines):
        at = data.draw(st.integers(0, len(rows) - 1))
        rows[at] = _mutate_tree(data, {"line": rows[at]}, data.draw(st.integers(1, 3))).get("line")
    _read_and_check(b"".join(json.dumps(row).encode() + b"\n" for row in rows), ".jsonl")


# -- line-based imports: curl -i, curl -v, curl --trace, raw SSE ---------------------------------


def _curl_verbose() -> bytes:
    """``curl -v`` output of the same exchange as ``curl-i.txt``: request and response heads marked."""
    head, _, body = (IMPORTS / "curl-i.txt").read_bytes().partition(b"\n\n")
    request = b"> POST /v1/messages HTTP/1.1\n> Host: api.anthropic.com\n> x-api-key: [REDACTED]\n>\n"
    response = b"".join(b"< " + line + b"\n" for line in head.split(b"\n")) + b"<\n"
    return b"* Connected to api.anthropic.com\n" + request + response + body


LINE_SOURCES = {
    "curl-i": (IMPORTS / "curl-i.txt").read_bytes(),
    "curl-v": _curl_verbose(),
    "curl-trace": (IMPORTS / "curl-trace.trace").read_bytes(),
    "sse": (IMPORTS / "curl-N.sse").read_bytes(),
}
LINE_NOISE = st.sampled_from(
    [
        b"",
        b"0000: ",
        b"0000: zz zz",
        b"ffffffffffffffff: 0d 0a",
        b"12:00:00.000000 <= Recv data, 99999999999 bytes (0x5f5e0ff)",
        b"12:00:00.000000 <= Recv header, 0 bytes (0x0)",
        b"99:99:99.999999 == Info: x",
        b"transfer-encoding: chunked",
        b"content-encoding: gzip",
        b"content-length: -5",
        b"HTTP/1.1 999999999999999999999 X",
        b"HTTP/2 200",
        b"< HTTP/1.1 abc",
        b"> POST",
        b"<",
        b"data: {",
        b"event: error",
        b"fffffffffff\r",
        b"0\r",
        b"\xff\xfe",
    ]
) | st.binary(max_size=24)


@FUZZ
@given(
    which=st.sampled_from(sorted(LINE_SOURCES)),
    edits=st.lists(
        st.tuples(st.sampled_from(["delete", "dup", "swap", "insert", "replace-tail"]), st.floats(0, 1), LINE_NOISE),
        min_size=1,
        max_size=6,
    ),
)
def test_line_based_imports_with_mutated_lines(which, edits):
    lines = LINE_SOURCES[which].split(b"\n")
    for op, where, noise in edits:
        if not _apply_edit(lines, op, where, noise):  # replace-tail
            at = min(int(where * len(lines)), len(lines) - 1)
            lines[at] = lines[at][: len(lines[at]) // 2] + noise
    _read_and_check(b"\n".join(lines))


# -- the traceback reader ----------------------------------------------------------------------------


def _real_tracebacks() -> list[str]:
    """Tracebacks of real exceptions raised by the libraries users run (no hand-typed text)."""
    import traceback

    import httpx

    found = []
    attempts = [
        lambda: httpx.get("http://127.0.0.1:9/", timeout=0.5),  # connection refused
        lambda: {}["content"],
        lambda: [][0],
        lambda: json.loads('{"type": "content_block_delta", "delta": {"partial_json": "{\\"a'),
        lambda: httpx.Timeout(None, read=1)("x"),
        _raise_closed,
    ]
    for attempt in attempts:
        try:
            attempt()
        except Exception:
            found.append(traceback.format_exc())
    return found


def _raise_closed() -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    loop.close()
    loop.call_soon(print)


REAL_TRACEBACKS = _real_tracebacks()
SYMPTOMS = [
    "httpx.ReadTimeout: The read operation timed out",
    "httpcore.RemoteProtocolError: peer closed connection without sending complete message body",
    "anthropic.RateLimitError: Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error'}}",
    "anthropic.APIStatusError: {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}",
    "AttributeError: 'Message' object has no attribute 'text_stream'",
    "RuntimeError: There is no current event loop in thread 'MainThread'.",
    "ValueError: Streaming is required for operations that may take longer than 10 minutes.",
    "IndexError: list index out of range",
    "AssertionError",
]


def _diagnose_ok(text: str) -> None:
    start = time.perf_counter()
    matches = tracebacks.diagnose(text)
    assert time.perf_counter() - start < 2 + len(text) / 50_000, "the traceback reader is too slow on this text"
    for match in matches:
        assert "\n" not in match.evidence
    for fmt in ("human", "json"):
        assert tracebacks.render_matches(matches, fmt)


@FUZZ
@given(text=st.text(max_size=2000) | st.text(alphabet=string.printable, max_size=2000))
@example(text="\n" * 5000 + "Error code: 429" + " " * 5000)
@example(text="File " * 3000)
def test_traceback_reader_on_arbitrary_text(text):
    _diagnose_ok(text)


@FUZZ
@given(
    base=st.sampled_from(REAL_TRACEBACKS + SYMPTOMS),
    symptom=st.sampled_from(SYMPTOMS),
    edits=st.lists(
        st.tuples(st.sampled_from(["delete", "dup", "insert", "cut", "repeat"]), st.floats(0, 1), st.text(max_size=30)),
        max_size=6,
    ),
)
def test_traceback_reader_on_mutated_real_tracebacks(base, symptom, edits):
    lines = (base + "\n" + symptom).split("\n")
    for op, where, noise in edits:
        if _apply_edit(lines, op, where, noise):
            continue
        at = min(int(where * len(lines)), len(lines) - 1)
        if op == "cut":
            lines[at] = lines[at][: int(where * len(lines[at]))] + noise
        else:
            lines[at] = (lines[at] * 50)[:20_000]
    _diagnose_ok("\n".join(lines))


# -- the code checker ---------------------------------------------------------------------------------

SNIPPETS = [
    "import anthropic\nclient = anthropic.Anthropic()\n"
    "with client.messages.stream(model='m', max_tokens=1, messages=[]) as s:\n    for t in s.text_stream:\n"
    "        print(t)\n",
    "from anthropic import AsyncAnthropic\nimport asyncio\nc = AsyncAnthropic(timeout=5)\n"
    "async def f():\n    r = await c.messages.create(model='m', max_tokens=1, messages=[], stream=True)\n"
    "    async for e in r:\n        yield e.delta.text\n    asyncio.get_event_loop().run_until_complete(f())\n",
    "import anthropic, httpx\nfrom fastapi.responses import StreamingResponse\n"
    "def g(c=anthropic.Anthropic(http_client=httpx.Client(timeout=httpx.Timeout(1)))):\n"
    "    m = c.messages.create(model='m', max_tokens=1, messages=[], temperature=0.1)\n"
    "    return StreamingResponse(m.content, media_type='text/event-stream')\n",
]
CODE_SOURCES = [p.read_text(encoding="utf-8") for p in CODE_CASES] + SNIPPETS


def _tokens(text: str) -> list[str]:
    """The source as token texts with the whitespace before each, so that joining them gives it back."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    out, last = [], 0
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.ENDMARKER:
            break
        start = offsets[token.start[0] - 1] + token.start[1]
        end = offsets[token.end[0] - 1] + token.end[1]
        out.append(text[last:end] if start >= last else text[start:end])
        last = max(last, end)
    out.append(text[last:])
    return out


@FUZZ
@given(
    which=st.integers(0, len(CODE_SOURCES) - 1),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["delete", "dup", "swap", "insert"]),
            st.floats(0, 1),
            st.sampled_from(
                [
                    "(",
                    ")",
                    ":",
                    "\n",
                    "    ",
                    "async ",
                    "await ",
                    "with ",
                    "yield ",
                    "lambda: ",
                    "*",
                    "**",
                    ",",
                    "stream=True",
                    "timeout=",
                    "None",
                    "'text/event-stream'",
                    "client.",
                    ".messages",
                    "[0]",
                    "@app.get()\n",
                    "\\\n",
                    "#",
                    '"""',
                    "f'{",
                    "import anthropic\n",
                ]
            ),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_code_checker_on_mutated_sources(which, edits):
    tokens = _tokens(CODE_SOURCES[which])
    for op, where, piece in edits:
        _apply_edit(tokens, op, where, piece)
    text = "".join(tokens)
    try:
        findings = check_source(text, "mutated.py", Options(sdk_major=0))
    except Unreadable as exc:
        assert "\n" not in str(exc)
        return
    for finding in findings:
        assert finding.line >= 1 and finding.column >= 1
        for start, end, _ in finding.extra.get("edits", ()):
            assert 0 <= start <= end <= len(text.encode("utf-8"))


@FUZZ
@given(data=st.data(), count=st.integers(1, 4), raw=st.binary(max_size=40))
def test_code_checker_on_mutated_notebooks_and_bytes(data, count, raw, tmp_path_factory):
    notebook = {
        "cells": [
            {"cell_type": "code", "source": SNIPPETS[0].splitlines(keepends=True), "metadata": {}, "outputs": []},
            {"cell_type": "markdown", "source": "# x", "metadata": {}},
            {"cell_type": "code", "source": "%pip install anthropic\n!ls\nawait x()\n", "metadata": {}},
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    blob = json.dumps(_mutate_tree(data, notebook, count)).encode()
    try:
        check_notebook(blob, "nb.ipynb", Options())
    except Unreadable as exc:
        assert "\n" not in str(exc)
    folder = tmp_path_factory.mktemp("code")
    for name, content in (("m.ipynb", blob), ("b.py", raw), ("c.py", b"# -*- coding: latin-1 -*-\n" + raw)):
        path = folder / name
        path.write_bytes(content)
        result = check_file(path, Options())
        assert result.error is None or "internal error" not in result.error, result.error


@pytest.mark.parametrize("cells", [None, 1, "x", {"a": 1}])
def test_a_notebook_whose_cells_are_not_a_list_is_one_line_per_file_error(cells, tmp_path):
    """Regression (found by this fuzzer): ``"cells": null`` was an internal error (TypeError)."""
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells, "nbformat": 4}), encoding="utf-8")
    result = check_file(path, Options())
    assert result.error is not None and "not a Jupyter notebook" in result.error
    assert "internal error" not in result.error
    _no_traceback(run_cli("code", str(path)), allowed=(2,))


# -- the secrets scanner ----------------------------------------------------------------------------

KEY_BITS = st.sampled_from(
    [
        b"sk-ant-",
        b"sk-ant-api03-",
        b"sk-ant-admin01-",
        b"AA",
        b'{"k":"meta","format":"claude-doctor/recording","v":1}\n',
        b'"headers":[["x-api-key","',
        b"x-api-key: ",
        b"\n",
        b'"',
        b"\xff",
        b"=",
    ]
) | st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=110).map(str.encode)


@FUZZ
@given(
    data=st.binary(max_size=600) | st.lists(KEY_BITS | st.binary(max_size=6), max_size=40).map(b"".join),
    path=st.sampled_from(["a.py", ".env", "r.jsonl", "notebook.ipynb", "x"]),
)
def test_secrets_scanner_on_arbitrary_bytes(data, path):
    for finding in scan_bytes(data, path):
        assert finding.rule.code in ("CD301", "CD302", "CD303")
        for secret in re.findall(rb"sk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{80,}", data):
            assert secret.decode() not in finding.message


# -- through the CLI: generated files, exit 0/1/2, never a traceback ------------------------------


def _no_traceback(result, allowed=(0, 1, 2)) -> None:
    assert result.code in allowed, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "internal error" not in result.stdout + result.stderr


@CLI_FUZZ
@given(
    files=st.lists(st.binary(max_size=300) | st.sampled_from(list(LINE_SOURCES.values())), min_size=1, max_size=6),
    seed=st.integers(0, 2**32),
)
def test_cli_on_generated_files(files, seed):
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for n, blob in enumerate(files):
            data = bytearray(blob)
            for _ in range(rnd.randint(0, 4)):
                if data:
                    at = rnd.randrange(len(data))
                    data[at : at + rnd.randint(1, 20)] = rnd.randbytes(rnd.randint(0, 6))
            path = Path(folder) / f"f{n}{rnd.choice(['.jsonl', '.har', '.yaml', '.txt', '.py', ''])}"
            path.write_bytes(bytes(data))
            paths.append(str(path))
        for command in (("stream",), ("stream", "--format", "json"), ("code",), ("secrets",)):
            _no_traceback(run_cli(*command, *paths, cwd=Path(folder)))
        _no_traceback(run_cli("replay", "--speed", "max", paths[0], cwd=Path(folder)))
        _no_traceback(run_cli("explain", "-", stdin=b"\n".join(files)))


@pytest.mark.parametrize("data", [b"\x80", b"httpx.ReadTimeout \xff\xfe timed out"])
def test_explain_reads_undecodable_stdin(data):
    """Regression (found by this fuzzer): ``explain -`` on bytes that are not UTF-8 was an internal error
    (UnicodeDecodeError) when stdin's encoding is strict."""
    result = run_cli("explain", "-", stdin=data)
    _no_traceback(result, allowed=(0, 1))


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX temp-file semantics")
