"""Reading an offline-filled questionnaire back: the zip guard, the parse, the checks and the change
plan. Pure (bytes and plain values in, dataclasses out); ``portal.exports.services`` stores and applies.

Order matters (security-testing.md T5): the upload is checked as a zip package *before* any XML parser
sees it (member count, uncompressed size, compression ratio, member names, no macros), then openpyxl
reads it in read-only mode (defusedxml is installed, so entity tricks fail), then every cell is checked.
Every problem is reported with its sheet, row and column; nothing is stored unless there is none.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

from openpyxl.utils import get_column_letter

from portal.exports import columns as cols
from portal.exports.questionnaire import (
    FORMAT_VERSION,
    QUESTIONNAIRE_KIND,
    SHEET_INSTRUCTIONS,
    SHEET_QUESTIONNAIRE,
    answer_digest,
    meta_checksum,
)
from portal.exports.workbook import META_SHEET, normalize_newlines, unquote_text
from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX, ImplementationStatus

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
EXPECTED_SHEETS = (SHEET_INSTRUCTIONS, SHEET_QUESTIONNAIRE, META_SHEET)


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


def _reject(message: str) -> ImportRejected:
    return ImportRejected([ImportProblem(message)])


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
        raise _reject(f"Macro-enabled workbooks ({suffix}) are not accepted. {SAVE_AS_XLSX}")
    if suffix in _OTHER_EXCEL_EXTENSIONS:
        raise _reject(f"The file is {_OTHER_EXCEL_EXTENSIONS[suffix]}, not an Excel workbook (.xlsx). {SAVE_AS_XLSX}")
    if not data:
        raise _reject("The file is empty.")
    if data.startswith(_OLE_MAGIC):
        raise _reject("The file is an old-format (.xls) or password-protected workbook, which cannot be read. "
                      + SAVE_AS_XLSX + " Remove any password first.")
    if not data.startswith(b"PK\x03\x04"):
        raise _reject("The file is not an Excel workbook (.xlsx): it is not a zip package. " + SAVE_AS_XLSX)
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _reject("The file is damaged or incomplete (it may have been cut off during download or upload). "
                      "Open it in Excel, save it again and upload it once more.") from None
    with package:
        members = package.infolist()
        if len(members) > MAX_MEMBERS:
            raise _reject(f"The workbook package holds {len(members):,} parts; at most {MAX_MEMBERS} are accepted.")
        for member in members:
            if _unsafe_name(member.filename):
                raise _reject(f"The workbook package contains a part with an unsafe name ({member.filename[:80]!r}).")
            if member.flag_bits & 0x1:
                raise _reject("The workbook is encrypted. Remove the password, save it again and upload it.")
        total = sum(member.file_size for member in members)
        compressed = sum(member.compress_size for member in members)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise _reject(f"The workbook would unpack to {total / 1048576:,.0f} MB; the limit is "
                          f"{MAX_UNCOMPRESSED_BYTES // 1048576} MB.")
        ratio = total / max(compressed, 1)
        if ratio > MAX_RATIO:
            raise _reject(f"The workbook is compressed {ratio:,.0f} to 1, far more than a real workbook "
                          f"(at most {MAX_RATIO} to 1 is accepted); it looks like a zip bomb.")
        names = {member.filename for member in members}
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise _reject(f"The workbook contains macros. Macro-enabled workbooks are not accepted. {SAVE_AS_XLSX}")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise _reject("The file is a zip package but not an Excel workbook (.xlsx). " + SAVE_AS_XLSX)
        workbook_type = _workbook_content_type(package.read("[Content_Types].xml"))
    if workbook_type is None or "macroenabled" in workbook_type.lower():
        raise _reject(f"The workbook is macro-enabled (.xlsm). Macro-enabled workbooks are not accepted. {SAVE_AS_XLSX}"
                      if workbook_type else "The workbook's content types are missing or unreadable. " + SAVE_AS_XLSX)
    if workbook_type != XLSX_MAIN_TYPE:
        raise _reject(f"The file is not a plain Excel workbook (.xlsx) (its type is {workbook_type[:100]}). "
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
class ParsedQuestionnaire:
    meta: dict[str, str] = field(default_factory=dict)
    meta_table: list[list[str]] = field(default_factory=list)
    rows: list[ParsedRow] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    has_meta: bool = False

    def problem(self, message: str, sheet: str | None = None, row: int | None = None,
                column: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(message, sheet, row, column))

    @property
    def download_state(self) -> dict[str, tuple[int, str]]:
        """Answer version and content digest of each criterion when the workbook was downloaded."""
        state: dict[str, tuple[int, str]] = {}
        for criterion_id, version, _updated_at, digest in self.meta_table:
            try:
                state[criterion_id] = (int(version or 0), digest)
            except ValueError:
                state[criterion_id] = (-1, digest)  # never matches: treated as edited online
        return state


def _as_text(value: Any) -> str:
    """A cell value as the text a partner meant (numbers typed into a narrative stay readable)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return unquote_text(str(value))


def _clean(value: Any) -> str:
    return normalize_newlines(_as_text(value)).strip()


_STATUS_BY_TEXT: dict[str, ImplementationStatus] = {
    **{status.label.casefold(): status for status in ImplementationStatus},
    **{status.value.casefold(): status for status in ImplementationStatus},
}


def _column_name(index: int) -> str:
    """ "F (Status)" for a 0-based index inside the layout, "J" beyond it."""
    letter = get_column_letter(index + 1)
    return f"{letter} ({cols.QUESTIONNAIRE[index].header})" if index < len(cols.QUESTIONNAIRE) else letter


def _read_meta(ws: Any, parsed: ParsedQuestionnaire) -> None:
    in_table = False
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        texts = [_as_text(v).strip() for v in values]
        if not any(texts):
            in_table = True
            continue
        if not in_table:
            if texts[0] in parsed.meta or len(parsed.meta) > 50:
                parsed.problem("The hidden _meta sheet has been changed.", META_SHEET, number)
                return
            parsed.meta[texts[0]] = texts[1] if len(texts) > 1 else ""
        elif texts[0] != "criterion_id":  # the table's header row
            parsed.meta_table.append((texts + ["", "", "", ""])[:4])
        if number > MAX_ROWS + 100:
            parsed.problem("The hidden _meta sheet has been changed.", META_SHEET)
            return


def _read_questionnaire(ws: Any, parsed: ParsedQuestionnaire) -> None:
    expected = [column.header for column in cols.QUESTIONNAIRE]
    width = len(expected)
    for number, cells in enumerate(ws.iter_rows(), start=1):
        if number > MAX_ROWS + 1:
            parsed.problem(f"The sheet has more than {MAX_ROWS:,} rows; a questionnaire has one row per criterion.",
                           SHEET_QUESTIONNAIRE, number)
            return
        values = [getattr(cell, "value", None) for cell in cells]
        for index, cell in enumerate(cells):
            if getattr(cell, "data_type", None) == "f":
                parsed.problem("Formulas are not accepted; type the text itself (start it with an apostrophe "
                               "if it begins with =, +, - or @).", SHEET_QUESTIONNAIRE, number, _column_name(index))
        extra = [index for index in range(width, len(values)) if _as_text(values[index]).strip()]
        for index in extra:
            parsed.problem("This column is not part of the questionnaire; remove it.", SHEET_QUESTIONNAIRE,
                           number, _column_name(index))
        if number == 1:
            found = [_as_text(v).strip() for v in values[:width]] + [""] * (width - len(values[:width]))
            for index, (want, got) in enumerate(zip(expected, found, strict=True)):
                if want != got:
                    parsed.problem(f"The header should be “{want}”, not “{got[:60]}”. Do not rename, move or "
                                   "insert columns.", SHEET_QUESTIONNAIRE, 1, get_column_letter(index + 1))
            continue
        padded = (values + [None] * width)[:width]
        if not any(_as_text(v).strip() for v in padded):
            continue  # an empty line
        criterion_id = _as_text(padded[cols.Q_ID]).strip()
        if not criterion_id:
            parsed.problem("The row has answers but no criterion ID.", SHEET_QUESTIONNAIRE, number,
                           _column_name(cols.Q_ID))
            continue
        status_text = _clean(padded[cols.Q_STATUS])
        status: ImplementationStatus | None = None
        if status_text:
            status = _STATUS_BY_TEXT.get(status_text.casefold())
            if status is None:
                parsed.problem(f"“{status_text[:60]}” is not a status; choose one of: "
                               f"{', '.join(cols.STATUS_CHOICES)} (or leave it empty).", SHEET_QUESTIONNAIRE,
                               number, _column_name(cols.Q_STATUS))
        narrative = _clean(padded[cols.Q_NARRATIVE])
        justification = _clean(padded[cols.Q_JUSTIFICATION])
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


def parse_questionnaire(data: bytes, filename: str | None = None) -> ParsedQuestionnaire:
    """Check the package, then read the workbook's meta and rows, collecting problems as found.

    :raise ImportRejected: when the package itself is refused or the workbook cannot be read at all.
    """
    check_package(data, filename)
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    parsed = ParsedQuestionnaire()
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except DefusedXmlException:
        raise _reject("The workbook contains XML entity or DTD declarations, which are not accepted "
                      "(they can be used to exhaust the server). " + SAVE_AS_XLSX) from None
    except Exception:  # noqa: BLE001 - openpyxl raises many types for broken parts; all mean "unreadable"
        raise _reject("The file could not be read as an Excel workbook. " + SAVE_AS_XLSX) from None
    try:
        names = list(book.sheetnames)
        for name in names:
            if name not in EXPECTED_SHEETS:
                parsed.problem(f"The sheet “{name[:40]}” is not part of the questionnaire; remove it.", name)
        for name in (SHEET_QUESTIONNAIRE, META_SHEET):
            if name not in names:
                parsed.problem(f"The sheet “{name}” is missing. Download a new questionnaire and fill that in.")
        if META_SHEET in names:
            parsed.has_meta = True
            _read_meta(book[META_SHEET], parsed)
        if SHEET_QUESTIONNAIRE in names:
            _read_questionnaire(book[SHEET_QUESTIONNAIRE], parsed)
    except DefusedXmlException:
        raise _reject("The workbook contains XML entity or DTD declarations, which are not accepted. "
                      + SAVE_AS_XLSX) from None
    except Exception:  # noqa: BLE001 - a broken sheet part surfaces while iterating in read-only mode
        raise _reject("The file could not be read as an Excel workbook. " + SAVE_AS_XLSX) from None
    finally:
        book.close()
    return parsed


# -- the checks against the profile --------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What the workbook must match: this profile, its catalog, its applicable criteria."""

    profile_id: int
    account_number: str
    catalog_id: str
    business_type_label: str
    known_ids: frozenset[str]
    applicable_ids: frozenset[str]
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
    seen: dict[str, int] = {}
    for row in parsed.rows:
        location = (SHEET_QUESTIONNAIRE, row.row, _column_name(cols.Q_ID))
        if row.criterion_id not in expected.known_ids:
            problems.append(ImportProblem(f"“{row.criterion_id[:20]}” is not a criterion ID of catalog "
                                          f"{expected.catalog_id}.", *location))
        elif row.criterion_id not in expected.applicable_ids:
            problems.append(ImportProblem(f"Criterion {row.criterion_id} does not apply to this profile's "
                                          f"business type ({expected.business_type_label}).", *location))
        elif row.criterion_id in seen:
            problems.append(ImportProblem(f"Criterion {row.criterion_id} appears twice (also in row "
                                          f"{seen[row.criterion_id]}).", *location))
        seen.setdefault(row.criterion_id, row.row)
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
