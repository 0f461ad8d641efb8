"""The SVG bar chart macro (DESIGN.md §1 charts, issue 3 item 7): proportional bars, the same data in
a table, an accessible name and description, no inline styles, and the edge cases 0 rows, 0 and 100."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from markupsafe import Markup

BAR_WIDTH = 536  # the chart's full bar length in SVG units (600 wide minus the value column)


@dataclass
class Row:
    label: str
    value: float
    detail: str = ""


@pytest.fixture
def bar_chart(app):
    """The macro, called inside a request context as a page would."""
    with app.test_request_context("/"):
        module = app.jinja_env.get_template("macros/charts.html").module
        yield module.bar_chart


def render(bar_chart, rows: list[Any], **kwargs: Any) -> str:
    kwargs.setdefault("title", "Profile progress by category")
    kwargs.setdefault("id", "progress-chart")
    return str(bar_chart(rows, **kwargs))


def bar_widths(html: str) -> list[float]:
    return [float(w) for w in re.findall(r'<rect class="portal-chart__bar"[^>]*\bwidth="([^"]+)"', html)]


def table_rows(html: str) -> list[tuple[str, ...]]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body, "no table body"
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append(tuple(cell.strip() for cell in cells))
    return rows


ROWS = [
    {"label": "Business Partners", "value": 50},
    {"label": "Cybersecurity", "value": 25},
    {"label": "Seal Security", "value": 100},
    {"label": "Physical Security", "value": 0},
]


def test_bar_widths_are_proportional(bar_chart):
    html = render(bar_chart, ROWS)
    widths = bar_widths(html)
    assert len(widths) == 4
    assert widths == pytest.approx([BAR_WIDTH * 0.5, BAR_WIDTH * 0.25, BAR_WIDTH, 0.0])
    # One group per row, each with a label, a track, the bar and the value text.
    assert html.count('<g class="portal-chart__row"') == 4
    assert re.findall(r'<text class="portal-chart__label"[^>]*>(.*?)</text>', html) == [r["label"] for r in ROWS]
    assert re.findall(r'<text class="portal-chart__value"[^>]*>(.*?)</text>', html) == ["50%", "25%", "100%", "0%"]


def test_table_holds_the_same_values(bar_chart):
    html = render(bar_chart, ROWS)
    assert '<table class="usa-table' in html
    assert "<caption>Profile progress by category</caption>" in html
    assert table_rows(html) == [("Business Partners", "50%"), ("Cybersecurity", "25%"),
                                ("Seal Security", "100%"), ("Physical Security", "0%")]
    # The table follows the chart, visible (not hidden from sighted users).
    assert html.index("</svg>") < html.index("<table")
    assert "usa-sr-only" not in html and " hidden" not in html


def test_accessible_name_and_description(bar_chart):
    html = render(bar_chart, ROWS)
    svg = re.search(r"<svg[^>]*>", html).group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="progress-chart-title progress-chart-desc"' in svg
    assert '<title id="progress-chart-title">Profile progress by category</title>' in html
    desc = re.search(r'<desc id="progress-chart-desc">(.*?)</desc>', html, re.S)
    assert desc and "Business Partners: 50%" in desc.group(1) and "Physical Security: 0%" in desc.group(1)
    custom = render(bar_chart, ROWS, desc="Two categories are complete.")
    assert '<desc id="progress-chart-desc">Two categories are complete.</desc>' in custom


def test_no_inline_styles(bar_chart):
    html = render(bar_chart, ROWS)
    assert "style=" not in html
    assert "<style" not in html
    assert 'class="portal-chart__bar"' in html  # colours come from portal.css classes


def test_no_rows_says_no_data(bar_chart):
    html = render(bar_chart, [])
    assert "No data" in html
    assert "<rect" not in html and "<table" not in html
    assert "Profile progress by category" in html
    assert "No data" in render(bar_chart, iter(()))


def test_objects_details_units_and_scale(bar_chart):
    rows = [Row("Answered", 12, detail="12 of 24"), Row("Open Musts", 3), Row("Overflow", 40)]
    html = render(bar_chart, rows, max_value=24, unit="", title="Counts", id="counts")
    assert bar_widths(html) == pytest.approx([BAR_WIDTH / 2, BAR_WIDTH / 8, BAR_WIDTH])  # clamped at max
    assert table_rows(html) == [("Answered", "12", "12 of 24"), ("Open Musts", "3", ""), ("Overflow", "40", "")]
    assert 'id="counts-title"' in html and 'id="counts-table"' in html


def test_fractions_negative_and_zero_scale(bar_chart):
    html = render(bar_chart, [{"label": "A", "value": 66.6667}, {"label": "B", "value": -5}])
    assert table_rows(html) == [("A", "66.7%"), ("B", "-5%")]
    assert bar_widths(html) == pytest.approx([BAR_WIDTH * 0.666667, 0.0], abs=0.01)
    assert bar_widths(render(bar_chart, [{"label": "A", "value": 5}], max_value=0)) == [0.0]


def test_labels_are_escaped(bar_chart):
    html = render(bar_chart, [{"label": "<script>alert(1)</script>", "value": 10,
                               "detail": '"><img src=x>'}], title="<b>t</b>")
    assert "<script>" not in html and "<img" not in html and "<b>t</b>" not in html
    assert "&lt;script&gt;" in html
    # Markup passed on purpose is kept as the caller's responsibility, like any Jinja macro.
    assert "<em>x</em>" in render(bar_chart, [{"label": Markup("<em>x</em>"), "value": 1}])
