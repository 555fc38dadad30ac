"""``--format html``: one self-contained page per run of ``stream`` or the doctor, read as a user's browser
would receive it: its structure (summary, timeline marks, lane, findings), what a hostile recording
cannot do to it (inject markup, leak a key, make it load anything), and its size on a big recording.
The real browser opens it in ``test_html_browser.py``."""

from __future__ import annotations

import re
import secrets
import shutil
import string
from html.parser import HTMLParser
from pathlib import Path

from claude_doctor import synth
from claude_doctor.recording import RecordingWriter
from claude_doctor.report.timeline import MAX_FULL, MAX_POINTS
from tests.conftest import RECORDINGS, invoke_cli

URL = "https://api.anthropic.com/v1/messages"
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "</pre><iframe src=//evil.test>"]


class Page(HTMLParser):
    """The tags of a page with their attributes, and its text, as a browser's parser sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.svg_tags: list[dict[str, str | None]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if "svg" in self.stack or tag == "svg":
            self.svg_tags.append(dict(attrs))
        if tag not in ("meta", "br", "line", "rect", "path"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def svg_values(self, attribute: str) -> list[str | None]:
        return [attrs[attribute] for attrs in self.svg_tags if attribute in attrs]


def canary_key() -> str:
    """A fresh well-formed key, built at run time so no key is ever written in the repository."""
    alphabet = string.ascii_letters + string.digits
    return "sk-ant-api03-" + "".join(secrets.choice(alphabet) for _ in range(93)) + "AA"


def write_recording(path: Path, events: list[bytes], *, url: str = URL, step: float = 0.05, end: str = "eof") -> Path:
    """One streamed exchange, an event a chunk, ``step`` seconds apart."""
    with path.open("wb") as f:
        writer = RecordingWriter(f, "synthetic", "2026-11-25T12:00:00.000Z")
        writer.request(0, 0.0, "POST", url, [("content-type", "application/json")], b'{"stream": true}')
        writer.response(0, 0.4, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        t = 0.42
        for event in events:
            writer.chunk(0, round(t, 4), event)
            t += step
        writer.end(0, round(t, 4), end)
    return path


def hostile_recording(path: Path, key: str | None = None) -> Path:
    """Markup in text deltas, in a tool's input and an error-free stream otherwise; ``key`` split over
    three deltas, in the URL and in the tool input."""
    pieces = XSS + ([f"my key is {key[:20]}", key[20:60], key[60:] + " ok"] if key else [])
    tool_json = '{"html": "<script>alert(3)</script>"' + (f', "k": "{key}"' if key else "") + "}"
    events = [
        synth.message_start(),
        *synth.text_block(0, pieces),
        *synth.tool_use_block(1, "<b>tool</b>", [tool_json[:10], tool_json[10:]]),
        synth.message_delta("tool_use"),
        synth.MESSAGE_STOP,
    ]
    return write_recording(path, events, url=URL + (f"?key={key}" if key else "&x=<script>"))


def html_of(*args: str) -> tuple[int, str]:
    result = invoke_cli(*args, "--format", "html")
    assert result.stdout.startswith("<!DOCTYPE html>"), result.stderr
    return result.code, result.stdout


def test_a_page_shows_the_gap_its_finding_and_the_end() -> None:
    code, text = html_of("stream", str(RECORDINGS / "cd102-idle-gap.jsonl"))
    page = Page(text)
    assert code == 1  # the same exit status as every other format: a warning
    assert page.svg_values("data-gap") == ["41.3"]
    assert page.svg_values("data-code") == ["CD102"]
    assert page.svg_values("data-end") == ["eof"]
    finding = next(attrs for attrs in page.named("li") if attrs.get("data-code") == "CD102")
    links = [attrs["href"] for attrs in page.named("a") if attrs.get("href") == f"#{finding['id']}"]
    assert len(links) == 2  # from the summary and from the mark on the timeline
    assert any(attrs.get("data-status") == "warn" for attrs in page.named("tr"))
    assert "Streaming lets you show Claude" in text  # the assembled text


def test_the_page_lists_the_same_findings_as_json() -> None:
    json_codes = sorted(invoke_cli("stream", str(RECORDINGS), "--format", "json").codes())
    code, text = html_of("stream", str(RECORDINGS))
    listed = sorted(attrs["data-code"] for attrs in Page(text).named("li") if "data-code" in attrs)
    assert code == 1
    assert listed == json_codes


def test_the_lane_marks_what_is_out_of_order_and_what_never_came() -> None:
    _, text = html_of("stream", str(RECORDINGS / "cd105-delta-before-block.jsonl"))
    bad = [a for a in Page(text).named("span") if "data-bad" in a]
    assert [(a["data-kind"], a["data-bad"]) for a in bad] == [("content_block_delta", "block 0 never started")]
    _, text = html_of("stream", str(RECORDINGS / "cd104-truncated-stream.jsonl"))
    page = Page(text)
    missing = [a["data-kind"] for a in page.named("span") if "missing" in (a.get("class") or "")]
    assert missing == ["content_block_stop", "message_stop"]
    assert page.svg_values("data-code") == ["CD104"]


def test_tool_input_is_shown_as_the_sdk_parses_it() -> None:
    _, text = html_of("stream", str(RECORDINGS / "clean-tool-use.jsonl"))
    assert "block 1 · tool_use get_weather" in text
    assert "&quot;location&quot;: &quot;Paris, France&quot;" in text
    assert "<td><span class=ok>no problems</span></td>" in text


def test_markup_in_a_recording_renders_as_text(tmp_path: Path) -> None:
    _, text = html_of("stream", str(hostile_recording(tmp_path / "xss.jsonl")))
    page = Page(text)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "table", "tr", "th",
        "td", "a", "section", "svg", "g", "rect", "text", "line", "path", "div", "details",
        "summary", "pre", "ol", "li", "code", "br", "ul",
    }  # fmt: skip
    assert not page.named("script") and not page.named("img") and not page.named("iframe")
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    assert "&lt;b&gt;tool&lt;/b&gt;" in text


def test_a_key_appears_nowhere_in_the_page(tmp_path: Path) -> None:
    key = canary_key()
    _, text = html_of("stream", str(hostile_recording(tmp_path / "key.jsonl", key)))
    assert key not in text
    assert key[13:40] not in text and key[40:80] not in text and key[-20:] not in text
    assert "[REDACTED len=" in text


def test_the_page_loads_nothing_from_anywhere(tmp_path: Path) -> None:
    _, text = html_of("stream", str(RECORDINGS), str(hostile_recording(tmp_path / "xss.jsonl")))
    page = Page(text)
    policy = next(a["content"] for a in page.named("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none';")
    for _, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
            value = (attrs.get(name) or "").strip()
            assert not value or value.startswith("#"), (name, value)
    assert not re.search(r"url\(|@import", text.split("</style>")[0])


def test_a_big_recording_gives_a_small_page_with_every_gap(tmp_path: Path) -> None:
    words = [synth.delta(0, {"type": "text_delta", "text": f"word {n} "}) for n in range(25_000)]
    gaps = {3_000, 12_000, 20_000}
    events = [synth.message_start(), synth.block_start(0, {"type": "text", "text": ""}), *words]
    events += [synth.block_stop(0), synth.message_delta(), synth.MESSAGE_STOP]
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        writer = RecordingWriter(f, "synthetic")
        writer.request(0, 0.0, "POST", URL, [], b'{"stream": true}')
        writer.response(0, 0.4, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        t = 0.42
        for n, event in enumerate(events):
            t += 20.0 if n in gaps else 0.001
            writer.chunk(0, round(t, 4), event)
        writer.end(0, round(t + 0.001, 4), "reset", "connection reset by peer")
    _, text = html_of("stream", str(path))
    page = Page(text)
    assert len(text.encode()) < 300_000 < path.stat().st_size
    assert page.svg_values("data-gap") == ["20.0"] * 3
    assert sorted(page.svg_values("data-code")) == ["CD102"] * 3
    assert page.svg_values("data-end") == ["reset"]
    ticks = next(a for a in page.svg_tags if a.get("class") == "ticks")
    assert ticks["data-chunks"] == str(len(events))
    assert int(ticks["data-drawn"]) <= MAX_POINTS + 2 * len(gaps) + 2


def test_the_doctor_page_has_its_areas_and_the_recordings_timelines(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    shutil.copy(RECORDINGS / "cd102-idle-gap.jsonl", tmp_path / "recordings")
    code, text = html_of("doctor", str(tmp_path))
    page = Page(text)
    assert [a["data-area"] for a in page.named("tr") if "data-area" in a] == ["env", "code", "secrets", "stream"]
    assert page.svg_values("data-code") == ["CD102"]
    assert page.svg_values("data-gap") == ["41.3"]
    assert code == invoke_cli("doctor", str(tmp_path), "--format", "json").code


def test_standard_input_is_drawn_too() -> None:
    result = invoke_cli("stream", "-", "--format", "html", stdin=(RECORDINGS / "cd102-idle-gap.jsonl").read_bytes())
    assert result.code == 1
    assert Page(result.stdout).svg_values("data-code") == ["CD102"]


def test_other_commands_refuse_html_naming_their_formats() -> None:
    for args in (("code", ".", "--format", "html"), ("--format", "html", "code", "."), ("secrets", "--format=html")):
        result = invoke_cli(*args)
        assert result.code == 2, args
        assert "human, json, sarif" in result.stderr.replace("'", ""), args
        assert result.stdout == ""


def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = invoke_cli("stream", str(tmp_path / "missing.jsonl"), "--format", "html")
    assert result.code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "missing.jsonl" in result.stderr


def test_a_capture_without_timing_is_drawn_chunk_by_chunk() -> None:
    code, text = html_of("stream", str(RECORDINGS / "imports" / "curl-N.sse"))
    page = Page(text)
    svg = page.named("svg")[0]
    assert code == 0
    assert svg["aria-label"] == "bytes received, chunk by chunk (no timing recorded)"
    assert page.svg_values("data-gap") == [] and page.svg_values("data-end") == ["eof"]
    assert "(no request recorded)" in text


def test_thousands_of_exchanges_give_a_page_that_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    message = synth.text_message(["Hello", " world", "!"])
    with path.open("wb") as f:
        writer = RecordingWriter(f, "synthetic")
        for i in range(1500):
            events = message[:-3] if i % 50 == 7 else message  # every 50th cut before its stop: CD104
            writer.request(i, i * 0.001, "POST", URL, [], b'{"stream": true}')
            writer.response(i, i * 0.001, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
            for event in events:
                writer.chunk(i, i * 0.001, event)
            writer.end(i, i * 0.001, "eof")
    code, text = html_of("stream", str(path))
    page = Page(text)
    drawn = [a for a in page.named("section") if "data-exchange" in a]
    assert code == 1
    assert len(text.encode()) < 2_000_000
    assert 0 < len(drawn) <= MAX_FULL
    assert [a["data-code"] for a in page.named("li") if "data-code" in a] == ["CD104"] * 30
    assert "more exchanges" in text


def test_select_and_idle_gap_shape_the_page_as_they_do_every_format() -> None:
    _, text = html_of("stream", str(RECORDINGS), "--select", "CD104")
    assert {a["data-code"] for a in Page(text).named("li") if "data-code" in a} == {"CD104"}
    _, text = html_of("stream", str(RECORDINGS / "clean-pings-keep-alive.jsonl"), "--idle-gap", "10")
    page = Page(text)
    assert page.svg_values("data-gap") == ["14.0"] * 4  # every gap is drawn ...
    assert page.svg_values("data-code") == ["CD102"] * 3  # ... though the check reports the first three
