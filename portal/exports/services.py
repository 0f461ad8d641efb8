"""Verbs of the offline round trip: keep a checked upload for its preview, compute the preview against
the answers as stored now, apply it (one transaction, through ``save_answer``, with an audit event),
or discard it. Services flush and audit; views commit (DESIGN.md §3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from portal import audit
from portal.catalog import get_catalog
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError
from portal.exports.importer import (
    CONFLICT,
    AnswerState,
    CriterionChange,
    Expectation,
    ParsedQuestionnaire,
    ParsedRow,
    plan_fingerprint,
    plan_import,
)
from portal.exports.models import ExcelImport, ImportKind, ImportStatus
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.services import AnswerInput, applicable_criterion, save_answer
from portal.profiles.workflow import ImplementationStatus

IMPORT_TTL = timedelta(hours=24)


class PreviewOutdated(DomainError):
    """An answer in the preview was saved online after the preview was shown."""


def expectation_for(profile: SecurityProfile, secret: str) -> Expectation:
    catalog = get_catalog(profile.catalog_id)
    business_type = profile.account.business_type
    return Expectation(
        profile_id=profile.id, account_number=profile.account.account_number or str(profile.account.id),
        catalog_id=catalog.id, business_type_label=business_type.label,
        known_ids=frozenset(c.id for c in catalog.criteria),
        applicable_ids=frozenset(c.id for c in catalog.criteria_for(business_type)), secret=secret,
    )


def store_import(profile: SecurityProfile, parsed: ParsedQuestionnaire, file_name: str, *, by: Any) -> ExcelImport:
    """Keep a checked upload until the user confirms its preview (nothing in the profile changes)."""
    payload = {
        "file_name": file_name[:200],
        "meta": {key: parsed.meta.get(key, "") for key in ("exported_at", "exported_by", "profile_version")},
        "downloaded": {cid: list(state) for cid, state in parsed.download_state.items()},
        "rows": [[r.row, r.criterion_id, r.status, r.narrative, r.justification] for r in parsed.rows],
    }
    row = ExcelImport(profile_id=profile.id, user_id=by.id, created_at=utcnow(), payload=payload,
                      status=ImportStatus.PENDING)
    db_session.add(row)
    db_session.flush()
    audit.record("questionnaire.import_checked", actor=by, company_id=profile.account.company_id, obj=row,
                 summary=f"{file_name[:100]}: {len(parsed.rows)} rows, waiting for confirmation")
    return row


def pending_import(profile: SecurityProfile, import_id: int, user: Any) -> ExcelImport | None:
    """The user's own questionnaire upload for this profile (anyone else's answers None, so 404)."""
    return db_session.scalar(select(ExcelImport).where(ExcelImport.id == import_id,
                                                       ExcelImport.profile_id == profile.id,
                                                       ExcelImport.kind == ImportKind.QUESTIONNAIRE,
                                                       ExcelImport.user_id == user.id))


def is_expired(row: ExcelImport, now: datetime | None = None) -> bool:
    return (now or utcnow()) - row.created_at > IMPORT_TTL


def current_answers(profile: SecurityProfile) -> dict[str, AnswerState]:
    answers = db_session.scalars(select(Answer).where(Answer.profile_id == profile.id))
    return {a.criterion_id: AnswerState(status=a.status.value if a.status else None, narrative=a.narrative,
                                        justification=a.justification, version=a.version,
                                        updated_at=a.updated_at.isoformat(),
                                        updated_by=a.updated_by.full_name if a.updated_by else "")
            for a in answers}


def parsed_rows(row: ExcelImport) -> list[ParsedRow]:
    return [ParsedRow(row=number, criterion_id=cid, status=status, narrative=narrative, justification=justification)
            for number, cid, status, narrative, justification in row.payload["rows"]]


def preview(row: ExcelImport, profile: SecurityProfile) -> list[CriterionChange]:
    """What applying the upload would do now, criterion by criterion, in catalog order."""
    downloaded = {cid: (int(state[0]), str(state[1])) for cid, state in row.payload["downloaded"].items()}
    changes = plan_import(parsed_rows(row), downloaded, current_answers(profile))
    order = {c.id: position for position, c in enumerate(get_catalog(profile.catalog_id).criteria)}
    return sorted(changes, key=lambda c: order.get(c.criterion_id, len(order)))


def apply_import(row: ExcelImport, profile: SecurityProfile, *, fingerprint: str, overwrite: set[str],
                 by: Any) -> list[str]:
    """Save every new and changed answer, and the conflicts the user chose to overwrite, all or nothing.
    Returns the criterion IDs saved.

    :raise PreviewOutdated: an answer was saved online since the preview was shown.
    :raise DomainError: the upload was already used or has expired, or the profile cannot be edited.
    :raise StaleEdit: (from ``save_answer``) a save raced this one; the view rolls everything back.
    """
    if row.status != ImportStatus.PENDING:
        raise DomainError(f"This upload was already {row.status.value}. Upload the workbook again if needed.")
    if is_expired(row):
        raise DomainError("This upload is older than 24 hours. Upload the workbook again to see a fresh preview.")
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()} and cannot be edited now.")
    changes = preview(row, profile)
    if plan_fingerprint(changes) != fingerprint:
        raise PreviewOutdated("Someone saved one of these answers online after the preview was shown. "
                              "Check the updated preview and confirm again.")
    chosen = [c for c in changes if c.applies_by_default or (c.kind == CONFLICT and c.criterion_id in overwrite)]
    saved: list[str] = []
    for change in chosen:
        criterion = applicable_criterion(profile, change.criterion_id)
        if criterion is None:  # the catalog cannot change under a pinned profile; guard anyway
            raise DomainError(f"Criterion {change.criterion_id} does not apply to this profile.")
        imported = change.imported
        save_answer(profile, criterion, AnswerInput(
            status=ImplementationStatus(imported.status) if imported.status else None,
            narrative=imported.narrative, justification=imported.justification,
            expected_version=change.current.version or None), by=by)
        saved.append(change.criterion_id)
    kept = [c.criterion_id for c in changes if c.kind == CONFLICT and c.criterion_id not in overwrite]
    row.status = ImportStatus.APPLIED
    db_session.flush()
    summary = f"{len(saved)} answer(s) from {row.payload.get('file_name', 'a workbook')}"
    if saved:
        summary += ": " + ", ".join(saved)
    if kept:
        summary += f"; online answers kept for {', '.join(kept)}"
    audit.record("questionnaire.imported", actor=by, company_id=profile.account.company_id, obj=profile,
                 summary=summary)
    return saved


def discard_import(row: ExcelImport, profile: SecurityProfile, *, by: Any) -> None:
    if row.status != ImportStatus.PENDING:
        return
    row.status = ImportStatus.DISCARDED
    db_session.flush()
    audit.record("questionnaire.import_discarded", actor=by, company_id=profile.account.company_id, obj=row,
                 summary=str(row.payload.get("file_name", ""))[:200])
