"""The visit workbook of one validation: the CBP copy of the profile workbook
(``portal.exports.profile_workbook``) with two differences the validation needs on site.

* Its "Visit plan" sheet is the plan of *this* validation, and a planned site covered by a foreign AEO
  program's validation under a Mutual Recognition Arrangement names the program, the certificate number
  and its expiry, so the visiting specialist has them on paper (``VISIT_PLAN``: the profile workbook's
  columns, then the MRA ones).
* The "Verified on site" drop-down also offers the clear marker (``CLEAR``), and its input message says
  what a blank cell and the marker do.

Pure: plain values in, an .xlsx out. Only the Criteria sheet is read back on import, by the same header
row as the profile workbook (``portal.exports.visit_import``), so the added columns change nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import IO, Any

from portal.exports import columns as cols
from portal.exports.profile_workbook import (
    CRITERIA_SHEET,
    Audience,
    ProfileWorkbookData,
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

VISIT_PLAN_SHEET = "Visit plan"
MRA_COLUMNS = (
    Column("MRA program", 30, "wrap"),
    Column("MRA certificate", 20, "text"),
    Column("Certificate expires", 12, "date"),
)
VISIT_PLAN = (*cols.VISIT_PLAN, *MRA_COLUMNS)

VERIFIED_PROMPT = (f"Y, N or Partial. {CLEAR_MARKER} erases the stored verification; an empty cell keeps it. "
                   f"Type {CLEAR_MARKER} in Visit notes to erase the stored notes.")
CLEAR_NOTE = (f"On-site verification: type Y, N or Partial in “Verified on site” and your notes in “Visit notes”. "
              f"An empty cell keeps what is stored in the portal; to erase a stored verification or notes, type "
              f"{CLEAR_MARKER} (any letter case) alone in that cell. The import preview lists every cleared value "
              "before anything is stored.")


@dataclass(frozen=True)
class VisitPlanRow:
    """One line of the visit plan: a visit, or a site without one (not scheduled yet, or no-go)."""

    site: str
    address: str
    starts_local: datetime | None   # naive, in the site's time zone
    ends_local: datetime | None
    timezone: str
    mode: str
    lead: str
    team: str
    mra_program: str = ""           # the foreign AEO program covering the site under an MRA ("" if none)
    mra_certificate: str = ""
    mra_expires_on: date | None = None


def visit_plan_values(rows: Sequence[VisitPlanRow]) -> list[list[Any]]:
    return [[r.site, r.address, r.starts_local, r.ends_local, r.timezone, r.mode, r.lead, r.team, r.mra_program,
             r.mra_certificate, r.mra_expires_on] for r in rows]


def criteria_columns() -> list[Column]:
    """The CBP Criteria columns, the "Verified on site" drop-down offering the clear marker too."""
    columns = list(cols.CRITERIA)
    verified = columns[cols.C_VERIFIED]
    columns[cols.C_VERIFIED] = replace(verified, choices=(*verified.choices, CLEAR_MARKER))
    return columns


def build_visit_workbook(data: ProfileWorkbookData, plan: Sequence[VisitPlanRow], out: str | IO[bytes]) -> None:
    """Write the validation's visit workbook (always the CBP copy) to ``out``."""
    audience = Audience.CBP
    wb = ExportWorkbook()
    setup = PrintSetup(title=f"{data.company}: {data.business_type} (CBP validation copy)",
                       generated=generated_line(data.exported_at, data.version_label))
    key_value_sheet(wb, "Summary", summary_rows(data, audience), setup)
    tables = sheet_rows(data, audience)
    tables[CRITERIA_SHEET] = (criteria_columns(), tables[CRITERIA_SHEET][1])
    tables[VISIT_PLAN_SHEET] = (list(VISIT_PLAN), visit_plan_values(plan))
    for title, (columns, rows) in tables.items():
        sheet = TableSheet(wb, title, columns, setup)
        sheet.extend(rows)
        sheet.close()
        if title == CRITERIA_SHEET:
            for validation in sheet.ws.data_validations.dataValidation:
                validation.prompt = VERIFIED_PROMPT
    meta_sheet(wb, meta_pairs(data, audience), meta_table(data, audience))
    wb.save(out)
