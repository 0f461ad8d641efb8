"""Company verbs: create and edit the company profile, its addresses, and its users (memberships
and invitations). Services flush and audit; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from portal import audit
from portal.auth.models import Invitation, Membership, User, new_token
from portal.auth.roles import CompanyRole
from portal.auth.services import hash_token, normalize_email
from portal.clock import utcnow
from portal.companies.countries import is_country
from portal.companies.models import Address, Company
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session
from portal.errors import DomainError
from portal.notifications.mail import queue_email


@dataclass(frozen=True)
class CompanyData:
    """The company-profile fields of the application."""

    legal_name: str
    ownership_type: OwnershipType
    phone: str
    dba: str | None = None
    business_start_date: date | None = None
    website: str | None = None
    employee_count: int | None = None
    history: str | None = None


@dataclass(frozen=True)
class AddressData:
    """One address; ``visitable`` marks facilities that validation teams may visit."""

    kind: AddressKind
    line1: str
    city: str
    country: str
    name: str | None = None
    line2: str | None = None
    region: str | None = None
    postal_code: str | None = None
    timezone: str | None = None
    visitable: bool = False


def _check_company(data: CompanyData) -> None:
    if data.business_start_date and data.business_start_date > utcnow().date():
        raise DomainError("The business start date cannot be in the future.", field="business_start_date")


def create_company(data: CompanyData, headquarters: AddressData, *, by: User) -> Company:
    """Create a company with its headquarters; the creator becomes its company officer.

    :raise DomainError: on a future start date or an unknown country.
    """
    _check_company(data)
    company = Company(**data.__dict__)
    db_session.add(company)
    db_session.flush()
    add_address(company, headquarters, by=by, audit_it=False)
    db_session.add(Membership(user_id=by.id, company_id=company.id, role=CompanyRole.OFFICER))
    db_session.flush()
    audit.record("company.created", actor=by, company_id=company.id, obj=company, summary=data.legal_name)
    return company


def update_company(company: Company, data: CompanyData, *, by: User) -> None:
    """Change the company profile, auditing which fields changed."""
    _check_company(data)
    changed = [name for name, value in data.__dict__.items() if getattr(company, name) != value]
    for name in changed:
        setattr(company, name, getattr(data, name))
    if changed:
        audit.record("company.updated", actor=by, company_id=company.id, obj=company,
                     summary="Changed " + ", ".join(changed))


def _check_address(data: AddressData) -> None:
    if not is_country(data.country):
        raise DomainError("Choose a country from the list.", field="country")
    if data.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DomainError("Choose a time zone from the list.", field="timezone") from None


def add_address(company: Company, data: AddressData, *, by: User, audit_it: bool = True) -> Address:
    """Add an address; only one headquarters per company.

    :raise DomainError: on an unknown country or time zone, or a second headquarters.
    """
    _check_address(data)
    if data.kind == AddressKind.HEADQUARTERS and company.headquarters is not None:
        raise DomainError("The company already has a headquarters address; edit that one instead.", field="kind")
    address = Address(company_id=company.id, **data.__dict__)
    db_session.add(address)
    company.addresses.append(address)
    db_session.flush()
    if audit_it:
        audit.record("address.added", actor=by, company_id=company.id, obj=address, summary=address.one_line)
    return address


def update_address(address: Address, data: AddressData, *, by: User) -> None:
    """Change an address.

    :raise DomainError: on an unknown country or time zone, or a second headquarters.
    """
    _check_address(data)
    if address.kind == AddressKind.HEADQUARTERS and data.kind != AddressKind.HEADQUARTERS:
        raise DomainError("The headquarters address cannot become another kind of address; edit it in place.",
                          field="kind")
    if data.kind == AddressKind.HEADQUARTERS and address.kind != AddressKind.HEADQUARTERS \
            and address.company.headquarters is not None:
        raise DomainError("The company already has a headquarters address.", field="kind")
    for name, value in data.__dict__.items():
        setattr(address, name, value)
    audit.record("address.updated", actor=by, company_id=address.company_id, obj=address, summary=address.one_line)


def delete_address(address: Address, *, by: User) -> None:
    """Remove an address; the headquarters cannot be removed.

    :raise DomainError: for the headquarters.
    """
    if address.kind == AddressKind.HEADQUARTERS:
        raise DomainError("The headquarters address cannot be removed; edit it instead.")
    audit.record("address.removed", actor=by, company_id=address.company_id, obj=address, summary=address.one_line)
    address.company.addresses.remove(address)
    db_session.delete(address)


def _officer_count(company_id: int) -> int:
    return db_session.scalar(
        select(func.count()).select_from(Membership)
        .where(Membership.company_id == company_id, Membership.role == CompanyRole.OFFICER)
    ) or 0


def invite_member(company: Company, email: str, role: CompanyRole, *, by: User, accept_url_for: Any) -> Invitation:
    """Invite an e-mail address to the company with a role; the link expires.

    :raise DomainError: when the person is already a member or already has a pending invitation.
    """
    email = normalize_email(email)
    existing_user = db_session.scalar(select(User).where(User.email == email))
    if existing_user is not None and existing_user.is_staff:
        raise DomainError("CBP staff accounts cannot join a company.", field="email")
    if existing_user is not None and existing_user.membership_for(company.id) is not None:
        raise DomainError("This person is already a user of the company.", field="email")
    pending = db_session.scalars(
        select(Invitation).where(Invitation.company_id == company.id, Invitation.email == email)
    ).all()
    if any(invitation.is_pending for invitation in pending):
        raise DomainError("An invitation to this address is already pending.", field="email")
    token = new_token()
    invitation = Invitation(
        company_id=company.id, email=email, role=role, token_hash=hash_token(token), invited_by_id=by.id,
        expires_at=utcnow() + current_app.config["INVITATION_TTL"],
    )
    db_session.add(invitation)
    db_session.flush()
    days = current_app.config["INVITATION_TTL"].days
    queue_email(
        email,
        f"You are invited to {company.legal_name} on the CTPAT Portal",
        f"{by.full_name} invited you to join {company.legal_name} on the CTPAT Portal as {role.label.lower()}.\n\n"
        f"Open this link within {days} days to accept:\n\n{accept_url_for(token)}\n",
    )
    audit.record("member.invited", actor=by, company_id=company.id, obj=invitation,
                 summary=f"{email} as {role.value}")
    return invitation


def find_invitation(token: str) -> Invitation | None:
    """The pending invitation for a token, or None if unknown, used, revoked or expired."""
    invitation = db_session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    return invitation if invitation is not None and invitation.is_pending else None


def accept_invitation(token: str, user: User) -> Membership:
    """Join the company of an invitation; the signed-in user's e-mail must be the invited one.

    :raise DomainError: when the link is invalid or meant for another address.
    """
    invitation = find_invitation(token)
    if invitation is None:
        raise DomainError("This invitation is invalid, was revoked or has expired. Ask the company officer "
                          "for a new one.")
    if invitation.email != user.email:
        raise DomainError(f"This invitation was sent to {invitation.email}. Sign in with that address to accept it.")
    if user.is_staff:
        raise DomainError("CBP staff accounts cannot join a company.")
    invitation.accepted_at = utcnow()
    membership = user.membership_for(invitation.company_id)
    if membership is None:
        membership = Membership(user_id=user.id, company_id=invitation.company_id, role=invitation.role)
        db_session.add(membership)
        user.memberships.append(membership)
    db_session.flush()
    audit.record("member.joined", actor=user, company_id=invitation.company_id, obj=membership,
                 summary=f"{user.email} as {invitation.role.value}")
    return membership


def revoke_invitation(invitation: Invitation, *, by: User) -> None:
    """Withdraw a pending invitation."""
    if not invitation.is_pending:
        raise DomainError("This invitation is no longer pending.")
    invitation.revoked_at = utcnow()
    audit.record("member.invitation_revoked", actor=by, company_id=invitation.company_id, obj=invitation,
                 summary=invitation.email)


def change_member_role(membership: Membership, role: CompanyRole, *, by: User) -> None:
    """Set a member's role; a company always keeps at least one officer.

    :raise DomainError: when the last officer would be demoted.
    """
    if membership.role == role:
        return
    if membership.role == CompanyRole.OFFICER and _officer_count(membership.company_id) <= 1:
        raise DomainError("A company needs at least one company officer. Make someone else officer first.")
    old = membership.role
    membership.role = role
    audit.record("member.role_changed", actor=by, company_id=membership.company_id, obj=membership,
                 summary=f"{membership.user.email}: {old.value} -> {role.value}")


def remove_member(membership: Membership, *, by: User) -> None:
    """Remove a user from the company; the last officer cannot be removed.

    :raise DomainError: for the last officer.
    """
    if membership.role == CompanyRole.OFFICER and _officer_count(membership.company_id) <= 1:
        raise DomainError("The last company officer cannot be removed.")
    audit.record("member.removed", actor=by, company_id=membership.company_id, obj=membership,
                 summary=membership.user.email)
    membership.user.memberships.remove(membership)
    db_session.delete(membership)
