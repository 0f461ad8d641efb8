"""Companies (trade organisations), their addresses, and their CTPAT accounts with identifiers,
eligibility answers, the signed Partner Agreement and the status history."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.companies.business_types import BusinessType, ConsolidatorSubtype, HighwayBorder
from portal.companies.identifiers import IdentifierKind
from portal.companies.workflow import AccountStatus, AddressKind, ApplicationStep, OwnershipType
from portal.db import Base, UTCDateTime, str_enum

if TYPE_CHECKING:
    from portal.auth.models import Membership, User


class Company(Base):
    """A trade organisation; it may hold one CTPAT account per business type."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200), index=True)
    dba: Mapped[str | None] = mapped_column(String(200))
    ownership_type: Mapped[OwnershipType] = mapped_column(str_enum(OwnershipType, "ownership_type"))
    business_start_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    history: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="company", cascade="all, delete-orphan")
    addresses: Mapped[list[Address]] = relationship(
        back_populates="company", cascade="all, delete-orphan", order_by="Address.id"
    )
    accounts: Mapped[list[TradeAccount]] = relationship(back_populates="company", order_by="TradeAccount.id")

    @property
    def display_name(self) -> str:
        return f"{self.legal_name} (DBA {self.dba})" if self.dba else self.legal_name

    @property
    def headquarters(self) -> Address | None:
        return next((a for a in self.addresses if a.kind == AddressKind.HEADQUARTERS), None)

    @property
    def country(self) -> str | None:
        hq = self.headquarters
        return hq.country if hq else None


class Address(Base):
    """A company address: headquarters, mailing, a cargo-handling facility or a foreign site."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AddressKind] = mapped_column(str_enum(AddressKind, "address_kind"))
    name: Mapped[str | None] = mapped_column(String(200))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Facilities that CBP validation teams may visit.
    visitable: Mapped[bool] = mapped_column(Boolean, default=False)

    company: Mapped[Company] = relationship(back_populates="addresses")

    @property
    def one_line(self) -> str:
        parts = [self.line1, self.line2, self.city, self.region, self.postal_code, self.country]
        return ", ".join(p for p in parts if p)


class TradeAccount(Base):
    """A CTPAT account: one company in one business type, with its lifecycle dates."""

    __tablename__ = "trade_accounts"
    __table_args__ = (UniqueConstraint("company_id", "business_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    account_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    business_type: Mapped[BusinessType] = mapped_column(str_enum(BusinessType, "business_type", 40))
    consolidator_subtype: Mapped[ConsolidatorSubtype | None] = mapped_column(
        str_enum(ConsolidatorSubtype, "consolidator_subtype")
    )
    highway_border: Mapped[HighwayBorder | None] = mapped_column(str_enum(HighwayBorder, "highway_border"))
    status: Mapped[AccountStatus] = mapped_column(
        str_enum(AccountStatus, "account_status"), default=AccountStatus.APPLICANT, index=True
    )
    application_step: Mapped[ApplicationStep] = mapped_column(
        str_enum(ApplicationStep, "application_step"), default=ApplicationStep.ELIGIBILITY
    )
    tier: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certified_on: Mapped[date | None] = mapped_column(Date)
    anniversary_on: Mapped[date | None] = mapped_column(Date)
    last_validated_on: Mapped[date | None] = mapped_column(Date)
    next_validation_due: Mapped[date | None] = mapped_column(Date)

    company: Mapped[Company] = relationship(back_populates="accounts")
    identifiers: Mapped[list[BusinessIdentifier]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="BusinessIdentifier.id"
    )
    eligibility_answers: Mapped[list[EligibilityAnswer]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )
    agreement: Mapped[AgreementSignature | None] = relationship(back_populates="account", uselist=False)
    status_history: Mapped[list[AccountStatusChange]] = relationship(
        back_populates="account", order_by="AccountStatusChange.id"
    )

    @property
    def title(self) -> str:
        return f"{self.company.legal_name}: {self.business_type.label}"


class BusinessIdentifier(Base):
    """A business entity identifier (IOR, bond, MID, SCAC, ...) of an account, stored normalised."""

    __tablename__ = "business_identifiers"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "value"),
        Index("ix_business_identifiers_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentifierKind] = mapped_column(str_enum(IdentifierKind, "identifier_kind"))
    value: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    account: Mapped[TradeAccount] = relationship(back_populates="identifiers")


class EligibilityAnswer(Base):
    """One yes/no answer to an eligibility question; kept even when it knocks the application out."""

    __tablename__ = "eligibility_answers"
    __table_args__ = (UniqueConstraint("account_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    question_key: Mapped[str] = mapped_column(String(64))
    answer: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    account: Mapped[TradeAccount] = relationship(back_populates="eligibility_answers")


class AgreementSignature(Base):
    """The company officer's signature of the CTPAT Partner Agreement for one account."""

    __tablename__ = "agreement_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("trade_accounts.id", ondelete="CASCADE"), unique=True
    )
    agreement_version: Mapped[str] = mapped_column(String(20))
    agreement_text: Mapped[str] = mapped_column(Text)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    typed_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip_address: Mapped[str | None] = mapped_column(String(64))

    account: Mapped[TradeAccount] = relationship(back_populates="agreement")
    signer: Mapped[User] = relationship()


class AccountStatusChange(Base):
    """One entry of an account's status history (the first records the start as applicant)."""

    __tablename__ = "account_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[AccountStatus | None] = mapped_column(str_enum(AccountStatus, "from_status"))
    to_status: Mapped[AccountStatus] = mapped_column(str_enum(AccountStatus, "to_status"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")

    account: Mapped[TradeAccount] = relationship(back_populates="status_history")
    changed_by: Mapped[User | None] = relationship()
