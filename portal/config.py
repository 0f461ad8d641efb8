"""Configuration classes: defaults, values from the environment, and the production guard."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# Only ever used on a developer's machine; production refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"


def parse_bool(value: str | None, default: bool = False) -> bool:
    """Parse an environment boolean strictly, so a typo fails loudly instead of meaning False."""
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"Not a boolean: {value!r}")


class Config:
    """Settings for development and production; every secret comes from the environment."""

    ENV_NAME = os.environ.get("PORTAL_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.db'}")
    DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "5"))
    DB_MAX_OVERFLOW = int(os.environ.get("DB_MAX_OVERFLOW", "5"))
    TESTING = False
    DEBUG = False

    # Uploads: evidence files are at most 20 MB; the request may carry a little form data besides.
    MAX_CONTENT_LENGTH = 21 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024
    MAX_FORM_PARTS = 1000
    EVIDENCE_DIR = os.environ.get("EVIDENCE_DIR", str(INSTANCE_DIR / "evidence"))
    # Where evidence bytes live: "local" (EVIDENCE_DIR, one machine) or "s3" (an S3-compatible bucket
    # shared by every app server; docs/DEPLOY.md). Without S3_ACCESS_KEY boto3 finds credentials itself
    # (environment, instance profile); S3_ENDPOINT_URL is empty for AWS itself.
    EVIDENCE_STORAGE = os.environ.get("EVIDENCE_STORAGE", "local")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_ACCESS_KEY = os.environ.get("S3_ACCESS_KEY", "")
    S3_SECRET_KEY = os.environ.get("S3_SECRET_KEY", "")
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    # Lifetime of a presigned download link, in seconds: long enough to start the download only.
    S3_PRESIGN_TTL = int(os.environ.get("S3_PRESIGN_TTL", "60"))

    # Sessions (DESIGN.md §9).
    SESSION_COOKIE_NAME = "ctpat_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = parse_bool(os.environ.get("SESSION_COOKIE_SECURE"), default=False)
    IDLE_TIMEOUT_TRADE = timedelta(minutes=15)
    IDLE_TIMEOUT_STAFF = timedelta(minutes=10)
    ABSOLUTE_SESSION_LIFETIME = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)

    # Login lockout: 5 failures within 15 minutes lock the account for 15 minutes.
    LOCKOUT_THRESHOLD = 5
    LOCKOUT_WINDOW = timedelta(minutes=15)
    LOCKOUT_DURATION = timedelta(minutes=15)
    PASSWORD_RESET_TTL = timedelta(hours=1)
    INVITATION_TTL = timedelta(days=7)
    # Days a partner has to answer a required action found in a validation (no CBP-published figure).
    VALIDATION_FINDING_DUE_DAYS = int(os.environ.get("VALIDATION_FINDING_DUE_DAYS", "90"))

    # Multi-factor authentication (TOTP, DESIGN.md §9): required for CBP staff, optional for trade users.
    MFA_REQUIRED_FOR_STAFF = True
    MFA_ISSUER = "CTPAT Portal"
    # How long the "password correct, code still to come" state lasts.
    MFA_PENDING_TTL = timedelta(minutes=5)
    # Time steps of clock drift accepted either side of now (0 = the current 30-second step only).
    MFA_TOTP_DRIFT_STEPS = 1
    # A fresh login (password, plus a code when enrolled) before decisions, exports and role changes;
    # None turns the check off.
    REAUTH_MAX_AGE: timedelta | None = timedelta(minutes=15)

    # CSRF through Flask-WTF; tokens live as long as the session may.
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    WTF_CSRF_SSL_STRICT = True

    # E-mail: written to instance/outbox as .eml files unless SMTP is configured.
    MAIL_FROM = os.environ.get("MAIL_FROM", "CTPAT Portal <no-reply@ctpat-portal.example>")
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = parse_bool(os.environ.get("SMTP_STARTTLS"), default=False)
    MAIL_DELIVER_AFTER_REQUEST = True

    # Rendered page fragments each app server keeps in memory (portal/fragment_cache.py); a category
    # page's criteria take about 25 KB, so 500 entries are about 12 MB per worker. 0 turns it off.
    FRAGMENT_CACHE_ENTRIES = int(os.environ.get("FRAGMENT_CACHE_ENTRIES", "500"))
    # Rendered rows of the review queue (about 1.5 KB each): 5,000 rows are about 8 MB per worker and
    # hold every open review of the program in each shape of the reviewers' rights. 0 turns it off.
    ROW_CACHE_ENTRIES = int(os.environ.get("ROW_CACHE_ENTRIES", "5000"))
    # The rest of a page around a cached fragment (layout, navigation, the page's header), one per user and
    # page, about 8 KB each: 2,000 are about 16 MB per worker. 0 turns it off.
    PAGE_CACHE_ENTRIES = int(os.environ.get("PAGE_CACHE_ENTRIES", "2000"))

    # Argon2 parameters; None means argon2-cffi's RFC 9106 low-memory profile.
    PASSWORD_HASH_PROFILE: str | None = None

    # Behind a load balancer set to the number of trusted proxies in front of the app.
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")


class ProductionConfig(Config):
    """Production: secure cookies and strict checks."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True


class TestConfig(Config):
    """Settings for the test suite: a throwaway database and cheap password hashing."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_PROFILE = "cheapest"
    # An unroutable SMTP setting, so no test can ever send real mail.
    SMTP_HOST = ""
    SERVER_NAME = None
    # Existing tests sign staff in with a password alone and act without re-authenticating;
    # tests of MFA and re-authentication turn these on.
    MFA_REQUIRED_FOR_STAFF = False
    REAUTH_MAX_AGE = None


def check_production_settings(config: dict[str, Any]) -> None:
    """Refuse to start in production with a missing, default or short SECRET_KEY.

    :raise RuntimeError: when the configuration is unsafe for production.
    """
    if config.get("ENV_NAME") != "production":
        return
    secret = config.get("SECRET_KEY") or ""
    if not secret or secret in {DEV_SECRET_KEY, TestConfig.SECRET_KEY} or len(secret) < 32:
        raise RuntimeError(
            "Refusing to start in production: set SECRET_KEY to a random value of at least 32 characters."
        )
    if config.get("DEBUG"):
        raise RuntimeError("Refusing to start in production with DEBUG on.")
