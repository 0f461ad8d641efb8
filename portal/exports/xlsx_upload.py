"""Reading an uploaded workbook safely, shared by every Excel import (the offline questionnaire and the
validation visit workbook). Pure: bytes and plain values in, dataclasses out.

Order matters (security-testing.md T5): ``check_package`` looks at the upload as a zip package *before*
any XML parser sees it (member count, uncompressed size, compression ratio, member names, no macros),
then ``read_workbook`` opens it with openpyxl in read-only mode (defusedxml is installed, so entity
tricks fail) and hands it to the caller's reader. ``read_meta`` and ``read_table`` read the hidden
``_meta`` sheet and a table sheet cell by cell, collecting every problem with its sheet, row and column.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from openpyxl.utils import get_column_letter

from portal.exports.workbook import META_SHEET, Column, normalize_newlines, unquote_text

MAX_MEMBERS = 100
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_RATIO = 100
MAX_ROWS = 1_000
MAX_PROBLEMS = 100

XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MACRO_EXTENSIONS = {".xlsm", ".xltm", ".xlam"}
_OTHER_EXCEL_EXTENSIONS = {".xls": "an old-format Excel file (.xls)", ".xlsb": "a binary Excel workbook (.xlsb)",
                           ".xltx": "an Excel template (.xltx)", ".csv": "a CSV file", ".ods": "an OpenDocument "
                           "spreadsheet (.ods)"}
SAVE_AS_XLSX = "Save it in Excel as “Excel Workbook (*.xlsx)” and upload that file."


@dataclass(frozen=True)
class ImportProblem:
    """One reason the upload is refused, located as precisely as possible."""

    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None     # e.g. "F (Status)"

    @property
    def location(self) -> str:
        parts = [self.sheet] if self.sheet else []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ImportRejected(Exception):
    """The upload cannot be imported; ``problems`` says why, every one of them."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


def reject(message: str, sheet: str | None = None) -> ImportRejected:
    """A refusal with one problem (raise it)."""
    return ImportRejected([ImportProblem(message, sheet)])


# -- the zip guard ---------------------------------------------------------------------------------


def _unsafe_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\\" in name or "\x00" in name:
        return True
    return ".." in PurePosixPath(name).parts


def check_package(data: bytes, filename: str | None = None) -> None:
    """Refuse anything that is not a plain, reasonably sized .xlsx package, before parsing any XML.

    :raise ImportRejected: with one clear problem.
    """
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if suffix in _MACRO_EXTENSIONS:
        raise reject(f"Macro-enabled workbooks ({suffix}) are not accepted. {SAVE_AS_XLSX}")
    if suffix in _OTHER_EXCEL_EXTENSIONS:
        raise reject(f"The file is {_OTHER_EXCEL_EXTENSIONS[suffix]}, not an Excel workbook (.xlsx). {SAVE_AS_XLSX}")
    if not data:
        raise reject("The file is empty.")
    if data.startswith(_OLE_MAGIC):
        raise reject("The file is an old-format (.xls) or password-protected workbook, which cannot be read. "
                     + SAVE_AS_XLSX + " Remove any password first.")
    if not data.startswith(b"PK\x03\x04"):
        raise reject("The file is not an Excel workbook (.xlsx): it is not a zip package. " + SAVE_AS_XLSX)
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise reject("The file is damaged or incomplete (it may have been cut off during download or upload). "
                     "Open it in Excel, save it again and upload it once more.") from None
    with package:
        members = package.infolist()
        if len(members) > MAX_MEMBERS:
            raise reject(f"The workbook package holds {len(members):,} parts; at most {MAX_MEMBERS} are accepted.")
        for member in members:
            if _unsafe_name(member.filename):
                raise reject(f"The workbook package contains a part with an unsafe name ({member.filename[:80]!r}).")
            if member.flag_bits & 0x1:
                raise reject("The workbook is encrypted. Remove the password, save it again and upload it.")
        total = sum(member.file_size for member in members)
        compressed = sum(member.compress_size for member in members)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise reject(f"The workbook would unpack to {total / 1048576:,.0f} MB; the limit is "
                         f"{MAX_UNCOMPRESSED_BYTES // 1048576} MB.")
        ratio = total / max(compressed, 1)
        if ratio > MAX_RATIO:
            raise reject(f"The workbook is compressed {ratio:,.0f} to 1, far more than a real workbook "
                         f"(at most {MAX_RATIO} to 1 is accepted); it looks like a zip bomb.")
        names = {member.filename for member in members}
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise reject(f"The workbook contains macros. Macro-enabled workbooks are not accepted. {SAVE_AS_XLSX}")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise reject("The file is a zip package but not an Excel workbook (.xlsx). " + SAVE_AS_XLSX)
        workbook_type = _workbook_content_type(package.read("[Content_Types].xml"))
    if workbook_type is None or "macroenabled" in workbook_type.lower():
        raise reject(f"The workbook is macro-enabled (.xlsm). Macro-enabled workbooks are not accepted. {SAVE_AS_XLSX}"
                     if workbook_type else "The workbook's content types are missing or unreadable. " + SAVE_AS_XLSX)
    if workbook_type != XLSX_MAIN_TYPE:
        raise reject(f"The file is not a plain Excel workbook (.xlsx) (its type is {workbook_type[:100]}). "
                     + SAVE_AS_XLSX)


def _workbook_content_type(xml: bytes) -> str | None:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(xml)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    for element in root:
        if element.tag.endswith("Override") and element.get("PartName") == "/xl/workbook.xml":
            return element.get("ContentType")
    return None


def read_workbook(data: bytes, filename: str | None, reader: Callable[[Any], None]) -> None:
    """Check the package, open it read-only and call ``reader(book)``; any failure to read a part
    (broken XML, entity declarations) becomes one clear problem.

    :raise ImportRejected: when the package is refused or the workbook cannot be read at all.
    """
    check_package(data, filename)
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except DefusedXmlException:
        raise reject("The workbook contains XML entity or DTD declarations, which are not accepted "
                     "(they can be used to exhaust the server). " + SAVE_AS_XLSX) from None
    except Exception:  # noqa: BLE001 - openpyxl raises many types for broken parts; all mean "unreadable"
        raise reject("The file could not be read as an Excel workbook. " + SAVE_AS_XLSX) from None
    try:
        reader(book)
    except ImportRejected:
        raise
    except DefusedXmlException:
        raise reject("The workbook contains XML entity or DTD declarations, which are not accepted. "
                     + SAVE_AS_XLSX) from None
    except Exception:  # noqa: BLE001 - a broken sheet part surfaces while iterating in read-only mode
        raise reject("The file could not be read as an Excel workbook. " + SAVE_AS_XLSX) from None
    finally:
        book.close()


# -- cells, the _meta sheet and table sheets -------------------------------------------------------------


@dataclass
class ParsedWorkbook:
    """What every reader collects: the ``_meta`` pairs and table, and the problems found so far."""

    meta: dict[str, str] = field(default_factory=dict)
    meta_table: list[list[str]] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    has_meta: bool = False

    def problem(self, message: str, sheet: str | None = None, row: int | None = None,
                column: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(message, sheet, row, column))

    @property
    def download_state(self) -> dict[str, tuple[int, str]]:
        """Per criterion, the stored row's version and content digest when the workbook was downloaded
        (the ``_meta`` table: criterion ID first, version second, digest last)."""
        state: dict[str, tuple[int, str]] = {}
        for row in self.meta_table:
            try:
                state[row[0]] = (int(row[1] or 0), row[-1])
            except ValueError:
                state[row[0]] = (-1, row[-1])  # never matches: treated as changed online since
        return state


def as_text(value: Any) -> str:
    """A cell value as the text a person meant (numbers typed into a narrative stay readable)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return unquote_text(str(value))


def clean(value: Any) -> str:
    """``as_text`` with LF line endings and no outer spaces."""
    return normalize_newlines(as_text(value)).strip()


def column_label(columns: Sequence[Column], index: int) -> str:
    """ "F (Status)" for a 0-based index inside the layout, "J" beyond it."""
    letter = get_column_letter(index + 1)
    return f"{letter} ({columns[index].header})" if index < len(columns) else letter


def read_meta(ws: Any, parsed: ParsedWorkbook, *, table_width: int = 4) -> None:
    """The hidden ``_meta`` sheet: "key | value" rows, then after a blank row a table with a header row."""
    parsed.has_meta = True
    in_table = False
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        texts = [as_text(v).strip() for v in values]
        if not any(texts):
            in_table = True
            continue
        if not in_table:
            if texts[0] in parsed.meta or len(parsed.meta) > 50:
                parsed.problem("The hidden _meta sheet has been changed.", META_SHEET, number)
                return
            parsed.meta[texts[0]] = texts[1] if len(texts) > 1 else ""
        elif texts[0] != "criterion_id":  # the table's header row
            parsed.meta_table.append((texts + [""] * table_width)[:table_width])
        if number > MAX_ROWS + 100:
            parsed.problem("The hidden _meta sheet has been changed.", META_SHEET)
            return


def read_table(ws: Any, parsed: ParsedWorkbook, sheet: str, columns: Sequence[Column], *,
               noun: str) -> Iterator[tuple[int, list[Any]]]:
    """The non-empty data rows of a table sheet as (row number, one value per column), after checking
    the header row (no renamed, moved or inserted columns), and that no cell holds a formula and no
    cell beyond the layout holds anything. ``noun`` names the workbook in messages ("questionnaire")."""
    expected = [column.header for column in columns]
    width = len(expected)
    for number, cells in enumerate(ws.iter_rows(), start=1):
        if number > MAX_ROWS + 1:
            parsed.problem(f"The sheet has more than {MAX_ROWS:,} rows; a {noun} has one row per criterion.",
                           sheet, number)
            return
        values = [getattr(cell, "value", None) for cell in cells]
        for index, cell in enumerate(cells):
            if getattr(cell, "data_type", None) == "f":
                parsed.problem("Formulas are not accepted; type the text itself (start it with an apostrophe "
                               "if it begins with =, +, - or @).", sheet, number, column_label(columns, index))
        for index in range(width, len(values)):
            if as_text(values[index]).strip():
                parsed.problem(f"This column is not part of the {noun}; remove it.", sheet, number,
                               column_label(columns, index))
        if number == 1:
            found = [as_text(v).strip() for v in values[:width]] + [""] * (width - len(values[:width]))
            for index, (want, got) in enumerate(zip(expected, found, strict=True)):
                if want != got:
                    parsed.problem(f"The header should be “{want}”, not “{got[:60]}”. Do not rename, move or "
                                   "insert columns.", sheet, 1, get_column_letter(index + 1))
            continue
        padded = (values + [None] * width)[:width]
        if any(as_text(v).strip() for v in padded):
            yield number, padded


# -- the checks of criterion IDs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogExpectation:
    """What every import's rows must match: the profile's catalog and the criteria that apply to it."""

    profile_id: int
    account_number: str
    catalog_id: str
    business_type_label: str
    known_ids: frozenset[str]
    applicable_ids: frozenset[str]

    def criterion_problems(self, rows: Iterable[Any], sheet: str, column: str, *,
                           owner: str = "profile") -> list[ImportProblem]:
        """Rows (with ``row`` and ``criterion_id``) whose criterion is unknown, does not apply to the
        ``owner``'s business type, or appears twice."""
        problems = []
        seen: dict[str, int] = {}
        for row in rows:
            location = (sheet, row.row, column)
            if row.criterion_id not in self.known_ids:
                problems.append(ImportProblem(f"“{row.criterion_id[:20]}” is not a criterion ID of catalog "
                                              f"{self.catalog_id}.", *location))
            elif row.criterion_id not in self.applicable_ids:
                problems.append(ImportProblem(f"Criterion {row.criterion_id} does not apply to this {owner}'s "
                                              f"business type ({self.business_type_label}).", *location))
            elif row.criterion_id in seen:
                problems.append(ImportProblem(f"Criterion {row.criterion_id} appears twice (also in row "
                                              f"{seen[row.criterion_id]}).", *location))
            seen.setdefault(row.criterion_id, row.row)
        return problems
