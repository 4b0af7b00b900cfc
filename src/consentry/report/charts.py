"""The report's charts: Vega-Lite specifications (made with Altair) rendered to SVG on the
server by ``vl-convert``, so that a page or a PDF shows them without a script or any request.

Each chart carries its text alternative: a ``<title>`` and a ``<desc>`` the SVG is labelled by
(``role="img"``), and the table of the figures it draws, which the page shows beside it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import altair as alt
import vl_convert as vlc

Translate = Callable[[str], str]

#: Namespace declarations are names, not addresses, but an inline SVG in HTML needs none, and
#: without them the markup holds no URL at all.
_XMLNS: Final = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_OPEN: Final = re.compile(r"<svg\b([^>]*)>")
_ARIA: Final = re.compile(r'\s(?:role|aria-[a-z]+)="[^"]*"')
#: Colours readable by most kinds of colour blindness (Okabe and Ito), with text contrast.
PALETTE: Final = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
_CONFIG: Final[dict[str, Any]] = {
    # The SVG is one image with a text alternative: per-mark ARIA roles would only add noise.
    "aria": False,
    "font": "DejaVu Sans, sans-serif",
    "range": {"category": PALETTE},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelColor": "#222", "titleColor": "#222"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelColor": "#222"},
    "view": {"stroke": None},
}


@dataclass(frozen=True, slots=True)
class Chart:
    chart_id: str
    title: str
    description: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: How many marks (bars) the chart draws: one per row of its data.
    marks: int


def _svg(spec: alt.TopLevelMixin, chart_id: str, title: str, description: str) -> str:
    vl = spec.to_dict()
    vl["config"] = {**vl.get("config", {}), **_CONFIG}
    raw = _XMLNS.sub("", vlc.vegalite_to_svg(vl))
    # One image with one text alternative: the marks' own ARIA roles (graphics-symbol, left
    # by some Vega versions whatever the config) would ask for alternatives of their own.
    raw = _ARIA.sub("", raw)
    label = (
        f' role="img" aria-labelledby="{chart_id}-t {chart_id}-d" id="{chart_id}"'
        ' data-chart="1" focusable="false"'
    )
    return _OPEN.sub(
        lambda m: (
            f'<svg{m.group(1)}{label}><title id="{chart_id}-t">{_esc(title)}</title>'
            f'<desc id="{chart_id}-d">{_esc(description)}</desc>'
        ),
        raw,
        count=1,
    )


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def bars(
    chart_id: str,
    title: str,
    description: str,
    data: Sequence[dict[str, Any]],
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    color: str | None = None,
    color_title: str = "",
    horizontal: bool = False,
    percent: bool = False,
    width: int = 520,
) -> Chart:
    """A bar chart of ``data`` (one bar per row; stacked by ``color`` when given)."""
    values = [dict(row) for row in data]
    quantity = alt.Y(f"{y}:Q", title=y_title)
    category = alt.X(f"{x}:N", title=x_title, sort=None)
    if percent:
        quantity = alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format="%"))
    if horizontal:
        enc: dict[str, Any] = {
            "y": alt.Y(f"{x}:N", title=x_title, sort=None),
            "x": alt.X(f"{y}:Q", title=y_title, axis=alt.Axis(format="%") if percent else None),
        }
    else:
        enc = {"x": category, "y": quantity}
    if color is not None:
        enc["color"] = alt.Color(f"{color}:N", title=color_title, sort=None)
    height = max(120, 22 * len(values)) if horizontal else 220
    spec = (
        alt.Chart(alt.InlineData(values=values))
        .mark_bar()
        .encode(**enc)
        .properties(width=width if not horizontal else 360, height=height)
    )
    columns = (x_title, *((color_title,) if color else ()), y_title)
    rows = tuple(
        (
            str(r[x]),
            *((str(r[color]),) if color else ()),
            f"{r[y]:.1%}" if percent else f"{r[y]:,}",
        )
        for r in values
    )
    return Chart(
        chart_id,
        title,
        description,
        _svg(spec, chart_id, title, description),
        columns,
        rows,
        len(values),
    )
