"""Reads for the audit viewer: filtered, paginated audit events, newest first.

Two scopes share the filters: the whole trail (CBP supervisors and admins, /audit) and one company's
history as its officer sees it (/companies/<id>/history). The officer sees what the company's own
users did, and of CBP's actions only those the partner is told about anyway (decisions, questions,
findings accepted or rejected): ratings, recommendations and other internal review steps stay
internal until the decision (DESIGN.md §7), and CBP staff appear as "CBP" without their address.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.companies.models import Company
from portal.db import db_session

PER_PAGE = 50
# Dates in the filters are days in the time zone the portal shows times in (portal/templating.py).
FILTER_TZ = ZoneInfo("America/New_York")
# CBP actions a partner's officer sees in the company history.
PARTNER_VISIBLE_STAFF_ACTIONS = ("review.decided", "review.info_requested", "account.status_changed",
                                 "finding.accepted", "finding.rejected")


@dataclass(frozen=True)
class AuditFilters:
    company_id: int | None = None
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query-string arguments (pagination links, the export link)."""
        args = {"company": str(self.company_id) if self.company_id else "", "actor": self.actor,
                "action": self.action, "date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {key: value for key, value in args.items() if value}

    @property
    def active(self) -> bool:
        return bool(self.as_args())


@dataclass(frozen=True)
class EventRow:
    id: int
    occurred_at: datetime
    actor: str
    actor_is_staff: bool
    company_id: int | None
    company_name: str | None
    action: str
    object_type: str | None
    object_id: str | None
    summary: str
    ip_address: str | None


@dataclass(frozen=True)
class EventPage:
    items: Sequence[EventRow]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * self.per_page, self.total)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=FILTER_TZ)


def _filtered(stmt: Select[Any], filters: AuditFilters) -> Select[Any]:
    if filters.company_id:
        stmt = stmt.where(AuditEvent.company_id == filters.company_id)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor_email.contains(filters.actor.strip().lower(), autoescape=True))
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= _start_of(filters.date_from))
    if filters.date_to and filters.date_to < date.max:  # the last day has no "next day" to stop before
        stmt = stmt.where(AuditEvent.occurred_at < _start_of(filters.date_to + timedelta(days=1)))
    return stmt


def _company_scope(company_id: int) -> Any:
    """The events of one company that its officer may see (see the module docstring)."""
    trade_actor = and_(AuditEvent.actor_id.is_not(None),
                       AuditEvent.actor_id.in_(select(User.id).where(User.staff_role.is_(None))))
    return and_(AuditEvent.company_id == company_id,
                or_(trade_actor, AuditEvent.action.in_(PARTNER_VISIBLE_STAFF_ACTIONS)))


def events_page(filters: AuditFilters, page: int, *, company_scope: int | None = None,
                per_page: int = PER_PAGE) -> EventPage:
    """One page of audit events, newest first: a COUNT, then the page with actor and company names.

    ``company_scope`` restricts the events to what that company's officer may see; ``page`` is
    clamped to the existing pages.
    """
    base = select(AuditEvent.id)
    if company_scope is not None:
        base = base.where(_company_scope(company_scope))
    base = _filtered(base, filters)
    total = db_session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    stmt = (
        select(AuditEvent, Company.legal_name, User.staff_role)
        .outerjoin(Company, Company.id == AuditEvent.company_id)
        .outerjoin(User, User.id == AuditEvent.actor_id)
    )
    if company_scope is not None:
        stmt = stmt.where(_company_scope(company_scope))
    stmt = _filtered(stmt, filters).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()) \
        .limit(per_page).offset((page - 1) * per_page)
    items = []
    for event, company_name, staff_role in db_session.execute(stmt):
        staff = staff_role is not None
        if company_scope is not None and staff:
            actor, ip_address = "CBP", None
        else:
            actor = event.actor_email or ("Not signed in or system" if event.actor_id is None else "")
            ip_address = event.ip_address
        items.append(EventRow(id=event.id, occurred_at=event.occurred_at, actor=actor, actor_is_staff=staff,
                              company_id=event.company_id, company_name=company_name, action=event.action,
                              object_type=event.object_type, object_id=event.object_id, summary=event.summary,
                              ip_address=ip_address))
    return EventPage(items=items, total=total, page=page, pages=pages, per_page=per_page)


def distinct_actions(*, company_scope: int | None = None) -> list[str]:
    """The actions present in the trail (or in a company's visible history), for the action filter."""
    stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    if company_scope is not None:
        stmt = stmt.where(_company_scope(company_scope))
    return list(db_session.scalars(stmt))


def company_choices() -> list[tuple[int, str]]:
    """Every company by legal name, for the company filter."""
    return [(row.id, row.legal_name) for row in
            db_session.execute(select(Company.id, Company.legal_name).order_by(Company.legal_name, Company.id))]


def filters_from(data: Mapping[str, Any]) -> AuditFilters:
    """Filters from a validated form's data (invalid values are left out by the caller)."""
    company = data.get("company")
    return AuditFilters(
        company_id=int(company) if company and str(company).isdecimal() and len(str(company)) <= 9 else None,
        actor=(data.get("actor") or "").strip().lower(),
        action=data.get("action") or "",
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
    )
