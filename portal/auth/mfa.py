"""Multi-factor authentication with TOTP (RFC 6238) and single-use recovery codes.

- Seeds come from ``pyotp.random_base32()`` (160 bits from the OS CSPRNG). A seed is stored when
  enrolment starts and counts only once the user confirms it with a first code (``mfa_enrolled_at``).
- Codes last one 30-second step; ``MFA_TOTP_DRIFT_STEPS`` steps either side are accepted for clock
  drift. pyotp keeps no memory, so the last accepted step is stored per user and a code of that step
  or an earlier one is refused: a code works once (ASVS 5.0 6.5.1).
- Ten recovery codes of 16 characters (80 random bits each) are shown once and stored as SHA-256
  hashes: with that much entropy a fast hash cannot be reversed by guessing, and the lookup by hash
  avoids ten argon2 verifications per attempt (ASVS 6.5.2).
- A wrong code counts towards the same database-kept lockout as a wrong password
  (``services.register_failure``).

Services flush and audit; the caller commits (DESIGN.md §3). The "pending sign-in" helpers at the end
keep the state between the password and the code in the signed session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from flask import current_app, session
from sqlalchemy import delete, func, select

from portal import audit
from portal.auth import services
from portal.auth.models import RecoveryCode, User, new_token
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError

TIME_STEP = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
# Crockford's base32: 32 symbols (5 bits each) without I, L, O and U, which are easy to misread.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 16
_TOTP_CODE = re.compile(r"\d{6}")
_READ_AS = str.maketrans({"o": "0", "i": "1", "l": "1"})

WRONG_CODE = "The code is not correct, or it was already used. Enter the current code from your " \
    "authenticator app, or one of your recovery codes."


class SecondFactorFailed(Exception):
    """A wrong, reused or malformed code; ``locked`` tells whether this failure locked the account."""

    def __init__(self, locked: bool) -> None:
        super().__init__("second factor refused")
        self.locked = locked


# -- who needs a second factor ----------------------------------------------------------------------

def mfa_required(user: User) -> bool:
    """CBP staff must use MFA (when the setting is on); trade users may choose to."""
    return bool(current_app.config.get("MFA_REQUIRED_FOR_STAFF")) and user.is_staff


def needs_second_factor(user: User) -> bool:
    """Whether signing in takes a code after the password (or an enrolment first)."""
    return user.mfa_enrolled or mfa_required(user)


# -- enrolment -----------------------------------------------------------------------------------

def begin_enrolment(user: User) -> str:
    """Give the user a seed to load into an authenticator app (the same one until it is confirmed).

    :raise DomainError: when the user is already enrolled.
    """
    if user.mfa_enrolled:
        raise DomainError("Two-step verification is already set up for this account.")
    if not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """The ``otpauth://`` URI that authenticator apps read from the QR code."""
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email,
                                                         issuer_name=current_app.config["MFA_ISSUER"])


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI for an ``<img>`` (the CSP allows data: images;
    segno's SVG uses presentation attributes only, no style attribute and no script)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


def grouped(secret: str) -> str:
    """The seed in groups of four characters, for typing it into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Check the first code of a new authenticator, mark the user enrolled and return the recovery
    codes (in clear, to show once).

    :raise DomainError: on a wrong code (which also counts towards the lockout; commit anyway).
    """
    if user.mfa_enrolled:
        raise DomainError("Two-step verification is already set up for this account.")
    if not user.totp_secret:
        raise DomainError("Start the set-up again.")
    step = _matching_step(user, _normalise(code), utcnow())
    if step is None:
        services.register_failure(user, action="mfa.failed", summary="Wrong code while setting up an authenticator")
        raise DomainError("The code is not correct. Check that your device's clock is right and enter the "
                          "6-digit code your authenticator app shows now.", field="code")
    user.totp_last_step = step
    user.mfa_enrolled_at = utcnow()
    codes = _replace_recovery_codes(user)
    audit.record("mfa.enrolled", actor=user, obj=user, summary="Authenticator app confirmed")
    return codes


# -- verification --------------------------------------------------------------------------------

def _normalise(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _time_step(now: datetime) -> int:
    return int(now.timestamp()) // TIME_STEP


def _matching_step(user: User, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, if it is within the drift window and newer than the last
    accepted one; None otherwise (wrong code or replay)."""
    if not user.totp_secret or not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(user.totp_secret, digits=DIGITS, interval=TIME_STEP)
    current = _time_step(now)
    drift = int(current_app.config.get("MFA_TOTP_DRIFT_STEPS", 1))
    for step in range(current - drift, current + drift + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return None  # replay: this code (or a later one) was already accepted
            return step
    return None


def _lock_row(user: User) -> User:
    """Re-read the user with a row lock, so two requests cannot both accept the same code."""
    return db_session.scalar(select(User).where(User.id == user.id).with_for_update()
                             .execution_options(populate_existing=True))


def verify_second_factor(user: User, code: str, *, purpose: str = "sign-in") -> str:
    """Accept a current TOTP code or an unused recovery code; returns ``"totp"`` or ``"recovery"``.

    :raise SecondFactorFailed: on a wrong, reused or malformed code, or while the account is locked.
        The failure is audited and counted; the caller must commit.
    """
    user = _lock_row(user)
    now = utcnow()
    if services.is_locked(user, now):
        audit.record("auth.login_locked", obj=user, summary=f"Code entered while locked ({purpose})")
        raise SecondFactorFailed(locked=True)
    normalised = _normalise(code)
    step = _matching_step(user, normalised, now) if user.mfa_enrolled else None
    if step is not None:
        user.totp_last_step = step
        audit.record("mfa.verified", actor=user, obj=user, summary=f"Authenticator code ({purpose})")
        return "totp"
    if user.mfa_enrolled and _use_recovery_code(user, normalised, now):
        left = remaining_recovery_codes(user)
        audit.record("mfa.recovery_code_used", actor=user, obj=user,
                     summary=f"Recovery code used ({purpose}); {left} left")
        return "recovery"
    reused = bool(_TOTP_CODE.fullmatch(normalised)) and _was_accepted_before(user, normalised, now)
    locked = services.register_failure(user, now, action="mfa.failed",
                                       summary=f"{'Reused' if reused else 'Wrong'} code ({purpose})")
    raise SecondFactorFailed(locked=locked)


def _was_accepted_before(user: User, code: str, now: datetime) -> bool:
    """Whether ``code`` is a valid code of an already used step (only to word the audit event)."""
    if not user.totp_secret or user.totp_last_step is None:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = _time_step(now)
    drift = int(current_app.config.get("MFA_TOTP_DRIFT_STEPS", 1))
    return any(hmac.compare_digest(totp.generate_otp(step), code)
               for step in range(current - drift, min(current + drift, user.totp_last_step) + 1))


# -- recovery codes ------------------------------------------------------------------------------

def _hash_recovery_code(code: str) -> str:
    return hashlib.sha256(code.translate(_READ_AS).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    db_session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db_session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery_code(_normalise(code)))
                       for code in codes)
    db_session.flush()
    return codes


def _use_recovery_code(user: User, code: str, now: datetime) -> bool:
    if len(code) != RECOVERY_CODE_LENGTH:
        return False
    row = db_session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_recovery_code(code),
        RecoveryCode.used_at.is_(None)).with_for_update())
    if row is None:
        return False
    row.used_at = now
    db_session.flush()
    return True


def remaining_recovery_codes(user: User) -> int:
    return db_session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code of an enrolled user (the old ones stop working).

    :raise DomainError: when the user has no authenticator.
    """
    if not user.mfa_enrolled:
        raise DomainError("Set up two-step verification first.")
    codes = _replace_recovery_codes(user)
    audit.record("mfa.recovery_codes_regenerated", actor=user, obj=user)
    return codes


# -- reset and turning off -----------------------------------------------------------------------

def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    user.mfa_enrolled_at = None
    db_session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def reset_mfa(user: User, *, by: User) -> None:
    """An administrator removes a user's authenticator and recovery codes (a lost phone). The user's
    sessions end; staff enrol again at their next sign-in.

    :raise DomainError: when the user has nothing to reset.
    """
    if user.totp_secret is None and user.mfa_enrolled_at is None:
        raise DomainError(f"{user.email} has no two-step verification to reset.")
    _clear(user)
    user.session_token = new_token()
    audit.record("mfa.reset", actor=by, obj=user, summary=f"Two-step verification of {user.email} reset")


def disable_mfa(user: User) -> None:
    """A trade user turns two-step verification off (staff may not while it is required).

    :raise DomainError: when MFA is required for the user or not set up.
    """
    if mfa_required(user):
        raise DomainError("Two-step verification is required for CBP staff accounts.")
    if not user.mfa_enrolled:
        raise DomainError("Two-step verification is not set up.")
    _clear(user)
    audit.record("mfa.reset", actor=user, obj=user, summary="Turned off by the user")


# -- demo accounts (development only) ------------------------------------------------------------

def demo_secret(email: str) -> str:
    """The fixed TOTP seed of a demo account, derived from its e-mail (never used outside demo data)."""
    digest = hashlib.sha256(f"ctpat-portal-demo-totp:{email.lower()}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def enrol_demo_user(user: User) -> None:
    """Enrol a demo account with its fixed seed, so ``flask users totp EMAIL`` can print its code."""
    if user.mfa_enrolled:
        return
    user.totp_secret = demo_secret(user.email)
    user.totp_last_step = None
    user.mfa_enrolled_at = utcnow()
    audit.record("mfa.enrolled", obj=user, summary="Demo account enrolled with its fixed demo seed")


def demo_code(user: User) -> str | None:
    """The current code of a demo account, or None when the user's seed is not the demo seed."""
    if not user.totp_secret or not hmac.compare_digest(user.totp_secret, demo_secret(user.email)):
        return None
    return pyotp.TOTP(user.totp_secret).generate_otp(_time_step(utcnow()))


def seconds_left_in_step() -> int:
    return TIME_STEP - int(utcnow().timestamp()) % TIME_STEP


# -- the pending sign-in (between the password and the code) -------------------------------------

PENDING_KEY = "mfa_pending"


def start_pending(user: User, next_url: str | None) -> None:
    """Remember, for ``MFA_PENDING_TTL``, that this browser gave the user's password correctly. The
    user is not signed in until the code is checked."""
    session[PENDING_KEY] = {"user_id": user.id, "at": utcnow().timestamp(), "next": next_url or ""}


def pending() -> dict | None:
    """The pending sign-in of this browser, if it has not expired."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("user_id"), int):
        return None
    age = utcnow().timestamp() - float(data.get("at", 0))
    if age < 0 or age > current_app.config["MFA_PENDING_TTL"].total_seconds():
        session.pop(PENDING_KEY, None)
        return None
    return data


def pending_user() -> User | None:
    """The active user of an unexpired pending sign-in."""
    data = pending()
    if data is None:
        return None
    user = db_session.get(User, data["user_id"])
    return user if user is not None and user.is_active else None


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)
