"""The CTPAT application of one account: business type, eligibility, identifiers, Partner Agreement,
and status changes with their history."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from portal import audit
from portal.auth.models import User
from portal.auth.roles import CompanyRole
from portal.clock import utcnow
from portal.companies import eligibility
from portal.companies.business_types import BusinessType, ConsolidatorSubtype, HighwayBorder
from portal.companies.identifiers import IdentifierFormatError, IdentifierKind, missing_identifiers, validate_identifier
from portal.companies.models import (
    AccountStatusChange,
    AgreementSignature,
    BusinessIdentifier,
    Company,
    EligibilityAnswer,
    TradeAccount,
)
from portal.companies.workflow import AccountAction, AccountStatus, ApplicationStep, next_status
from portal.db import db_session
from portal.errors import DomainError

AGREEMENT_VERSION = "2026-01"
AGREEMENT_TEXT = """CTPAT PARTNER AGREEMENT TO VOLUNTARILY PARTICIPATE

The company named in this application agrees to take part in the Customs Trade Partnership Against
Terrorism (CTPAT) and to work with U.S. Customs and Border Protection (CBP) to protect the
international supply chain. In particular the company agrees to:

1. Develop, maintain and follow a supply chain security program that meets the CTPAT Minimum
   Security Criteria for its business type, and describe it truthfully in its security profile.
2. Keep its security profile current, review it at least once a year, and tell CBP of significant
   changes in its operations, ownership or security.
3. Give CBP access to its facilities and records, at home and abroad, for validation visits arranged
   with reasonable notice.
4. Report security incidents and suspicious activity to CBP as soon as feasible.
5. Designate a company officer responsible for its participation, and keep its contacts current.

Participation is voluntary. Either party may end it. Knowingly giving false or misleading
information may lead to suspension or removal from the program (6 U.S.C. 967)."""


def _normalize_name(name: str) -> str:
    return " ".join(name.lower().split())


def record_status_change(account: TradeAccount, to_status: AccountStatus, *, by: User | None, reason: str = "",
                         from_status: AccountStatus | None = None) -> AccountStatusChange:
    """Append a status-history entry and an audit event for an account's status change."""
    change = AccountStatusChange(account_id=account.id, from_status=from_status, to_status=to_status,
                                 changed_at=utcnow(), changed_by_id=getattr(by, "id", None), reason=reason)
    db_session.add(change)
    audit.record("account.status_changed", actor=by, company_id=account.company_id, obj=account,
                 summary=f"{from_status.value if from_status else 'new'} -> {to_status.value}"
                 + (f": {reason}" if reason else ""))
    return change


def change_status(account: TradeAccount, action: AccountAction, *, by: User | None, reason: str = "") -> None:
    """Move an account through the lifecycle table, keeping the history.

    :raise InvalidTransition: when the current status does not allow the action.
    """
    old = account.status
    account.status = next_status(old, action)
    record_status_change(account, account.status, by=by, reason=reason, from_status=old)


def open_account(company: Company, business_type: BusinessType, *, by: User,
                 consolidator_subtype: ConsolidatorSubtype | None = None,
                 highway_border: HighwayBorder | None = None) -> TradeAccount:
    """Start an application in one business type; a company holds one account per type.

    :raise DomainError: for a duplicate type or a missing sub-designation.
    """
    if any(account.business_type == business_type for account in company.accounts):
        raise DomainError(f"{company.legal_name} already has a {business_type.label} account.", field="business_type")
    if business_type == BusinessType.CONSOLIDATOR and consolidator_subtype is None:
        raise DomainError("Choose the kind of consolidator.", field="consolidator_subtype")
    if business_type == BusinessType.HIGHWAY_CARRIER and highway_border is None:
        raise DomainError("Choose the border the carrier crosses.", field="highway_border")
    account = TradeAccount(
        company_id=company.id, business_type=business_type, status=AccountStatus.APPLICANT,
        application_step=ApplicationStep.ELIGIBILITY,
        consolidator_subtype=consolidator_subtype if business_type == BusinessType.CONSOLIDATOR else None,
        highway_border=highway_border if business_type == BusinessType.HIGHWAY_CARRIER else None,
    )
    db_session.add(account)
    company.accounts.append(account)
    db_session.flush()
    account.account_number = f"CT{account.id:08d}"
    record_status_change(account, AccountStatus.APPLICANT, by=by, reason="Application started")
    return account


def save_eligibility(account: TradeAccount, answers: Mapping[str, bool], *, by: User) -> eligibility.EligibilityResult:
    """Keep the answers and decide whether the application may go on.

    A knock-out answer stops the application at ``not_eligible`` (the answers stay, and may be
    corrected later); a clean set moves it on to the identifiers step.
    """
    result = eligibility.evaluate(account.business_type, answers)
    existing = {answer.question_key: answer for answer in account.eligibility_answers}
    now = utcnow()
    for key, value in answers.items():
        row = existing.get(key)
        if row is None:
            row = EligibilityAnswer(account_id=account.id, question_key=key, answer=value, answered_by_id=by.id)
            account.eligibility_answers.append(row)
        row.answer = value
        row.answered_at = now
        row.answered_by_id = by.id
    if not result.complete:
        raise DomainError("Answer every question.")
    if result.eligible:
        if account.application_step in {ApplicationStep.ELIGIBILITY, ApplicationStep.NOT_ELIGIBLE}:
            account.application_step = ApplicationStep.IDENTIFIERS
    else:
        account.application_step = ApplicationStep.NOT_ELIGIBLE
    audit.record("account.eligibility_answered", actor=by, company_id=account.company_id, obj=account,
                 summary="eligible" if result.eligible else
                 "not eligible: " + ", ".join(question.key for question, _ in result.knocked_out))
    return result


def duplicate_accounts(kind: IdentifierKind, value: str, *,
                       exclude_account_id: int | None = None) -> list[TradeAccount]:
    """Other accounts that hold the same identifier (flagged to CBP)."""
    query = select(TradeAccount).join(BusinessIdentifier).where(
        BusinessIdentifier.kind == kind, BusinessIdentifier.value == value
    )
    if exclude_account_id is not None:
        query = query.where(TradeAccount.id != exclude_account_id)
    return list(db_session.scalars(query).unique())


def add_identifier(account: TradeAccount, kind: IdentifierKind, raw_value: str, *, by: User) -> BusinessIdentifier:
    """Add a business entity identifier after its format check; duplicates elsewhere are flagged.

    :raise DomainError: on a bad format or the same identifier twice on this account.
    """
    try:
        value = validate_identifier(kind, raw_value)
    except IdentifierFormatError as error:
        raise DomainError(str(error), field="value") from None
    if any(i.kind == kind and i.value == value for i in account.identifiers):
        raise DomainError("This identifier is already on the account.", field="value")
    identifier = BusinessIdentifier(account_id=account.id, kind=kind, value=value)
    account.identifiers.append(identifier)
    db_session.flush()
    audit.record("identifier.added", actor=by, company_id=account.company_id, obj=identifier,
                 summary=f"{kind.value} {value}")
    others = duplicate_accounts(kind, value, exclude_account_id=account.id)
    if others:
        audit.record("identifier.duplicate_flagged", actor=by, company_id=account.company_id, obj=identifier,
                     summary=f"{kind.value} {value} also on account(s) "
                     + ", ".join(o.account_number or str(o.id) for o in others))
    return identifier


def remove_identifier(identifier: BusinessIdentifier, *, by: User) -> None:
    """Remove an identifier from an account still in application."""
    account = identifier.account
    audit.record("identifier.removed", actor=by, company_id=account.company_id, obj=identifier,
                 summary=f"{identifier.kind.value} {identifier.value}")
    account.identifiers.remove(identifier)
    db_session.delete(identifier)
    # A required identifier gone: the agreement must wait until the set is complete again.
    if account.application_step == ApplicationStep.AGREEMENT and \
            missing_identifiers(account.business_type, [i.kind for i in account.identifiers]):
        account.application_step = ApplicationStep.IDENTIFIERS


def finish_identifiers(account: TradeAccount, *, by: User) -> None:
    """Move on to the agreement once the identifiers the business type requires are present.

    :raise DomainError: listing each missing identifier.
    """
    missing = missing_identifiers(account.business_type, [i.kind for i in account.identifiers])
    if missing:
        raise DomainError(" ".join(missing))
    if account.application_step == ApplicationStep.IDENTIFIERS:
        account.application_step = ApplicationStep.AGREEMENT
    audit.record("account.identifiers_completed", actor=by, company_id=account.company_id, obj=account)


def sign_agreement(account: TradeAccount, typed_name: str, *, by: User, ip_address: str | None) -> AgreementSignature:
    """The company officer signs the Partner Agreement by typing their full name.

    :raise DomainError: when the signer is not an officer, the step is wrong, or the name differs.
    """
    if by.role_in(account.company_id) != CompanyRole.OFFICER:
        raise DomainError("Only the company officer can sign the Partner Agreement.")
    if account.application_step != ApplicationStep.AGREEMENT or account.agreement is not None:
        raise DomainError("The agreement can be signed once eligibility and identifiers are complete.")
    if _normalize_name(typed_name) != _normalize_name(by.full_name):
        raise DomainError(f"Type your full name exactly as on your account ({by.full_name}) to sign.",
                          field="typed_name")
    signature = AgreementSignature(
        account_id=account.id, agreement_version=AGREEMENT_VERSION, agreement_text=AGREEMENT_TEXT,
        signer_id=by.id, typed_name=typed_name, signed_at=utcnow(), ip_address=ip_address,
    )
    db_session.add(signature)
    account.agreement = signature
    account.application_step = ApplicationStep.COMPLETE
    account.applied_at = utcnow()
    audit.record("account.agreement_signed", actor=by, company_id=account.company_id, obj=account,
                 summary=f"Partner Agreement {AGREEMENT_VERSION} signed by {typed_name}")
    from portal.profiles.services import create_profile

    create_profile(account, by=by)
    return signature
