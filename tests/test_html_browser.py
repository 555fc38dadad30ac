"""The HTML report in a real browser: Debian's headless Chromium, driven by Playwright. The page must
open with no console error, draw the marks each bundled failure calls for, look like something (the
screenshot is not blank), run nothing and fetch nothing from a hostile recording, and open a 50 MB
recording's report about as fast as a small one's.

Skipped, with the reason, where ``/usr/bin/chromium`` or Playwright is missing. ``CLAUDE_DOCTOR_SCREENSHOT=1``
also writes the README's picture, ``docs/img/report.png``, from this browser."""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_doctor import synth
from claude_doctor.recording import RecordingWriter
from tests.conftest import RECORDINGS, ROOT, run_cli
from tests.test_html_report import URL, canary_key, hostile_recording

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: each bundled failure, and the marks its timeline must carry (CSS selectors inside the SVG or lane)
MARKS = {
    "cd102-idle-gap.jsonl": ['svg [data-gap="41.3"]', 'svg [data-code="CD102"]', 'svg [data-end="eof"]'],
    "cd114-buffered-by-proxy.jsonl": ['svg [data-code="CD114"]', "svg [data-head]", 'svg [data-end="eof"]'],
    "cd105-delta-before-block.jsonl": ['svg [data-code="CD105"]', '.lane [data-bad="block 0 never started"]'],
    "cd104-truncated-stream.jsonl": ['svg [data-code="CD104"]', '.lane .missing[data-kind="message_stop"]'],
}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (Debian package `chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Exception as exc:  # a browser that cannot start here is a reason to skip, said in full
            pytest.skip(f"Chromium does not launch under Playwright: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


class Visit:
    """One page opened from a file: what it logged, asked for and tried to show."""

    def __init__(self, browser, path: Path, width: int = 1040) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        started = time.perf_counter()
        self.page.goto(path.as_uri(), wait_until="load")
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        self.seconds = time.perf_counter() - started

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def close(self) -> None:
        self.page.close()


def report(tmp_path: Path, *files: Path, name: str = "report.html") -> Path:
    result = run_cli("stream", *map(str, files), "--format", "html")
    assert result.stdout.startswith("<!DOCTYPE html>"), result.stderr
    out = tmp_path / name
    out.write_text(result.stdout, encoding="utf-8")
    return out


@pytest.mark.parametrize("name", sorted(MARKS))
def test_each_failure_draws_its_marks_with_no_console_error(browser, tmp_path: Path, name: str) -> None:
    visit = Visit(browser, report(tmp_path, RECORDINGS / name))
    try:
        assert {selector: visit.count(selector) >= 1 for selector in MARKS[name]} == dict.fromkeys(MARKS[name], True)
        assert visit.errors == []
        assert visit.requests == [visit.page.url]
    finally:
        visit.close()


def test_the_screenshot_shows_a_picture(browser, tmp_path: Path) -> None:
    files = [Path("recordings", name) for name in ("cd102-idle-gap.jsonl", "cd104-truncated-stream.jsonl")]
    visit = Visit(browser, report(tmp_path, *files))
    try:
        png = visit.page.screenshot(full_page=False)
    finally:
        visit.close()
    width, height, pixels = decode_png(png)
    colours = {pixel for row in pixels for pixel in row[::4]}
    inked = sum(1 for row in pixels for pixel in row if pixel[:3] != (255, 255, 255)) / (width * height)
    assert (width, height) == (1040, 900)
    assert len(colours) > 20  # text, the curve, the shaded gap, the marks
    assert 0.02 < inked < 0.9
    if os.environ.get("CLAUDE_DOCTOR_SCREENSHOT"):
        (ROOT / "docs" / "img").mkdir(exist_ok=True)
        (ROOT / "docs" / "img" / "report.png").write_bytes(png)


def test_a_hostile_recording_runs_nothing_fetches_nothing_and_leaks_no_key(browser, tmp_path: Path) -> None:
    key = canary_key()
    page_file = report(tmp_path, hostile_recording(tmp_path / "hostile.jsonl", key))
    html = page_file.read_text(encoding="utf-8")
    assert key not in html and key[-24:] not in html
    visit = Visit(browser, page_file)
    try:
        visit.page.wait_for_timeout(300)  # an onerror handler would fire by now
        body = visit.page.inner_text("body")
        assert visit.dialogs == []
        assert visit.requests == [visit.page.url]
        assert visit.count("script, img, iframe") == 0
        assert "<script>alert(1)</script>" in body and '"><img src=x onerror=alert(2)>' in body
        assert key not in visit.page.content()
    finally:
        visit.close()


def test_a_50_mb_recording_opens_about_as_fast_as_a_small_one(browser, tmp_path: Path) -> None:
    big = big_recording(tmp_path / "big.jsonl", 50_000_000)
    big_page = report(tmp_path, big, name="big.html")
    small_page = report(tmp_path, RECORDINGS / "cd102-idle-gap.jsonl", name="small.html")
    assert big_page.stat().st_size < 2_000_000
    small = min(_open_seconds(browser, small_page) for _ in range(3))
    large = min(_open_seconds(browser, big_page) for _ in range(3))
    print(f"\nopen: small report {small * 1000:.0f} ms, 50 MB recording's report {large * 1000:.0f} ms "
          f"({big_page.stat().st_size:,} bytes)")  # fmt: skip
    assert large < 10 * small + 1.0  # same browser, same load: a big page would take many times longer


def _open_seconds(browser, path: Path) -> float:
    visit = Visit(browser, path)
    try:
        assert visit.errors == []
        return visit.seconds
    finally:
        visit.close()


def big_recording(path: Path, size: int) -> Path:
    """A text stream of about ``size`` bytes, a delta a chunk, with two 30 s gaps in it."""
    words = ["Streaming ", "lets you ", "show the answer ", "word by word. "]
    with path.open("wb") as f:
        writer = RecordingWriter(f, "synthetic")
        writer.request(0, 0.0, "POST", URL, [("content-type", "application/json")], b'{"stream": true}')
        writer.response(0, 0.4, 200, "OK", "HTTP/1.1", [("content-type", "text/event-stream")])
        t, n = 0.42, 0
        writer.chunk(0, t, synth.message_start() + synth.block_start(0, {"type": "text", "text": ""}))
        while f.tell() < size:
            n += 1
            t += 30.0 if n in (1_000, 5_000) else 0.01
            writer.chunk(0, round(t, 4), synth.delta(0, {"type": "text_delta", "text": words[n % 4]}))
        writer.chunk(0, round(t + 0.01, 4), synth.block_stop(0) + synth.message_delta() + synth.MESSAGE_STOP)
        writer.end(0, round(t + 0.02, 4), "eof")
    return path


def decode_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """The pixels of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes): no imaging library needed."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    step = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * step
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        _unfilter(kind, line, previous, step)
        rows.append([tuple(line[x : x + step]) for x in range(0, stride, step)])
        previous = line
    return width, height, rows


def _unfilter(kind: int, line: bytearray, previous: bytearray, step: int) -> None:
    for x in range(len(line)):
        left = line[x - step] if x >= step else 0
        up, corner = previous[x], previous[x - step] if x >= step else 0
        if kind == 1:
            line[x] = (line[x] + left) & 255
        elif kind == 2:
            line[x] = (line[x] + up) & 255
        elif kind == 3:
            line[x] = (line[x] + (left + up) // 2) & 255
        elif kind == 4:
            guess = left + up - corner
            near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
            line[x] = (line[x] + near[2]) & 255
