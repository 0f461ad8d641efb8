"""The offline questionnaire workbook a partner downloads, fills in and uploads again (pure).

One row per applicable criterion. The ID and description columns are locked (sheet protection); the
Status (a drop-down list), Narrative and Justification cells are unlocked. The hidden ``_meta`` sheet
records the profile, catalog and profile version, and for every criterion the answer's version, its
``updated_at`` and a digest of its content at download time, so the import can tell what the partner
changed offline from what someone changed online in the meantime (a conflict). An HMAC over ``_meta``
(keyed with the app's secret) lets the import trust those values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from portal.exports import columns as cols
from portal.exports.workbook import (
    ExportWorkbook,
    PrintSetup,
    TableSheet,
    generated_line,
    key_value_sheet,
    meta_sheet,
    normalize_newlines,
)

QUESTIONNAIRE_KIND = "ctpat-questionnaire"
FORMAT_VERSION = 1
SHEET_INSTRUCTIONS = "Instructions"
SHEET_QUESTIONNAIRE = "Questionnaire"
META_KEYS = ("kind", "format", "profile_id", "account_number", "catalog", "profile_version", "exported_at",
             "exported_by")
META_TABLE_HEADERS = ("criterion_id", "answer_version", "updated_at", "digest")


@dataclass(frozen=True)
class QuestionnaireRow:
    """One applicable criterion with the answer as stored when the workbook was made."""

    id: str
    category: str
    level: str
    title: str
    requirement: str
    status: str | None          # ImplementationStatus value, or None
    status_label: str
    narrative: str
    justification: str
    answer_version: int         # 0 when never answered
    updated_at: str             # ISO 8601 UTC, "" when never answered


@dataclass(frozen=True)
class QuestionnaireData:
    profile_id: int
    account_number: str
    company: str
    business_type: str
    catalog_id: str
    catalog_title: str
    profile_version: int
    exported_at: datetime
    exported_by: str
    rows: Sequence[QuestionnaireRow]


def answer_digest(status: str | None, narrative: str, justification: str) -> str:
    """A short fingerprint of an answer's content, insensitive to line-ending style and outer spaces
    (browsers post CRLF, workbooks give LF back; the web forms strip)."""
    canonical = json.dumps([status or "", normalize_newlines(narrative).strip(),
                            normalize_newlines(justification).strip()], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def meta_checksum(secret: str, pairs: Mapping[str, Any], table: Iterable[Sequence[Any]]) -> str:
    """HMAC-SHA256 over the meta values as text (cell types may change on a round trip through Excel)."""
    canonical = json.dumps({"pairs": {key: "" if pairs.get(key) is None else str(pairs.get(key)) for key in META_KEYS},
                            "table": [["" if v is None else str(v) for v in row] for row in table]},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = hmac.new(secret.encode("utf-8"), b"ctpat-questionnaire-meta", hashlib.sha256).digest()
    return hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()


def meta_of(data: QuestionnaireData) -> tuple[dict[str, Any], list[list[Any]]]:
    pairs: dict[str, Any] = {
        "kind": QUESTIONNAIRE_KIND,
        "format": FORMAT_VERSION,
        "profile_id": data.profile_id,
        "account_number": data.account_number,
        "catalog": data.catalog_id,
        "profile_version": data.profile_version,
        "exported_at": data.exported_at.astimezone(UTC).isoformat(),
        "exported_by": data.exported_by,
    }
    table = [[row.id, row.answer_version, row.updated_at, answer_digest(row.status, row.narrative, row.justification)]
             for row in data.rows]
    return pairs, table


INSTRUCTIONS = (
    "Fill in the yellow cells of the Questionnaire sheet: Status (choose from the list), Narrative (how the "
    "company meets the criterion) and, for Not applicable, the justification.",
    "Do not change the criterion IDs, add sheets or add columns: the upload refuses such a workbook.",
    "Leave rows you do not want to change as they are. Only rows whose text differs from the portal are "
    "changed, and you see every change in a preview before anything is saved.",
    "If someone edits an answer online after you downloaded this workbook, the preview shows both texts and "
    "keeps the online one unless you choose yours.",
    "A narrative may be at most 10,000 characters, a justification at most 2,000.",
    "Save as an Excel workbook (.xlsx). Macro-enabled workbooks (.xlsm) are refused.",
)


def build_questionnaire(data: QuestionnaireData, secret: str, out: str | IO[bytes]) -> None:
    """Write the offline questionnaire to ``out``."""
    wb = ExportWorkbook()
    setup = PrintSetup(title=f"{data.company}: {data.business_type} security profile questionnaire",
                       generated=generated_line(data.exported_at, f"profile version {data.profile_version}"))
    key_value_sheet(wb, SHEET_INSTRUCTIONS,
                    [("Company", data.company), ("Business type", data.business_type),
                     ("CTPAT account number", data.account_number),
                     ("Criteria catalog", f"{data.catalog_title} ({data.catalog_id})"),
                     ("Downloaded (UTC)", data.exported_at)]
                    + [(f"Step {n}", text) for n, text in enumerate(INSTRUCTIONS, start=1)], setup)
    sheet = TableSheet(wb, SHEET_QUESTIONNAIRE, cols.QUESTIONNAIRE, setup, protect=True)
    for row in data.rows:
        sheet.append([row.id, row.category, row.level, row.title, row.requirement, row.status_label or None,
                      row.narrative, row.justification])
    sheet.close()
    pairs, table = meta_of(data)
    meta_sheet(wb, [*pairs.items(), ("checksum", meta_checksum(secret, pairs, table))],
               (META_TABLE_HEADERS, table))
    wb.save(out)
