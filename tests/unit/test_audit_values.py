"""The audit event's columns as ``audit.event_values`` gives them: the same set the table has, because
the answer's rewrite on PostgreSQL binds one parameter per column (profiles.services._rewrite_with_event)."""

from __future__ import annotations

from types import SimpleNamespace

from portal import audit
from portal.audit import AuditEvent


def test_event_values_name_every_column_but_the_id():
    values = audit.event_values("answer.saved", actor=SimpleNamespace(id=7, email="a@example.com"),
                                company_id=3, object_type="Answer", object_id=11, summary="x" * 3000)
    assert set(values) == {column.name for column in AuditEvent.__table__.c} - {"id"}
    assert (values["actor_id"], values["actor_email"], values["object_id"]) == (7, "a@example.com", "11")
    assert len(values["summary"]) == 2000 and values["ip_address"] is None  # no request: no address


def test_an_anonymous_actor_is_recorded_without_id_or_email():
    values = audit.event_values("user.login_failed", actor=SimpleNamespace(id=None, is_authenticated=False))
    assert values["actor_id"] is None and values["actor_email"] is None
