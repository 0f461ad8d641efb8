"""Plain factory functions that build what a test needs; each flushes and returns the object."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from portal.auth.models import Membership, User
from portal.auth.passwords import hash_password
from portal.auth.roles import CompanyRole, StaffRole
from portal.clock import utcnow
from portal.companies import applications, eligibility, services
from portal.companies.business_types import BusinessType
from portal.companies.identifiers import IdentifierKind
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session

PASSWORD = "correct-horse-battery-9"
_seq = itertools.count(1)


def user(email: str | None = None, *, name: str | None = None, staff_role: StaffRole | None = None,
         password: str = PASSWORD) -> User:
    n = next(_seq)
    row = User(email=(email or f"user{n}@example.com").lower(), full_name=name or f"User Number {n}",
               password_hash=hash_password(password), staff_role=staff_role, password_changed_at=utcnow())
    db_session.add(row)
    db_session.flush()
    return row


def company(officer: User, *, name: str | None = None, country: str = "US") -> Company:
    n = next(_seq)
    return services.create_company(
        services.CompanyData(legal_name=name or f"Company {n} Inc.", ownership_type=OwnershipType.CORPORATION,
                             phone="+1 202 555 0100", business_start_date=date(2001, 1, 1)),
        services.AddressData(kind=AddressKind.HEADQUARTERS, line1=f"{n} Main St", city="Washington",
                             region="DC", postal_code="20001", country=country),
        by=officer,
    )


def member(company_: Company, user_: User, role: CompanyRole) -> Membership:
    row = Membership(user_id=user_.id, company_id=company_.id, role=role)
    db_session.add(row)
    user_.memberships.append(row)
    db_session.flush()
    return row


DEFAULT_IDENTIFIERS: dict[BusinessType, list[tuple[IdentifierKind, str]]] = {
    BusinessType.IMPORTER: [(IdentifierKind.IOR, "36-4812345"), (IdentifierKind.BOND, "987654321")],
    BusinessType.FOREIGN_MANUFACTURER: [(IdentifierKind.MID, "MXMAQNOR12APO")],
    BusinessType.HIGHWAY_CARRIER: [(IdentifierKind.SCAC, "ABCD"), (IdentifierKind.DOT, "2345678")],
}


def account(company_: Company, officer: User, business_type: BusinessType = BusinessType.IMPORTER, *,
            complete: bool = True, identifiers: list[tuple[IdentifierKind, str]] | None = None,
            **kwargs: Any) -> TradeAccount:
    """An account; with ``complete`` the application is taken through to a signed agreement."""
    from portal.companies.business_types import HighwayBorder

    if business_type == BusinessType.HIGHWAY_CARRIER:
        kwargs.setdefault("highway_border", HighwayBorder.MEXICO)
    row = applications.open_account(company_, business_type, by=officer, **kwargs)
    if complete:
        answers = {q.key: not q.knock_out_answer for q in eligibility.questions_for(business_type)}
        applications.save_eligibility(row, answers, by=officer)
        for kind, value in identifiers if identifiers is not None else DEFAULT_IDENTIFIERS[business_type]:
            applications.add_identifier(row, kind, value, by=officer)
        applications.finish_identifiers(row, by=officer)
        applications.sign_agreement(row, officer.full_name, by=officer, ip_address="127.0.0.1")
    db_session.flush()
    return row


@dataclass
class Cast:
    """Ids and e-mails of a standard scenario; objects are detached after the factory commits."""

    company_a: Company
    company_b: Company
    account_a: TradeAccount
    account_b: TradeAccount
    users: dict[str, User] = field(default_factory=dict)

    def email(self, key: str) -> str:
        return self.users[key].email


def build_cast() -> Cast:
    """Company A (importer) with an officer, employee, consultant and read-only user; company B
    (foreign manufacturer) with its own officer; a reviewer, a second reviewer, a supervisor, an admin."""
    users = {
        "officer_a": user("officer@a.example", name="Olivia Officer"),
        "employee_a": user("employee@a.example", name="Evan Employee"),
        "consultant_a": user("consultant@a.example", name="Cora Consultant"),
        "readonly_a": user("readonly@a.example", name="Rita Readonly"),
        "officer_b": user("officer@b.example", name="Bruno Officer"),
        "reviewer": user("reviewer@cbp.example", name="Riley Reviewer", staff_role=StaffRole.REVIEWER),
        "reviewer2": user("reviewer2@cbp.example", name="Robin Reviewer", staff_role=StaffRole.REVIEWER),
        "supervisor": user("supervisor@cbp.example", name="Sam Supervisor", staff_role=StaffRole.SUPERVISOR),
        "admin": user("admin@cbp.example", name="Alex Admin", staff_role=StaffRole.ADMIN),
    }
    company_a = company(users["officer_a"], name="Alpha Imports Inc.")
    member(company_a, users["employee_a"], CompanyRole.EMPLOYEE)
    member(company_a, users["consultant_a"], CompanyRole.CONSULTANT)
    member(company_a, users["readonly_a"], CompanyRole.READ_ONLY)
    company_b = company(users["officer_b"], name="Bravo Manufacturing S.A.", country="MX")
    account_a = account(company_a, users["officer_a"], BusinessType.IMPORTER)
    account_b = account(company_b, users["officer_b"], BusinessType.FOREIGN_MANUFACTURER)
    db_session.commit()
    return Cast(company_a=company_a, company_b=company_b, account_a=account_a, account_b=account_b, users=users)


def profile_of(account_: TradeAccount):  # noqa: ANN201
    """The security profile created when the account's agreement was signed."""
    from portal.profiles.models import SecurityProfile

    return db_session.scalar(select(SecurityProfile).where(SecurityProfile.account_id == account_.id))


def answer(profile, criterion_id: str, status: str = "implemented", narrative: str = "Documented procedure.",
           justification: str = "", by: User | None = None):  # noqa: ANN001, ANN201
    """Save one answer through the service (as a new or current version)."""
    from portal.profiles import services as profile_services
    from portal.profiles.models import Answer
    from portal.profiles.workflow import ImplementationStatus

    existing = db_session.scalar(select(Answer).where(Answer.profile_id == profile.id,
                                                      Answer.criterion_id == criterion_id))
    criterion = profile_services.catalog_of(profile).criterion(criterion_id)
    data = profile_services.AnswerInput(status=ImplementationStatus(status) if status else None, narrative=narrative,
                                        justification=justification,
                                        expected_version=existing.version if existing else None)
    editor = by or next(m.user for m in profile.account.company.memberships if m.role == CompanyRole.OFFICER)
    return profile_services.save_answer(profile, criterion, data, by=editor)


def answer_all(profile, status: str = "implemented") -> None:  # noqa: ANN001
    """Answer every applicable criterion so the profile passes the submission gates."""
    from portal.profiles import services as profile_services

    catalog = profile_services.catalog_of(profile)
    for criterion in catalog.criteria_for(profile.account.business_type):
        answer(profile, criterion.id, status, narrative=f"How we meet {criterion.id}.")
    db_session.flush()
