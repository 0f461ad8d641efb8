"""Reads for validation pages: loaders that answer 404 and the lists per account and company (the
reviewer's validation dashboard is in ``board.py``)."""

from __future__ import annotations

from typing import Any

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.auth.models import User
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.partners.models import MraProgram
from portal.validations.models import (
    Blackout,
    Finding,
    FindingResponse,
    Validation,
    ValidationMrRecord,
    ValidationSite,
    Visit,
)


def _or_404(row: Any) -> Any:
    if row is None:
        abort(404)
    return row


def get_validation_or_404(validation_id: int) -> Validation:
    return _or_404(db_session.scalar(
        select(Validation).where(Validation.id == validation_id)
        .options(selectinload(Validation.sites).selectinload(ValidationSite.address),
                 selectinload(Validation.visits),
                 selectinload(Validation.findings).selectinload(Finding.responses)
                 .selectinload(FindingResponse.evidence),
                 selectinload(Validation.members), selectinload(Validation.events),
                 # MR records with their programs' histories and authors: the same queries for 1 or 100.
                 selectinload(Validation.mr_records).selectinload(ValidationMrRecord.program)
                 .selectinload(MraProgram.changes),
                 selectinload(Validation.mr_records).selectinload(ValidationMrRecord.recorded_by))))


def get_site_or_404(validation: Validation, site_id: int) -> ValidationSite:
    site = db_session.get(ValidationSite, site_id)
    return _or_404(site if site is not None and site.validation_id == validation.id else None)


def get_mr_record_or_404(validation: Validation, record_id: int) -> ValidationMrRecord:
    record = db_session.get(ValidationMrRecord, record_id)
    return _or_404(record if record is not None and record.validation_id == validation.id else None)


def get_visit_or_404(visit_id: int) -> Visit:
    return _or_404(db_session.get(Visit, visit_id))


def get_finding_or_404(finding_id: int) -> Finding:
    return _or_404(db_session.get(Finding, finding_id))


def get_blackout_or_404(company: Company, blackout_id: int) -> Blackout:
    row = db_session.get(Blackout, blackout_id)
    return _or_404(row if row is not None and row.company_id == company.id else None)


def validations_of(account: TradeAccount) -> list[Validation]:
    return list(db_session.scalars(select(Validation).where(Validation.account_id == account.id)
                                   .order_by(Validation.id.desc())))


def blackouts_of(company: Company) -> list[Blackout]:
    return list(db_session.scalars(select(Blackout).where(Blackout.company_id == company.id)
                                   .order_by(Blackout.starts_on)))


def staff_choices() -> list[User]:
    from portal.reviews.services import reviewers

    return list(reviewers())
