"""Calendars: the secret, revocable feed token of each reviewer, the visits a feed or a month page
shows, and their conversion to ``ics.VisitEvent``.

Only the SHA-256 of a feed token is stored; the URL is shown once when it is made. Making a new one
revokes the old, so a leaked URL stops working.
"""

from __future__ import annotations

import calendar as pycalendar
import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal import audit, clock
from portal.auth.models import User
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.validations.ics import VisitEvent
from portal.validations.models import CalendarFeedToken, Validation, ValidationSite, Visit, validation_members
from portal.validations.workflow import VisitStatus


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def active_token(user: User) -> CalendarFeedToken | None:
    return db_session.scalar(select(CalendarFeedToken).where(CalendarFeedToken.user_id == user.id,
                                                             CalendarFeedToken.revoked_at.is_(None)))


def revoke_tokens(user: User, *, by: User) -> int:
    """Revoke every active feed token of the user; returns how many."""
    rows = db_session.scalars(select(CalendarFeedToken).where(CalendarFeedToken.user_id == user.id,
                                                              CalendarFeedToken.revoked_at.is_(None))).all()
    for row in rows:
        row.revoked_at = clock.utcnow()
    if rows:
        audit.record("calendar_feed.revoked", actor=by, obj=user, summary=f"{len(rows)} token(s)")
    db_session.flush()
    return len(rows)


def new_token(user: User, *, by: User) -> str:
    """Make a new feed token (revoking the old one) and return it in clear, once."""
    revoke_tokens(user, by=by)
    token = secrets.token_urlsafe(32)
    db_session.add(CalendarFeedToken(user_id=user.id, token_hash=_hash(token), created_at=clock.utcnow()))
    db_session.flush()
    audit.record("calendar_feed.created", actor=by, obj=user)
    return token


def user_for_token(token: str) -> User | None:
    """The active staff user a feed token belongs to, or None (revoked, unknown, deactivated)."""
    if not token or len(token) > 100:
        return None
    row = db_session.scalar(select(CalendarFeedToken).where(CalendarFeedToken.token_hash == _hash(token),
                                                            CalendarFeedToken.revoked_at.is_(None))
                            .options(selectinload(CalendarFeedToken.user)))
    if row is None or not row.user.is_active or not row.user.is_staff:
        return None
    return row.user


def _visit_options() -> list[Any]:
    return [selectinload(Visit.site).selectinload(ValidationSite.address),
            selectinload(Visit.validation).selectinload(Validation.members),
            selectinload(Visit.validation).selectinload(Validation.lead),
            selectinload(Visit.validation).selectinload(Validation.account).selectinload(TradeAccount.company)]


def reviewer_visits(user: User, start: datetime | None = None, end: datetime | None = None,
                    *, include_cancelled: bool = True) -> list[Visit]:
    """Visits of validations the user leads or is a member of, optionally within a window."""
    member_of = select(validation_members.c.validation_id).where(validation_members.c.user_id == user.id)
    query = (select(Visit).join(Validation, Validation.id == Visit.validation_id)
             .where(or_(Validation.lead_id == user.id, Validation.id.in_(member_of)))
             .options(*_visit_options()).order_by(Visit.starts_at))
    if start is not None:
        query = query.where(Visit.ends_at > start)
    if end is not None:
        query = query.where(Visit.starts_at < end)
    if not include_cancelled:
        query = query.where(Visit.status != VisitStatus.CANCELLED)
    return list(db_session.scalars(query))


ICS_STATUS = {VisitStatus.PROPOSED: "TENTATIVE", VisitStatus.COUNTER_PROPOSED: "TENTATIVE",
              VisitStatus.CONFIRMED: "CONFIRMED", VisitStatus.DONE: "CONFIRMED", VisitStatus.CANCELLED: "CANCELLED"}


def visit_event(visit: Visit, url: str | None = None) -> VisitEvent:
    validation = visit.validation
    address = visit.site.address
    team = ", ".join(u.full_name for u in validation.team)
    description = (f"CTPAT {validation.kind.label.lower()} of {validation.account.title} "
                   f"(account {validation.account.account_number}).\n"
                   f"{visit.mode.label} visit, {visit.status.label.lower()}. Local time zone: {visit.timezone}.\n"
                   f"Team: {team}.")
    return VisitEvent(uid=visit.uid, sequence=visit.sequence, summary=f"CTPAT validation visit: {visit.name}",
                      starts_at=visit.starts_at, ends_at=visit.ends_at, location=address.one_line,
                      description=description, status=ICS_STATUS[visit.status], url=url)


def visit_events(visits: Iterable[Visit], url_for_visit: Callable[[Visit], str] | None = None) -> list[VisitEvent]:
    return [visit_event(v, url_for_visit(v) if url_for_visit else None) for v in visits]


# -- month page --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthDay:
    day: date
    in_month: bool
    visits: tuple[Visit, ...]


@dataclass(frozen=True)
class Month:
    first: date
    weeks: list[list[MonthDay]]
    previous: date
    next: date

    @property
    def label(self) -> str:
        return f"{self.first:%B %Y}"


def parse_month(raw: str | None, today: date) -> date:
    """The first day of a 'YYYY-MM' month; anything else is this month."""
    try:
        year, month = (int(part) for part in (raw or "").split("-"))
        return date(year, month, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)


def month_view(user: User, first: date) -> Month:
    """A Monday-first grid of the month with each day's visits (a visit spans every UTC day it covers;
    the page shows local times next to each)."""
    grid = pycalendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    start = datetime.combine(grid[0][0], time.min, tzinfo=UTC)
    end = datetime.combine(grid[-1][-1] + timedelta(days=1), time.min, tzinfo=UTC)
    visits = reviewer_visits(user, start, end, include_cancelled=False)
    weeks = []
    for week in grid:
        row = []
        for day in week:
            day_start = datetime.combine(day, time.min, tzinfo=UTC)
            day_end = day_start + timedelta(days=1)
            on_day = tuple(v for v in visits if v.starts_at < day_end and v.ends_at > day_start)
            row.append(MonthDay(day, day.month == first.month, on_day))
        weeks.append(row)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Month(first, weeks, previous, following)
