"""Daily reminders (``flask --app wsgi reminders run``, for cron): in-app notifications and outbox
e-mails for the annual-review window opening, required actions due in 30, 7 and 1 days and overdue,
visits within 7 days, and reviews nearing the 90-day certification target.

Idempotent: each reminder is keyed by (kind, object, milestone date) in ``reminders_sent``, so a second
run the same day, or a run the day after a missed one, never sends the same reminder twice. The key
row is inserted in a savepoint first, so two overlapping runs cannot both send it either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import clock
from portal.auth.models import Membership, User
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.notifications.inbox import notify
from portal.profiles.models import SecurityProfile
from portal.reviews.models import Review
from portal.reviews.workflow import ReviewStatus
from portal.validations import annual
from portal.validations.models import Finding, ReminderSent, Validation, ValidationSite, Visit
from portal.validations.permissions import VALIDATABLE
from portal.validations.services import company_users, portal_link
from portal.validations.visits import local_window
from portal.validations.workflow import PARTNER_SEES_REPORT, FindingKind, FindingStatus, VisitStatus

CERTIFICATION_TARGET_DAYS = 90
CERTIFICATION_WARNING_DAYS = 14
VISIT_NOTICE_DAYS = 7
FINDING_THRESHOLDS = ((1, "finding_due_1"), (7, "finding_due_7"), (30, "finding_due_30"))


def _already_sent(kind: str, keys: Iterable[tuple[str, date]]) -> set[tuple[str, date]]:
    """Which of the (object key, milestone date) reminders of one kind were sent before: one query per
    thousand keys, instead of one per reminder."""
    keys = list(keys)
    sent: set[tuple[str, date]] = set()
    for start in range(0, len(keys), 1000):
        chunk = keys[start:start + 1000]
        sent.update((key, on_date) for key, on_date in db_session.execute(
            select(ReminderSent.object_key, ReminderSent.on_date).where(
                ReminderSent.kind == kind, ReminderSent.object_key.in_({key for key, _ in chunk}))))
    return sent & set(keys)


def _claim(kind: str, object_key: str, on_date: date) -> ReminderSent | None:
    """Insert the reminder's key; None when a concurrent run sent it first (the caller has left out the
    reminders sent before, ``_already_sent``)."""
    row = ReminderSent(kind=kind, object_key=object_key, on_date=on_date, sent_at=clock.utcnow())
    try:
        with db_session.begin_nested():
            db_session.add(row)
            db_session.flush()
    except IntegrityError:
        return None
    return row


def _send(kind: str, object_key: str, on_date: date, users: Iterable[User], title: str, body: str, link: str,
          counts: Counter[str]) -> None:
    recipients = {u.id: u for u in users if u.is_active}
    if not recipients:
        return
    row = _claim(kind, object_key, on_date)
    if row is None:
        return
    for user in recipients.values():
        notify(user, title, body, link)
    row.recipients = len(recipients)
    counts[kind] += 1


def _officers() -> Any:
    """Load an account's company, its memberships and their users with the accounts (company_users)."""
    return selectinload(TradeAccount.company).selectinload(Company.memberships).selectinload(Membership.user)


def _annual_windows(today: date, counts: Counter[str]) -> None:
    accounts = db_session.scalars(select(TradeAccount).where(TradeAccount.status.in_(VALIDATABLE))
                                  .options(_officers())).all()
    cycles = annual.current_cycles(accounts, today)
    due = [(account, cycle) for account in accounts if (cycle := cycles.get(account.id)) is not None
           and cycle.is_open(today) and today <= cycle.anniversary_on]
    sent = _already_sent("annual_window", [(f"account:{account.id}", cycle.anniversary_on) for account, cycle in due])
    for account, cycle in due:
        if (f"account:{account.id}", cycle.anniversary_on) in sent:
            continue
        _send("annual_window", f"account:{account.id}", cycle.anniversary_on,
              company_users(account, (CompanyRole.OFFICER,)),
              "Your CTPAT annual profile review is open",
              f"The annual review of the {account.title} security profile is open until the anniversary on "
              f"{cycle.anniversary_on:%B %d, %Y}. Confirm each criterion unchanged or update it, then attest and "
              "submit.", portal_link("validations.annual_review", account_id=account.id), counts)


def _finding_kind(days_left: int) -> str | None:
    if days_left < 0:
        return "finding_overdue"
    for limit, kind in FINDING_THRESHOLDS:
        if days_left <= limit:
            return kind
    return None


def _findings(today: date, counts: Counter[str]) -> None:
    findings = db_session.scalars(
        select(Finding).join(Validation, Validation.id == Finding.validation_id)
        .where(Finding.kind == FindingKind.REQUIRED_ACTION,
               Finding.status.in_([FindingStatus.OPEN, FindingStatus.REJECTED]),
               Finding.due_on.is_not(None), Validation.status.in_(list(PARTNER_SEES_REPORT)))
        .options(selectinload(Finding.validation).selectinload(Validation.account).options(_officers()))).all()
    sent = {kind: _already_sent(kind, [(f"finding:{f.id}", f.due_on) for f in findings if f.due_on is not None])
            for kind in {"finding_overdue", *(kind for _, kind in FINDING_THRESHOLDS)}}
    for finding in findings:
        assert finding.due_on is not None
        days_left = (finding.due_on - today).days
        kind = _finding_kind(days_left)
        if kind is None or (f"finding:{finding.id}", finding.due_on) in sent[kind]:
            continue
        account = finding.validation.account
        when = (f"was due on {finding.due_on:%B %d, %Y}" if days_left < 0
                else f"is due on {finding.due_on:%B %d, %Y} ({days_left} day{'s' if days_left != 1 else ''} left)")
        _send(kind, f"finding:{finding.id}", finding.due_on,
              company_users(account, (CompanyRole.OFFICER, CompanyRole.EMPLOYEE)),
              "A CTPAT required action is overdue" if days_left < 0 else "A CTPAT required action is due soon",
              f"The required action on criterion {finding.criterion_id} of {account.title} {when}. Answer it with "
              "an action plan and evidence.", portal_link("validations.answer_finding", finding_id=finding.id),
              counts)


def _visits(today: date, counts: Counter[str]) -> None:
    now = clock.utcnow()
    visits = db_session.scalars(
        select(Visit).where(Visit.status.in_([VisitStatus.PROPOSED, VisitStatus.COUNTER_PROPOSED,
                                              VisitStatus.CONFIRMED]),
                            Visit.starts_at > now, Visit.starts_at <= now + timedelta(days=VISIT_NOTICE_DAYS + 1))
        .options(selectinload(Visit.site).selectinload(ValidationSite.address),
                 selectinload(Visit.validation).selectinload(Validation.members),
                 selectinload(Visit.validation).selectinload(Validation.lead),
                 selectinload(Visit.validation).selectinload(Validation.account).options(_officers()))
    ).all()
    sent = _already_sent("visit_soon", [(f"visit:{v.id}", v.starts_at.astimezone(UTC).date()) for v in visits])
    for visit in visits:
        start_day = visit.starts_at.astimezone(UTC).date()
        if not 0 <= (start_day - today).days <= VISIT_NOTICE_DAYS or (f"visit:{visit.id}", start_day) in sent:
            continue
        validation = visit.validation
        users = [*validation.team, *company_users(validation.account, (CompanyRole.OFFICER, CompanyRole.EMPLOYEE))]
        _send("visit_soon", f"visit:{visit.id}", start_day, users, "A CTPAT validation visit is coming up",
              f"{visit.name}: {local_window(visit)} ({visit.status.label.lower()}) at {visit.site.address.one_line}.",
              portal_link("validations.show", validation_id=validation.id), counts)


def _certification_targets(today: date, counts: Counter[str]) -> None:
    reviews = db_session.scalars(
        select(Review).where(Review.status != ReviewStatus.DECIDED)
        .options(selectinload(Review.profile).selectinload(SecurityProfile.account)
                 .selectinload(TradeAccount.company),
                 selectinload(Review.reviewer))).all()
    sent = _already_sent("certification_target", [
        (f"review:{r.id}", r.clock_started_at.astimezone(UTC).date() + timedelta(days=CERTIFICATION_TARGET_DAYS))
        for r in reviews])
    supervisors: list[User] | None = None
    for review in reviews:
        account = review.profile.account
        # The clock started when the version was submitted (reviews.services.clock_start), as in the queue.
        target = review.clock_started_at.astimezone(UTC).date() + timedelta(days=CERTIFICATION_TARGET_DAYS)
        days_left = (target - today).days
        if not 0 <= days_left <= CERTIFICATION_WARNING_DAYS or (f"review:{review.id}", target) in sent:
            continue
        if review.reviewer is not None:
            users = [review.reviewer]
        else:
            if supervisors is None:
                supervisors = list(db_session.scalars(select(User).where(
                    User.staff_role.in_([StaffRole.SUPERVISOR]), User.is_active.is_(True))))
            users = supervisors
        _send("certification_target", f"review:{review.id}", target, users,
              "A review is nearing its 90-day certification target",
              f"{account.company.legal_name} ({account.business_type.label}), version {review.version_number}: the "
              f"certification target is {target:%B %d, %Y} ({days_left} day{'s' if days_left != 1 else ''} left).",
              portal_link("reviews.review", review_id=review.id), counts)


JOBS: tuple[Callable[[date, Counter[str]], None], ...] = (_annual_windows, _findings, _visits,
                                                            _certification_targets)


def run(today: date | None = None) -> Counter[str]:
    """Send every reminder due today that was not sent yet; returns how many of each kind. The caller
    commits once."""
    today = today or clock.utcnow().date()
    counts: Counter[str] = Counter()
    for job in JOBS:
        job(today, counts)
    return counts
