"""Charts as inline SVG, drawn on the server: no script, no CDN, works offline and in reports."""

from __future__ import annotations

from html import escape
from typing import Any

ALERT_SCORE = 50.0


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def sparkline(values: list[float], label: str, width: int = 120, height: int = 24) -> str:
    """Return a 0-100 score sparkline; the last point is marked.

    Examples:
        >>> sparkline([0, 50, 100], "scores").startswith("<svg")
        True
    """
    if not values:
        return _svg(width, height, "", label)
    step = width / max(len(values) - 1, 1)
    points = [(i * step, height - 2 - (v / 100) * (height - 4)) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    x, y = points[-1]
    body = (
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{line}"/>'
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="mark"/>'
    )
    return _svg(width, height, body, label)


def timeline(points: list[dict[str, Any]], label: str, width: int = 720, height: int = 160) -> str:
    """Return a score-over-days chart with the alert line at 50."""
    pad = 24
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    threshold_y = pad + inner_h * (1 - ALERT_SCORE / 100)
    body = (
        f'<line x1="{pad}" x2="{width - pad}" y1="{threshold_y:.1f}" y2="{threshold_y:.1f}" '
        'class="threshold" stroke-dasharray="4 3"/>'
        f'<text x="{pad}" y="{threshold_y - 3:.1f}" class="axis">50</text>'
    )
    if points:
        step = inner_w / max(len(points) - 1, 1)
        xy = [
            (pad + i * step, pad + inner_h * (1 - p["score"] / 100)) for i, p in enumerate(points)
        ]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        body += f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{line}"/>'
        for (x, y), p in zip(xy, points, strict=True):
            if p["score"] >= ALERT_SCORE:
                body += (
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="mark">'
                    f"<title>{escape(p['day'])}: {p['score']:.1f}</title></circle>"
                )
        body += (
            f'<text x="{pad}" y="{height - 6}" class="axis">{escape(points[0]["day"])}</text>'
            f'<text x="{width - pad}" y="{height - 6}" class="axis" text-anchor="end">'
            f"{escape(points[-1]['day'])}</text>"
        )
    return _svg(width, height, body, label)


def heatmap(counts: list[list[int]], weekdays: list[str], label: str) -> str:
    """Return an hour (columns) x weekday (rows) activity heat map."""
    cell, left, top = 22, 44, 16
    most = max((max(row) for row in counts), default=0) or 1
    body = ""
    for hour in range(0, 24, 3):
        body += f'<text x="{left + hour * cell}" y="{top - 4}" class="axis">{hour:02d}</text>'
    for day, row in enumerate(counts):
        y = top + day * cell
        body += f'<text x="0" y="{y + 15}" class="axis">{escape(weekdays[day])}</text>'
        for hour, count in enumerate(row):
            opacity = 0.06 + 0.94 * count / most if count else 0.03
            body += (
                f'<rect x="{left + hour * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'class="cell" fill-opacity="{opacity:.2f}"><title>{escape(weekdays[day])} '
                f"{hour:02d}:00 {count}</title></rect>"
            )
    return _svg(left + 24 * cell, top + 7 * cell, body, label)


def bars(rows: list[tuple[str, list[float | None]]], series: list[str], label: str) -> str:
    """Return grouped horizontal bars: one group per row, one bar per series (None: no bar)."""
    # Room for the longest label (about 6 px a character at 10 px), within reason.
    longest = max((len(name) for name, _ in rows), default=10)
    left, bar, gap = min(300, 6 * longest + 12), 9, 8
    width = left + 390
    top = 18
    most = max((v for _, values in rows for v in values if v is not None), default=0.0) or 1.0
    body = ""
    for i, name in enumerate(series):
        body += (
            f'<rect x="{left + i * 120}" y="2" width="10" height="10" class="s{i}"/>'
            f'<text x="{left + i * 120 + 14}" y="11" class="axis">{escape(name)}</text>'
        )
    group = len(series) * bar + gap
    for r, (name, values) in enumerate(rows):
        y = top + r * group
        body += f'<text x="0" y="{y + bar + 2}" class="axis">{escape(name)}</text>'
        for i, value in enumerate(values):
            if value is None:
                continue
            length = (width - left - 40) * value / most
            body += (
                f'<rect x="{left}" y="{y + i * bar}" width="{max(length, 1):.1f}" '
                f'height="{bar - 1}" class="s{i}"><title>{escape(series[i])}: {value:.1f}'
                "</title></rect>"
            )
    return _svg(width, top + len(rows) * group + 4, body, label)


def context_timeline(
    first: str,
    last: str,
    marks: list[tuple[str, str]],
    spans: list[tuple[str, str, str, bool]],
    label: str,
    width: int = 720,
) -> str:
    """Return HR events as marks and trips as bars over the days `first`..`last` (ISO).

    Args:
        first: First day shown.
        last: Last day shown.
        marks: (day, text) of HR events.
        spans: (start, end, text, alarming) of trips; an alarming one is drawn in red.
        label: The chart's accessible name.
        width: Pixels.

    Returns:
        SVG text.
    """
    from datetime import date

    pad, row = 24, 18
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    days = max((end - start).days, 1)

    def x(day: str) -> float:
        offset = (date.fromisoformat(day[:10]) - start).days
        return pad + (width - 2 * pad) * min(max(offset, 0), days) / days

    body = (
        f'<line x1="{pad}" x2="{width - pad}" y1="{row}" y2="{row}" class="threshold" '
        'stroke-opacity="0.3"/>'
        f'<text x="{pad}" y="{row * 3 + 12}" class="axis">{escape(first)}</text>'
        f'<text x="{width - pad}" y="{row * 3 + 12}" class="axis" text-anchor="end">'
        f"{escape(last)}</text>"
    )
    for day, text in marks:
        body += (
            f'<circle cx="{x(day):.1f}" cy="{row}" r="5" class="mark">'
            f"<title>{escape(day)}: {escape(text)}</title></circle>"
        )
    for begin, finish, text, alarming in spans:
        left, right = x(begin), x(finish)
        body += (
            f'<rect x="{left:.1f}" y="{row * 2}" width="{max(right - left, 3):.1f}" height="10" '
            f'class="{"mark" if alarming else "s1"}"><title>{escape(begin)} – {escape(finish)}: '
            f"{escape(text)}</title></rect>"
        )
    return _svg(width, row * 3 + 16, body, label)
