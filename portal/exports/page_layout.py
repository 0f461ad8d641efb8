"""How exported sheets print and how tall their rows are (pure: no database, no Flask).

* Every sheet prints landscape on Letter, fitted to the page width (two or more pages across for wide
  sheets, the first column repeated), the header row repeated, the title in the page header and the
  line "Generated <date>, version N" / "Page x of y" in the footer.
* Rows holding wrapped text get a height estimated from their text (``row_height``): Excel fits row
  heights to wrapped text when it opens a workbook, LibreOffice does not (it would print every row one
  line high, the lines overlapping), so the file says how tall each row should be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet


@dataclass(frozen=True)
class PrintSetup:
    """What the printed pages carry: a title in the header and the generation line in the footer."""

    title: str
    generated: str  # e.g. "Generated 2026-05-02 14:03 UTC, version 3"


# Row heights in points: a line of the default 11-point font, and Excel's largest row.
LINE_HEIGHT = 15.0
MAX_ROW_HEIGHT = 409.0
# Characters of ordinary text per unit of column width (a unit is the width of a "0"; most letters are
# narrower), a little low so that word wrapping's ragged ends still fit.
_CHARS_PER_WIDTH = 1.1


def wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` needs in a wrapped cell ``width`` units wide (an estimate)."""
    per_line = max(int(width * _CHARS_PER_WIDTH), 1)
    if "\n" not in text:
        return max(1, -(-len(text) // per_line))
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def row_height(values: Sequence[Any], wrapped: Sequence[tuple[int, float]]) -> float | None:
    """The height a row needs for its wrapped cells (``wrapped``: column index and width), or None for
    a row of one line (the default height)."""
    lines = 1
    for index, width in wrapped:
        value = values[index]
        if type(value) is str:
            lines = max(lines, wrapped_lines(value, width))
    return min(lines * LINE_HEIGHT + 2, MAX_ROW_HEIGHT) if lines > 1 else None


def append_row(ws: Any, number: int, cells: Sequence[Any], height: float | None) -> None:
    """Append row ``number`` (1-based), with its height when it needs one.

    openpyxl's write-only writer merges ``row_dimensions.get(number)`` into the attributes of the row's
    ``<row>`` element as the row is appended; a plain mapping does that ~50 times cheaper than a
    ``RowDimension`` (tests/unit/test_workbook.py checks the heights in the sheet XML). The entry is
    dropped again at once, so memory stays flat however many rows are written.
    """
    if height is None:
        ws.append(cells)
        return
    ws.row_dimensions[number] = {"ht": f"{height:g}"}
    ws.append(cells)
    del ws.row_dimensions[number]


def _header_footer_text(text: str, limit: int = 120) -> str:
    # A header is not a cell (no formula can start there): only XML-illegal characters go, and "&",
    # which starts a control code in Excel header/footer strings, is written "&&".
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:limit].replace("&", "&&")


PRINT_WIDTH_PER_PAGE = 220
"""Column widths (in characters) one landscape Letter page holds while the text stays readable (about
60 % of its size). A wider sheet prints over more pages across, its first column repeated on each."""


def print_pages_wide(total_width: float) -> int:
    """How many pages across a sheet of this total column width prints on."""
    return max(1, math.ceil(total_width / PRINT_WIDTH_PER_PAGE))


def apply_print_setup(ws: Any, setup: PrintSetup, *, repeat_header: bool = True, total_width: float = 0) -> None:
    """Landscape, fitted to the page width (as many pages tall as needed), header row repeated, footer.

    The CBP Criteria sheet (15 columns, about 440 characters wide) fitted to one page printed at a third
    of its size in LibreOffice; a sheet wider than ``PRINT_WIDTH_PER_PAGE`` is fitted to two (or more)
    pages across instead, printed across then down (the halves of the same rows follow each other) with
    the first column (the criterion ID) repeated on every page.
    """
    pages = print_pages_wide(total_width)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_LETTER
    ws.page_setup.fitToWidth = pages
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = True
    if repeat_header:
        ws.print_title_rows = "1:1"
    if pages > 1:
        ws.print_title_cols = "A:A"
        ws.page_setup.pageOrder = "overThenDown"
    ws.oddHeader.left.text = _header_footer_text(setup.title)
    ws.oddHeader.right.text = "&A"  # the sheet name
    ws.oddFooter.left.text = _header_footer_text(setup.generated)
    ws.oddFooter.right.text = "Page &P of &N"
