"""In-app notifications: a message for one user with an optional link, read or unread."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, case, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
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


def unread_count_of(user_id: Any) -> Any:
    """The unread count as a scalar subquery, so that loading the signed-in user brings it along."""
    return (select(func.count()).select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None)).scalar_subquery())


def unread_count(user_id: int) -> int:
    return db_session.scalar(select(unread_count_of(user_id))) or 0


INBOX_PER_PAGE = 25


# -- the in-app inbox ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxPage:
    items: list[Notification]
    total: int
    unread: int
    page: int
    pages: int
    per_page: int


def inbox_page(user_id: int, page: int, per_page: int = INBOX_PER_PAGE) -> InboxPage:
    """The user's notifications, newest first, one page at a time."""
    total, unread = db_session.execute(
        select(func.count(Notification.id), func.count(case((Notification.read_at.is_(None), 1))))
        .where(Notification.user_id == user_id)).one()
    pages = max(1, math.ceil((total or 0) / per_page))
    page = min(max(1, page), pages)
    items = list(db_session.scalars(
        select(Notification).where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(per_page).offset((page - 1) * per_page)))
    return InboxPage(items=items, total=total or 0, unread=unread or 0, page=page, pages=pages, per_page=per_page)


def own_notification(user_id: int, notification_id: int) -> Notification | None:
    """The notification if it belongs to the user; someone else's is None (the view answers 404)."""
    return db_session.scalar(select(Notification).where(Notification.id == notification_id,
                                                        Notification.user_id == user_id))


def mark_read(notification: Notification) -> None:
    """Mark one notification read (a second time changes nothing). Flushes; the view commits."""
    if notification.read_at is None:
        notification.read_at = clock.utcnow()
        db_session.flush()


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    result = db_session.execute(update(Notification)
                                .where(Notification.user_id == user_id, Notification.read_at.is_(None))
                                .values(read_at=clock.utcnow())
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0
