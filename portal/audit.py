"""The append-only audit trail: who did what, to which object, when and from where.

Every state change writes one event in the same transaction as the change (DESIGN.md §3). A trigger
on both databases rejects UPDATE and DELETE on the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime, append_only_statements, db_session, make_append_only


class AuditEvent(Base):
    """One audited action. Never updated or deleted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    ip_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


# The same statements are run by the initial migration; create_all (tests) gets them through DDL events.
SQLITE_GUARDS = append_only_statements("audit_events", "sqlite")
POSTGRES_GUARDS = append_only_statements("audit_events", "postgresql")
make_append_only(AuditEvent.__table__)


def client_ip() -> str | None:
    """The client's address as Werkzeug sees it (ProxyFix decides which forwarded hop is trusted)."""
    return request.remote_addr if has_request_context() else None


def event_values(
    action: str,
    *,
    actor: Any = None,
    company_id: int | None = None,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    summary: str = "",
) -> dict[str, Any]:
    """The columns of one audit event (``record`` takes the same arguments).

    ``actor`` is a User (or None for anonymous/system actions); ``obj`` an ORM object whose class
    name and id are recorded, unless ``object_type``/``object_id`` are given.
    """
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    actor_id = getattr(actor, "id", None) if actor is not None and getattr(actor, "is_authenticated", True) else None
    return {
        "occurred_at": utcnow(),
        "actor_id": actor_id,
        "actor_email": getattr(actor, "email", None) if actor_id else None,
        "company_id": company_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "summary": summary[:2000],
        "ip_address": client_ip(),
        "request_id": getattr(g, "request_id", None) if has_request_context() else None,
    }


def record(action: str, **details: Any) -> AuditEvent:
    """Add an audit event to the current transaction; ``details`` are ``event_values``' keywords."""
    event_row = AuditEvent(**event_values(action, **details))
    db_session.add(event_row)
    return event_row
