"""Charts as inline SVG drawn on the server: no script, no network, the same in the dashboard and in a report
file opened offline. Each chart carries a title and description for screen readers, and the page shows the
numbers beside it as a table."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

__all__ = ["PALETTE", "bar_chart", "stacked_days"]

# Colour-blind-safe (Okabe-Ito), dark enough on white for the 3:1 non-text contrast of WCAG 2.1.
PALETTE: Final = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8A6D00", "#56509E", "#B8002E", "#4D4D4D")


def _fmt(hours: float) -> str:
    return f"{hours:.2f}" if hours < 10 else f"{hours:.1f}"


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, unit: str = "h", width: int = 640) -> str:
    """Horizontal bars, one per (label, value), largest first."""
    items = sorted(items, key=lambda kv: kv[1], reverse=True)[:12]
    bar_h, gap, label_w = 22, 6, 260
    height = max(1, len(items)) * (bar_h + gap) + 10
    top = max((v for _, v in items), default=0.0) or 1.0
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="t-{_slug(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" data-chart="{escape(title)}">',
        f'<title id="t-{_slug(title)}">{escape(title)}</title>',
    ]
    if not items:
        parts.append('<text x="4" y="18" class="empty">no data</text>')
    for i, (label, value) in enumerate(items):
        y = 5 + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 70) * value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="label">{escape(_short(label))}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(label)}: {_fmt(value)} {unit}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="value">{_fmt(value)} {unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_days(title: str, series: Sequence[tuple[str, str, float]], *, width: int = 640) -> str:
    """Columns per day, stacked by key: (day, key, hours) triples."""
    days = sorted({day for day, _, _ in series})[-31:]
    keys = sorted({key for _, key, _ in series})
    colour = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(keys)}
    per_day = {day: [(k, h) for d, k, h in series if d == day] for day in days}
    top = max((sum(h for _, h in per_day[d]) for d in days), default=0.0) or 1.0
    height, base, left = 220, 190, 48
    col_w = (width - left - 10) / max(1, len(days))
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="t-{_slug(title)}" viewBox="0 0 {width} {height + 20}" '
        f'width="100%" data-chart="{escape(title)}">',
        f'<title id="t-{_slug(title)}">{escape(title)}</title>',
        f'<line x1="{left}" y1="{base}" x2="{width - 5}" y2="{base}" stroke="#4D4D4D"/>',
        f'<text x="{left - 6}" y="14" text-anchor="end" class="value">{_fmt(top)} h</text>',
    ]
    if not days:
        parts.append(f'<text x="{left + 4}" y="{base - 8}" class="empty">no data</text>')
    for i, day in enumerate(days):
        x = left + i * col_w + 2
        y = float(base)
        for key, hours in per_day[day]:
            h = (base - 20) * hours / top
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(1.0, col_w - 4):.1f}" height="{h:.1f}" '
                f'fill="{colour[key]}"><title>{escape(day)} {escape(key)}: {_fmt(hours)} h</title></rect>'
            )
        if len(days) <= 10 or i % max(1, len(days) // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 16}" class="label">{escape(day[5:])}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch" style="background:{colour[k]}"></span>{escape(_short(k))}</li>' for k in keys[:12]
    )
    return "".join(parts) + (f'<ul class="legend">{legend}</ul>' if legend else "")


def _short(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else "…" + label[-(limit - 1) :]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())[:40]
