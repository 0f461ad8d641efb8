"""Queue e-mail in the outbox and deliver it: as .eml files in development, over SMTP when configured."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import select

from portal.clock import utcnow
from portal.db import db_session
from portal.notifications.models import OutboxEmail

MAX_ATTEMPTS = 5


def _clean_header(value: str) -> str:
    # Header injection: a subject or address must never carry a line break.
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def queue_email(recipient: str, subject: str, body: str) -> OutboxEmail:
    """Add a message to the outbox in the current transaction; it is delivered after commit."""
    message = OutboxEmail(recipient=_clean_header(recipient), subject=_clean_header(subject)[:300], body=body)
    db_session.add(message)
    if has_request_context():
        g.mail_queued = True
    return message


def _build(message: OutboxEmail, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain="ctpat-portal.example")
    email.set_content(message.body)
    return email


def _deliver_one(message: OutboxEmail, config: Any) -> None:
    email = _build(message, config["MAIL_FROM"])
    if config.get("SMTP_HOST"):
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(email)
        return
    outbox = Path(config["MAIL_OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = message.created_at.strftime("%Y%m%dT%H%M%S")
    (outbox / f"{stamp}-{message.id:06d}.eml").write_bytes(bytes(email))


def _claim_next(after_id: int) -> OutboxEmail | None:
    """Lock the next deliverable message after ``after_id`` for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent senders each take different rows and none
    waits for another's SMTP conversation. SQLite has no row locks (the clause is not rendered): a
    writing transaction starts with BEGIN IMMEDIATE (portal/db.py), which serialises the senders.
    Either way the row is re-read inside the transaction, so a message another sender delivered
    meanwhile (``sent_at`` set) is never sent again.
    """
    return db_session.scalar(
        select(OutboxEmail)
        .where(OutboxEmail.sent_at.is_(None), OutboxEmail.attempts < MAX_ATTEMPTS, OutboxEmail.id > after_id)
        .order_by(OutboxEmail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )


def deliver_pending(limit: int = 100) -> tuple[int, int]:
    """Deliver unsent messages; returns (sent, failed).

    Each message is claimed (row lock), sent and marked in its own transaction, committed before the
    next one, so two senders running at once never deliver the same message twice and a crash
    mid-batch never re-sends what was already delivered. A failure is recorded and the message is
    tried again by a later run, at most ``MAX_ATTEMPTS`` times in all; one run tries each message once.
    """
    config = current_app.config
    sent = failed = 0
    last_id = 0
    while sent + failed < limit:
        message = _claim_next(last_id)
        if message is None:
            db_session.commit()
            break
        last_id = message.id
        message.attempts += 1
        try:
            _deliver_one(message, config)
        except (OSError, smtplib.SMTPException) as exc:
            message.last_error = str(exc)[:1000]
            failed += 1
        else:
            message.sent_at = utcnow()
            message.last_error = None
            sent += 1
        db_session.commit()
    return sent, failed


def init_app(app: Any) -> None:
    """Deliver queued mail right after a request that committed some, when configured to.

    Production may instead run ``flask --app wsgi notify send`` from cron; either way a message is
    written only after the transaction that queued it committed.
    """
    from flask import Response

    @app.after_request
    def _deliver(response: Response) -> Response:
        if app.config.get("MAIL_DELIVER_AFTER_REQUEST") and request_queued_mail():
            # Whatever the view did not commit is discarded (as at teardown), never committed by the
            # delivery's own commits below.
            db_session.rollback()
            try:
                deliver_pending()
            except Exception:  # noqa: BLE001 - mail trouble must never break the user's request
                app.logger.exception("Outbox delivery failed; messages stay queued")
                db_session.rollback()
        return response


def request_queued_mail() -> bool:
    """Whether this request queued a message that was committed."""
    from flask import g

    return bool(g.get("mail_queued"))
