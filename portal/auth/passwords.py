"""Password hashing (argon2id with rehash on login) and the password policy."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 12
MAX_LENGTH = 128

_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=4)
def _hasher(profile: str | None) -> PasswordHasher:
    if profile == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def hasher() -> PasswordHasher:
    """The argon2 hasher for the configured profile (tests use the cheapest one)."""
    return _hasher(current_app.config.get("PASSWORD_HASH_PROFILE"))


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Check a password against its stored hash without raising."""
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Passwords seen in breach corpora and guessing lists; refused at registration and change."""
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def password_problems(password: str, *, email: str | None = None, name: str | None = None) -> list[str]:
    """Return why a password is refused (empty when acceptable), per NIST SP 800-63B."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters (you used {len(password)}).")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters (you used {len(password)}).")
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        problems.append("This password is too common or too easy to guess; choose another.")
    elif email and lowered in {email.lower(), email.lower().split("@")[0]}:
        problems.append("Do not use your e-mail address as your password.")
    elif name and lowered.replace(" ", "") == name.lower().replace(" ", ""):
        problems.append("Do not use your name as your password.")
    return problems
