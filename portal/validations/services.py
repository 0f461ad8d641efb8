"""Validation planning verbs: open a validation for a certified account, choose its team and sites
(with no-go zones), keep the timeline, and tell people. Services flush and audit; views commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit, clock
from portal.auth.models import User
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.models import Address, TradeAccount
from portal.companies.workflow import AddressKind
from portal.db import db_session
from portal.errors import DomainError
from portal.notifications.inbox import notify
from portal.validations.models import Validation, ValidationEvent, ValidationSite
from portal.validations.permissions import VALIDATABLE
from portal.validations.workflow import (
    PLANNING_OPEN,
    NoGoReason,
    SiteMode,
    ValidationKind,
    ValidationStatus,
)

SITE_KINDS = (AddressKind.HEADQUARTERS, AddressKind.FACILITY, AddressKind.FOREIGN_SITE)
NOTE_MAX = 2_000
FIRST_VALIDATION_YEARS = 1
REVALIDATION_YEARS = 4


def add_years(day: date, years: int) -> date:
    """The same calendar date ``years`` later (28 February for a 29 February start)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def validation_due(account: TradeAccount) -> date | None:
    """When the account's next validation is due: within 1 year of certification, then at least
    every 4 years after the last validation (6 U.S.C. 965, 969)."""
    if account.next_validation_due is not None:
        return account.next_validation_due
    if account.last_validated_on is not None:
        return add_years(account.last_validated_on, REVALIDATION_YEARS)
    if account.certified_on is not None:
        return add_years(account.certified_on, FIRST_VALIDATION_YEARS)
    return None


# -- links and messages ------------------------------------------------------------------------------


def portal_link(endpoint: str, **values: object) -> str:
    """An absolute link for notifications and e-mail, also outside a request (the reminders CLI)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config.get("BASE_URL", "http://localhost"))
    adapter = current_app.url_map.bind(base.netloc or "localhost", script_name=base.path or "/",
                                       url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def company_users(account: TradeAccount, roles: Iterable[CompanyRole] = (CompanyRole.OFFICER,)) -> list[User]:
    wanted = set(roles)
    return [m.user for m in account.company.memberships if m.role in wanted and m.user.is_active]


def notify_company(account: TradeAccount, title: str, body: str, link: str,
                   roles: Iterable[CompanyRole] = (CompanyRole.OFFICER, CompanyRole.EMPLOYEE)) -> None:
    for user in company_users(account, roles):
        notify(user, title, body, link)


def notify_team(validation: Validation, title: str, body: str, link: str, *, skip: User | None = None) -> None:
    for user in validation.team:
        if skip is None or user.id != skip.id:
            notify(user, title, body, link, email=False)


# -- the timeline ------------------------------------------------------------------------------------

EVENT_LABELS = {
    "initiated": "Validation initiated",
    "team_changed": "Team changed",
    "site_mra_covered": "Site covered by a foreign validation under an MRA",
    "site_mra_coverage_withdrawn": "MRA coverage withdrawn: a CBP visit may be planned",
    "mr_record_added": "MR record added",
    "mr_record_removed": "MR record removed",
    "visit_proposed": "Visit proposed",
    "visit_rescheduled": "Visit rescheduled",
    "visit_confirmed": "Visit confirmed by the partner",
    "visit_counter_proposed": "Partner proposed another window",
    "visit_done": "Visit done",
    "visit_cancelled": "Visit cancelled",
    "visits_done": "All visits done",
    "report_drafted": "Report drafted",
    "report_submitted": "Report submitted to the supervisor",
    "report_returned": "Report returned by the supervisor",
    "report_approved": "Report approved",
    "sent": "Report sent to the partner",
    "response_submitted": "Response submitted",
    "response_returned": "Response returned to the partner",
    "response_accepted": "Response accepted",
    "checks_imported": "On-site verification imported from the visit workbook",
    "best_practice_recognised": "Best practice recognised",
    "best_practice_reviewed": "Best practice reviewed (not all five requirements met)",
    "closed": "Validation closed",
}


def record_event(validation: Validation, kind: str, *, by: User | None, note: str = "") -> ValidationEvent:
    """Append a timeline entry (and keep the same words in the audit trail)."""
    event = ValidationEvent(validation_id=validation.id, kind=kind, occurred_at=clock.utcnow(),
                            actor_id=getattr(by, "id", None), note=note[:NOTE_MAX])
    validation.events.append(event)
    audit.record(f"validation.{kind}", actor=by, company_id=validation.account.company_id, obj=validation,
                 summary=note[:500])
    return event


# -- planning ----------------------------------------------------------------------------------------


def open_validation(validation: Validation | None) -> None:
    """:raise DomainError: when the validation is closed or past planning."""
    if validation is None or validation.status not in PLANNING_OPEN:
        raise DomainError("Sites, team and visits can only be changed until the report is drafted.")


def current_validation(account: TradeAccount) -> Validation | None:
    """The account's validation that is not closed yet, if any."""
    return db_session.scalar(select(Validation).where(Validation.account_id == account.id,
                                                      Validation.status != ValidationStatus.CLOSED)
                             .order_by(Validation.id.desc()).limit(1))


def _check_reviewer(user: User, field: str) -> None:
    if not user.is_active or user.staff_role not in {StaffRole.REVIEWER, StaffRole.SUPERVISOR}:
        raise DomainError("The team is made of CBP reviewers and supervisors.", field=field)


def create_validation(account: TradeAccount, lead: User, *, by: User, due_on: date | None = None) -> Validation:
    """Open the account's next validation: initial when it was never validated, else a revalidation.

    :raise DomainError: when the account is not certified, already has an open validation, or the
        lead is not a reviewer.
    """
    if account.status not in VALIDATABLE:
        raise DomainError(f"Only certified accounts are validated; this one is {account.status.label.lower()}.")
    if current_validation(account) is not None:
        raise DomainError("This account already has a validation in progress.")
    _check_reviewer(lead, "lead_id")
    due = due_on or validation_due(account) or add_years(clock.utcnow().date(), FIRST_VALIDATION_YEARS)
    kind = ValidationKind.INITIAL if account.last_validated_on is None else ValidationKind.REVALIDATION
    validation = Validation(account_id=account.id, kind=kind, status=ValidationStatus.PLANNED, due_on=due,
                            lead_id=lead.id, initiated_at=clock.utcnow(), initiated_by_id=by.id)
    validation.account = account
    validation.lead = lead
    db_session.add(validation)
    db_session.flush()
    record_event(validation, "initiated", by=by, note=f"{kind.label}, due {due:%B %d, %Y}; lead {lead.full_name}")
    return validation


def set_team(validation: Validation, lead: User, members: Iterable[User], *, by: User) -> None:
    """Choose the lead reviewer and the other members.

    :raise DomainError: when someone is not CBP review staff or the validation is closed.
    """
    if validation.status == ValidationStatus.CLOSED:
        raise DomainError("A closed validation keeps its team.")
    _check_reviewer(lead, "lead_id")
    chosen = {m.id: m for m in members if m.id != lead.id}
    for member in chosen.values():
        _check_reviewer(member, "member_ids")
    validation.lead_id = lead.id
    validation.lead = lead
    validation.members = sorted(chosen.values(), key=lambda u: u.full_name)
    db_session.flush()
    record_event(validation, "team_changed", by=by,
                 note=", ".join([f"{lead.full_name} (lead)", *[m.full_name for m in validation.members]]))


def offered_addresses(account: TradeAccount) -> list[Address]:
    """The company's addresses a team may visit: headquarters, facilities and foreign sites."""
    return [a for a in account.company.addresses if a.kind in SITE_KINDS]


def unplanned_addresses(validation: Validation) -> list[Address]:
    """The company's sites not yet in the validation's plan: what "Add a site" offers."""
    planned = {site.address_id for site in validation.sites}
    return [a for a in offered_addresses(validation.account) if a.id not in planned]


def _site_label(address: Address) -> str:
    return f"{address.name or address.kind.label} ({address.one_line})"


def add_site(validation: Validation, address: Address, mode: SiteMode, *, by: User, no_go: bool = False,
             no_go_reason: NoGoReason | None = None, no_go_note: str = "") -> ValidationSite:
    """Add one of the company's addresses as a site.

    A no-go zone for the reason "validated under an MRA" is marked through
    ``recognition.mark_covered``, which requires a recognised foreign certification of the account.

    :raise DomainError: for an address of another company, a site already in the plan, a no-go zone
        without a reason, or a reason or note given without ticking the no-go zone. (With the MRA reason,
        ``mark_covered`` converts a planned site and refuses one already marked covered.)
    """
    open_validation(validation)
    if no_go and no_go_reason == NoGoReason.MRA_VALIDATED:
        from portal.validations import recognition  # it builds on this module

        return recognition.mark_covered(validation, address, by=by, note=no_go_note)
    if address.company_id != validation.account.company_id or address.kind not in SITE_KINDS:
        raise DomainError("Choose one of the company's facilities.", field="address_id")
    if any(site.address_id == address.id for site in validation.sites):
        raise DomainError(f"{_site_label(address)} is already part of the validation's visit plan.",
                          field="address_id")
    no_go_note = no_go_note.strip()
    if not no_go and (no_go_reason is not None or no_go_note):
        # A reason without the box ticked is a half-made choice: say so rather than drop it silently.
        raise DomainError("Tick \"No-go zone\" for a site that is not visited, or clear the reason and note.",
                          field="no_go")
    if no_go:
        if no_go_reason is None:
            raise DomainError("Give the reason the site is a no-go zone.", field="no_go_reason")
        if no_go_reason == NoGoReason.OTHER and not no_go_note:
            raise DomainError("Describe the other reason.", field="no_go_note")
    if len(no_go_note) > NOTE_MAX:
        raise DomainError(f"The note is longer than {NOTE_MAX:,} characters.", field="no_go_note")
    site = ValidationSite(validation_id=validation.id, address_id=address.id, mode=mode, no_go=no_go,
                          no_go_reason=no_go_reason if no_go else None, no_go_note=no_go_note if no_go else "")
    site.address = address
    validation.sites.append(site)
    try:
        db_session.flush()
    except IntegrityError:  # someone else added the same site in between (the plan's unique constraint)
        raise DomainError(f"{_site_label(address)} was added to the validation's visit plan by someone else "
                          "at the same time; it is already part of the plan.", field="address_id") from None
    how = f"no-go: {no_go_reason.label}" if no_go and no_go_reason else mode.label
    audit.record("validation.site_added", actor=by, company_id=validation.account.company_id, obj=site,
                 summary=f"{address.one_line} ({how})")
    return site


def remove_site(site: ValidationSite, *, by: User) -> None:
    """Remove a site that has no visit.

    :raise DomainError: when a visit to it exists (cancel the visit instead).
    """
    validation = site.validation
    open_validation(validation)
    if any(v.site_id == site.id for v in validation.visits):
        raise DomainError("This site has visits; cancel them instead of removing the site.")
    audit.record("validation.site_removed", actor=by, company_id=validation.account.company_id, obj=site,
                 summary=site.address.one_line)
    validation.sites.remove(site)
    db_session.delete(site)
    db_session.flush()


def default_finding_due(today: date | None = None) -> date:
    """A required action's default deadline: VALIDATION_FINDING_DUE_DAYS (90) days from today."""
    days = int(current_app.config.get("VALIDATION_FINDING_DUE_DAYS", 90))
    return (today or clock.utcnow().date()) + timedelta(days=days)
