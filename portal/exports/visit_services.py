"""Verbs of the visit-workbook round trip for one validation: the workbook's values with the stored
checks pre-filled and the validation's visit plan (the MRA certificates of covered sites named),
keeping a checked upload for its preview, the preview against the checks as stored now (the clear
marker listed as a clearing change), applying it (one transaction, one timeline entry and audit
event) or discarding it. The staged upload is an ``ExcelImport`` of kind ``visit_workbook``, as the
questionnaire's are. Services flush and audit; views commit (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from portal import audit
from portal.catalog import get_catalog
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError
from portal.exports.importer import plan_fingerprint
from portal.exports.models import ExcelImport, ImportKind, ImportStatus
from portal.exports.profile_workbook import Audience, ProfileWorkbookData, check_digest
from portal.exports.queries import profile_workbook_data, visit_plan  # noqa: F401 (visit_plan: the routes' verb)
from portal.exports.services import PreviewOutdated, is_expired
from portal.exports.visit_import import (
    CONFLICT,
    CheckChange,
    CheckRow,
    CheckState,
    ParsedVisitWorkbook,
    VisitExpectation,
    plan_checks,
)
from portal.exports.visit_workbook import CLEAR_NOTE
from portal.profiles.models import SecurityProfile
from portal.validations.models import Validation
from portal.validations.verification import CheckInput, Verified, checks_of, save_checks


def validation_label(validation: Validation) -> str:
    return f"{validation.kind.label} number {validation.id}, due {validation.due_on:%Y-%m-%d}"


def workbook_data(validation: Validation, profile: SecurityProfile) -> ProfileWorkbookData:
    """The CBP visit workbook of the account's latest submitted version (or its draft), downloaded for
    this validation: its ID in ``_meta`` and the stored checks in the on-site columns."""
    data = profile_workbook_data(profile, Audience.CBP)
    assert data is not None  # no version number asked for: the latest version or the draft
    checks = checks_of(validation)
    criteria = []
    for row in data.criteria:
        check = checks.get(row.id)
        if check is not None:
            verified = check.verified.value if check.verified else None
            row = replace(row, verified=check.verified.code if check.verified else "", visit_notes=check.notes,
                          check_version=check.version, check_digest=check_digest(verified, check.notes))
        criteria.append(row)
    return replace(data, criteria=criteria, validation_id=validation.id, validation_label=validation_label(validation),
                   notes=(*data.notes, CLEAR_NOTE))


def expectation_for(validation: Validation, profile: SecurityProfile) -> VisitExpectation:
    catalog = get_catalog(profile.catalog_id)
    account = validation.account
    return VisitExpectation(
        validation_id=validation.id, profile_id=profile.id, account_number=account.account_number or str(account.id),
        catalog_id=catalog.id, business_type_label=account.business_type.label,
        known_ids=frozenset(c.id for c in catalog.criteria),
        applicable_ids=frozenset(c.id for c in catalog.criteria_for(account.business_type)),
    )


def store_visit_import(validation: Validation, profile: SecurityProfile, parsed: ParsedVisitWorkbook, file_name: str,
                       *, by: Any) -> ExcelImport:
    """Keep a checked upload until the reviewer confirms its preview (no check changes)."""
    payload = {
        "file_name": file_name[:200],
        "meta": {key: parsed.meta.get(key, "") for key in ("exported_at", "profile_version")},
        "downloaded": {cid: list(state) for cid, state in parsed.download_state.items()},
        "rows": [[r.row, r.criterion_id, r.verified, r.notes, r.clear_verified, r.clear_notes] for r in parsed.rows],
    }
    row = ExcelImport(profile_id=profile.id, validation_id=validation.id, user_id=by.id, created_at=utcnow(),
                      payload=payload, status=ImportStatus.PENDING, kind=ImportKind.VISIT_WORKBOOK)
    db_session.add(row)
    db_session.flush()
    audit.record("validation.checks_import_checked", actor=by, company_id=validation.account.company_id, obj=row,
                 summary=f"{file_name[:100]}: {len(parsed.rows)} rows with on-site entries, waiting for confirmation")
    return row


def pending_visit_import(validation: Validation, import_id: int, user: Any) -> ExcelImport | None:
    """The user's own visit-workbook upload for this validation (anyone else's answers None, so 404)."""
    return db_session.scalar(select(ExcelImport).where(ExcelImport.id == import_id,
                                                       ExcelImport.validation_id == validation.id,
                                                       ExcelImport.kind == ImportKind.VISIT_WORKBOOK,
                                                       ExcelImport.user_id == user.id))


def current_checks(validation: Validation) -> dict[str, CheckState]:
    return {cid: CheckState(verified=c.verified.value if c.verified else None, notes=c.notes, version=c.version,
                            updated_at=c.updated_at.isoformat(),
                            updated_by=c.updated_by.full_name if c.updated_by else "")
            for cid, c in checks_of(validation).items()}


def preview(row: ExcelImport, validation: Validation, profile: SecurityProfile) -> list[CheckChange]:
    """What applying the upload would do now, criterion by criterion, in catalog order."""
    downloaded = {cid: (int(state[0]), str(state[1])) for cid, state in row.payload["downloaded"].items()}
    # Uploads kept before the clear marker existed hold four values per row (nothing cleared).
    rows = [CheckRow(number, cid, verified, notes, *(bool(flag) for flag in clears))
            for number, cid, verified, notes, *clears in row.payload["rows"]]
    changes = plan_checks(rows, downloaded, current_checks(validation))
    order = {c.id: position for position, c in enumerate(get_catalog(profile.catalog_id).criteria)}
    return sorted(changes, key=lambda c: order.get(c.criterion_id, len(order)))


def apply_visit_import(row: ExcelImport, validation: Validation, profile: SecurityProfile, *, fingerprint: str,
                       overwrite: set[str], by: Any) -> list[str]:
    """Store every new and changed check, and the conflicts the reviewer chose to overwrite, all or
    nothing, with one timeline entry. Returns the criterion IDs stored.

    :raise PreviewOutdated: a check was stored since the preview was shown.
    :raise DomainError: the upload was already used or has expired, or the validation is past its findings.
    :raise StaleEdit: (from ``save_check``) a save raced this one; the view rolls everything back.
    """
    if row.status != ImportStatus.PENDING:
        raise DomainError(f"This upload was already {row.status.value}. Upload the workbook again if needed.")
    if is_expired(row):
        raise DomainError("This upload is older than 24 hours. Upload the workbook again to see a fresh preview.")
    changes = preview(row, validation, profile)
    if plan_fingerprint(changes) != fingerprint:  # the questionnaire's rule: criterion, kind and stored version
        raise PreviewOutdated("Someone stored one of these checks after the preview was shown. "
                              "Check the updated preview and confirm again.")
    chosen = [c for c in changes if c.applies_by_default or (c.kind == CONFLICT and c.criterion_id in overwrite)]
    entries = [CheckInput(c.criterion_id, Verified(c.verified) if c.verified else None, c.notes, c.current.version)
               for c in chosen]
    file_name = str(row.payload.get("file_name", "a workbook"))
    saved = save_checks(validation, entries, by=by) if entries else []
    row.status = ImportStatus.APPLIED
    db_session.flush()
    cleared = [f"{c.criterion_id} ({' and '.join(c.cleared)})" for c in chosen if c.cleared]
    if cleared:  # erasing recorded work is worth its own line in the audit trail
        audit.record("validation.checks_cleared", actor=by, company_id=validation.account.company_id, obj=validation,
                     summary=f"{file_name[:100]}: cleared {', '.join(cleared)}")
    kept = [c.criterion_id for c in changes if c.kind == CONFLICT and c.criterion_id not in overwrite]
    if kept:
        audit.record("validation.checks_kept", actor=by, company_id=validation.account.company_id, obj=validation,
                     summary=f"{file_name[:100]}: stored checks kept for {', '.join(kept)}")
    return saved


def discard_visit_import(row: ExcelImport, validation: Validation, *, by: Any) -> None:
    if row.status != ImportStatus.PENDING:
        return
    row.status = ImportStatus.DISCARDED
    db_session.flush()
    audit.record("validation.checks_import_discarded", actor=by, company_id=validation.account.company_id, obj=row,
                 summary=str(row.payload.get("file_name", ""))[:200])
