"""Reads for companies and accounts, with the loaders that turn a missing or foreign object into 404."""

from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.auth.models import Invitation, Membership
from portal.companies.models import Address, BusinessIdentifier, Company, TradeAccount
from portal.db import db_session


def get_company_or_404(company_id: int) -> Company:
    company = db_session.get(Company, company_id)
    if company is None:
        abort(404)
    return company


def get_account_or_404(account_id: int) -> TradeAccount:
    account = db_session.scalar(
        select(TradeAccount).where(TradeAccount.id == account_id)
        .options(selectinload(TradeAccount.identifiers), selectinload(TradeAccount.eligibility_answers))
    )
    if account is None:
        abort(404)
    return account


def get_address_or_404(company: Company, address_id: int) -> Address:
    address = db_session.get(Address, address_id)
    if address is None or address.company_id != company.id:
        abort(404)
    return address


def get_membership_or_404(company: Company, membership_id: int) -> Membership:
    membership = db_session.get(Membership, membership_id)
    if membership is None or membership.company_id != company.id:
        abort(404)
    return membership


def get_invitation_or_404(company: Company, invitation_id: int) -> Invitation:
    invitation = db_session.get(Invitation, invitation_id)
    if invitation is None or invitation.company_id != company.id:
        abort(404)
    return invitation


def get_identifier_or_404(account: TradeAccount, identifier_id: int) -> BusinessIdentifier:
    identifier = db_session.get(BusinessIdentifier, identifier_id)
    if identifier is None or identifier.account_id != account.id:
        abort(404)
    return identifier


def company_members(company: Company) -> list[Membership]:
    return list(db_session.scalars(
        select(Membership).where(Membership.company_id == company.id)
        .options(selectinload(Membership.user)).order_by(Membership.id)
    ))


def pending_invitations(company: Company) -> list[Invitation]:
    rows = db_session.scalars(
        select(Invitation).where(Invitation.company_id == company.id, Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None)).order_by(Invitation.id)
    )
    return [row for row in rows if row.is_pending]


def duplicate_identifier_flags(account: TradeAccount) -> dict[int, list[TradeAccount]]:
    """For each identifier of the account, the other accounts holding the same one (one query)."""
    if not account.identifiers:
        return {}
    pairs = {(i.kind, i.value): i.id for i in account.identifiers}
    rows = db_session.execute(
        select(BusinessIdentifier.kind, BusinessIdentifier.value, TradeAccount)
        .join(TradeAccount, TradeAccount.id == BusinessIdentifier.account_id)
        .where(BusinessIdentifier.value.in_([value for _, value in pairs]), TradeAccount.id != account.id)
    ).all()
    flags: dict[int, list[TradeAccount]] = {}
    for kind, value, other in rows:
        identifier_id = pairs.get((kind, value))
        if identifier_id is not None:
            flags.setdefault(identifier_id, []).append(other)
    return flags
