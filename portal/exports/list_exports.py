"""List exports (review queue, action plans, validation findings, audit events): one styled table sheet streamed row by
row in openpyxl's write-only mode, plus the hidden ``_meta`` sheet saying what was exported and when.

Pure: rows come from any iterable (``portal.exports.queries`` streams them from the database in
batches), so memory stays flat however many rows there are (security-testing.md §3.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from portal.exports import columns as cols
from portal.exports.workbook import Column, ExportWorkbook, PrintSetup, TableSheet, generated_line, meta_sheet


def build_list_workbook(*, kind: str, sheet_title: str, heading: str, columns: Sequence[Column],
                        rows: Iterable[Sequence[Any]], out: str | IO[bytes], exported_at: datetime,
                        criteria: Sequence[tuple[str, Any]] = ()) -> int:
    """Write one list export to ``out``; returns the number of data rows.

    ``criteria`` (e.g. the queue's filters) are recorded in ``_meta`` and the page footer, so a printout
    says what it is a list of.
    """
    wb = ExportWorkbook()
    described = ", ".join(f"{key} {value}" for key, value in criteria if value not in (None, "")) or "no filters"
    setup = PrintSetup(title=heading, generated=generated_line(exported_at, described))
    sheet = TableSheet(wb, sheet_title, columns, setup)
    sheet.extend(rows)
    sheet.close()
    meta_sheet(wb, [("kind", kind), ("exported_at", exported_at.astimezone(UTC).isoformat()), ("rows", sheet.rows),
                    *[(f"filter.{key}", value) for key, value in criteria]])
    wb.save(out)
    return sheet.rows


def build_queue_export(rows: Iterable[Sequence[Any]], out: str | IO[bytes], *, exported_at: datetime,
                       criteria: Sequence[tuple[str, Any]] = ()) -> int:
    return build_list_workbook(kind="ctpat-review-queue", sheet_title="Review queue", heading="CTPAT review queue",
                               columns=cols.QUEUE, rows=rows, out=out, exported_at=exported_at, criteria=criteria)


def build_action_plan_export(rows: Iterable[Sequence[Any]], out: str | IO[bytes], *, exported_at: datetime,
                             heading: str, criteria: Sequence[tuple[str, Any]] = ()) -> int:
    return build_list_workbook(kind="ctpat-action-plans", sheet_title="Action plans", heading=heading,
                               columns=cols.ACTION_PLAN_LIST, rows=rows, out=out, exported_at=exported_at,
                               criteria=criteria)


def build_finding_export(rows: Iterable[Sequence[Any]], out: str | IO[bytes], *, exported_at: datetime,
                         heading: str, criteria: Sequence[tuple[str, Any]] = ()) -> int:
    return build_list_workbook(kind="ctpat-validation-findings", sheet_title="Findings", heading=heading,
                               columns=cols.FINDING_LIST, rows=rows, out=out, exported_at=exported_at,
                               criteria=criteria)


def build_audit_export(rows: Iterable[Sequence[Any]], out: str | IO[bytes], *, exported_at: datetime,
                       criteria: Sequence[tuple[str, Any]] = ()) -> int:
    return build_list_workbook(kind="ctpat-audit-events", sheet_title="Audit events", heading="CTPAT audit events",
                               columns=cols.AUDIT_EVENTS, rows=rows, out=out, exported_at=exported_at,
                               criteria=criteria)
