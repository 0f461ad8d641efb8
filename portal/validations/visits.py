"""Visit verbs: propose a window (with the conflict, notice and blackout rules of ``scheduling``),
reschedule, the partner's confirmation or counter-proposal, accepting it, marking a visit done or
cancelled, the "suggest" search, and the partner's blackout dates. Services flush and audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal import audit, clock
from portal.auth.models import User
from portal.auth.roles import StaffRole
from portal.companies.models import Company
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.validations import scheduling
from portal.validations.models import Blackout, Validation, ValidationSite, Visit, validation_members
from portal.validations.recognition import visit_refusal
from portal.validations.services import notify_company, notify_team, open_validation, portal_link, record_event
from portal.validations.workflow import ValidationAction, ValidationStatus, VisitStatus, next_validation_status

MAX_VISIT_DAYS = 10
"""A validation uses at most 10 working days of the company's time (ctpat-domain.md §3.6)."""
REASON_MAX = 2_000


@dataclass(frozen=True)
class LocalWindow:
    """A window as typed on the form: local dates and times in ``timezone``."""

    start_day: date
    start_time: time
    end_day: date
    end_time: time
    timezone: str


def to_utc(window: LocalWindow) -> tuple[datetime, datetime]:
    """:raise DomainError: for an unknown zone, a nonexistent local time or an end before the start."""
    try:
        return scheduling.window_to_utc(window.start_day, window.start_time, window.end_day, window.end_time,
                                        window.timezone)
    except scheduling.SchedulingError as error:
        raise DomainError(error.message, field=error.field) from None


def local_window(visit: Visit, starts_at: datetime | None = None, ends_at: datetime | None = None) -> str:
    """A window in the site's zone for messages, e.g. 'Mar 03, 2027 09:00 – Mar 04, 2027 17:00 CST'."""
    zone = scheduling.zone_or_error(visit.timezone)
    start = (starts_at or visit.starts_at).astimezone(zone)
    end = (ends_at or visit.ends_at).astimezone(zone)
    return f"{start:%b %d, %Y %H:%M} – {end:%b %d, %Y %H:%M} {end:%Z} ({visit.timezone})"


def slot_of(visit: Visit) -> scheduling.Slot:
    return scheduling.Slot(visit.starts_at, visit.ends_at, visit.site.address.country, visit.validation.team_ids,
                           visit_id=visit.id, label=visit.name)


def busy_slots(reviewer_ids: frozenset[int], start: datetime, end: datetime) -> list[scheduling.Slot]:
    """Active visits of any of these reviewers that end after ``start`` and begin before ``end``."""
    if not reviewer_ids:
        return []
    member_of = select(validation_members.c.validation_id).where(validation_members.c.user_id.in_(reviewer_ids))
    visits = db_session.scalars(
        select(Visit).join(Validation, Validation.id == Visit.validation_id)
        .where(Visit.status != VisitStatus.CANCELLED, Visit.ends_at > start, Visit.starts_at < end,
               or_(Validation.lead_id.in_(reviewer_ids), Validation.id.in_(member_of)))
        .options(selectinload(Visit.site).selectinload(ValidationSite.address),
                 selectinload(Visit.validation).selectinload(Validation.members))
    ).all()
    return [slot_of(v) for v in visits]


def blackout_periods(company: Company) -> list[scheduling.BlackoutPeriod]:
    rows = db_session.scalars(select(Blackout).where(Blackout.company_id == company.id)).all()
    return [scheduling.BlackoutPeriod(b.starts_on, b.ends_on, b.reason) for b in rows]


def _names(user_ids: Sequence[int]) -> dict[int, str]:
    return {u.id: u.full_name for u in db_session.scalars(select(User).where(User.id.in_(user_ids)))}


def check_window(validation: Validation, site: ValidationSite, starts_at: datetime, ends_at: datetime,
                 zone_name: str, *, visit_id: int | None = None, blackouts: bool = True) -> None:
    """Refuse a window that is too long, a blackout date of the partner, or a team member who is
    already elsewhere (the message names the other visit).

    :raise DomainError: with the first rule broken.
    """
    if ends_at - starts_at > timedelta(days=MAX_VISIT_DAYS):
        raise DomainError(f"A visit lasts at most {MAX_VISIT_DAYS} days.", field="end_date")
    zone = scheduling.zone_or_error(zone_name)
    if blackouts:
        for period in scheduling.blackout_hits(starts_at, ends_at, zone,
                                               blackout_periods(validation.account.company)):
            raise DomainError(f"The partner cannot host visits from {period.starts_on:%B %d, %Y} to "
                              f"{period.ends_on:%B %d, %Y} ({period.reason}). Choose other dates.",
                              field="start_date")
    candidate = scheduling.Slot(starts_at, ends_at, site.address.country, validation.team_ids, visit_id=visit_id)
    margin = scheduling.TRAVEL_BUFFER
    conflicts = scheduling.find_conflicts(candidate, busy_slots(validation.team_ids, starts_at - margin,
                                                                ends_at + margin))
    if conflicts:
        names = _names([c.reviewer_id for c in conflicts])
        first = conflicts[0]
        other = db_session.get(Visit, first.other.visit_id)
        window = local_window(other) if other else ""
        if first.kind == "overlap":
            message = (f"{names.get(first.reviewer_id, 'A team member')} is already on the visit "
                       f"“{first.other.label}” ({window}) at that time.")
        else:
            message = (f"{names.get(first.reviewer_id, 'A team member')} needs a day to travel between countries "
                       f"after or before the visit “{first.other.label}” ({window}).")
        raise DomainError(message, field="start_date")


def _notice(starts_at: datetime, override_reason: str, by: User) -> str:
    """The override reason kept when the notice is short, '' otherwise.

    :raise DomainError: for a start in the past, or short notice without a supervisor's reason.
    """
    now = clock.utcnow()
    if starts_at <= now:
        raise DomainError("The visit must start in the future.", field="start_date")
    if not scheduling.notice_is_short(starts_at, now):
        return ""
    days = (starts_at - now).days
    reason = override_reason.strip()
    if by.staff_role not in {StaffRole.SUPERVISOR, StaffRole.ADMIN}:
        raise DomainError(f"This gives the partner only {days} days' notice; at least 30 days are required. "
                          "Only a supervisor can override the notice rule.", field="start_date")
    if not reason:
        raise DomainError(f"This gives the partner only {days} days' notice; give the reason for overriding "
                          "the 30-day notice rule.", field="override_reason")
    return reason[:REASON_MAX]


def _site_for(validation: Validation, site: ValidationSite) -> None:
    if site.validation_id != validation.id:
        raise DomainError("Choose one of this validation's sites.", field="site_id")
    if site.mra_covered:  # no CBP visit where the foreign program's validation is relied on
        raise DomainError(visit_refusal(site), field="site_id")
    if site.no_go:
        raise DomainError("This site is a no-go zone and is not visited.", field="site_id")


def schedule_visit(validation: Validation, site: ValidationSite, window: LocalWindow, *, by: User,
                   override_reason: str = "") -> Visit:
    """Propose a visit to the partner.

    :raise DomainError: for a bad window, short notice without a supervisor's override, a blackout
        date, or a conflict of a team member (naming the other visit).
    """
    open_validation(validation)
    _site_for(validation, site)
    starts_at, ends_at = to_utc(window)
    override = _notice(starts_at, override_reason, by)
    check_window(validation, site, starts_at, ends_at, window.timezone)
    now = clock.utcnow()
    visit = Visit(validation_id=validation.id, site_id=site.id, starts_at=starts_at, ends_at=ends_at,
                  timezone=window.timezone.strip(), mode=site.mode, status=VisitStatus.PROPOSED, sequence=0,
                  notice_override_reason=override, notice_override_by_id=by.id if override else None,
                  created_at=now, updated_at=now)
    visit.site = site
    visit.validation = validation
    db_session.add(visit)
    db_session.flush()
    if validation.status == ValidationStatus.PLANNED:
        validation.status = next_validation_status(validation.status, ValidationAction.SCHEDULE)
    record_event(validation, "visit_proposed", by=by, note=f"{visit.name}: {local_window(visit)}"
                 + (f"; short notice overridden: {override}" if override else ""))
    notify_company(validation.account, "CBP proposes a validation visit",
                   f"CBP proposes to visit {site.address.one_line} on {local_window(visit)}. "
                   "Confirm the window or propose another one in the portal.",
                   portal_link("validations.respond_visit", visit_id=visit.id))
    return visit


def _expect(visit: Visit, expected_version: int | None, mine: str) -> None:
    if expected_version is not None and expected_version != visit.version:
        raise StaleEdit("Someone else changed this visit after you opened it.", mine=mine,
                        theirs=f"{local_window(visit)}, {visit.status.label.lower()}")


def reschedule_visit(visit: Visit, window: LocalWindow, *, by: User, expected_version: int | None,
                     override_reason: str = "") -> None:
    """Move a visit to another window; the partner confirms it again.

    :raise StaleEdit: when the visit changed since the form was loaded.
    :raise DomainError: as for ``schedule_visit``.
    """
    validation = visit.validation
    open_validation(validation)
    if visit.status in {VisitStatus.DONE, VisitStatus.CANCELLED}:
        raise DomainError(f"A visit that is {visit.status.label.lower()} cannot be rescheduled.")
    starts_at, ends_at = to_utc(window)
    _expect(visit, expected_version, f"{window.start_day} {window.start_time:%H:%M} – {window.end_day} "
                                     f"{window.end_time:%H:%M} ({window.timezone})")
    override = _notice(starts_at, override_reason, by)
    check_window(validation, visit.site, starts_at, ends_at, window.timezone, visit_id=visit.id)
    visit.starts_at, visit.ends_at, visit.timezone = starts_at, ends_at, window.timezone.strip()
    visit.status = VisitStatus.PROPOSED
    visit.sequence += 1
    visit.notice_override_reason = override
    visit.notice_override_by_id = by.id if override else None
    visit.proposed_starts_at = visit.proposed_ends_at = None
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(validation, "visit_rescheduled", by=by, note=f"{visit.name}: {local_window(visit)}")
    notify_company(validation.account, "CBP rescheduled a validation visit",
                   f"The visit to {visit.site.address.one_line} is now proposed for {local_window(visit)}.",
                   portal_link("validations.respond_visit", visit_id=visit.id))


def confirm_visit(visit: Visit, *, by: User, expected_version: int | None = None) -> None:
    """The partner confirms the proposed window."""
    if visit.status not in {VisitStatus.PROPOSED, VisitStatus.CONFIRMED}:
        raise DomainError("This visit is not waiting for your confirmation.")
    _expect(visit, expected_version, "Confirm")
    visit.status = VisitStatus.CONFIRMED
    visit.responded_at, visit.responded_by_id = clock.utcnow(), by.id
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(visit.validation, "visit_confirmed", by=by, note=f"{visit.name}: {local_window(visit)}")
    notify_team(visit.validation, "The partner confirmed a visit", f"{visit.name}: {local_window(visit)}",
                portal_link("validations.show", validation_id=visit.validation_id))


def propose_other_window(visit: Visit, window: LocalWindow, reason: str, *, by: User,
                         expected_version: int | None = None) -> None:
    """The partner asks for another window, with a reason; the team accepts or reschedules.

    :raise DomainError: without a reason, or for a window that is not a valid future window.
    """
    if visit.status not in {VisitStatus.PROPOSED, VisitStatus.CONFIRMED}:
        raise DomainError("This visit is not waiting for your answer.")
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why the proposed window does not suit you.", field="reason")
    if len(reason) > REASON_MAX:
        raise DomainError(f"The reason is longer than {REASON_MAX:,} characters.", field="reason")
    # The partner answers in the site's zone: the one CBP proposed in.
    starts_at, ends_at = to_utc(LocalWindow(window.start_day, window.start_time, window.end_day, window.end_time,
                                            visit.timezone))
    if starts_at <= clock.utcnow():
        raise DomainError("Propose a window in the future.", field="start_date")
    if ends_at - starts_at > timedelta(days=MAX_VISIT_DAYS):
        raise DomainError(f"A visit lasts at most {MAX_VISIT_DAYS} days.", field="end_date")
    _expect(visit, expected_version, f"{window.start_day} – {window.end_day}: {reason}")
    visit.status = VisitStatus.COUNTER_PROPOSED
    visit.proposed_starts_at, visit.proposed_ends_at, visit.proposal_reason = starts_at, ends_at, reason
    visit.responded_at, visit.responded_by_id = clock.utcnow(), by.id
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(visit.validation, "visit_counter_proposed", by=by,
                 note=f"{visit.name}: {local_window(visit, starts_at, ends_at)}. Reason: {reason}")
    notify_team(visit.validation, "The partner proposed another visit window",
                f"{visit.name}: {local_window(visit, starts_at, ends_at)}. Reason: {reason}",
                portal_link("validations.show", validation_id=visit.validation_id))


def accept_proposal(visit: Visit, *, by: User, expected_version: int | None = None) -> None:
    """The team accepts the partner's window; it is checked for conflicts like any other.

    The notice rule and blackouts do not apply: the partner chose these dates itself.
    """
    if visit.status != VisitStatus.COUNTER_PROPOSED or visit.proposed_starts_at is None \
            or visit.proposed_ends_at is None:
        raise DomainError("There is no window proposed by the partner to accept.")
    _expect(visit, expected_version, "Accept the partner's window")
    check_window(visit.validation, visit.site, visit.proposed_starts_at, visit.proposed_ends_at, visit.timezone,
                 visit_id=visit.id, blackouts=False)
    visit.starts_at, visit.ends_at = visit.proposed_starts_at, visit.proposed_ends_at
    visit.proposed_starts_at = visit.proposed_ends_at = None
    visit.status = VisitStatus.CONFIRMED
    visit.sequence += 1
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(visit.validation, "visit_confirmed", by=by, note=f"{visit.name}: partner's window accepted, "
                                                                  f"{local_window(visit)}")
    notify_company(visit.validation.account, "CBP accepted your visit window",
                   f"The visit to {visit.site.address.one_line} is confirmed for {local_window(visit)}.",
                   portal_link("validations.respond_visit", visit_id=visit.id))


def mark_done(visit: Visit, *, by: User) -> None:
    """Record that a visit took place; when every visit is done the validation moves on."""
    validation = visit.validation
    if visit.status not in {VisitStatus.CONFIRMED, VisitStatus.PROPOSED}:
        raise DomainError("Only a scheduled visit can be marked done.")
    if visit.starts_at > clock.utcnow():
        raise DomainError("A visit can be marked done once it has started.")
    visit.status = VisitStatus.DONE
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(validation, "visit_done", by=by, note=visit.name)
    active = [v for v in validation.visits if v.status.active]
    if validation.status == ValidationStatus.SCHEDULED and all(v.status == VisitStatus.DONE for v in active):
        validation.status = next_validation_status(validation.status, ValidationAction.FINISH_VISITS)
        record_event(validation, "visits_done", by=by)


def cancel_visit(visit: Visit, reason: str, *, by: User) -> None:
    """Cancel a visit that has not taken place; calendars show it cancelled."""
    if visit.status in {VisitStatus.DONE, VisitStatus.CANCELLED}:
        raise DomainError(f"A visit that is {visit.status.label.lower()} cannot be cancelled.")
    reason = reason.strip()
    if not reason:
        raise DomainError("Give the reason for cancelling.", field="reason")
    visit.status = VisitStatus.CANCELLED
    visit.sequence += 1
    visit.updated_at = clock.utcnow()
    db_session.flush()
    record_event(visit.validation, "visit_cancelled", by=by, note=f"{visit.name}: {reason[:REASON_MAX]}")
    notify_company(visit.validation.account, "CBP cancelled a validation visit",
                   f"The visit to {visit.site.address.one_line} on {local_window(visit)} is cancelled: {reason}",
                   portal_link("validations.respond_visit", visit_id=visit.id))


def suggest(validation: Validation, site: ValidationSite, from_day: date, to_day: date, days: int,
            zone_name: str) -> scheduling.Suggestion | None:
    """The earliest window in the range that fits the whole team, the notice rule and blackouts.

    :raise DomainError: for a no-go site, an unknown zone or a bad range.
    """
    _site_for(validation, site)
    try:
        zone = scheduling.zone_or_error(zone_name)
        start = datetime.combine(from_day, time.min, tzinfo=zone) - scheduling.TRAVEL_BUFFER
        end = datetime.combine(to_day, time.max, tzinfo=zone) + scheduling.TRAVEL_BUFFER
        return scheduling.suggest_window(
            from_day=from_day, to_day=to_day, days=days, zone_name=zone_name, country=site.address.country,
            reviewer_ids=validation.team_ids, busy=busy_slots(validation.team_ids, start, end),
            blackouts=blackout_periods(validation.account.company), now=clock.utcnow())
    except scheduling.SchedulingError as error:
        raise DomainError(error.message, field=error.field) from None


# -- blackouts ---------------------------------------------------------------------------------------


def add_blackout(company: Company, starts_on: date, ends_on: date, reason: str, *, by: User) -> Blackout:
    """:raise DomainError: for an end before the start, a past period or no reason."""
    reason = reason.strip()
    if ends_on < starts_on:
        raise DomainError("The last day must not be before the first.", field="ends_on")
    if ends_on < clock.utcnow().date():
        raise DomainError("The period is already over.", field="ends_on")
    if not reason:
        raise DomainError("Say why visits are not possible then.", field="reason")
    row = Blackout(company_id=company.id, starts_on=starts_on, ends_on=ends_on, reason=reason[:200],
                   created_by_id=by.id)
    db_session.add(row)
    db_session.flush()
    audit.record("blackout.added", actor=by, company_id=company.id, obj=row,
                 summary=f"{starts_on} – {ends_on}: {reason[:200]}")
    return row


def remove_blackout(row: Blackout, *, by: User) -> None:
    audit.record("blackout.removed", actor=by, company_id=row.company_id, obj=row,
                 summary=f"{row.starts_on} – {row.ends_on}")
    db_session.delete(row)
    db_session.flush()
