"""Users, company memberships, invitations and password-reset tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.roles import CompanyRole, StaffRole
from portal.clock import utcnow
from portal.db import Base, UTCDateTime, str_enum

if TYPE_CHECKING:
    from portal.companies.models import Company


def new_token() -> str:
    """A random, URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


class User(Base):
    """A person who signs in: a trade user (through memberships) or CBP staff (``staff_role``)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lowercase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Indexed: the reviewer list of the supervisor's queue reads CBP staff among all users.
    staff_role: Mapped[StaffRole | None] = mapped_column(str_enum(StaffRole, "staff_role"), index=True)
    # Flask-Login's "alternative token": rotating it revokes every session of the user.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    first_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # TOTP (portal/auth/mfa.py): the base32 seed, set when enrolment starts and confirmed by
    # ``mfa_enrolled_at``; the last accepted 30-second time step, so a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Whether in-app notifications are also sent by e-mail (account e-mails such as resets always are).
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", foreign_keys="Membership.user_id"
    )

    # --- Flask-Login protocol -------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    # --- role helpers ---------------------------------------------------------------------
    @property
    def is_staff(self) -> bool:
        return self.staff_role is not None

    @property
    def is_admin(self) -> bool:
        return self.staff_role == StaffRole.ADMIN

    @property
    def is_supervisor(self) -> bool:
        return self.staff_role in {StaffRole.SUPERVISOR, StaffRole.ADMIN}

    @property
    def mfa_enrolled(self) -> bool:
        """Whether the user confirmed a TOTP authenticator (a code is asked at every sign-in)."""
        return self.mfa_enrolled_at is not None and self.totp_secret is not None

    def membership_for(self, company_id: int) -> Membership | None:
        for membership in self.memberships:
            if membership.company_id == company_id:
                return membership
        return None

    def role_in(self, company_id: int) -> CompanyRole | None:
        membership = self.membership_for(company_id)
        return membership.role if membership else None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class Membership(Base):
    """A trade user's role in one company; a person may belong to several companies."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "company_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    role: Mapped[CompanyRole] = mapped_column(
        str_enum(CompanyRole, "company_role")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    company: Mapped[Company] = relationship(back_populates="memberships")


class Invitation(Base):
    """An expiring invitation for an e-mail address to join a company with a role."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[CompanyRole] = mapped_column(
        str_enum(CompanyRole, "invitation_role")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    company: Mapped[Company] = relationship()
    invited_by: Mapped[User | None] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > utcnow()


class PasswordResetToken(Base):
    """A single-use, expiring password-reset link; only the hash of the token is stored."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """One single-use MFA recovery code; only its SHA-256 is stored.

    A code carries 80 random bits, so a fast unsalted hash is enough (as for reset tokens): nobody can
    enumerate 2**80 candidates, and the lookup by hash needs no per-code argon2 verification.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
