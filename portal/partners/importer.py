"""Reading an uploaded partner list (CSV or XLSX) and checking each row, without touching the database.

The upload is refused as a whole when it is not a genuine CSV or XLSX file, when the zip of an XLSX
is suspicious (more than 100 members, more than 50 MB uncompressed, a compression ratio above 100,
absolute or ".." names, macros: security-testing.md T5), when a required column is missing, or when
it holds more than ``MAX_ROWS`` rows. Otherwise every row is checked on its own and the preview lists
the errors by row (unknown country, role, program or status, a bad date, a duplicate partner).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from portal.companies.countries import COUNTRIES
from portal.partners.columns import COLUMNS, DATE_FIELDS, ENUM_FIELDS, EXPORT_ONLY_HEADERS, unneutralise
from portal.partners.enums import CertificationKind, CtpatStatus, PartnerRole
from portal.partners.services import PartnerInput, check_partner_input, name_key

MAX_UPLOAD_BYTES: Final = 5 * 1024 * 1024
MAX_ROWS: Final = 5_000
MAX_BLANK_RUN: Final = 1_000
MAX_ZIP_MEMBERS: Final = 100
MAX_UNCOMPRESSED: Final = 50 * 1024 * 1024
MAX_RATIO: Final = 100
ALLOWED_EXTENSIONS: Final = (".csv", ".xlsx")


class RejectedFile(ValueError):
    """The whole upload is refused; ``message`` says why, for the file field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _norm(text: str) -> str:
    """Lower-case letters and digits only: "Carrier: sea" and "carrier sea" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower())


# --- reading the file --------------------------------------------------------------------------------


def check_xlsx_archive(data: bytes) -> None:
    """Refuse a zip that is malformed, oversized when unpacked, or carries macros, before any XML is parsed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise RejectedFile("The file is named .xlsx but is not a readable Excel workbook.") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise RejectedFile("The workbook holds too many parts to be a partner list.")
    names = [info.filename for info in infos]
    if any(name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") for name in names):
        raise RejectedFile("The workbook is malformed.")
    if "[Content_Types].xml" not in names or not any(name.startswith("xl/") for name in names):
        raise RejectedFile("The file is named .xlsx but is not an Excel workbook.")
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise RejectedFile("The workbook contains macros, which are not accepted. Save it as .xlsx without macros.")
    unpacked = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if unpacked > MAX_UNCOMPRESSED:
        raise RejectedFile("The workbook is too large once unpacked (over 50 MB). Split the list.")
    if unpacked > MAX_RATIO * max(packed, 1):
        raise RejectedFile("The workbook is compressed suspiciously well and was not opened.")


def _cell_text(value: Any) -> str | date:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unneutralise(str(value).strip())


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    check_xlsx_archive(data)
    import openpyxl  # defusedxml is installed, so openpyxl parses the XML with its guards

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds of errors on damaged files
        raise RejectedFile("The workbook is damaged and cannot be read.") from None
    try:
        sheet = workbook["Partners"] if "Partners" in workbook.sheetnames else workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        workbook.close()


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    if b"\0" in data:
        raise RejectedFile("The file is named .csv but is not a text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV (Comma delimited)" on Western Windows writes cp1252, not UTF-8.
        text = data.decode("cp1252", errors="replace")
    first_line = text.split("\n", 1)[0]
    # Excel writes ";" where the decimal separator is a comma (much of Latin America and Europe).
    delimiter = max((",", ";", "\t"), key=first_line.count)
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        yield [unneutralise(cell.strip()) for cell in row]


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    """The non-empty rows of the upload (header first), each a list of cell texts (or dates from XLSX).

    :raise RejectedFile: wrong type, unreadable, suspicious archive, empty, or more than MAX_ROWS rows.
    """
    lowered = (filename or "").lower()
    if not lowered.endswith(ALLOWED_EXTENSIONS):
        raise RejectedFile("Upload the list as a CSV file or an Excel workbook (.xlsx).")
    if len(data) > MAX_UPLOAD_BYTES:
        raise RejectedFile(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Split the list.")
    rows = _xlsx_rows(data) if lowered.endswith(".xlsx") else _csv_rows(data)
    table: list[list[Any]] = []
    filled = blank_run = 0
    try:
        for row in rows:
            if not any(cell not in ("", None) for cell in row):
                blank_run += 1
                # A sheet formatted down to row 1,048,576 is read as blank rows; stop after a long run.
                if blank_run > MAX_BLANK_RUN:
                    break
                table.append([])  # kept so row numbers match the spreadsheet
                continue
            blank_run = 0
            table.append(row)
            filled += 1
            if filled > MAX_ROWS + 1:
                raise RejectedFile(f"The list has more than {MAX_ROWS:,} rows. Split it into several files.")
    except csv.Error:
        raise RejectedFile("The CSV file is malformed (check the quotes).") from None
    if not any(table):
        raise RejectedFile("The file is empty.")
    return table


# --- checking the rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportContext:
    """What the row checks need to know: the MRA programs (id -> words that name them), the register's
    existing (name key, country) pairs, and today."""

    programs: Mapping[int, Iterable[str]]
    existing: set[tuple[str, str]]
    on: date


_HEADER_FIELDS = {_norm(column.header): column for column in COLUMNS}
_IGNORED_HEADERS = {_norm(header) for header in EXPORT_ONLY_HEADERS}
_COUNTRY_LOOKUP = {**{_norm(name): code for code, name in COUNTRIES.items()},
                   **{code.lower(): code for code in COUNTRIES}}
_YES = {"yes", "y", "true", "1", "x", "si", "sí"}
_NO = {"no", "n", "false", "0"}
_CERTIFICATION_WORDS = {"": None, "none": CertificationKind.NONE, "notcertified": CertificationKind.NONE,
                        "no": CertificationKind.NONE, "ctpat": CertificationKind.CTPAT,
                        "aeo": CertificationKind.AEO, "foreignaeo": CertificationKind.AEO,
                        "mra": CertificationKind.AEO, "foreignaeoprogrammralist": CertificationKind.AEO}
_ROLE_ALIASES = {"supplier": PartnerRole.MANUFACTURER, "manufacturer": PartnerRole.MANUFACTURER,
                 "highwaycarrier": PartnerRole.HIGHWAY_CARRIER, "truckingcompany": PartnerRole.HIGHWAY_CARRIER,
                 "railcarrier": PartnerRole.RAIL_CARRIER, "seacarrier": PartnerRole.SEA_CARRIER,
                 "oceancarrier": PartnerRole.SEA_CARRIER, "aircarrier": PartnerRole.AIR_CARRIER,
                 "broker": PartnerRole.CUSTOMS_BROKER, "forwarder": PartnerRole.CONSOLIDATOR,
                 "freightforwarder": PartnerRole.CONSOLIDATOR, "3pl": PartnerRole.WAREHOUSE,
                 "warehouse": PartnerRole.WAREHOUSE}


def _enum_lookup(enum_cls: Any) -> dict[str, Any]:
    words = {_norm(member.value): member for member in enum_cls}
    words.update({_norm(member.label): member for member in enum_cls})
    if enum_cls is PartnerRole:
        words.update(_ROLE_ALIASES)
    if enum_cls is CtpatStatus:
        words.update({"certified": CtpatStatus.CERTIFIED, "validated": CtpatStatus.VALIDATED})
    return words


_ENUM_LOOKUPS = {name: _enum_lookup(enum_cls) for name, enum_cls in ENUM_FIELDS.items()}
_FIELD_LABELS = {column.field: column.header for column in COLUMNS}


def map_header(header: list[Any]) -> tuple[dict[int, str], list[str], list[str]]:
    """Column index -> field, the required headers that are missing, and the headers ignored."""
    mapping: dict[int, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        text = str(cell).strip().rstrip("*").strip()
        column = _HEADER_FIELDS.get(_norm(text))
        if column is not None and column.field not in mapping.values():
            mapping[index] = column.field
        elif text and _norm(text) not in _IGNORED_HEADERS:
            ignored.append(text)
    missing = [column.header for column in COLUMNS if column.required and column.field not in mapping.values()]
    return mapping, missing, ignored


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def parse_row(values: Mapping[str, Any], context: ImportContext) -> tuple[PartnerInput | None, list[str]]:
    """Turn one row (field -> cell) into a checked input, or the list of messages saying what is wrong."""
    errors: list[str] = []
    parsed: dict[str, Any] = {}

    def text(name: str) -> str:
        value = values.get(name, "")
        return value.isoformat() if isinstance(value, date) else str(value or "").strip()

    for name, lookup in _ENUM_LOOKUPS.items():
        raw = text(name)
        if name == "certification":
            if _norm(raw) not in _CERTIFICATION_WORDS:
                errors.append(f"Unknown certification “{raw}” (use none, CTPAT or AEO).")
            parsed[name] = _CERTIFICATION_WORDS.get(_norm(raw))
            continue
        if not raw:
            parsed[name] = None
            continue
        member = lookup.get(_norm(raw))
        if member is None:
            allowed = ", ".join(m.value.replace("_", " ") for m in ENUM_FIELDS[name])
            label = "status" if name == "ctpat_status" else _FIELD_LABELS[name].lower()
            errors.append(f"Unknown {label} “{raw}” (use one of: {allowed}).")
        parsed[name] = member
    for name in DATE_FIELDS:
        raw = values.get(name, "")
        if raw in ("", None):
            parsed[name] = None
            continue
        try:
            parsed[name] = _date(raw)
        except ValueError:
            errors.append(f"{_FIELD_LABELS[name]}: “{raw}” is not a date; write it as YYYY-MM-DD.")
            parsed[name] = None
    country_raw = text("country")
    country = _COUNTRY_LOOKUP.get(_norm(country_raw)) if country_raw else None
    if country_raw and country is None:
        errors.append(f"Unknown country “{country_raw}” (use an ISO code such as MX or the English name).")
    program_raw = text("mra_program_id")
    program_id = None
    if program_raw:
        wanted = _norm(program_raw)
        program_id = next((pid for pid, words in context.programs.items() if wanted in {_norm(w) for w in words}), None)
        if program_id is None:
            errors.append(f"Unknown AEO program “{program_raw}”: use a program of the MRA list (its code, "
                          "such as MX, or its country).")
    certification = parsed["certification"]
    if certification is None:  # blank: infer from what was filled in
        certification = (CertificationKind.AEO if program_raw or text("certificate_number")
                         else CertificationKind.CTPAT if text("ctpat_account_number") or parsed["ctpat_status"]
                         else CertificationKind.NONE)
    role = parsed["role"]
    eligible_raw = _norm(text("ctpat_eligible"))
    if eligible_raw in _YES:
        eligible = True
    elif eligible_raw in _NO:
        eligible = False
    elif not eligible_raw:
        eligible = bool(role and role.usually_ctpat_eligible)
    else:
        errors.append(f"CTPAT eligible: “{text('ctpat_eligible')}” is not yes or no.")
        eligible = False
    if role is None and not text("role"):
        errors.append("Role is missing.")
    if not country_raw:
        errors.append("Country is missing.")
    if errors:
        return None, errors
    assert role is not None and country is not None  # noqa: S101 - checked above
    data = PartnerInput(
        name=text("name"), role=role, country=country, address=text("address"), city=text("city"),
        ctpat_eligible=eligible, certification=certification,
        ctpat_account_number=text("ctpat_account_number") or None, ctpat_status=parsed["ctpat_status"],
        mra_program_id=program_id, certificate_number=text("certificate_number") or None,
        certificate_expires_on=parsed["certificate_expires_on"], last_assessed_on=parsed["last_assessed_on"],
        last_assessment_type=parsed["last_assessment_type"], last_assessment_result=parsed["last_assessment_result"],
        risk_rating=parsed["risk_rating"], risk_reason=text("risk_reason"),
        next_review_override=parsed["next_review_override"], notes=text("notes"),
    ).cleaned()
    problems = check_partner_input(data, set(context.programs), context.on)
    return (None, [message for _field, message in problems]) if problems else (data, [])


@dataclass(frozen=True)
class ParsedUpload:
    rows: list[dict[str, Any]]  # as stored in PartnerImport.rows
    ignored_headers: list[str]


def parse_table(table: list[list[Any]], context: ImportContext) -> ParsedUpload:
    """Check every data row of a table read by ``read_table``.

    :raise RejectedFile: a required column is missing, or there are no data rows.
    """
    header_line = next(index for index, row in enumerate(table) if row)
    mapping, missing, ignored = map_header(table[header_line])
    if missing:
        raise RejectedFile(f"The header row lacks the column(s) {', '.join(missing)}. Start from the template.")
    seen: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    for index in range(header_line + 1, len(table)):
        cells = table[index]
        if not cells:
            continue
        line = index + 1
        values = {field: cells[i] if i < len(cells) else "" for i, field in mapping.items()}
        data, errors = parse_row(values, context)
        if data is not None:
            key = (name_key(data.name), data.country)
            if key in context.existing:
                errors = [f"Duplicate partner: “{data.name}” ({data.country}) is already in the register."]
            elif key in seen:
                errors = [f"Duplicate partner: the same name and country as row {seen[key]}."]
            else:
                seen[key] = line
        shown = {field: value.isoformat() if isinstance(value, date) else str(value)
                 for field, value in values.items()}
        rows.append({"line": line, "values": shown, "data": data.to_json() if data and not errors else None,
                     "errors": errors})
    if not rows:
        raise RejectedFile("The file has a header row but no partners.")
    return ParsedUpload(rows, ignored)
