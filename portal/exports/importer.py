"""Reading an offline-filled questionnaire back: the parse, the checks and the change plan. Pure (bytes
and plain values in, dataclasses out); ``portal.exports.services`` stores and applies.

The zip guard and the cell-by-cell reading are shared with the visit-workbook import
(``portal.exports.xlsx_upload``): the upload is checked as a zip package *before* any XML parser sees
it, then openpyxl reads it in read-only mode, then every cell is checked. Every problem is reported
with its sheet, row and column; nothing is stored unless there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.exports import columns as cols
from portal.exports.questionnaire import (
    FORMAT_VERSION,
    QUESTIONNAIRE_KIND,
    SHEET_INSTRUCTIONS,
    SHEET_QUESTIONNAIRE,
    answer_digest,
    meta_checksum,
)
from portal.exports.workbook import META_SHEET, normalize_newlines
from portal.exports.xlsx_upload import (
    MAX_PROBLEMS,
    CatalogExpectation,
    ImportProblem,
    ImportRejected,
    ParsedWorkbook,
    as_text,
    clean,
    column_label,
    read_meta,
    read_table,
    read_workbook,
)
from portal.exports.xlsx_upload import check_package as check_package  # re-exported for existing callers
from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX, ImplementationStatus

EXPECTED_SHEETS = (SHEET_INSTRUCTIONS, SHEET_QUESTIONNAIRE, META_SHEET)


# -- the parse -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedRow:
    """One criterion row as typed offline (texts unquoted, line endings LF, outer spaces stripped)."""

    row: int
    criterion_id: str
    status: str | None          # ImplementationStatus value
    narrative: str
    justification: str

    @property
    def digest(self) -> str:
        return answer_digest(self.status, self.narrative, self.justification)


@dataclass
class ParsedQuestionnaire(ParsedWorkbook):
    """A read questionnaire: its ``_meta`` and the rows with answers."""

    rows: list[ParsedRow] = field(default_factory=list)


_STATUS_BY_TEXT: dict[str, ImplementationStatus] = {
    **{status.label.casefold(): status for status in ImplementationStatus},
    **{status.value.casefold(): status for status in ImplementationStatus},
}


def _column_name(index: int) -> str:
    """ "F (Status)" for a 0-based index inside the layout, "J" beyond it."""
    return column_label(cols.QUESTIONNAIRE, index)


def _read_questionnaire(ws: Any, parsed: ParsedQuestionnaire) -> None:
    for number, padded in read_table(ws, parsed, SHEET_QUESTIONNAIRE, cols.QUESTIONNAIRE, noun="questionnaire"):
        criterion_id = as_text(padded[cols.Q_ID]).strip()
        if not criterion_id:
            parsed.problem("The row has answers but no criterion ID.", SHEET_QUESTIONNAIRE, number,
                           _column_name(cols.Q_ID))
            continue
        status_text = clean(padded[cols.Q_STATUS])
        status: ImplementationStatus | None = None
        if status_text:
            status = _STATUS_BY_TEXT.get(status_text.casefold())
            if status is None:
                parsed.problem(f"“{status_text[:60]}” is not a status; choose one of: "
                               f"{', '.join(cols.STATUS_CHOICES)} (or leave it empty).", SHEET_QUESTIONNAIRE,
                               number, _column_name(cols.Q_STATUS))
        narrative = clean(padded[cols.Q_NARRATIVE])
        justification = clean(padded[cols.Q_JUSTIFICATION])
        if len(narrative) > NARRATIVE_MAX:
            parsed.problem(f"The narrative is {len(narrative):,} characters long; the limit is {NARRATIVE_MAX:,}. "
                           f"Shorten it by {len(narrative) - NARRATIVE_MAX:,} characters.", SHEET_QUESTIONNAIRE,
                           number, _column_name(cols.Q_NARRATIVE))
        if len(justification) > JUSTIFICATION_MAX:
            parsed.problem(f"The justification is {len(justification):,} characters long; the limit is "
                           f"{JUSTIFICATION_MAX:,}.", SHEET_QUESTIONNAIRE, number, _column_name(cols.Q_JUSTIFICATION))
        parsed.rows.append(ParsedRow(row=number, criterion_id=criterion_id,
                                     status=status.value if status else None, narrative=narrative,
                                     justification=justification))


def _read_book(book: Any, parsed: ParsedQuestionnaire) -> None:
    names = list(book.sheetnames)
    for name in names:
        if name not in EXPECTED_SHEETS:
            parsed.problem(f"The sheet “{name[:40]}” is not part of the questionnaire; remove it.", name)
    for name in (SHEET_QUESTIONNAIRE, META_SHEET):
        if name not in names:
            parsed.problem(f"The sheet “{name}” is missing. Download a new questionnaire and fill that in.")
    if META_SHEET in names:
        read_meta(book[META_SHEET], parsed)
    if SHEET_QUESTIONNAIRE in names:
        _read_questionnaire(book[SHEET_QUESTIONNAIRE], parsed)


def parse_questionnaire(data: bytes, filename: str | None = None) -> ParsedQuestionnaire:
    """Check the package, then read the workbook's meta and rows, collecting problems as found.

    :raise ImportRejected: when the package itself is refused or the workbook cannot be read at all.
    """
    parsed = ParsedQuestionnaire()
    read_workbook(data, filename, lambda book: _read_book(book, parsed))
    return parsed


# -- the checks against the profile --------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation(CatalogExpectation):
    """What the workbook must match: this profile, its catalog, its applicable criteria, and the key of
    the ``_meta`` checksum."""

    secret: str


def validate(parsed: ParsedQuestionnaire, expected: Expectation) -> list[ImportProblem]:
    """Problems of a parsed workbook against the profile (the parse's own problems included)."""
    problems = list(parsed.problems)
    meta = parsed.meta
    if parsed.has_meta:
        if meta.get("kind") != QUESTIONNAIRE_KIND or meta.get("format") != str(FORMAT_VERSION):
            problems.append(ImportProblem("This is not a questionnaire workbook downloaded from the portal "
                                          "(its hidden _meta sheet is missing or unknown). Download the "
                                          "questionnaire, fill it in and upload that file."))
            return problems[:MAX_PROBLEMS]
        if meta.get("profile_id") != str(expected.profile_id):
            problems.append(ImportProblem(
                f"This workbook is the questionnaire of another security profile (account "
                f"{meta.get('account_number') or 'unknown'}), not of account {expected.account_number}. "
                "Upload the questionnaire downloaded from this profile."))
            return problems[:MAX_PROBLEMS]
        if meta.get("catalog") != expected.catalog_id:
            problems.append(ImportProblem(
                f"This workbook was made for criteria catalog {meta.get('catalog') or 'unknown'}, but the profile "
                f"now uses {expected.catalog_id}. Download a new questionnaire."))
            return problems[:MAX_PROBLEMS]
        checksum = meta_checksum(expected.secret, meta, parsed.meta_table)
        if not _same(checksum, meta.get("checksum", "")):
            problems.append(ImportProblem("The hidden _meta sheet was changed, so the portal cannot tell what was "
                                          "edited offline. Download a new questionnaire.", META_SHEET))
            return problems[:MAX_PROBLEMS]
    problems += expected.criterion_problems(parsed.rows, SHEET_QUESTIONNAIRE, _column_name(cols.Q_ID))
    return problems[:MAX_PROBLEMS]


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def read_and_validate(data: bytes, filename: str | None, expected: Expectation) -> ParsedQuestionnaire:
    """The whole check of an upload.

    :raise ImportRejected: with every problem found (by sheet, row and column).
    """
    parsed = parse_questionnaire(data, filename)
    problems = validate(parsed, expected)
    if problems:
        raise ImportRejected(problems)
    return parsed


# -- the change plan -----------------------------------------------------------------------------------

NEW, CHANGED, UNCHANGED, CONFLICT = "new", "changed", "unchanged", "conflict"


@dataclass(frozen=True)
class AnswerState:
    """An answer as stored now (or as it would be empty)."""

    status: str | None = None
    narrative: str = ""
    justification: str = ""
    version: int = 0
    updated_at: str = ""
    updated_by: str = ""

    @property
    def digest(self) -> str:
        return answer_digest(self.status, self.narrative, self.justification)

    @property
    def empty(self) -> bool:
        return self.status is None and not self.narrative.strip() and not self.justification.strip()


@dataclass(frozen=True)
class CriterionChange:
    """What importing one row would do, for the preview."""

    criterion_id: str
    row: int
    kind: str                  # new, changed, unchanged, conflict
    current: AnswerState
    imported: ParsedRow
    edited_online: bool        # the online answer changed since the download

    @property
    def fields(self) -> tuple[str, ...]:
        pairs = (("status", self.current.status or None, self.imported.status),
                 ("narrative", normalize_newlines(self.current.narrative).strip(), self.imported.narrative),
                 ("justification", normalize_newlines(self.current.justification).strip(),
                  self.imported.justification))
        return tuple(name for name, old, new in pairs if old != new)

    @property
    def applies_by_default(self) -> bool:
        return self.kind in {NEW, CHANGED}


def plan_import(rows: Iterable[ParsedRow], downloaded: Mapping[str, tuple[int, str]],
                current: Mapping[str, AnswerState]) -> list[CriterionChange]:
    """Classify each row: unchanged (same as online, or not edited offline), new or changed (edited
    offline, untouched online), or a conflict (edited offline *and* online since the download)."""
    changes = []
    for row in rows:
        now = current.get(row.criterion_id, AnswerState())
        then_version, then_digest = downloaded.get(row.criterion_id, (0, answer_digest(None, "", "")))
        edited_online = now.version != then_version
        if row.digest == now.digest or row.digest == then_digest:
            # Not edited offline: importing the stale text would undo an online edit, so it never counts.
            kind = UNCHANGED
        elif not edited_online:
            kind = NEW if now.empty and now.version == 0 else CHANGED
        else:
            kind = CONFLICT
        changes.append(CriterionChange(row.criterion_id, row.row, kind, now, row, edited_online))
    return changes


def plan_fingerprint(changes: Iterable[CriterionChange]) -> str:
    """Identifies the online state a preview was computed on: confirming a preview that no longer holds
    (someone saved one of these answers in between) is refused."""
    import hashlib

    material = "|".join(f"{c.criterion_id}:{c.kind}:{c.current.version}" for c in changes if c.kind != UNCHANGED)
    return hashlib.sha256(material.encode()).hexdigest()[:32]
