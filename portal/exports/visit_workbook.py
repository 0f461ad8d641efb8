"""The visit workbook of one validation: the CBP copy of the profile workbook
(``portal.exports.profile_workbook``) with two differences the validation needs on site.

* Its "Visit plan" sheet is the plan of *this* validation (``queries.visit_plan``; the profile's own
  visit workbook shows the account's newest validation), with the MRA program, certificate and expiry
  of a covered site as in every visit plan sheet.
* The "Verified on site" drop-down also offers the clear marker (``CLEAR``), and its input message says
  what a blank cell and the marker do.

Pure: plain values in, an .xlsx out. Only the Criteria sheet is read back on import, by the same header
row as the profile workbook (``portal.exports.visit_import``), so the visit plan's columns change nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import IO

from portal.exports import columns as cols
from portal.exports.profile_workbook import (
    CRITERIA_SHEET,
    Audience,
    ProfileWorkbookData,
    VisitRow,
    meta_pairs,
    meta_table,
    sheet_rows,
    summary_rows,
)
from portal.exports.workbook import (
    Column,
    ExportWorkbook,
    PrintSetup,
    TableSheet,
    generated_line,
    key_value_sheet,
    meta_sheet,
)
from portal.validations.verification import CLEAR_MARKER

VERIFIED_PROMPT = (f"Y, N or Partial. {CLEAR_MARKER} erases the stored verification; an empty cell keeps it. "
                   f"Type {CLEAR_MARKER} in Visit notes to erase the stored notes.")
CLEAR_NOTE = (f"On-site verification: type Y, N or Partial in “Verified on site” and your notes in “Visit notes”. "
              f"An empty cell keeps what is stored in the portal; to erase a stored verification or notes, type "
              f"{CLEAR_MARKER} (any letter case) alone in that cell. The import preview lists every cleared value "
              "before anything is stored.")


def criteria_columns() -> list[Column]:
    """The CBP Criteria columns, the "Verified on site" drop-down offering the clear marker too."""
    columns = list(cols.CRITERIA)
    verified = columns[cols.C_VERIFIED]
    columns[cols.C_VERIFIED] = replace(verified, choices=(*verified.choices, CLEAR_MARKER))
    return columns


def build_visit_workbook(data: ProfileWorkbookData, plan: Sequence[VisitRow], out: str | IO[bytes]) -> None:
    """Write the validation's visit workbook (always the CBP copy) to ``out``, with ``plan`` on its
    Visit plan sheet."""
    audience = Audience.CBP
    data = replace(data, visits=tuple(plan))
    wb = ExportWorkbook()
    setup = PrintSetup(title=f"{data.company}: {data.business_type} (CBP validation copy)",
                       generated=generated_line(data.exported_at, data.version_label))
    key_value_sheet(wb, "Summary", summary_rows(data, audience), setup)
    tables = sheet_rows(data, audience)
    tables[CRITERIA_SHEET] = (criteria_columns(), tables[CRITERIA_SHEET][1])
    for title, (columns, rows) in tables.items():
        sheet = TableSheet(wb, title, columns, setup)
        sheet.extend(rows)
        sheet.close()
        if title == CRITERIA_SHEET:
            for validation in sheet.ws.data_validations.dataValidation:
                validation.prompt = VERIFIED_PROMPT
    meta_sheet(wb, meta_pairs(data, audience), meta_table(data, audience))
    wb.save(out)
