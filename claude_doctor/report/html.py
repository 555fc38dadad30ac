"""``--format html``: one self-contained page that shows each stream as a picture (``stream`` and the
doctor). A summary first (✓ / ! / ✗ per exchange, counts by severity, each finding linked), then per
exchange: the request line and status, the timeline (:mod:`.svg`), the event grammar as a lane of
chips, the text and tool input as the SDK would assemble them, and the findings with their fixes.

The page loads nothing: no script, no font, no image but inline SVG, and a Content-Security-Policy
that forbids the rest, so it can be attached to an issue and opened anywhere. A recording is untrusted
input: every text from it is escaped (``html.escape``, attributes quoted) and every key redacted."""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path

from .. import __version__
from ..findings import Area, Finding, Severity
from ..keys import redact_text
from . import Report, sort_key
from .doctor import ORDER, Section, area_status, counts_text
from .svg import finding_time, timeline_svg
from .timeline import Chip, Timeline

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MARKS = {"ok": "✓", "warn": "!", "bad": "✗"}
#: Characters each part of the page may take, so that whatever the recordings, the page stays under 2 MB:
#: the drawn exchanges (past this an exchange is a summary row only), the summary rows, *Other findings*.
PAGE_BUDGET, ROWS_BUDGET, LOOSE_BUDGET = 1_000_000, 400_000, 250_000
MAX_CLEAN_ROWS = 300  #: summary rows of exchanges without findings
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1000px;padding:1em;
color:#1d2430;background:#fff}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #d8dee6}
h3{font-size:1em;margin:.2em 0 .5em;font-weight:600;word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25em .5em;border-bottom:1px solid #eef1f4;
vertical-align:top}th{font-weight:600}code,pre,.mono{font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.6em;border-radius:4px;max-height:24em;
overflow:auto;margin:.3em 0}
.mark{font-weight:700;text-align:center;width:1.5em}.ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}
.counts span{margin-right:1em}.exchange{border:1px solid #d8dee6;border-radius:6px;padding:.6em .9em;margin:1em 0}
.muted{color:#57606a}a{color:#0969da}
svg.timeline{display:block;margin:.3em 0}svg text{font:11px system-ui,sans-serif;fill:#1d2430}
svg .axis{fill:#57606a}svg .grid{stroke:#eef1f4}svg .base{stroke:#8c959f}
svg .curve{fill:none;stroke:#0969da;stroke-width:1.6}svg .ticks{stroke:#57606a;stroke-width:1}
svg .gap rect{fill:#ffd8b5;fill-opacity:.7}svg .gap text{fill:#953800;font-weight:600}
svg .ping{fill:#8250df}svg .head line{stroke:#8c959f;stroke-dasharray:3 3}
svg .end line{stroke:#1a7f37;stroke-width:2}svg .end.broken line{stroke:#cf222e}
svg .end text{font-weight:600}svg .finding path{stroke:#fff;stroke-width:.8}
svg .finding.error path{fill:#cf222e}svg .finding.warning path{fill:#bf8700}svg .finding.info path{fill:#0969da}
.lane{display:flex;flex-wrap:wrap;gap:3px;margin:.4em 0}
.chip{font:11.5px ui-monospace,Menlo,monospace;padding:1px 5px;border-radius:3px;background:#ddf4ff;color:#0a3069}
.chip.block{background:#dafbe1;color:#116329}.chip.delta{background:#eef1f4;color:#1d2430}
.chip.ping{background:#fbefff;color:#6639ba}.chip.gap{background:#ffd8b5;color:#953800}.chip.message{background:#ddf4ff}
.chip.bad{background:#ffebe9;color:#a40e26;outline:1px solid #cf222e}
.chip.missing{background:#fff;border:1px dashed #cf222e;color:#a40e26}
.findings li{margin:.35em 0}.fix{color:#57606a}.sev{font-weight:700;text-transform:uppercase;font-size:.8em}
"""


def page(title: str, body: list[str]) -> str:
    """The whole document, with the policy that keeps it from loading anything."""
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="claude-doctor {escape(__version__)}">'
        f"<title>{_text(title)}</title><style>{CSS}</style></head><body>"
    )
    return head + "".join(body) + "</body></html>\n"


def render_stream_html(report: Report, timelines: list[Timeline]) -> str:
    """The ``stream --format html`` page: the summary, then each file's exchanges."""
    board = Board(report.findings, timelines)
    body = [
        "<h1>claude-doctor stream report</h1>",
        f'<p class="muted">claude-doctor {escape(__version__)} · {_plural(report.files, "recording")} · '
        f"{_plural(len(timelines), 'exchange')}</p>",
        _counts(report.findings),
        *_problems(report.errors, "Not checked", "bad"),
        *_problems(report.warnings, "Read warnings", "warn"),
        board.summary(),
        *board.exchanges(),
        board.loose(),
    ]
    return page("claude-doctor stream report", body)


def render_doctor_html(root: Path, sections: dict[Area, Section], files: int, timelines: list[Timeline]) -> str:
    """The doctor's page: a line per area, each area's findings, then the recordings' timelines."""
    every = [f for section in sections.values() for f in section.findings]
    stream = sections[Area.STREAM]
    board = Board(stream.findings, timelines)
    body = [
        "<h1>claude-doctor report</h1>",
        f'<p class="muted">claude-doctor {escape(__version__)} on {_text(str(root.resolve()))} · '
        f"{_plural(files, 'file')} looked at</p>",
        _counts(every),
        _areas(sections),
    ]
    for area in ORDER:
        section = sections[area]
        if area is Area.STREAM or (not section.findings and not section.unchecked):
            continue
        body += [f"<h2>{escape(area.title)}</h2>", *_problems([str(u) for u in section.unchecked], "", "warn")]
        body.append(_finding_list([(board.anchor(f), f) for f in sorted(section.findings, key=sort_key)]))
    body += [f"<h2>{escape(Area.STREAM.title)}</h2>", *_problems([str(u) for u in stream.unchecked], "", "warn")]
    if timelines:
        body += [board.summary(), *board.exchanges()]
    body.append(board.loose())
    return page("claude-doctor report", body)


class Board:
    """The findings sorted onto the exchanges they belong to, each with the anchor it is listed under,
    and the exchanges drawn in order while the page stays under :data:`PAGE_BUDGET`: the rest are
    summary rows, their findings listed under *Other findings*."""

    def __init__(self, findings: list[Finding], timelines: list[Timeline]) -> None:
        self.timelines = timelines
        self._ids: dict[int, str] = {}
        self.by_exchange: dict[tuple[str, int], list[Finding]] = defaultdict(list)
        self.unplaced: list[Finding] = []
        per_file: dict[str, list[Timeline]] = defaultdict(list)
        for timeline in timelines:
            per_file[timeline.path].append(timeline)
        for finding in sorted(findings, key=sort_key):
            self._place(finding, per_file.get(finding.path or "", []))
        self.drawn = self._draw()

    def _place(self, finding: Finding, exchanges: list[Timeline]) -> None:
        """A finding without an exchange number belongs to its file's only exchange, if it has one."""
        wanted = finding.exchange
        if wanted is None and len(exchanges) == 1:
            wanted = exchanges[0].i
        if any(t.i == wanted for t in exchanges):
            self.by_exchange[(finding.path or "", wanted)].append(finding)
        else:
            self.unplaced.append(finding)

    def _draw(self) -> dict[int, str]:
        drawn: dict[int, str] = {}
        size = 0
        for n, timeline in enumerate(self.timelines):
            piece = self._exchange(n, timeline) if timeline.full else ""
            size += len(piece)
            if not piece or size > PAGE_BUDGET:
                self.unplaced += self.findings_of(timeline)
                continue
            drawn[n] = piece
        return drawn

    def anchor(self, finding: Finding) -> str:
        return self._ids.setdefault(id(finding), f"f{len(self._ids) + 1}")

    def findings_of(self, timeline: Timeline) -> list[Finding]:
        return self.by_exchange.get((timeline.path, timeline.i), [])

    def summary(self) -> str:
        """A row per exchange (clean ones up to :data:`MAX_CLEAN_ROWS`, all within :data:`ROWS_BUDGET`): its
        mark, where it is, its request and status, its findings linked."""
        rows, clean, size = [], 0, 0
        for n, timeline in enumerate(self.timelines):
            found = self.findings_of(timeline)
            clean += not found
            if not found and clean > MAX_CLEAN_ROWS:
                continue
            rows.append(self._row(n, timeline, found))
            size += len(rows[-1])
            if size > ROWS_BUDGET:
                break
        left = len(self.timelines) - len(rows)
        if left:
            rows.append(f'<tr><td></td><td colspan="4" class="muted">{_plural(left, "more exchange")}</td></tr>')
        head = "<tr><th></th><th>exchange</th><th>request</th><th>status</th><th>findings</th></tr>"
        return f'<h2>Summary</h2><table class="summary">{head}{"".join(rows)}</table>'

    def _row(self, n: int, timeline: Timeline, found: list[Finding]) -> str:
        status = _status(found)
        links = " ".join(
            f'<a href="#{self.anchor(f)}" class="{_severity_class(f.level)}">{escape(f.code)}</a>' for f in found
        )
        name = f"{_text(timeline.path)} #{timeline.i}"
        name = f'<a href="#{_exchange_id(n)}">{name}</a>' if n in self.drawn else name
        return (
            f'<tr data-status="{status}"><td class="mark {status}">{MARKS[status]}</td><td>{name}</td>'
            f'<td class="mono">{_request_line(timeline)}</td><td>{_status_text(timeline)}</td>'
            f"<td>{links or '<span class=ok>no problems</span>'}</td></tr>"
        )

    def exchanges(self) -> list[str]:
        out = list(self.drawn.values())
        if len(self.drawn) < len(self.timelines):
            left = len(self.timelines) - len(self.drawn)
            out.append(f'<p class="muted">{_plural(left, "more exchange")} not drawn, to keep this page small.</p>')
        return out

    def _exchange(self, n: int, timeline: Timeline) -> str:
        found = self.findings_of(timeline)
        status = _status(found)
        pinned = [(self.anchor(f), f) for f in found]
        return (
            f'<section class="exchange" id="{_exchange_id(n)}" data-status="{status}" data-exchange="{timeline.i}">'
            f'<h3><span class="{status}">{MARKS[status]}</span> {_text(timeline.path)} #{timeline.i} · '
            f'<span class="mono">{_request_line(timeline)}</span> → {_status_text(timeline)}</h3>'
            f"{timeline_svg(timeline, pinned)}{_facts(timeline)}{_lane(timeline)}{_assembled(timeline)}"
            f"{_finding_list(pinned, timeline)}</section>"
        )

    def loose(self) -> str:
        """Findings of no drawn exchange (a whole file's, an exchange past the budget, the live request),
        within :data:`LOOSE_BUDGET`."""
        if not self.unplaced:
            return ""
        items, size = [], 0
        for finding in self.unplaced:
            items.append(_finding_item(self.anchor(finding), finding, None))
            size += len(items[-1])
            if size > LOOSE_BUDGET:
                break
        more = len(self.unplaced) - len(items)
        note = f'<p class="muted">{more} more findings: `--format json` lists them all.</p>' if more > 0 else ""
        return f'<h2>Other findings</h2><ol class="findings">{"".join(items)}</ol>{note}'


def _exchange_id(n: int) -> str:
    return f"x{n + 1}"


def _text(value: object) -> str:
    """Text from a recording, made safe: keys redacted, then escaped for an element or a quoted attribute."""
    return escape(redact_text(str(value)), quote=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _status(findings: list[Finding]) -> str:
    worst = max((f.level for f in findings), default=None)
    return {Severity.ERROR: "bad", Severity.WARNING: "warn"}.get(worst, "ok")


def _severity_class(level: Severity) -> str:
    return {Severity.ERROR: "bad", Severity.WARNING: "warn"}.get(level, "muted")


def _counts(findings: list[Finding]) -> str:
    counts = {s: sum(1 for f in findings if f.level is s) for s in sorted(Severity, reverse=True)}
    parts = [
        f'<span class="{_severity_class(s)}" data-severity="{s.label}" data-count="{n}">{_plural(n, s.label)}</span>'
        for s, n in counts.items()
    ]
    return f'<p class="counts">{"".join(parts)}</p>'


def _problems(lines: list[str], title: str, status: str) -> list[str]:
    if not lines:
        return []
    items = "".join(f'<li class="{status}">{_text(line)}</li>' for line in lines)
    return [f"<h2>{escape(title)}</h2>" if title else "", f'<ul class="problems">{items}</ul>']


def _areas(sections: dict[Area, Section]) -> str:
    rows = []
    for area in ORDER:
        section = sections[area]
        status = area_status(section)
        note = section.note + (f"; could not check {len(section.unchecked)}" if section.unchecked else "")
        rows.append(
            f'<tr data-area="{area.value}" data-status="{status}"><td class="mark {status}">{MARKS[status]}</td>'
            f"<td>{escape(area.title)}</td><td>{escape(counts_text(section.findings))}</td>"
            f'<td class="muted">{_text(note)}</td></tr>'
        )
    return f'<table class="areas">{"".join(rows)}</table>'


def _request_line(timeline: Timeline) -> str:
    if timeline.method is None:
        return '<span class="muted">(no request recorded)</span>'
    return f"{_text(timeline.method)} {_text(timeline.url)}"


def _status_text(timeline: Timeline) -> str:
    if timeline.status is None:
        return '<span class="muted">no status</span>'
    kind = f" · {_text(timeline.content_type)}" if timeline.content_type else ""
    return f"{timeline.status} {_text(timeline.reason or '')}{kind}"


def _facts(timeline: Timeline) -> str:
    """One line under the picture: what came, what was cut, how it ended."""
    facts = [_plural(timeline.chunks, "chunk"), f"{timeline.bytes:,} bytes", _plural(timeline.events, "event")]
    if timeline.gaps:
        facts.append(_plural(len(timeline.gaps) + timeline.gaps_dropped, "gap"))
    end = timeline.end
    if end is None:
        facts.append('<span class="bad">no end line: the recording stops here</span>')
    else:
        when = f" at t={end.t:.2f}s" if end.t is not None else ""
        error = f": {_text(end.error)}" if end.error else ""
        status = "ok" if end.reason == "eof" and not timeline.broken else "bad"
        facts.append(f'<span class="{status}">ended: {_text(end.reason)}{when}{error}</span>')
    if timeline.cut_bytes:
        facts.append(f'<span class="bad">{timeline.cut_bytes} bytes of an unfinished event</span>')
    return f'<p class="facts muted">{" · ".join(facts)}</p>'


def _lane(timeline: Timeline) -> str:
    if not timeline.chips:
        return ""
    chips = "".join(_chip(chip) for chip in timeline.chips)
    dropped = f'<span class="muted">… {timeline.chips_dropped} more events</span>' if timeline.chips_dropped else ""
    return f'<div class="lane" aria-label="event grammar">{chips}{dropped}</div>'


def _chip(chip: Chip) -> str:
    if chip.kind == "gap":
        return (
            f'<span class="chip gap" data-kind="gap" data-gap="{chip.length:.1f}" title="no bytes for '
            f'{chip.length:.1f} s from t={chip.t:.2f}s">gap {chip.length:.1f} s</span>'
        )
    family = chip.kind.split("_")[0] if chip.kind.startswith(("message", "ping")) else "block"
    if chip.kind == "content_block_delta":
        family = "delta"
    label = chip.kind.replace("content_block_", "").replace("message_", "msg_")
    if chip.index is not None:
        label += f"[{chip.index}]"
    if chip.count > 1:
        label += f" ×{chip.count}"
    classes = " ".join(c for c in ("chip", family, "bad" if chip.bad else "", "missing" if chip.missing else "") if c)
    when = f" at t={chip.t:.2f}s" if chip.t is not None else ""
    title = f"{chip.kind} missing: {chip.bad}" if chip.missing else f"event #{chip.first} {chip.kind}{when}"
    if chip.bad and not chip.missing:
        title += f": {chip.bad}"
    bad = f' data-bad="{_text(chip.bad)}"' if chip.bad else ""
    return (
        f'<span class="{classes}" data-kind="{_text(chip.kind)}" data-event="{chip.first}"{bad} '
        f'title="{_text(title)}">{_text(label)}</span>'
    )


def _assembled(timeline: Timeline) -> str:
    """Each block's text, thinking or tool input as the SDK would hand it over; a non-stream body as it came."""
    parts = []
    for index in sorted(timeline.blocks):
        block = timeline.blocks[index]
        name = f" {_text(block.name)}" if block.name else ""
        parts.append(
            f'<p class="muted">block {index} · {_text(block.kind)}{name}</p>{_block_text(block.kind, block.text)}'
        )
    if timeline.blocks_dropped:
        parts.append(f'<p class="muted">… {timeline.blocks_dropped:,} more blocks not shown</p>')
    if timeline.text_dropped:
        parts.append(f'<p class="muted">… {timeline.text_dropped:,} more characters not shown</p>')
    if timeline.body:
        parts.append(f"<pre>{_text(timeline.body.decode('utf-8', 'replace'))}</pre>")
    parts += [f'<p class="bad">error event: {_text(error)}</p>' for error in timeline.errors]
    if not parts:
        return ""
    return f"<details open><summary>What the SDK would assemble</summary>{''.join(parts)}</details>"


def _block_text(kind: str, text: str) -> str:
    if kind != "tool_use":
        return f"<pre>{_text(text)}</pre>"
    if not text:
        return "<pre>{}</pre>"
    try:
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return f'<p class="bad">not valid JSON: the SDK cannot parse this input</p><pre>{_text(text)}</pre>'
    return f"<pre>{_text(shown)}</pre>"


def _finding_list(pinned: list[tuple[str, Finding]], timeline: Timeline | None = None) -> str:
    if not pinned:
        return ""
    items = "".join(_finding_item(anchor, finding, timeline) for anchor, finding in pinned)
    return f'<ol class="findings">{items}</ol>'


def _finding_item(anchor: str, finding: Finding, timeline: Timeline | None) -> str:
    return (
        f'<li id="{anchor}" data-code="{escape(finding.code)}" data-severity="{finding.level.label}">'
        f'<span class="sev {_severity_class(finding.level)}">{finding.level.label}</span> '
        f"<code>{escape(finding.code)}</code> {escape(finding.rule.name)} {_where(finding, timeline)}<br>"
        f'{_text(finding.message)}<br><span class="fix">fix: {_text(finding.fix_text)}</span></li>'
    )


def _where(finding: Finding, timeline: Timeline | None) -> str:
    parts = []
    if timeline is None and finding.path:
        parts.append(_text(finding.path) + (f":{finding.line}" if finding.line else ""))
    if finding.event is not None:
        parts.append(f"event #{finding.event}")
    if timeline is not None and timeline.timed:
        parts.append(f"t={finding_time(timeline, finding):.2f}s")
    return f'<span class="muted">({", ".join(parts)})</span>' if parts else ""
