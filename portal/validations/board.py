"""Reads for the reviewer's validation dashboard: accounts due for validation (overdue, within 30 and
within 90 days), missed annual reviews, my open validations, reports awaiting approval, partner
answers to review and upcoming visits.

The lists are computed over every certified account of the program, so they are computed from light
rows (dates and ids, no ORM objects); only the rows a page shows are then loaded in full
(``with_accounts``), in one query whatever the size of the program.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.auth.models import User
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.pagination import Excerpt
from portal.validations import annual
from portal.validations.calendar import reviewer_visits
from portal.validations.models import Finding, Validation, Visit, validation_members
from portal.validations.permissions import VALIDATABLE
from portal.validations.services import validation_due
from portal.validations.workflow import FindingStatus, ValidationStatus

DUE_BUCKETS = ("overdue", "30", "90")


@dataclass(frozen=True)
class DueAccount:
    """An account due for validation; ``account`` is loaded only for the rows shown."""

    account_id: int
    due_on: date
    days_left: int
    validation_id: int | None              # the account's open validation, if any
    validation_status: ValidationStatus | None
    account: TradeAccount | None = None

    @property
    def bucket(self) -> str:
        if self.days_left < 0:
            return "overdue"
        return "30" if self.days_left <= 30 else "90"


@dataclass(frozen=True)
class MissedAnnual:
    """An account whose anniversary passed without a submission in its window."""

    account_id: int
    anniversary_on: date
    days_late: int
    account: TradeAccount | None = None


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


def _certified_accounts() -> list[Any]:
    """The dates of every validatable account (rows with the attributes ``validation_due`` and
    ``annual.certification_base`` read), without loading accounts and companies."""
    return list(db_session.execute(
        select(TradeAccount.id, TradeAccount.certified_on, TradeAccount.anniversary_on,
               TradeAccount.last_validated_on, TradeAccount.next_validation_due)
        .where(TradeAccount.status.in_(VALIDATABLE)).order_by(TradeAccount.id)))


def missed_annual_reviews(accounts: Sequence[Any], today: date) -> list[MissedAnnual]:
    """Accounts whose anniversary passed without a submission inside the window, the longest missed
    first (two queries)."""
    cycles = annual.current_cycles(accounts, today)
    missed = [MissedAnnual(account.id, cycle.anniversary_on, (today - cycle.anniversary_on).days)
              for account in accounts if (cycle := cycles.get(account.id)) is not None and cycle.missed(today)]
    return sorted(missed, key=lambda row: (-row.days_late, row.account_id))


def dashboard(user: User, today: date, *, horizon_days: int = 90) -> Dashboard:
    """Everything the reviewer's validation dashboard shows (accounts not loaded: ``with_accounts``)."""
    result = Dashboard()
    accounts = _certified_accounts()
    open_rows = db_session.execute(select(Validation.id, Validation.account_id, Validation.status,
                                          Validation.lead_id, Validation.due_on)
                                   .where(Validation.status != ValidationStatus.CLOSED)).all()
    open_by_account = {row.account_id: row for row in open_rows}
    for account in accounts:
        due = validation_due(account)
        if due is None:
            continue
        days_left = (due - today).days
        if days_left <= horizon_days:
            validation = open_by_account.get(account.id)
            result.due.append(DueAccount(account.id, due, days_left, validation.id if validation else None,
                                         validation.status if validation else None))
    result.due.sort(key=lambda d: (d.due_on, d.account_id))
    # Who is on each open validation's team, in one query (Validation.team_ids would load each team).
    members: dict[int, set[int]] = {}
    for validation_id, member_id in db_session.execute(
            select(validation_members.c.validation_id, validation_members.c.user_id)
            .join(Validation, Validation.id == validation_members.c.validation_id)
            .where(Validation.status != ValidationStatus.CLOSED)):
        members.setdefault(validation_id, set()).add(member_id)

    uid = user.id  # once: ``user`` is usually the current_user proxy

    def on_team(row: Any) -> bool:
        return uid == row.lead_id or uid in members.get(row.id, ())

    mine = {row.id for row in open_rows if on_team(row)}
    awaiting = {row.id for row in open_rows if row.status == ValidationStatus.REPORT_SUBMITTED and not on_team(row)} \
        if user.is_supervisor else set()
    # My validations and the reports to approve, with their accounts and companies, in one query.
    loaded = {v.id: v for v in db_session.scalars(
        select(Validation).where(Validation.id.in_(mine | awaiting))
        .options(joinedload(Validation.account).joinedload(TradeAccount.company)))} if mine | awaiting else {}
    result.mine = sorted((loaded[i] for i in mine), key=lambda v: (v.due_on, v.id))
    result.awaiting_approval = sorted((loaded[i] for i in awaiting), key=lambda v: v.id)
    now = datetime.combine(today, time.min, tzinfo=UTC)
    result.visits = reviewer_visits(user, now, now + timedelta(days=60), include_cancelled=False)
    result.missed_annual = missed_annual_reviews(accounts, today)
    if mine:
        result.answers_to_review = list(db_session.scalars(
            select(Finding).where(Finding.validation_id.in_(mine), Finding.status == FindingStatus.ANSWERED)
            .order_by(Finding.validation_id, Finding.id)))
    return result


def with_accounts(parts: Mapping[str, Excerpt]) -> dict[str, Excerpt]:
    """The same lists, their rows carrying their accounts (with companies), read in one query for all
    the rows shown."""
    ids = {row.account_id for part in parts.values() for row in part.rows}
    if not ids:
        return dict(parts)
    accounts = {account.id: account for account in db_session.scalars(
        select(TradeAccount).where(TradeAccount.id.in_(ids)).options(joinedload(TradeAccount.company)))}
    return {name: replace(part, rows=[replace(row, account=accounts[row.account_id]) for row in part.rows])
            for name, part in parts.items()}
