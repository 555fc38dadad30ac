"""The picture of one exchange: cumulative bytes over time, a tick per chunk, pings, every silence
longer than the idle gap shaded with its length, the findings pinned where they happened and the end
with its reason. Inline SVG, no script: hovering a mark shows its ``<title>``.

Every mark carries a data attribute (``data-gap``, ``data-code``, ``data-end``, ``data-ping``) so that a
test, or a reader's devtools, can find it. Text from the recording reaches this module only as
numbers, rule codes and end reasons, and is escaped all the same."""

from __future__ import annotations

import math
from html import escape

from ..findings import Finding
from .timeline import Timeline

WIDTH, HEIGHT = 960, 210
LEFT, RIGHT = 64, 930  #: the plot's x range
TOP, BOTTOM = 28, 128  #: the byte curve's y range
TICK_Y, PING_Y, FINDING_Y, AXIS_Y = 134, 152, 172, 200


class Scale:
    """Seconds to x, bytes to y, for one exchange."""

    def __init__(self, start: float, stop: float, total: int) -> None:
        self.start = start
        self.span = max(stop - start, 1e-6)
        self.total = max(total, 1)

    def x(self, t: float) -> float:
        return round(LEFT + (t - self.start) / self.span * (RIGHT - LEFT), 1)

    def y(self, size: int) -> float:
        return round(BOTTOM - size / self.total * (BOTTOM - TOP), 1)


def finding_time(timeline: Timeline, finding: Finding) -> float:
    """Where a finding is pinned: its time (the checks give an event's finding its event's time), else the
    exchange's last moment; with no timing recorded, its event's share of the chunks."""
    if finding.t is not None and timeline.timed:
        return finding.t
    if not timeline.timed and finding.event is not None and timeline.events:
        return timeline.chunks * finding.event / timeline.events  # untimed: chunks stand in for time
    return timeline.last_t


def timeline_svg(timeline: Timeline, pinned: list[tuple[str, Finding]]) -> str:
    """The SVG of ``timeline``; ``pinned`` are its findings with the id each is listed under."""
    points = timeline.points.items()
    if timeline.timed and timeline.head_t is not None:
        points = [(timeline.head_t, 0), *points]  # the curve starts when the head came
    moments = (
        [timeline.start if timeline.timed else 0.0, timeline.last_t]
        + [p[0] for p in points]
        + [stop for _, stop in timeline.gaps]
    )
    moments += [finding_time(timeline, f) for _, f in pinned]
    scale = Scale(min(moments), max(moments), timeline.bytes)
    what = "bytes received over time" if timeline.timed else "bytes received, chunk by chunk (no timing recorded)"
    parts = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{escape(what)}">',
        _axis(scale, timeline.timed),
        *(_gap(scale, start, stop) for start, stop in timeline.gaps),
        _curve(scale, points),
        _ticks(scale, points, timeline.chunks),
        *(_ping(scale, t) for t, _ in timeline.pings.items()),
        _head(scale, timeline),
        _end(scale, timeline),
        *_findings(scale, timeline, pinned),
        "</svg>",
    ]
    return "".join(part for part in parts if part)


def _axis(scale: Scale, timed: bool) -> str:
    step = _nice_step(scale.span)
    first = math.ceil(scale.start / step) * step
    marks = []
    t = first
    while t <= scale.start + scale.span + 1e-9:
        x = scale.x(t)
        label = f"{t:g} s" if timed else f"#{t:g}"
        marks.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{TICK_Y + 6}"/>')
        marks.append(f'<text class="axis" x="{x}" y="{AXIS_Y}" text-anchor="middle">{label}</text>')
        t = round(t + step, 9)
    size = _size(scale.total)
    return (
        f'<g class="axis">{"".join(marks)}'
        f'<line class="base" x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}"/>'
        f'<text class="axis" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{size}</text>'
        f'<text class="axis" x="{LEFT - 6}" y="{BOTTOM}" text-anchor="end">0</text>'
        f'<text class="axis" x="{LEFT - 6}" y="{TICK_Y + 6}" text-anchor="end">chunks</text>'
        f'<text class="axis" x="{LEFT - 6}" y="{PING_Y + 4}" text-anchor="end">pings</text>'
        f'<text class="axis" x="{LEFT - 6}" y="{FINDING_Y + 4}" text-anchor="end">findings</text></g>'
    )


def _nice_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, giving about six to ten grid lines over ``span``."""
    raw = span / 8
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000 or unit == "MB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} MB"


def _gap(scale: Scale, start: float, stop: float) -> str:
    x1, x2 = scale.x(start), scale.x(stop)
    length = f"{stop - start:.1f}"
    return (
        f'<g class="gap" data-gap="{length}" data-from="{start:.3f}"><title>no bytes for {length} s, from '
        f't={start:.2f}s</title><rect x="{x1}" y="{TOP - 14}" width="{max(x2 - x1, 1.5)}" '
        f'height="{TICK_Y + 6 - TOP + 14}"/><text x="{(x1 + x2) / 2}" y="{TOP - 4}" text-anchor="middle">'
        f"{length} s</text></g>"
    )


def _curve(scale: Scale, points: list[tuple[float, int]]) -> str:
    """Cumulative bytes as steps: flat while nothing comes, a rise at each chunk."""
    if not points:
        return ""
    path = [f"M{scale.x(points[0][0])} {scale.y(points[0][1])}"]
    for t, size in points[1:]:
        path.append(f"H{scale.x(t)}V{scale.y(size)}")
    return f'<path class="curve" d="{"".join(path)}"/>'


def _ticks(scale: Scale, points: list[tuple[float, int]], chunks: int) -> str:
    shown = sum(1 for _, size in points if size)
    drawn = "".join(f"M{scale.x(t)} {TICK_Y}v7" for t, size in points if size)
    title = f"{chunks} chunks" + (f" ({shown} drawn)" if shown < chunks else "")
    return f'<path class="ticks" data-chunks="{chunks}" data-drawn="{shown}" d="{drawn}"><title>{title}</title></path>'


def _ping(scale: Scale, t: float) -> str:
    x = scale.x(t)
    return (
        f'<path class="ping" data-ping="{t:.3f}" d="M{x} {PING_Y - 4}l4 4l-4 4l-4 -4z">'
        f"<title>ping at t={t:.2f}s</title></path>"
    )


def _head(scale: Scale, timeline: Timeline) -> str:
    """A mark where the response head came: a long wait before it is time to first byte, not a gap."""
    if timeline.head_t is None or not timeline.timed:
        return ""
    x = scale.x(timeline.head_t)
    return (
        f'<g class="head" data-head="{timeline.head_t:.3f}"><title>response head ({timeline.status}) at '
        f't={timeline.head_t:.2f}s</title><line x1="{x}" y1="{TOP}" x2="{x}" y2="{BOTTOM}"/></g>'
    )


def _end(scale: Scale, timeline: Timeline) -> str:
    """The end line, labelled with its reason; a recording that stops with no end line says so."""
    end = timeline.end
    reason = end.reason if end is not None else "unknown"
    t = timeline.last_t  # the end's time when it has one
    x = scale.x(t)
    said = f"{reason}: {end.error}" if end is not None and end.error else reason
    if end is None:
        said = "the recording stops here with no end line"
    clean = reason == "eof" and not timeline.broken
    return (
        f'<g class="end {"clean" if clean else "broken"}" data-end="{escape(reason)}"><title>'
        f"{escape(said)} at t={t:.2f}s</title>"
        f'<line x1="{x}" y1="{TOP - 14}" x2="{x}" y2="{FINDING_Y + 8}"/>'
        f'<text x="{x + 4}" y="{TOP - 16}" text-anchor="{"end" if x > RIGHT - 60 else "start"}">'
        f"{escape(reason)}</text></g>"
    )


def _findings(scale: Scale, timeline: Timeline, pinned: list[tuple[str, Finding]]) -> list[str]:
    """A triangle per finding, linked to its entry below; findings at one spot stack upwards."""
    marks, taken = [], {}
    for anchor, finding in pinned:
        x = scale.x(finding_time(timeline, finding))
        row = taken.get(round(x / 6), 0)
        taken[round(x / 6)] = row + 1
        y = FINDING_Y - 9 * min(row, 3)
        level = finding.level.label
        marks.append(
            f'<a href="#{anchor}" class="finding {level}" data-code="{escape(finding.code)}" '
            f'data-severity="{level}"><title>{escape(finding.code)}: {escape(finding.message)}</title>'
            f'<path d="M{x} {y - 6}l5 9h-10z"/></a>'
        )
    return marks
