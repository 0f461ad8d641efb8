"""Reads for validation pages: loaders that answer 404, the list per account, and the reviewer's
validation dashboard (validations due within 90 and 30 days or overdue, open validations, upcoming
visits, missed annual reviews)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal.auth.models import User
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.partners.models import MraProgram
from portal.validations import annual
from portal.validations.calendar import reviewer_visits
from portal.validations.models import (
    Blackout,
    Finding,
    FindingResponse,
    Validation,
    ValidationMrRecord,
    ValidationSite,
    Visit,
    validation_members,
)
from portal.validations.permissions import VALIDATABLE
from portal.validations.services import validation_due
from portal.validations.workflow import FindingStatus, ValidationStatus


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


# -- dashboard ---------------------------------------------------------------------------------------


DUE_BUCKETS = ("overdue", "30", "90")


@dataclass(frozen=True)
class DueAccount:
    account: TradeAccount
    due_on: date
    days_left: int
    validation: Validation | None

    @property
    def bucket(self) -> str:
        if self.days_left < 0:
            return "overdue"
        return "30" if self.days_left <= 30 else "90"


@dataclass(frozen=True)
class MissedAnnual:
    account: TradeAccount
    anniversary_on: date
    days_late: int


@dataclass
class Dashboard:
    due: list[DueAccount] = field(default_factory=list)
    mine: list[Validation] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    missed_annual: list[MissedAnnual] = field(default_factory=list)
    awaiting_approval: list[Validation] = field(default_factory=list)
    answers_to_review: list[Finding] = field(default_factory=list)

    def due_in(self, bucket: str) -> list[DueAccount]:
        return [d for d in self.due if d.bucket == bucket]


def _certified_accounts() -> list[TradeAccount]:
    # Joined, not "selectin": one statement, where selectin sends one per 500 accounts.
    return list(db_session.scalars(select(TradeAccount).where(TradeAccount.status.in_(VALIDATABLE))
                                   .options(joinedload(TradeAccount.company)).order_by(TradeAccount.id)))


def missed_annual_reviews(accounts: list[TradeAccount], today: date) -> list[MissedAnnual]:
    """Accounts whose anniversary passed without a submission inside the window, the longest missed
    first (two queries)."""
    cycles = annual.current_cycles(accounts, today)
    missed = [MissedAnnual(account, cycle.anniversary_on, (today - cycle.anniversary_on).days)
              for account in accounts if (cycle := cycles.get(account.id)) is not None and cycle.missed(today)]
    return sorted(missed, key=lambda row: (-row.days_late, row.account.id))  # the longest missed first


def dashboard(user: User, today: date, *, horizon_days: int = 90) -> Dashboard:
    """Everything the reviewer's validation dashboard shows."""
    result = Dashboard()
    accounts = _certified_accounts()
    open_by_account = {v.account_id: v for v in db_session.scalars(
        select(Validation).where(Validation.status != ValidationStatus.CLOSED))}
    for account in accounts:
        due = validation_due(account)
        if due is None:
            continue
        days_left = (due - today).days
        if days_left <= horizon_days:
            result.due.append(DueAccount(account, due, days_left, open_by_account.get(account.id)))
    result.due.sort(key=lambda d: d.due_on)
    # Who is on each open validation's team, in one query (Validation.team_ids would load each team).
    members: dict[int, set[int]] = {}
    for validation_id, member_id in db_session.execute(
            select(validation_members.c.validation_id, validation_members.c.user_id)
            .join(Validation, Validation.id == validation_members.c.validation_id)
            .where(Validation.status != ValidationStatus.CLOSED)):
        members.setdefault(validation_id, set()).add(member_id)

    def on_team(validation: Validation) -> bool:
        return user.id == validation.lead_id or user.id in members.get(validation.id, ())

    result.mine = sorted((v for v in open_by_account.values() if on_team(v)), key=lambda v: v.due_on)
    now = datetime.combine(today, time.min, tzinfo=UTC)
    result.visits = reviewer_visits(user, now, now + timedelta(days=60), include_cancelled=False)
    result.missed_annual = missed_annual_reviews(accounts, today)
    if user.is_supervisor:
        result.awaiting_approval = [v for v in open_by_account.values()
                                    if v.status == ValidationStatus.REPORT_SUBMITTED and not on_team(v)]
    # The accounts (and companies) shown with my validations and the reports to approve, set on those
    # validations in one query.
    shown = [v.id for v in (*result.mine, *result.awaiting_approval)]
    if shown:
        db_session.scalars(select(Validation).where(Validation.id.in_(shown))
                           .options(joinedload(Validation.account).joinedload(TradeAccount.company))).all()
    if result.mine:
        result.answers_to_review = list(db_session.scalars(
            select(Finding).where(Finding.validation_id.in_([v.id for v in result.mine]),
                                  Finding.status == FindingStatus.ANSWERED)
            .order_by(Finding.validation_id, Finding.id)))
    return result
