"""Security profiles, their answers per criterion, evidence files and links, and frozen versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, make_append_only, str_enum
from portal.profiles.workflow import ImplementationStatus, ProfileStatus

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.companies.models import TradeAccount


class SecurityProfile(Base):
    """The security profile of one CTPAT account, pinned to one catalog version."""

    __tablename__ = "security_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("trade_accounts.id", ondelete="CASCADE"), unique=True)
    catalog_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[ProfileStatus] = mapped_column(str_enum(ProfileStatus, "profile_status"),
                                                  default=ProfileStatus.DRAFT, index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    last_category: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Optimistic lock: status changes (submit, review) never cross silently.
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": lock_version}

    account: Mapped[TradeAccount] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="profile", cascade="all, delete-orphan")
    versions: Mapped[list[ProfileVersion]] = relationship(back_populates="profile", order_by="ProfileVersion.number")


ANSWERS_FILLFACTOR = 80


class Answer(Base):
    """The partner's answer to one criterion: implementation status, narrative, N/A justification."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("profile_id", "criterion_id"),
        # Answers are rewritten by every autosave. With a fifth of each page left free, PostgreSQL
        # writes the new version beside the old one (a HOT update: no index is touched, and the old
        # version is pruned by the next read of the page). Full pages made every save add an entry
        # to each index, and the category page then read through thousands of dead versions of the
        # profile's answers until VACUUM came (docs/PERFORMANCE.md §5.16).
        {"postgresql_with": {"fillfactor": ANSWERS_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    status: Mapped[ImplementationStatus | None] = mapped_column(str_enum(ImplementationStatus, "answer_status"))
    narrative: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}

    profile: Mapped[SecurityProfile] = relationship(back_populates="answers")
    updated_by: Mapped[User | None] = relationship()

    @property
    def is_complete(self) -> bool:
        """Answered: a status, plus a narrative (or, for not applicable, a justification)."""
        if self.status is None:
            return False
        if self.status == ImplementationStatus.NOT_APPLICABLE:
            return bool(self.justification.strip())
        return bool(self.narrative.strip())


class EvidenceFile(Base):
    """An uploaded document in a company's evidence library; stored once per company and content."""

    __tablename__ = "evidence_files"
    __table_args__ = (UniqueConstraint("company_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(200))
    effective_date: Mapped[date | None] = mapped_column(Date)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    uploaded_by: Mapped[User | None] = relationship()

    @property
    def display_name(self) -> str:
        return self.title or self.original_name


class EvidenceLink(Base):
    """Evidence attached to one criterion of a profile; one file may prove several criteria."""

    __tablename__ = "evidence_links"
    __table_args__ = (UniqueConstraint("profile_id", "criterion_id", "evidence_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(10))
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_files.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    evidence: Mapped[EvidenceFile] = relationship()


class ProfileVersion(Base):
    """An immutable, numbered submission: the canonical JSON of the profile and its SHA-256.

    A trigger rejects UPDATE and DELETE on this table, so no code path can change a version.
    """

    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("profile_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("security_profiles.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    catalog_id: Mapped[str] = mapped_column(String(40))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    attested_name: Mapped[str] = mapped_column(String(200))
    attestation_text: Mapped[str] = mapped_column(Text)

    profile: Mapped[SecurityProfile] = relationship(back_populates="versions")
    submitted_by: Mapped[User] = relationship()


make_append_only(ProfileVersion.__table__)
