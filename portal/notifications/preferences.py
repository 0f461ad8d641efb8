"""Per-user notification preferences. Services flush and audit; the caller commits."""

from __future__ import annotations

from typing import Any

from portal import audit


def set_email_notifications(user: Any, enabled: bool) -> bool:
    """Turn the e-mail copy of in-app notifications on or off; returns whether anything changed."""
    if user.email_notifications == enabled:
        return False
    user.email_notifications = enabled
    audit.record("user.email_notifications_changed", actor=user, obj=user,
                 summary="E-mail notifications on" if enabled else "E-mail notifications off")
    return True
