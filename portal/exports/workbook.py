"""Pure XLSX building blocks shared by every export (no database, no Flask).

* ``safe_text`` is the formula-injection rule (ASVS 5.0 1.2.10, security-testing.md T7): a string whose
  first character is ``= + - @``, tab, CR or NUL (also behind leading apostrophes) gets a leading
  apostrophe, so Excel, LibreOffice and a later CSV re-save all see text, never a formula. Characters
  XML 1.0 cannot carry (NUL and the other C0 controls except tab/LF/CR) are dropped. ``unquote_text``
  undoes exactly what ``safe_text`` added, so the offline questionnaire round-trips.
* Every sheet is written through openpyxl's write-only mode (rows stream to a temporary file), so memory
  stays flat whatever the number of rows (security-testing.md §3.3). Styles are registered once per
  workbook as named styles and shared by every cell.
* ``TableSheet`` writes the house layout: styled header, frozen header row, autofilter, column widths,
  wrapped text, drop-down lists, landscape print fitted to the page width with the header row repeated
  and a footer "Generated <date>, version N" / "Page x of y".
* How sheets print and how tall rows are: ``page_layout``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import partial
from typing import IO, Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from portal.exports.page_layout import PrintSetup, append_row, apply_print_setup, row_height

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Excel refuses longer cell texts; exports cut them and say so with an ellipsis.
EXCEL_CELL_MAX = 32_767

# First characters that make a spreadsheet (or a CSV re-save) evaluate a cell (ASVS 1.2.10), plus LF:
# XML parsing turns a CR into an LF, and quoting both keeps the round trip exact.
FORMULA_TRIGGERS = "=+-@\t\r\n\x00"
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r\n\x00]")
_ADDED_QUOTE = re.compile(r"'+[=+\-@\t\r\n]")


def safe_text(text: str) -> str:
    """The text as it may be written to a cell: never a formula, only XML-legal characters."""
    # Printable text (the usual case) cannot hold an XML-illegal character; skip the regex scan then.
    cleaned = text if text.isprintable() else ILLEGAL_CHARACTERS_RE.sub("", text)
    if _NEEDS_QUOTE.match(cleaned):
        # Also quote text that already starts with apostrophes before a trigger, so unquote_text
        # can remove exactly one apostrophe and give back the original.
        cleaned = "'" + cleaned
    if len(cleaned) > EXCEL_CELL_MAX:
        cleaned = cleaned[: EXCEL_CELL_MAX - 1] + "\u2026"
    return cleaned


def unquote_text(text: str) -> str:
    """Undo ``safe_text`` on a value read back from a workbook (after XML turned CRs into LFs)."""
    return text[1:] if _ADDED_QUOTE.match(text) else text


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR as LF: browsers post CRLF, XML readers give LF, comparisons must agree."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def safe_value(value: Any) -> Any:
    """A cell value: text made safe, enums as their label, aware datetimes as naive UTC (Excel has
    no time zones; headers say "UTC"), None stays empty."""
    if type(value) is str:  # the common case first: exports are mostly text
        return safe_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return value
    if isinstance(value, StrEnum) and hasattr(value, "label"):
        return safe_text(str(value.label))
    return safe_text(str(value))


# -- styles ----------------------------------------------------------------------------------------

# "plain" cells carry no style at all (the cheapest to write): short values in sheets whose rows are one
# line high. "text" and "number" are top-aligned, for short values beside wrapped text in tall rows.
CellKind = Literal["plain", "text", "wrap", "date", "datetime", "number", "header", "key", "input", "input_wrap"]

_THIN = Side(style="thin", color="A9AEB1")
_HEADER_FILL = PatternFill("solid", fgColor="1A4480")  # USWDS primary-dark: white text passes WCAG AA


def _named_styles() -> dict[CellKind, NamedStyle]:
    top = Alignment(vertical="top")
    wrap = Alignment(vertical="top", wrap_text=True)
    styles: dict[CellKind, NamedStyle] = {
        "header": NamedStyle(name="portal header", font=Font(bold=True, color="FFFFFF"), fill=_HEADER_FILL,
                             alignment=Alignment(vertical="center", wrap_text=True), border=Border(bottom=_THIN)),
        "text": NamedStyle(name="portal text", alignment=top),
        "wrap": NamedStyle(name="portal wrap", alignment=wrap),
        "date": NamedStyle(name="portal date", alignment=top, number_format="yyyy-mm-dd"),
        "datetime": NamedStyle(name="portal datetime", alignment=top, number_format="yyyy-mm-dd hh:mm"),
        "number": NamedStyle(name="portal number", alignment=top),
        "key": NamedStyle(name="portal key", font=Font(bold=True), alignment=wrap),
        # Cells a partner fills in offline: unlocked on a protected sheet, tinted so they stand out.
        "input": NamedStyle(name="portal input", alignment=top, protection=Protection(locked=False),
                            fill=PatternFill("solid", fgColor="FFF5C2")),
        "input_wrap": NamedStyle(name="portal input wrap", alignment=wrap, protection=Protection(locked=False),
                                 fill=PatternFill("solid", fgColor="FFF5C2")),
    }
    return styles


class ExportWorkbook:
    """A write-only workbook with the portal's named styles registered once."""

    def __init__(self) -> None:
        self.book = Workbook(write_only=True)
        self.styles = _named_styles()
        for style in self.styles.values():
            self.book.add_named_style(style)

    def cell(self, ws: Any, value: Any, kind: CellKind = "text") -> Any:
        """A styled, safe cell for ``ws.append`` (a "plain" one is just the safe value)."""
        if kind == "plain":
            return safe_value(value)
        cell = WriteOnlyCell(ws, value=safe_value(value))
        cell.style = self.styles[kind].name
        return cell

    def save(self, out: str | IO[bytes]) -> None:
        self.book.save(out)


# -- sheets ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a table sheet."""

    header: str
    width: float = 16
    kind: CellKind = "plain"
    choices: tuple[str, ...] = ()      # a drop-down list (data validation) for the column's cells
    cbp_only: bool = False             # left out of the partner's copy of a workbook


def _choices_formula(choices: Sequence[str]) -> str:
    # An inline list is limited to 255 characters and may not contain commas or quotes.
    if any("," in c or '"' in c for c in choices):
        raise ValueError("drop-down choices may not contain commas or quotes")
    formula = '"' + ",".join(choices) + '"'
    if len(formula) > 255:
        raise ValueError("drop-down list longer than Excel's 255-character limit")
    return formula


def list_validation(choices: Sequence[str], *, prompt: str | None = None) -> DataValidation:
    """A drop-down list that refuses other values (blank allowed)."""
    validation = DataValidation(type="list", formula1=_choices_formula(choices), allow_blank=True,
                                showErrorMessage=True, errorTitle="Not in the list",
                                error="Choose one of: " + ", ".join(choices) + ".")
    if prompt:
        validation.showInputMessage = True
        validation.promptTitle = "Choose from the list"
        validation.prompt = prompt[:255]
    return validation


def _rows_of_cells(ws: Any, values: Sequence[Any], row_idx: int) -> Iterable[Any]:
    """The cells of one appended row, for openpyxl's write-only writer (openpyxl 3.1.5, pinned).

    openpyxl's own ``_values_to_row`` first tries every item as a plain value and, for a styled cell,
    builds the message "Cannot convert <repr> to Excel" of the ValueError it then catches: for a
    sheet of styled cells that was a fifth of the build. Our rows hold only plain values and styled
    cells (never hyperlinks), so a styled cell is taken as it is and plain values share one cell, as
    in openpyxl (tests/unit/test_workbook.py compares the XML with openpyxl's own path).
    """
    plain = WriteOnlyCell(ws)
    for col_idx, value in enumerate(values, 1):
        if value is None:
            continue
        if isinstance(value, Cell):
            cell = value
        else:
            plain.value = value
            cell = plain
        cell.column = col_idx
        cell.row = row_idx
        yield cell


class TableSheet:
    """A sheet holding one table: header row 1, one record per row below it.

    Everything that openpyxl writes at the top of a sheet (views, columns) is set before the first row;
    autofilter and drop-downs, written at the end, are sized when the sheet is closed.
    """

    def __init__(self, wb: ExportWorkbook, title: str, columns: Sequence[Column], setup: PrintSetup, *,
                 protect: bool = False, autofilter: bool = True) -> None:
        self.wb = wb
        self.columns = list(columns)
        self.ws = wb.book.create_sheet(title)
        self.ws._values_to_row = partial(_rows_of_cells, self.ws)
        self.rows = 0
        self.autofilter = autofilter
        for index, column in enumerate(self.columns, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = column.width
        self.ws.freeze_panes = "A2"
        apply_print_setup(self.ws, setup, total_width=sum(column.width for column in self.columns))
        if protect:
            # Protection guards the layout against slips (IDs, headers); it is not a security control:
            # the importer checks every cell anyway. Filtering, sorting and resizing stay allowed.
            protection = self.ws.protection
            protection.sheet = True
            protection.autoFilter = False
            protection.sort = False
            protection.formatColumns = False
            protection.formatRows = False
        self.ws.append([wb.cell(self.ws, column.header, "header") for column in self.columns])
        # One styled cell per column, reused for every row: write-only mode serialises a row as soon as
        # it is appended, so refilling the same cells is safe and saves building and styling a cell per
        # value (the styled export stays close to a bare dump in time, security-testing.md §3.3).
        self._cells = [None if column.kind == "plain" else wb.cell(self.ws, None, column.kind)
                       for column in self.columns]
        self._blank = [wb.cell(self.ws, None, column.kind) if column.kind.startswith("input") else None
                       for column in self.columns]
        self._wrapped = [(index, column.width) for index, column in enumerate(self.columns)
                         if column.kind in ("wrap", "input_wrap")]

    def append(self, values: Sequence[Any]) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"{self.ws.title}: {len(values)} values for {len(self.columns)} columns")
        row: list[Any] = []
        for cell, value, blank in zip(self._cells, values, self._blank, strict=True):
            if value is None or value == "":
                # Empty cells are left out (less to write), except the yellow input cells people fill in.
                row.append(blank)
            elif cell is None:
                row.append(safe_value(value))
            else:
                cell.value = safe_value(value)
                row.append(cell)
        append_row(self.ws, self.rows + 2, row, row_height(values, self._wrapped))
        self.rows += 1

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        for values in rows:
            self.append(values)

    def close(self) -> None:
        """Size the autofilter and the drop-down lists to the rows written."""
        last_row = max(self.rows + 1, 2)
        last_col = get_column_letter(len(self.columns))
        if self.autofilter:
            self.ws.auto_filter.ref = f"A1:{last_col}{last_row}"
        for index, column in enumerate(self.columns, start=1):
            if column.choices:
                letter = get_column_letter(index)
                validation = list_validation(column.choices, prompt=f"{column.header}: choose from the list.")
                validation.add(f"{letter}2:{letter}{last_row}")
                self.ws.data_validations.append(validation)


def key_value_sheet(wb: ExportWorkbook, title: str, rows: Iterable[tuple[Any, ...]], setup: PrintSetup, *,
                    widths: tuple[float, float, float] = (36, 48, 70)) -> Any:
    """A "Field | Value | Detail" sheet (summaries); each row is (field, value) or (field, value, detail)."""
    ws = wb.book.create_sheet(title)
    for letter, width in zip("ABC", widths, strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    apply_print_setup(ws, setup)
    ws.append([wb.cell(ws, header, "header") for header in ("Field", "Value", "Detail")])
    wrapped = list(enumerate(widths))
    for number, (key, value, *detail) in enumerate(rows, start=2):
        kind: CellKind = "datetime" if isinstance(value, datetime) else "date" if isinstance(value, date) else "wrap"
        note = detail[0] if detail else None
        append_row(ws, number, [wb.cell(ws, key, "key"), wb.cell(ws, value, kind), wb.cell(ws, note, "wrap")],
                   row_height([key, value, note], wrapped))
    return ws


META_SHEET = "_meta"


def meta_sheet(wb: ExportWorkbook, pairs: Iterable[tuple[str, Any]],
               table: tuple[Sequence[str], Iterable[Sequence[Any]]] | None = None) -> Any:
    """The hidden ``_meta`` sheet: "key | value" rows, then optionally a blank row and a table."""
    ws = wb.book.create_sheet(META_SHEET)
    ws.sheet_state = "hidden"
    for key, value in pairs:
        ws.append([safe_value(key), safe_value(value)])
    if table is not None:
        headers, rows = table
        ws.append([])
        ws.append([safe_value(h) for h in headers])
        for row in rows:
            ws.append([safe_value(v) for v in row])
    return ws


def generated_line(when: datetime, version_label: str) -> str:
    """The footer's generation line, e.g. "Generated 2026-05-02 14:03 UTC, version 3"."""
    return f"Generated {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {version_label}"
