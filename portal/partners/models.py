"""MRA programs and the business-partner register of each trade account.

- ``MraProgram`` / ``MraStatusChange``: the foreign AEO programs the U.S. has a joint work plan or a
  Mutual Recognition Arrangement with, and the dated history of that status (reference data kept by
  admins, seeded from ctpat-domain.md §7.2).
- ``AccountMraCertification``: an applicant's own foreign AEO certification, recorded on its account.
- ``BusinessPartner``: one partner in an account's register, with its claimed certification, last
  assessment and risk; the screening status is derived (``portal.partners.screening``), never stored.
- ``PartnerImport``: a parsed upload waiting for the user to confirm its valid rows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from portal.clock import utcnow
from portal.companies.models import TradeAccount
from portal.db import Base, UTCDateTime, str_enum
from portal.partners.enums import (
    AssessmentResult,
    AssessmentType,
    CertificationKind,
    CtpatStatus,
    DatePrecision,
    MraStatus,
    PartnerRole,
    RiskRating,
)
from portal.partners.screening import MraTimeline

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.profiles.models import EvidenceFile


class MraProgram(Base):
    """A foreign customs administration's AEO program and the U.S. arrangement with it."""

    __tablename__ = "mra_programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A short stable key (the partner's ISO code, "EU" for the Union) that seeding and imports match on.
    code: Mapped[str] = mapped_column(String(8), unique=True)
    partner: Mapped[str] = mapped_column(String(100), unique=True)
    # ISO codes of the countries the program certifies in, comma-separated (27 for the EU).
    countries: Mapped[str] = mapped_column(String(200))
    customs_administration: Mapped[str] = mapped_column(String(300))
    program_name: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    changes: Mapped[list[MraStatusChange]] = relationship(
        back_populates="program", cascade="all, delete-orphan",
        order_by=lambda: [MraStatusChange.effective_on, MraStatusChange.id],
    )

    @property
    def country_codes(self) -> tuple[str, ...]:
        return tuple(code for code in self.countries.split(",") if code)

    @property
    def display_name(self) -> str:
        return f"{self.partner}: {self.program_name}"

    def timeline(self) -> MraTimeline:
        return MraTimeline.of((change.effective_on, change.status) for change in self.changes)

    def status_on(self, day: date) -> MraStatus | None:
        return self.timeline().status_on(day)

    def change_on(self, day: date) -> MraStatusChange | None:
        """The history entry in effect on ``day`` (for its date precision and note)."""
        current = [change for change in self.changes if change.effective_on <= day]
        return current[-1] if current else None


class MraStatusChange(Base):
    """One dated step of a program's arrangement with the U.S. (joint work plan, MRA, suspension)."""

    __tablename__ = "mra_status_changes"
    __table_args__ = (UniqueConstraint("program_id", "status", "effective_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("mra_programs.id", ondelete="CASCADE"), index=True)
    status: Mapped[MraStatus] = mapped_column(str_enum(MraStatus, "mra_status"))
    effective_on: Mapped[date] = mapped_column(Date)
    # Public sources often give only the month of a signing; the date then holds the 1st of that month.
    precision: Mapped[DatePrecision] = mapped_column(str_enum(DatePrecision, "mra_date_precision", 8),
                                                     default=DatePrecision.DAY)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    program: Mapped[MraProgram] = relationship(back_populates="changes")
    recorded_by: Mapped[User | None] = relationship()

    @property
    def date_label(self) -> str:
        day = self.effective_on
        return f"{day:%B %Y}" if self.precision == DatePrecision.MONTH else f"{day:%B} {day.day}, {day.year}"


class AccountMraCertification(Base):
    """A trade account's own certification in a foreign AEO program (e.g. a Mexican manufacturer in
    Mexico's OEA), shown to reviewers and used when planning validations."""

    __tablename__ = "account_mra_certifications"
    __table_args__ = (UniqueConstraint("account_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("mra_programs.id", ondelete="RESTRICT"), index=True)
    certificate_number: Mapped[str] = mapped_column(String(60))
    certified_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # The backref gives TradeAccount.mra_certifications without editing the companies package; the
    # database cascade removes the rows with the account.
    account: Mapped[TradeAccount] = relationship(
        backref=backref("mra_certifications", order_by="AccountMraCertification.id", passive_deletes=True),
    )
    program: Mapped[MraProgram] = relationship()


partner_evidence = Table(
    "business_partner_evidence",
    Base.metadata,
    Column("partner_id", ForeignKey("business_partners.id", ondelete="CASCADE"), primary_key=True),
    Column("evidence_id", ForeignKey("evidence_files.id", ondelete="CASCADE"), primary_key=True, index=True),
)
"""Which documents of the company's evidence library back a partner's record (certificates, audits)."""


class BusinessPartner(Base):
    """One business partner in an account's register (MSC 3.1, 3.4-3.7)."""

    __tablename__ = "business_partners"
    __table_args__ = (
        # The same partner twice in one register is refused; name_key ignores case and spacing.
        UniqueConstraint("account_id", "name_key", "country"),
        CheckConstraint("certification != 'ctpat' OR ctpat_status IS NOT NULL", name="ctpat_has_status"),
        CheckConstraint("certification != 'aeo' OR mra_program_id IS NOT NULL", name="aeo_has_program"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    role: Mapped[PartnerRole] = mapped_column(str_enum(PartnerRole, "partner_role"))
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    ctpat_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    certification: Mapped[CertificationKind] = mapped_column(
        str_enum(CertificationKind, "partner_certification"), default=CertificationKind.NONE)
    ctpat_account_number: Mapped[str | None] = mapped_column(String(20))
    ctpat_status: Mapped[CtpatStatus | None] = mapped_column(str_enum(CtpatStatus, "partner_ctpat_status"))
    mra_program_id: Mapped[int | None] = mapped_column(ForeignKey("mra_programs.id", ondelete="RESTRICT"),
                                                       index=True)
    certificate_number: Mapped[str | None] = mapped_column(String(60))
    certificate_expires_on: Mapped[date | None] = mapped_column(Date)
    last_assessed_on: Mapped[date | None] = mapped_column(Date)
    last_assessment_type: Mapped[AssessmentType | None] = mapped_column(
        str_enum(AssessmentType, "partner_assessment_type"))
    last_assessment_result: Mapped[AssessmentResult | None] = mapped_column(
        str_enum(AssessmentResult, "partner_assessment_result"))
    risk_rating: Mapped[RiskRating | None] = mapped_column(str_enum(RiskRating, "partner_risk_rating"))
    risk_reason: Mapped[str] = mapped_column(Text, default="")
    # Set only when the member overrides the date derived from risk and last assessment.
    next_review_override: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    mra_program: Mapped[MraProgram | None] = relationship()
    evidence: Mapped[list[EvidenceFile]] = relationship(secondary=partner_evidence, order_by="EvidenceFile.id")
    updated_by: Mapped[User | None] = relationship()


class PartnerImport(Base):
    """An uploaded partner list, parsed and checked, kept until the user confirms or discards it.

    ``rows`` holds one entry per data row: ``{"line", "values" (as typed, for the preview),
    "data" (the checked input, or null), "errors" (messages)}``.
    """

    __tablename__ = "partner_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    created_by: Mapped[User | None] = relationship()

    @property
    def valid_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if not row["errors"]]

    @property
    def invalid_rows(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["errors"]]
