"""Reading a filled visit workbook back into a validation: the parse, the checks and the change plan.
Pure (bytes and plain values in, dataclasses out); ``portal.exports.visit_services`` stores and applies.

The package is checked and read by the same code as the offline questionnaire
(``portal.exports.xlsx_upload``: zip guard first, then openpyxl in read-only mode). Then, in order:
the hidden ``_meta`` must name a CBP visit workbook (not a questionnaire, not the partner's copy),
downloaded for this validation of this account, with this profile's criteria catalog; then only the
"Verified on site" (Y / N / Partial, any letter case) and "Visit notes" cells are taken, every row's
criterion ID must be one that applies, notes stay within the limit. A blank cell leaves the stored
value as it is; the clear marker (``CLEAR``, any letter case) alone in a cell erases the stored value,
and the preview shows it as a clearing change. Every problem is reported with its sheet, row and column.

Only the Criteria sheet is read, by its header row; the other sheets (the visit plan among them, which
gained its MRA columns later) are for reading on paper and only their names are checked, so workbooks
downloaded before or after a change to those sheets import alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.exports import columns as cols
from portal.exports.importer import CHANGED, CONFLICT, NEW, UNCHANGED
from portal.exports.profile_workbook import CRITERIA_SHEET, SHEET_TITLES, WORKBOOK_KIND, Audience, check_digest
from portal.exports.questionnaire import QUESTIONNAIRE_KIND
from portal.exports.workbook import META_SHEET
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
    reject,
)
from portal.validations.verification import CLEAR_MARKER, CODES, NOTES_MAX, Verified, is_clear_marker

EXPECTED_SHEETS = (*SHEET_TITLES, META_SHEET)
DOWNLOAD_HERE = "Download the visit workbook from this validation's On-site verification page and fill that in."


def _column(index: int) -> str:
    return column_label(cols.CRITERIA, index)


@dataclass(frozen=True)
class CheckRow:
    """One criterion row's on-site entries as typed (None / "" where the cell was left blank)."""

    row: int
    criterion_id: str
    verified: str | None        # a Verified value (None: blank, or the clear marker)
    notes: str                  # as typed: the clear marker itself when ``clear_notes``
    clear_verified: bool = False
    clear_notes: bool = False

    @property
    def digest(self) -> str:
        # Of the cells as typed: a marker in "Verified on site" never matches a download, so typing it is
        # always an edit; notes pre-filled with a stored text that happens to read "clear" and left as they
        # were still match the download and change nothing.
        return check_digest(CLEAR_MARKER if self.clear_verified else self.verified, self.notes)


@dataclass
class ParsedVisitWorkbook(ParsedWorkbook):
    """A read visit workbook: its ``_meta`` and the rows with on-site entries."""

    rows: list[CheckRow] = field(default_factory=list)


def _check_kind(meta: Mapping[str, str]) -> None:
    """:raise ImportRejected: for anything but the CBP copy of the profile workbook."""
    kind = meta.get("kind")
    if kind == QUESTIONNAIRE_KIND:
        raise reject("This is the partner's offline questionnaire, not a visit workbook. " + DOWNLOAD_HERE)
    if kind != WORKBOOK_KIND:
        raise reject("This is not a visit workbook downloaded from the portal (its hidden _meta sheet is missing "
                     "or unknown). " + DOWNLOAD_HERE)
    if meta.get("audience") != Audience.CBP.value:
        raise reject("This is the partner's copy of the profile workbook, which has no “Verified on site” "
                     "column. " + DOWNLOAD_HERE)


def _read_criteria(ws: Any, parsed: ParsedVisitWorkbook) -> None:
    for number, padded in read_table(ws, parsed, CRITERIA_SHEET, cols.CRITERIA, noun="visit workbook"):
        verified_text = clean(padded[cols.C_VERIFIED])
        notes = clean(padded[cols.C_NOTES])
        if not verified_text and not notes:
            continue  # nothing entered on site: the stored check stays as it is
        criterion_id = as_text(padded[cols.C_ID]).strip()
        if not criterion_id:
            parsed.problem("The row has on-site entries but no criterion ID.", CRITERIA_SHEET, number,
                           _column(cols.C_ID))
            continue
        verified: Verified | None = None
        clear_verified = is_clear_marker(verified_text)
        if verified_text and not clear_verified:
            verified = Verified.from_code(verified_text)
            if verified is None:
                parsed.problem(f"“{verified_text[:60]}” is not a verification; enter {', '.join(CODES[:-1])} or "
                               f"{CODES[-1]}, {CLEAR_MARKER} to clear the stored one, or leave it empty to keep it.",
                               CRITERIA_SHEET, number, _column(cols.C_VERIFIED))
        if len(notes) > NOTES_MAX:
            parsed.problem(f"The visit notes are {len(notes):,} characters long; the limit is {NOTES_MAX:,}. "
                           f"Shorten them by {len(notes) - NOTES_MAX:,} characters.", CRITERIA_SHEET, number,
                           _column(cols.C_NOTES))
        parsed.rows.append(CheckRow(number, criterion_id, verified.value if verified else None, notes,
                                    clear_verified, is_clear_marker(notes)))


def _read_book(book: Any, parsed: ParsedVisitWorkbook) -> None:
    names = list(book.sheetnames)
    if META_SHEET not in names:
        raise reject("This is not a visit workbook downloaded from the portal (its hidden _meta sheet is "
                     "missing). " + DOWNLOAD_HERE)
    read_meta(book[META_SHEET], parsed, table_width=3)
    _check_kind(parsed.meta)
    for name in names:
        if name not in EXPECTED_SHEETS:
            parsed.problem(f"The sheet “{name[:40]}” is not part of the visit workbook; move what it holds into "
                           "the Visit notes column and remove it.", name)
    if CRITERIA_SHEET not in names:
        parsed.problem(f"The sheet “{CRITERIA_SHEET}” is missing. " + DOWNLOAD_HERE)
    else:
        _read_criteria(book[CRITERIA_SHEET], parsed)


def parse_visit_workbook(data: bytes, filename: str | None = None) -> ParsedVisitWorkbook:
    """Check the package, then read the workbook's meta and on-site entries, collecting problems.

    :raise ImportRejected: when the package is refused, cannot be read, or is not a CBP visit workbook.
    """
    parsed = ParsedVisitWorkbook()
    read_workbook(data, filename, lambda book: _read_book(book, parsed))
    return parsed


# -- the checks against the validation -----------------------------------------------------------------


@dataclass(frozen=True)
class VisitExpectation(CatalogExpectation):
    """What the workbook must match: this validation, its account's profile and catalog."""

    validation_id: int


def validate_visit(parsed: ParsedVisitWorkbook, expected: VisitExpectation) -> list[ImportProblem]:
    """Problems of a parsed visit workbook against the validation (the parse's own problems included)."""
    meta = parsed.meta
    account = meta.get("account_number") or "unknown"
    if meta.get("profile_id") != str(expected.profile_id):
        return [ImportProblem(f"This visit workbook belongs to another account ({account}), not to account "
                              f"{expected.account_number}. " + DOWNLOAD_HERE)]
    if not meta.get("validation_id"):
        return [ImportProblem("This visit workbook was downloaded from the profile or the review, not for a "
                              "validation, so the portal cannot tell which validation it records. " + DOWNLOAD_HERE)]
    if meta.get("validation_id") != str(expected.validation_id):
        return [ImportProblem(f"This visit workbook was downloaded for another validation (number "
                              f"{meta.get('validation_id', '')[:12]}) of account {expected.account_number}, not for "
                              f"this one (number {expected.validation_id}). " + DOWNLOAD_HERE)]
    if meta.get("catalog") != expected.catalog_id:
        return [ImportProblem(f"This workbook was made for criteria catalog {meta.get('catalog') or 'unknown'}, but "
                              f"the profile now uses {expected.catalog_id}. " + DOWNLOAD_HERE)]
    problems = list(parsed.problems)
    problems += expected.criterion_problems(parsed.rows, CRITERIA_SHEET, _column(cols.C_ID), owner="account")
    return problems[:MAX_PROBLEMS]


def read_and_validate_visit(data: bytes, filename: str | None, expected: VisitExpectation) -> ParsedVisitWorkbook:
    """The whole check of an upload.

    :raise ImportRejected: with every problem found (by sheet, row and column).
    """
    parsed = parse_visit_workbook(data, filename)
    problems = validate_visit(parsed, expected)
    if problems:
        raise ImportRejected(problems)
    return parsed


# -- the change plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckState:
    """A check as stored now (or as it would be empty)."""

    verified: str | None = None
    notes: str = ""
    version: int = 0
    updated_at: str = ""
    updated_by: str = ""

    @property
    def empty(self) -> bool:
        return self.verified is None and not self.notes

    @property
    def verified_code(self) -> str:
        return Verified(self.verified).code if self.verified else ""


@dataclass(frozen=True)
class CheckChange:
    """What importing one row would do, for the preview: ``verified``/``notes`` are the values stored
    if it is applied (a blank cell keeps the stored value, the clear marker empties it)."""

    criterion_id: str
    row: int
    kind: str                  # new, changed, unchanged, conflict
    current: CheckState
    verified: str | None
    notes: str
    stored_since: bool         # someone stored this check after the download

    @property
    def verified_code(self) -> str:
        return Verified(self.verified).code if self.verified else ""

    @property
    def fields(self) -> tuple[str, ...]:
        pairs = (("verified", self.current.verified, self.verified), ("notes", self.current.notes, self.notes))
        return tuple(name for name, old, new in pairs if old != new)

    @property
    def cleared(self) -> tuple[str, ...]:
        """The stored values the clear marker erases (only the marker empties a value: blanks keep it);
        none for an unchanged row, which is never applied."""
        if self.kind == UNCHANGED:
            return ()
        pairs = (("verified", self.current.verified, self.verified), ("notes", self.current.notes, self.notes))
        return tuple(name for name, old, new in pairs if old and not new)

    @property
    def applies_by_default(self) -> bool:
        return self.kind in {NEW, CHANGED}


def plan_checks(rows: Iterable[CheckRow], downloaded: Mapping[str, tuple[int, str]],
                current: Mapping[str, CheckState]) -> list[CheckChange]:
    """Classify each row: unchanged (the stored check already says so, or the row is as pre-filled at
    download), new or changed (edited offline, untouched since), or a conflict (edited offline while
    someone stored another value for the same criterion). A clearing row is a change like any other
    (``CheckChange.cleared`` names what it erases); clearing what is not stored is no change."""
    changes = []
    for row in rows:
        now = current.get(row.criterion_id, CheckState())
        then_version, then_digest = downloaded.get(row.criterion_id, (0, check_digest(None, "")))
        verified = None if row.clear_verified else (row.verified or now.verified)
        notes = "" if row.clear_notes else (row.notes or now.notes)
        stored_since = now.version != then_version
        if (verified, notes) == (now.verified, now.notes) or row.digest == then_digest:
            # Not edited offline: importing the pre-filled value would undo what was stored since.
            kind = UNCHANGED
        elif not stored_since:
            kind = NEW if now.version == 0 else CHANGED
        else:
            kind = CONFLICT
        changes.append(CheckChange(row.criterion_id, row.row, kind, now, verified, notes, stored_since))
    return changes
