"""Writing the partner list: the import template and the export of a register, as CSV or XLSX (pure:
data in, bytes out).

Every text cell passes through ``neutralise`` (a leading apostrophe before = + - @ tab CR NUL), and
XLSX text cells are also typed as strings, so no cell is ever stored as a formula (security-testing.md
T7). Workbooks are written in openpyxl's write-only mode (DESIGN.md §1: list exports).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from portal.companies.countries import COUNTRIES, country_name
from portal.partners.columns import COLUMNS, EXPORT_ONLY_HEADERS, neutralise
from portal.partners.enums import (
    AssessmentResult,
    AssessmentType,
    CertificationKind,
    CtpatStatus,
    PartnerRole,
    RiskRating,
)
from portal.partners.screening import ScreeningResult

XLSX_MIMETYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE: Final = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class Sheet:
    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = ()


def _label(value: Any) -> Any:
    return value.label if hasattr(value, "label") else value


def partner_cells(partner: Any, result: ScreeningResult, program_codes: Mapping[int, str]) -> list[Any]:
    """One register row in the column order of ``COLUMNS`` plus ``EXPORT_ONLY_HEADERS``."""
    cells: list[Any] = []
    for column in COLUMNS:
        value = getattr(partner, column.field)
        if column.field == "mra_program_id":
            value = program_codes.get(value, "") if value is not None else ""
        elif column.field == "ctpat_eligible":
            value = "yes" if value else "no"
        elif column.field == "certification":
            value = {CertificationKind.NONE: "none", CertificationKind.CTPAT: "CTPAT",
                     CertificationKind.AEO: "AEO"}[value]
        elif column.field in {"ctpat_status", "last_assessment_type", "risk_rating"}:
            value = value.value if value is not None else ""
        else:
            value = _label(value)
        cells.append("" if value is None else value)
    cells += [country_name(partner.country), result.next_review_on or "", result.status.label,
              " ".join(result.reasons)]
    return cells


def register_sheet(items: Iterable[tuple[Any, ScreeningResult]], program_codes: Mapping[int, str]) -> Sheet:
    headers = [column.header for column in COLUMNS] + list(EXPORT_ONLY_HEADERS)
    rows = (partner_cells(partner, result, program_codes) for partner, result in items)
    return Sheet("Partners", headers, rows, widths=[32, 26, 9, 30, 16, 10, 12, 16, 12, 10, 18, 14, 14, 14, 24, 10,
                                                    36, 14, 30, 20, 14, 30, 60])


def to_csv(sheet: Sheet) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows accented names (Bogotá, São Paulo) correctly."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([neutralise(header) for header in sheet.headers])
    for row in sheet.rows:
        writer.writerow([neutralise(value.isoformat() if isinstance(value, date) else value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def _cell(sheet: Any, value: Any, font: Any = None) -> Any:
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        written = WriteOnlyCell(sheet, value=neutralise(value))
        written.data_type = "s"  # belt and braces: never a formula, whatever the text
    else:
        written = WriteOnlyCell(sheet, value=value)
        if isinstance(value, date):
            written.number_format = "yyyy-mm-dd"
    if font is not None:
        written.font = font
    return written


def to_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with a bold, frozen header row per sheet; dates as real dates."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    for spec in sheets:
        sheet = workbook.create_sheet(spec.title)
        sheet.freeze_panes = "A2"
        for index, width in enumerate(spec.widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width

        sheet.append([_cell(sheet, header, bold) for header in spec.headers])
        for row in spec.rows:
            sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_sheets(programs: Sequence[tuple[str, str, str]]) -> list[Sheet]:
    """The import template: an empty "Partners" sheet, then help with every column and allowed value.

    ``programs`` are (code, partner, program name) rows of the MRA list.
    """
    headers = [column.header + (" *" if column.required else "") for column in COLUMNS]
    help_rows: list[list[Any]] = [[column.header, "yes" if column.required else "", column.help]
                                  for column in COLUMNS]
    values: list[list[Any]] = []
    for title, enum_cls in (("Role", PartnerRole), ("CTPAT status", CtpatStatus),
                            ("Last assessment type", AssessmentType), ("Last assessment result", AssessmentResult),
                            ("Risk rating", RiskRating)):
        values += [[title, member.value, member.label] for member in enum_cls]
    values += [["AEO program", code, f"{partner}: {name}"] for code, partner, name in programs]
    values += [["Country", code, name] for code, name in COUNTRIES.items()]
    example = [["Example row (do not copy)", *[""] * 2],
               ["Name", "Transportes del Norte S.A. de C.V.", ""], ["Role", "Carrier: highway", ""],
               ["Country", "MX", ""], ["Certification", "AEO", ""], ["AEO program", "MX", ""],
               ["AEO certificate number", "OEA-2024-0153", ""], ["AEO certificate expiry", "2027-06-30", ""],
               ["Risk rating", "medium", ""], ["Risk reason", "Cross-border highway leg", ""]]
    return [
        Sheet("Partners", headers, [], widths=[max(12, len(h) + 2) for h in headers]),
        Sheet("Columns", ["Column", "Required", "What to enter"], help_rows, widths=[26, 10, 90]),
        Sheet("Allowed values", ["Column", "Write", "Meaning"], values + [["", "", ""]] + example,
              widths=[26, 34, 70]),
    ]


def template_csv() -> bytes:
    """The header row alone (the XLSX template carries the help)."""
    return to_csv(Sheet("Partners", [column.header for column in COLUMNS], []))
