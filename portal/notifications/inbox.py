"""In-app notifications: a message for one user with an optional link, read or unread."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, db_session
from portal.notifications.mail import queue_email


class Notification(Base):
    """One in-app notification."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


def notify(user, title: str, body: str = "", link: str | None = None, *, email: bool = True) -> Notification:  # noqa: ANN001
    """Add an in-app notification, and queue the same message by e-mail unless ``email`` is False or
    the user turned e-mail notifications off (/account/notifications)."""
    row = Notification(user_id=user.id, title=title[:200], body=body, link=link, created_at=utcnow())
    db_session.add(row)
    if email and getattr(user, "email_notifications", True) is not False:
        queue_email(user.email, title, body + (f"\n\nOpen the portal: {link}" if link else ""))
    return row


def unread_count(user_id: int) -> int:
    return db_session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0
