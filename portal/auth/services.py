"""Account verbs: registration, sign-in with lockout, password change and reset, staff creation.

Services flush and audit; the caller commits (DESIGN.md §3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from portal import audit
from portal.auth.models import PasswordResetToken, User, new_token
from portal.auth.passwords import hash_password, needs_rehash, password_problems, verify_password
from portal.auth.roles import StaffRole
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError
from portal.notifications.mail import queue_email


class LoginFailed(Exception):
    """Any failed sign-in; the user always sees the same message (no account enumeration)."""


def normalize_email(email: str) -> str:
    """E-mail addresses are stored and compared lower-cased."""
    return email.strip().lower()


def hash_token(token: str) -> str:
    """Tokens sent by e-mail are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def get_user_by_email(email: str, *, for_update: bool = False) -> User | None:
    """Find a user by e-mail (case-insensitive); optionally lock the row for a counter update."""
    query = select(User).where(User.email == normalize_email(email))
    if for_update:
        query = query.with_for_update()
    return db_session.scalar(query)


def _check_password(password: str, *, email: str, name: str | None, field: str = "password") -> None:
    problems = password_problems(password, email=email, name=name)
    if problems:
        raise DomainError(" ".join(problems), field=field)


def register_user(email: str, full_name: str, password: str) -> User:
    """Create a trade user who registered themselves.

    :raise DomainError: when the e-mail is taken or the password is refused.
    """
    email = normalize_email(email)
    _check_password(password, email=email, name=full_name)
    if get_user_by_email(email) is not None:
        raise DomainError("An account with this e-mail address already exists. Sign in or reset your password.",
                          field="email")
    user = User(email=email, full_name=full_name.strip(), password_hash=hash_password(password),
                password_changed_at=utcnow())
    db_session.add(user)
    db_session.flush()
    audit.record("user.registered", actor=user, obj=user, summary=f"Registered {email}")
    return user


def create_staff_user(email: str, full_name: str, role: StaffRole, password: str, *, by: User | None) -> User:
    """Create a CBP staff account (admin page or CLI only).

    :raise DomainError: when the e-mail is taken or the password is refused.
    """
    email = normalize_email(email)
    _check_password(password, email=email, name=full_name)
    if get_user_by_email(email) is not None:
        raise DomainError("An account with this e-mail address already exists.", field="email")
    user = User(email=email, full_name=full_name.strip(), password_hash=hash_password(password),
                staff_role=role, password_changed_at=utcnow())
    db_session.add(user)
    db_session.flush()
    audit.record("user.staff_created", actor=by, obj=user, summary=f"Created {role.value} {email}")
    return user


# Audit events that count towards a lockout: a wrong password at sign-in or re-authentication, and a
# wrong second factor (so an attacker who knows the password cannot guess codes without limit).
FAILURE_ACTIONS = ("auth.login_failed", "auth.reauth_failed", "mfa.failed")
# Audit events after which earlier failures no longer count. The password step of a sign-in with MFA
# writes none of these: only the complete sign-in (``auth.login``) does.
FAILURE_RESETS = ("auth.login", "auth.reauth", "auth.lockout", "auth.password_reset", "mfa.reset")


def _recent_failures(user: User, now: datetime) -> int:
    """Failed sign-ins of the user within the lockout window (a sliding window over the audit trail,
    so it holds across processes), not counting those before the last success, lockout or reset."""
    mine = (audit.AuditEvent.object_type == "User", audit.AuditEvent.object_id == str(user.id))
    last_reset = select(func.max(audit.AuditEvent.id)).where(
        *mine, audit.AuditEvent.action.in_(FAILURE_RESETS)
    ).scalar_subquery()
    return db_session.scalar(
        select(func.count()).select_from(audit.AuditEvent).where(
            *mine,
            audit.AuditEvent.action.in_(FAILURE_ACTIONS),
            audit.AuditEvent.occurred_at > now - current_app.config["LOCKOUT_WINDOW"],
            audit.AuditEvent.id > func.coalesce(last_reset, 0),
        )
    ) or 0


def register_failure(user: User, now: datetime | None = None, *, action: str = "auth.login_failed",
                     summary: str | None = None, actor: User | None = None) -> bool:
    """Audit a failed attempt (``action`` is one of FAILURE_ACTIONS) and lock the account when the
    threshold is reached; returns whether the account is now locked."""
    config = current_app.config
    now = now or utcnow()
    audit.record(action, actor=actor, obj=user, summary=summary or f"Wrong password for {user.email}")
    user.failed_login_count = _recent_failures(user, now)
    if user.failed_login_count == 1 or user.first_failed_login_at is None:
        user.first_failed_login_at = now
    if user.failed_login_count >= config["LOCKOUT_THRESHOLD"]:
        user.locked_until = now + config["LOCKOUT_DURATION"]
        user.failed_login_count = 0
        user.first_failed_login_at = None
        audit.record("auth.lockout", obj=user, summary=f"Locked until {user.locked_until.isoformat()}")
        return True
    return False


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def check_password(email: str, password: str) -> User:
    """The first factor: check credentials, applying the lockout kept in the database (so it holds
    across processes). A success changes nothing yet: the caller asks for a second factor when the
    user needs one, then calls :func:`complete_login`. The caller must commit in both outcomes, so
    failures are counted.

    :raise LoginFailed: for an unknown e-mail, a wrong password, a locked or disabled account.
    """
    now = utcnow()
    user = get_user_by_email(email, for_update=True)
    if user is None:
        # Spend the same time as a real check so response times do not reveal which e-mails exist.
        verify_password(hash_password("not-a-real-password"), password)
        audit.record("auth.login_failed", summary=f"Unknown e-mail {normalize_email(email)[:254]}")
        raise LoginFailed
    if is_locked(user, now):
        audit.record("auth.login_locked", obj=user, summary="Sign-in attempted while locked")
        raise LoginFailed
    if not verify_password(user.password_hash, password):
        register_failure(user, now)
        raise LoginFailed
    if not user.is_active:
        audit.record("auth.login_failed", obj=user, summary="Account disabled")
        raise LoginFailed
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def complete_login(user: User, *, summary: str = "") -> None:
    """Finish a sign-in once every factor is checked: clear the failure count and rotate the session
    token (old cookies stop working)."""
    user.failed_login_count = 0
    user.first_failed_login_at = None
    user.locked_until = None
    user.last_login_at = utcnow()
    user.session_token = new_token()
    audit.record("auth.login", actor=user, obj=user, summary=summary)


def authenticate(email: str, password: str, *,
                 needs_second_factor: Callable[[User], bool] | None = None) -> User:
    """The password step of a sign-in: :func:`check_password`, then :func:`complete_login` unless
    ``needs_second_factor(user)`` says a code must come first (the caller then completes the sign-in
    after checking it).

    :raise LoginFailed: as :func:`check_password`.
    """
    user = check_password(email, password)
    if needs_second_factor is None or not needs_second_factor(user):
        complete_login(user)
    return user


def logout(user: User) -> None:
    """Rotate the session token so a copy of the cookie cannot be replayed after sign-out."""
    user.session_token = new_token()
    audit.record("auth.logout", actor=user, obj=user)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change a password after checking the current one; every other session is revoked.

    :raise DomainError: on a wrong current password or a refused new one.
    """
    if not verify_password(user.password_hash, current_password):
        raise DomainError("Your current password is not correct.", field="current_password")
    _check_password(new_password, email=user.email, name=user.full_name, field="new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.session_token = new_token()
    audit.record("auth.password_changed", actor=user, obj=user)


def request_password_reset(email: str, reset_url_for: Callable[[str], str]) -> None:
    """E-mail a one-time reset link if the account exists; silent otherwise (no enumeration)."""
    user = get_user_by_email(email)
    if user is None or not user.is_active:
        audit.record("auth.password_reset_requested", summary=f"Unknown e-mail {normalize_email(email)[:254]}")
        return
    token = new_token()
    ttl = current_app.config["PASSWORD_RESET_TTL"]
    db_session.add(PasswordResetToken(user_id=user.id, token_hash=hash_token(token), expires_at=utcnow() + ttl))
    minutes = int(ttl.total_seconds() // 60)
    queue_email(
        user.email,
        "Reset your CTPAT Portal password",
        f"Hello {user.full_name},\n\nSomeone (hopefully you) asked to reset the password of your CTPAT Portal "
        f"account. Open this link within {minutes} minutes to choose a new password:\n\n{reset_url_for(token)}\n\n"
        "If you did not ask for this, ignore this message; your password stays the same.\n",
    )
    audit.record("auth.password_reset_requested", obj=user)


def find_reset_token(token: str) -> PasswordResetToken | None:
    """Return the reset token if it exists, is unused and has not expired."""
    row = db_session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def reset_password(token: str, new_password: str) -> User:
    """Set a new password through a reset link; the link is used up and all sessions revoked.

    :raise DomainError: when the link is invalid or expired, or the password is refused.
    """
    row = find_reset_token(token)
    if row is None:
        raise DomainError("This reset link is invalid or has expired. Ask for a new one.")
    user = row.user
    _check_password(new_password, email=user.email, name=user.full_name, field="new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.session_token = new_token()
    user.locked_until = None
    user.failed_login_count = 0
    row.used_at = utcnow()
    audit.record("auth.password_reset", actor=user, obj=user)
    return user
