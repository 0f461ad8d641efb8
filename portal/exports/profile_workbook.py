"""The profile workbook that reviewers take to validation visits, and the partner's own copy.

Pure: ``build_profile_workbook`` turns a ``ProfileWorkbookData`` (plain values, gathered by
``portal.exports.queries``) into an .xlsx. The CBP copy adds the reviewer's ratings and comments, the
category scores, and the "Verified on site" (Y / N / Partial) and "Visit notes" columns to fill in
during the visit (empty, or pre-filled with the checks stored when downloaded for a validation); the
partner's copy leaves those out (scores are for CBP staff only).

Sheets: Summary (with the category scores for CBP), Criteria, Evidence, Facilities, Business partners,
Action plans, Findings, Visit plan, and the hidden ``_meta`` (catalog version, profile version, content
SHA-256, export time; for a validation its ID and, per criterion, the stored check's version and digest,
so the import can tell what was edited offline from what someone else stored in the meantime).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import IO, Any

from portal.exports import columns as cols
from portal.exports.questionnaire import answer_digest
from portal.exports.workbook import (
    Column,
    ExportWorkbook,
    PrintSetup,
    TableSheet,
    generated_line,
    key_value_sheet,
    meta_sheet,
)

WORKBOOK_KIND = "ctpat-profile-workbook"
CRITERIA_SHEET = "Criteria"
SHEET_TITLES = ("Summary", CRITERIA_SHEET, "Evidence", "Facilities", "Business partners", "Action plans",
                "Findings", "Visit plan")
CHECK_TABLE_HEADERS = ("criterion_id", "check_version", "digest")


class Audience(StrEnum):
    """Who the workbook is for: CBP staff get the reviewer columns and scores, partners do not."""

    CBP = "cbp"
    PARTNER = "partner"


@dataclass(frozen=True)
class EvidenceItem:
    criterion_id: str
    name: str
    file: str
    size: int | None
    sha256: str


@dataclass(frozen=True)
class CriterionRow:
    id: str
    focus_area: str
    category: str
    level: str                 # "Must" or "Should"
    title: str
    requirement: str
    status: str                # the partner's status, as a label ("" when unanswered)
    narrative: str
    justification: str
    evidence: tuple[EvidenceItem, ...] = ()
    action_plans: tuple[str, ...] = ()
    rating: str = ""
    rating_comment: str = ""
    verified: str = ""         # the stored "Verified on site" code (Y, N, Partial) of the validation, if any
    visit_notes: str = ""
    check_version: int = 0     # the stored check's version (0: none)
    check_digest: str = ""     # ``check_digest`` of the stored check


@dataclass(frozen=True)
class FacilityRow:
    kind: str
    name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    timezone: str
    visitable: bool


@dataclass(frozen=True)
class PartnerRow:
    name: str
    role: str
    country: str
    identifiers: str
    program: str
    last_screened: date | None
    risk: str
    notes: str


@dataclass(frozen=True)
class ActionPlanRow:
    criterion_id: str
    gap: str
    corrective_action: str
    owner: str
    target_date: date | None
    status: str
    overdue: bool
    milestones: tuple[str, ...] = ()


@dataclass(frozen=True)
class FindingRow:
    number: str
    criterion_id: str
    kind: str
    state: str
    text: str
    due_date: date | None
    response: str


@dataclass(frozen=True)
class VisitRow:
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


@dataclass(frozen=True)
class ScoreRow:
    category: str
    focus_area: str
    score: float | None
    explanation: str


@dataclass(frozen=True)
class ProfileWorkbookData:
    """Everything one profile workbook shows, as plain values."""

    profile_id: int
    company: str
    dba: str
    business_type: str
    account_number: str
    account_status: str
    tier: int | None
    identifiers: tuple[tuple[str, str], ...]
    profile_status: str
    version: int                 # the submitted version shown; 0 = the unsubmitted draft
    submitted_at: datetime | None
    catalog_id: str
    catalog_title: str
    content_sha256: str
    exported_at: datetime
    dates: tuple[tuple[str, date | datetime | None], ...] = ()
    overall_score: ScoreRow | None = None
    scores: tuple[ScoreRow, ...] = ()
    review_status: str = ""
    criteria: Sequence[CriterionRow] = ()
    facilities: Sequence[FacilityRow] = ()
    partners: Sequence[PartnerRow] = ()
    action_plans: Sequence[ActionPlanRow] = ()
    findings: Sequence[FindingRow] = ()
    visits: Sequence[VisitRow] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    validation_id: int | None = None   # set when downloaded for a validation (its checks pre-filled)
    validation_label: str = ""

    @property
    def version_label(self) -> str:
        return f"version {self.version}" if self.version else "unsubmitted draft"


def check_digest(verified: str | None, notes: str) -> str:
    """A short fingerprint of a check (``Verified`` value and notes), as the questionnaire's answers have."""
    return answer_digest(verified, notes, "")


def _for(audience: Audience, columns: Sequence[Column]) -> list[Column]:
    return [c for c in columns if audience == Audience.CBP or not c.cbp_only]


def _evidence_text(items: Sequence[EvidenceItem]) -> str:
    return "\n".join(f"{item.name} (SHA-256 {item.sha256})" for item in items)


def criteria_values(row: CriterionRow, audience: Audience) -> list[Any]:
    values: list[Any] = [row.id, row.focus_area, row.category, row.level, row.title, row.requirement, row.status,
                         row.narrative, row.justification, _evidence_text(row.evidence), "\n".join(row.action_plans)]
    if audience == Audience.CBP:
        # "Verified on site" and notes: filled on site (pre-filled with the validation's stored checks)
        values += [row.rating, row.rating_comment, row.verified or None, row.visit_notes or None]
    return values


def summary_rows(data: ProfileWorkbookData, audience: Audience) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [
        ("Company", data.company),
        ("Doing business as", data.dba),
        ("Business type", data.business_type),
        ("CTPAT account number", data.account_number),
        ("Account status", data.account_status),
        ("Tier", data.tier),
    ]
    rows += [(kind, value) for kind, value in data.identifiers]
    rows += [
        ("Security profile status", data.profile_status),
        ("Profile version", data.version_label),
        ("Submitted (UTC)", data.submitted_at),
        ("Criteria catalog", f"{data.catalog_title} ({data.catalog_id})"),
        ("Content SHA-256", data.content_sha256),
    ]
    rows += list(data.dates)
    if audience == Audience.CBP and data.validation_id is not None:
        rows.append(("Validation", data.validation_label or f"Validation {data.validation_id}"))
    if audience == Audience.CBP:
        rows.append(("Review status", data.review_status))
        if data.overall_score is not None:
            rows.append(("Overall score", data.overall_score.score, data.overall_score.explanation))
        rows += [(f"Score: {s.category} ({s.focus_area})", s.score, s.explanation) for s in data.scores]
    rows += [("Note", note) for note in data.notes]
    rows.append(("Exported (UTC)", data.exported_at))
    return rows


def sheet_rows(data: ProfileWorkbookData, audience: Audience) -> dict[str, tuple[list[Column], list[list[Any]]]]:
    """Every table sheet's columns and cell values (the benchmark dumps the same values bare)."""
    tables: dict[str, tuple[list[Column], list[list[Any]]]] = {
        CRITERIA_SHEET: (_for(audience, cols.CRITERIA), [criteria_values(r, audience) for r in data.criteria]),
        "Evidence": (list(cols.EVIDENCE), [[e.criterion_id, e.name, e.file, e.size, e.sha256]
                                           for r in data.criteria for e in r.evidence]),
        "Facilities": (list(cols.FACILITIES), [[f.kind, f.name, f.line1, f.line2, f.city, f.region, f.postal_code,
                                                f.country, f.timezone, "Yes" if f.visitable else "No"]
                                               for f in data.facilities]),
        "Business partners": (list(cols.BUSINESS_PARTNERS), [[p.name, p.role, p.country, p.identifiers, p.program,
                                                              p.last_screened, p.risk, p.notes]
                                                             for p in data.partners]),
        "Action plans": (list(cols.ACTION_PLANS), [[a.criterion_id, a.gap, a.corrective_action, a.owner,
                                                    a.target_date, a.status, "Yes" if a.overdue else "No",
                                                    "\n".join(a.milestones)] for a in data.action_plans]),
        "Findings": (list(cols.FINDINGS), [[f.number, f.criterion_id, f.kind, f.state, f.text, f.due_date,
                                            f.response] for f in data.findings]),
        "Visit plan": (list(cols.VISIT_PLAN), [[v.site, v.address, v.starts_local, v.ends_local, v.timezone, v.mode,
                                                v.lead, v.team, v.mra_program, v.mra_certificate, v.mra_expires_on]
                                               for v in data.visits]),
    }
    return tables


def meta_pairs(data: ProfileWorkbookData, audience: Audience) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [
        ("kind", WORKBOOK_KIND),
        ("audience", audience.value),
        ("profile_id", data.profile_id),
        ("account_number", data.account_number),
        ("catalog", data.catalog_id),
        ("profile_version", data.version),
        ("content_sha256", data.content_sha256),
        ("exported_at", data.exported_at.astimezone(UTC).isoformat()),
    ]
    if audience == Audience.CBP and data.validation_id is not None:
        pairs.append(("validation_id", data.validation_id))
    return pairs


def meta_table(data: ProfileWorkbookData, audience: Audience) -> tuple[Sequence[str], list[list[Any]]] | None:
    """For a validation's visit workbook: each criterion's check as stored at download."""
    if audience != Audience.CBP or data.validation_id is None:
        return None
    return CHECK_TABLE_HEADERS, [[row.id, row.check_version, row.check_digest or check_digest(None, "")]
                                 for row in data.criteria]


def build_profile_workbook(data: ProfileWorkbookData, audience: Audience, out: str | IO[bytes]) -> None:
    """Write the workbook for ``audience`` to ``out`` (a path or a binary file object)."""
    wb = ExportWorkbook()
    audience_label = "CBP validation copy" if audience == Audience.CBP else "partner copy"
    setup = PrintSetup(title=f"{data.company}: {data.business_type} ({audience_label})",
                       generated=generated_line(data.exported_at, data.version_label))
    key_value_sheet(wb, "Summary", summary_rows(data, audience), setup)
    for title, (columns, rows) in sheet_rows(data, audience).items():
        sheet = TableSheet(wb, title, columns, setup)
        sheet.extend(rows)
        sheet.close()
    meta_sheet(wb, meta_pairs(data, audience), meta_table(data, audience))
    wb.save(out)
