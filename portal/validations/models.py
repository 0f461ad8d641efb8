"""Validations of certified accounts: sites (some covered by a foreign program's validation under an
MRA), team, visits, partner blackouts, findings, MR records, partner responses, the timeline, calendar
feed tokens, annual-review confirmations, suspensions and the reminders already sent."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock
from portal.db import Base, UTCDateTime, str_enum
from portal.validations.workflow import (
    FindingKind,
    FindingStatus,
    NoGoReason,
    SiteMode,
    ValidationKind,
    ValidationStatus,
    VisitStatus,
)

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.companies.models import Address, Company, TradeAccount
    from portal.partners.models import AccountMraCertification, BusinessPartner, MraProgram
    from portal.profiles.models import EvidenceFile


def _now() -> datetime:
    # Looked up at call time, so tests that move ``portal.clock`` move these defaults too.
    return clock.utcnow()


class Validation(Base):
    """One validation of one account: the plan, the visits, the report and the partner's response."""

    __tablename__ = "validations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ValidationKind] = mapped_column(str_enum(ValidationKind, "validation_kind"))
    status: Mapped[ValidationStatus] = mapped_column(str_enum(ValidationStatus, "validation_status"),
                                                     default=ValidationStatus.PLANNED, index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    initiated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    initiated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    report_summary: Mapped[str] = mapped_column(Text, default="")
    report_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome_tier: Mapped[int | None] = mapped_column(Integer)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": lock_version}

    account: Mapped[TradeAccount] = relationship()
    lead: Mapped[User] = relationship(foreign_keys=[lead_id])
    members: Mapped[list[User]] = relationship(secondary="validation_members", order_by="User.full_name")
    sites: Mapped[list[ValidationSite]] = relationship(back_populates="validation", cascade="all, delete-orphan",
                                                       order_by="ValidationSite.id")
    visits: Mapped[list[Visit]] = relationship(back_populates="validation", order_by="Visit.starts_at")
    findings: Mapped[list[Finding]] = relationship(back_populates="validation", cascade="all, delete-orphan",
                                                   order_by="Finding.id")
    events: Mapped[list[ValidationEvent]] = relationship(back_populates="validation", cascade="all, delete-orphan",
                                                         order_by="ValidationEvent.id")
    mr_records: Mapped[list[ValidationMrRecord]] = relationship(
        back_populates="validation", cascade="all, delete-orphan", order_by="ValidationMrRecord.id")

    @property
    def team(self) -> list[User]:
        """The lead first, then the other members."""
        return [self.lead, *[m for m in self.members if m.id != self.lead_id]]

    @property
    def team_ids(self) -> frozenset[int]:
        return frozenset(user.id for user in self.team)

    @property
    def required_actions(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == FindingKind.REQUIRED_ACTION]


validation_members = Table(
    "validation_members",
    Base.metadata,
    Column("validation_id", ForeignKey("validations.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ValidationSite(Base):
    """A company address chosen for the validation, visited on site or virtually, or marked no-go.

    A site covered by a foreign AEO program's validation under an MRA is a no-go zone with the reason
    ``MRA_VALIDATED`` that names the account's certification relied on (``portal.validations.recognition``);
    the program and certificate number are kept as they were, so the plan still reads right if the
    certification is later removed from the account.
    """

    __tablename__ = "validation_sites"
    __table_args__ = (
        UniqueConstraint("validation_id", "address_id"),
        CheckConstraint("no_go_reason IS NULL OR no_go_reason != 'mra_validated' OR mra_program_id IS NOT NULL",
                        name="mra_coverage_has_program"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id", ondelete="CASCADE"), index=True)
    mode: Mapped[SiteMode] = mapped_column(str_enum(SiteMode, "site_mode"), default=SiteMode.ONSITE)
    no_go: Mapped[bool] = mapped_column(Boolean, default=False)
    no_go_reason: Mapped[NoGoReason | None] = mapped_column(str_enum(NoGoReason, "no_go_reason"))
    no_go_note: Mapped[str] = mapped_column(Text, default="")
    mra_certification_id: Mapped[int | None] = mapped_column(
        ForeignKey("account_mra_certifications.id", ondelete="SET NULL"), index=True)
    mra_program_id: Mapped[int | None] = mapped_column(ForeignKey("mra_programs.id", ondelete="RESTRICT"),
                                                       index=True)
    mra_certificate_number: Mapped[str | None] = mapped_column(String(60))
    # The planning date on which the certification was found recognised when the site was marked covered.
    mra_checked_on: Mapped[date | None] = mapped_column(Date)

    validation: Mapped[Validation] = relationship(back_populates="sites")
    address: Mapped[Address] = relationship()
    mra_certification: Mapped[AccountMraCertification | None] = relationship()
    mra_program: Mapped[MraProgram | None] = relationship()

    @property
    def mra_covered(self) -> bool:
        """Covered by a foreign program's validation under an MRA: no CBP visit is planned here."""
        return self.no_go and self.no_go_reason == NoGoReason.MRA_VALIDATED


def _new_uid() -> str:
    return uuid.uuid4().hex


class Visit(Base):
    """A visit to one site in a time window, stored in UTC with the site's IANA time zone."""

    __tablename__ = "validation_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("validation_sites.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    mode: Mapped[SiteMode] = mapped_column(str_enum(SiteMode, "visit_mode"), default=SiteMode.ONSITE)
    status: Mapped[VisitStatus] = mapped_column(str_enum(VisitStatus, "visit_status"),
                                                default=VisitStatus.PROPOSED, index=True)
    # Stable across reschedules so calendar clients update the event instead of adding one.
    uid: Mapped[str] = mapped_column(String(40), unique=True, default=_new_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    notice_override_reason: Mapped[str] = mapped_column(Text, default="")
    notice_override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    proposed_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposed_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proposal_reason: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    validation: Mapped[Validation] = relationship(back_populates="visits")
    site: Mapped[ValidationSite] = relationship()
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])

    @property
    def address(self) -> Address:
        return self.site.address

    @property
    def name(self) -> str:
        address = self.site.address
        return f"{self.validation.account.company.legal_name}: {address.name or address.city} ({address.country})"


class Blackout(Base):
    """Dates on which the partner cannot host a visit (holidays, shutdowns), in the site's local dates."""

    __tablename__ = "partner_blackouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    company: Mapped[Company] = relationship()


class Finding(Base):
    """A finding on one criterion: a required action (answered by the partner), a recommendation or
    a best practice (which a supervisor may recognise against the five framework requirements)."""

    __tablename__ = "validation_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    kind: Mapped[FindingKind] = mapped_column(str_enum(FindingKind, "finding_kind"))
    text: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[FindingStatus] = mapped_column(str_enum(FindingStatus, "finding_status"),
                                                  default=FindingStatus.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Best practices: which of the five requirements the supervisor found met, and when recognised.
    best_practice_checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    recognised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recognised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    validation: Mapped[Validation] = relationship(back_populates="findings")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    responses: Mapped[list[FindingResponse]] = relationship(back_populates="finding", cascade="all, delete-orphan",
                                                            order_by="FindingResponse.id")

    @property
    def needs_answer(self) -> bool:
        return self.kind == FindingKind.REQUIRED_ACTION

    @property
    def latest_response(self) -> FindingResponse | None:
        return self.responses[-1] if self.responses else None


finding_response_evidence = Table(
    "finding_response_evidence",
    Base.metadata,
    Column("response_id", ForeignKey("finding_responses.id", ondelete="CASCADE"), primary_key=True),
    Column("evidence_id", ForeignKey("evidence_files.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class FindingResponse(Base):
    """The partner's answer to a required action (action plan and evidence) and CBP's verdict on it."""

    __tablename__ = "finding_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("validation_findings.id", ondelete="CASCADE"), index=True)
    action_plan: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    finding: Mapped[Finding] = relationship(back_populates="responses")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    evidence: Mapped[list[EvidenceFile]] = relationship(secondary=finding_response_evidence,
                                                        order_by="EvidenceFile.id")


class ValidationMrRecord(Base):
    """An "MR record" of the validation (ctpat-domain.md §4.3): a foreign business partner of the account
    validated by its own customs under an AEO program the U.S. recognises through an MRA, so the team
    relies on that validation instead of visiting the partner. Linked to the register row when the
    partner comes from it; the name, country and certificate are kept as recorded."""

    __tablename__ = "validation_mr_records"
    __table_args__ = (UniqueConstraint("validation_id", "program_id", "certificate_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    business_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("business_partners.id", ondelete="SET NULL"), index=True)
    partner_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    program_id: Mapped[int] = mapped_column(ForeignKey("mra_programs.id", ondelete="RESTRICT"), index=True)
    certificate_number: Mapped[str] = mapped_column(String(60))
    validated_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    validation: Mapped[Validation] = relationship(back_populates="mr_records")
    business_partner: Mapped[BusinessPartner | None] = relationship()
    program: Mapped[MraProgram] = relationship()
    recorded_by: Mapped[User | None] = relationship()


class ValidationEvent(Base):
    """One entry of a validation's timeline (initiated, visits, report, response, closed)."""

    __tablename__ = "validation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    validation_id: Mapped[int] = mapped_column(ForeignKey("validations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")

    validation: Mapped[Validation] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class CalendarFeedToken(Base):
    """A secret URL token for one reviewer's visit feed; only its SHA-256 is stored."""

    __tablename__ = "calendar_feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AnnualConfirmation(Base):
    """The partner confirmed one criterion unchanged in the annual review of one anniversary."""

    __tablename__ = "annual_confirmations"
    __table_args__ = (UniqueConstraint("account_id", "anniversary_on", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    anniversary_on: Mapped[date] = mapped_column(Date)
    criterion_id: Mapped[str] = mapped_column(String(10))
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Suspension(Base):
    """A suspension of an account with the corrective action plan the partner must meet."""

    __tablename__ = "account_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    corrective_action_plan: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    suspended_by: Mapped[User | None] = relationship(foreign_keys=[suspended_by_id])


class ReminderSent(Base):
    """A reminder already sent: (kind, object, date) is unique, so a second run the same day (or
    a later run for the same milestone) sends nothing again."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("kind", "object_key", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    object_key: Mapped[str] = mapped_column(String(60))
    on_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
