"""Company users: the officer invites by e-mail (an expiring link), sets roles and removes users; a
company always keeps an officer; nobody else manages users (issue 2, item 7)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import Invitation, Membership, User
from portal.auth.roles import CompanyRole
from portal.db import db_session
from portal.notifications.models import OutboxEmail
from tests import factories

INVITEE = "new.colleague@a.example"
INVITEE_PASSWORD = "colleague passphrase 2026"


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A short-lived session for checking what the requests stored (never held across a request)."""
    with app.app_context():
        yield db_session


def audit_rows(app: Any, action: str, company_id: int | None = None) -> list[AuditEvent]:
    with database(app) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if company_id is not None:
            query = query.where(AuditEvent.company_id == company_id)
        return list(session.scalars(query))


def membership_of(app: Any, user_id: int, company_id: int) -> Membership | None:
    with database(app) as session:
        return session.scalar(select(Membership).where(Membership.user_id == user_id,
                                                       Membership.company_id == company_id))


def membership_id(app: Any, cast: Any, key: str, company_id: int | None = None) -> int:
    row = membership_of(app, cast.users[key].id, company_id or cast.company_a.id)
    assert row is not None
    return row.id


def invitations(app: Any, email: str) -> list[Invitation]:
    with database(app) as session:
        return list(session.scalars(select(Invitation).where(Invitation.email == email).order_by(Invitation.id)))


def invite(client: Any, company_id: int, email: str = INVITEE, role: str = "consultant") -> Any:
    return client.post(f"/companies/{company_id}/users", data={"email": email, "role": role})


def invitation_link(app: Any, email: str) -> str:
    """The path of the accept link in the last e-mail queued for ``email``."""
    with database(app) as session:
        message = session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == email)
                                  .order_by(OutboxEmail.id.desc())).first()
    assert message is not None, f"no e-mail queued for {email}"
    match = re.search(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)


def register(client: Any, email: str = INVITEE, name: str = "Nico Colleague", next_url: str = "") -> Any:
    return client.post(f"/auth/register{'?next=' + next_url if next_url else ''}", data={
        "full_name": name, "email": email, "password": INVITEE_PASSWORD, "confirm_password": INVITEE_PASSWORD})


# --- inviting and accepting ------------------------------------------------------------------------


def test_officer_invites_by_email_and_the_invitee_registers_and_accepts(app, client, cast, login, clock):
    company_id = cast.company_a.id
    login(cast.email("officer_a"))
    response = invite(client, company_id, email="  New.Colleague@A.example ", role="consultant")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/companies/{company_id}/users"

    [invitation] = invitations(app, INVITEE)  # stored lower-cased and trimmed
    assert invitation.company_id == company_id
    assert invitation.role == CompanyRole.CONSULTANT
    assert invitation.invited_by_id == cast.users["officer_a"].id
    assert invitation.expires_at == clock.now + timedelta(days=7)
    assert invitation.accepted_at is None and invitation.revoked_at is None
    with database(app) as session:
        [message] = session.scalars(select(OutboxEmail).where(OutboxEmail.recipient == INVITEE)).all()
        assert "Alpha Imports Inc." in message.subject
        assert "7 days" in message.body and "consultant" in message.body
    link = invitation_link(app, INVITEE)
    token = link.rsplit("/", 1)[1]
    assert token not in invitation.token_hash  # only a hash of the token is stored
    [event] = audit_rows(app, "member.invited", company_id)
    assert event.summary == f"{INVITEE} as consultant"

    members_page = client.get(f"/companies/{company_id}/users")
    assert INVITEE in members_page.text  # listed as pending

    # The invitee follows the link: sign in first, then come back to the link.
    invitee = app.test_client()
    response = invitee.get(link)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    response = register(invitee, next_url=link)
    assert response.status_code == 302
    assert response.headers["Location"] == link
    page = invitee.get(link)
    assert page.status_code == 200
    assert "Join Alpha Imports Inc." in page.text
    response = invitee.post(link)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/companies/{company_id}"

    with database(app) as session:
        user = session.scalar(select(User).where(User.email == INVITEE))
        membership = session.scalar(select(Membership).where(Membership.user_id == user.id))
        assert membership.company_id == company_id
        assert membership.role == CompanyRole.CONSULTANT
        assert session.get(Invitation, invitation.id).accepted_at == clock.now
        user_id = user.id
    [joined] = audit_rows(app, "member.joined", company_id)
    assert joined.actor_id == user_id
    assert invitee.get(f"/companies/{company_id}").status_code == 200
    # The link is single use.
    assert invitee.get(link).status_code == 404
    assert invitee.post(link).status_code == 404
    assert "Pending invitations" not in client.get(f"/companies/{company_id}/users").text


def test_an_existing_user_signs_in_with_the_invited_address_and_joins_with_the_invited_role(
        app, client, cast, login):
    """The officer of company B is invited to company A as read-only: one person, two companies."""
    login(cast.email("officer_a"))
    invite(client, cast.company_a.id, email=cast.email("officer_b"), role="read_only")
    link = invitation_link(app, cast.email("officer_b"))

    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    assert other.post(link).status_code == 302
    membership = membership_of(app, cast.users["officer_b"].id, cast.company_a.id)
    assert membership is not None and membership.role == CompanyRole.READ_ONLY
    # Still officer of their own company.
    assert membership_of(app, cast.users["officer_b"].id, cast.company_b.id).role == CompanyRole.OFFICER
    assert other.get(f"/companies/{cast.company_a.id}").status_code == 200
    assert other.get(f"/companies/{cast.company_a.id}/edit").status_code == 403  # read-only


def test_another_email_address_cannot_accept_the_invitation(app, client, cast, login):
    login(cast.email("officer_a"))
    invite(client, cast.company_a.id, role="officer")
    link = invitation_link(app, INVITEE)

    intruder = app.test_client()
    register(intruder, email="intruder@elsewhere.example", name="Ivy Intruder")
    page = intruder.get(link)
    assert page.status_code == 200
    assert "Sign out and sign in with the invited address" in page.text
    response = intruder.post(link, follow_redirects=True)
    assert response.status_code == 200
    assert f"This invitation was sent to {INVITEE}" in response.text
    with database(app) as session:
        intruder_id = session.scalar(select(User.id).where(User.email == "intruder@elsewhere.example"))
        assert session.scalar(select(func.count()).select_from(Membership)
                               .where(Membership.user_id == intruder_id)) == 0
    [invitation] = invitations(app, INVITEE)
    assert invitation.accepted_at is None  # still usable by the right person
    assert audit_rows(app, "member.joined") == []
    assert intruder.get(f"/companies/{cast.company_a.id}").status_code == 404

    # A signed-in user of company B is refused too.
    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    assert other.post(link).status_code == 200
    assert membership_of(app, cast.users["officer_b"].id, cast.company_a.id) is None
    assert invitations(app, INVITEE)[0].accepted_at is None


def test_an_expired_invitation_is_refused(app, client, cast, login, clock):
    login(cast.email("officer_a"))
    invite(client, cast.company_a.id, role="employee")
    link = invitation_link(app, INVITEE)
    invitee = app.test_client()
    register(invitee)
    invitee.post("/auth/logout")

    clock.advance(days=8)
    login(INVITEE, password=INVITEE_PASSWORD, test_client=invitee)
    response = invitee.get(link)
    assert response.status_code == 404
    assert "This invitation is not valid" in response.text
    assert invitee.post(link).status_code == 404
    with database(app) as session:
        user_id = session.scalar(select(User.id).where(User.email == INVITEE))
    assert membership_of(app, user_id, cast.company_a.id) is None
    assert audit_rows(app, "member.joined") == []
    [invitation] = invitations(app, INVITEE)
    assert invitation.accepted_at is None

    # The officer may send a fresh invitation once the old one has expired; the new link works.
    officer = app.test_client()
    login(cast.email("officer_a"), test_client=officer)
    assert invite(officer, cast.company_a.id, role="employee").status_code == 302
    new_link = invitation_link(app, INVITEE)
    assert new_link != link
    assert invitee.post(new_link).status_code == 302
    assert membership_of(app, user_id, cast.company_a.id).role == CompanyRole.EMPLOYEE
    assert invitee.get(link).status_code == 404  # the old link stays dead


def test_cbp_staff_cannot_accept_an_invitation(app, client, cast, login):
    """An invitation made before a staff account took the address is refused at acceptance."""
    from portal.auth.roles import StaffRole

    login(cast.email("officer_a"))
    invite(client, cast.company_a.id, email="late.staff@cbp.example", role="officer")
    link = invitation_link(app, "late.staff@cbp.example")
    with app.app_context():
        factories.user("late.staff@cbp.example", staff_role=StaffRole.REVIEWER)
        db_session.commit()
    staff = app.test_client()
    login("late.staff@cbp.example", test_client=staff)
    response = staff.post(link, follow_redirects=True)
    assert "CBP staff accounts cannot join a company." in response.text
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(Membership)
                              .join(User).where(User.email == "late.staff@cbp.example")) == 0


def test_an_invitation_is_still_valid_just_before_it_expires(app, client, cast, login, clock):
    login(cast.email("officer_a"))
    invite(client, cast.company_a.id, role="employee")
    link = invitation_link(app, INVITEE)
    clock.advance(days=6, hours=23)
    invitee = app.test_client()
    register(invitee)
    assert invitee.post(link).status_code == 302
    with database(app) as session:
        user_id = session.scalar(select(User.id).where(User.email == INVITEE))
    assert membership_of(app, user_id, cast.company_a.id).role == CompanyRole.EMPLOYEE


def test_a_revoked_invitation_is_refused(app, client, cast, login):
    company_id = cast.company_a.id
    login(cast.email("officer_a"))
    invite(client, company_id, role="employee")
    link = invitation_link(app, INVITEE)
    [invitation] = invitations(app, INVITEE)

    response = client.post(f"/companies/{company_id}/invitations/{invitation.id}/revoke")
    assert response.status_code == 302
    [invitation] = invitations(app, INVITEE)
    assert invitation.revoked_at is not None
    [event] = audit_rows(app, "member.invitation_revoked", company_id)
    assert event.summary == INVITEE
    # Revoking twice is refused with a message, not an error page.
    again = client.post(f"/companies/{company_id}/invitations/{invitation.id}/revoke", follow_redirects=True)
    assert again.status_code == 200 and "no longer pending" in again.text

    invitee = app.test_client()
    register(invitee)
    assert invitee.get(link).status_code == 404
    assert invitee.post(link).status_code == 404
    with database(app) as session:
        user_id = session.scalar(select(User.id).where(User.email == INVITEE))
    assert membership_of(app, user_id, company_id) is None

    # After a revocation the officer may invite the same address again.
    assert invite(client, company_id, role="read_only").status_code == 302
    assert [i.role for i in invitations(app, INVITEE)] == [CompanyRole.EMPLOYEE, CompanyRole.READ_ONLY]


@pytest.mark.parametrize(("email", "message"), [
    ("employee@a.example", "already a user of the company"),
    ("reviewer@cbp.example", "CBP staff accounts cannot join a company"),
    ("not-an-address", "Enter a valid e-mail address."),
    ("", "Enter the e-mail address."),
])
def test_invitations_that_make_no_sense_are_refused_at_the_field(app, client, cast, login, email, message):
    login(cast.email("officer_a"))
    response = invite(client, cast.company_a.id, email=email)
    assert response.status_code == 200
    assert 'id="email-error"' in response.text
    assert message in response.text
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_a_second_pending_invitation_to_the_same_address_is_refused(app, client, cast, login):
    login(cast.email("officer_a"))
    assert invite(client, cast.company_a.id).status_code == 302
    response = invite(client, cast.company_a.id, email=INVITEE.upper(), role="officer")
    assert response.status_code == 200
    assert "An invitation to this address is already pending." in response.text
    assert len(invitations(app, INVITEE)) == 1


def test_an_unknown_role_is_refused(app, client, cast, login):
    login(cast.email("officer_a"))
    response = invite(client, cast.company_a.id, role="admin")
    assert response.status_code == 200
    assert 'id="role-error"' in response.text
    assert invitations(app, INVITEE) == []


# --- roles and removal ------------------------------------------------------------------------------


def test_officer_changes_a_role_and_the_change_takes_effect(app, client, cast, login):
    company_id = cast.company_a.id
    employee_membership = membership_id(app, cast, "employee_a")
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{company_id}/users/{employee_membership}/role", data={"role": "read_only"})
    assert response.status_code == 302
    assert membership_of(app, cast.users["employee_a"].id, company_id).role == CompanyRole.READ_ONLY
    [event] = audit_rows(app, "member.role_changed", company_id)
    assert event.summary == "employee@a.example: employee -> read_only"
    assert event.actor_id == cast.users["officer_a"].id

    employee = app.test_client()
    login(cast.email("employee_a"), test_client=employee)
    assert employee.get(f"/companies/{company_id}/edit").status_code == 403

    # An invalid role changes nothing.
    response = client.post(f"/companies/{company_id}/users/{employee_membership}/role", data={"role": "boss"},
                           follow_redirects=True)
    assert "Choose a valid role." in response.text
    assert membership_of(app, cast.users["employee_a"].id, company_id).role == CompanyRole.READ_ONLY


def test_officer_removes_a_user_who_then_loses_access(app, client, cast, login):
    company_id = cast.company_a.id
    consultant_membership = membership_id(app, cast, "consultant_a")
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{company_id}/users/{consultant_membership}/remove", follow_redirects=True)
    assert response.status_code == 200
    assert "Cora Consultant no longer has access" in response.text
    assert membership_of(app, cast.users["consultant_a"].id, company_id) is None
    [event] = audit_rows(app, "member.removed", company_id)
    assert event.summary == "consultant@a.example"
    assert event.object_id == str(consultant_membership)
    with database(app) as session:  # the person keeps their own login
        assert session.get(User, cast.users["consultant_a"].id) is not None

    consultant = app.test_client()
    login(cast.email("consultant_a"), test_client=consultant)
    assert consultant.get(f"/companies/{company_id}").status_code == 404
    assert consultant.get(f"/accounts/{cast.account_a.id}").status_code == 404


def test_the_last_officer_can_be_neither_demoted_nor_removed(app, client, cast, login):
    company_id = cast.company_a.id
    officer_membership = membership_id(app, cast, "officer_a")
    login(cast.email("officer_a"))

    response = client.post(f"/companies/{company_id}/users/{officer_membership}/role", data={"role": "employee"},
                           follow_redirects=True)
    assert "A company needs at least one company officer" in response.text
    response = client.post(f"/companies/{company_id}/users/{officer_membership}/remove", follow_redirects=True)
    assert "The last company officer cannot be removed." in response.text
    assert membership_of(app, cast.users["officer_a"].id, company_id).role == CompanyRole.OFFICER
    assert audit_rows(app, "member.role_changed") == []
    assert audit_rows(app, "member.removed") == []

    # With a second officer, the first may step down.
    employee_membership = membership_id(app, cast, "employee_a")
    client.post(f"/companies/{company_id}/users/{employee_membership}/role", data={"role": "officer"})
    assert membership_of(app, cast.users["employee_a"].id, company_id).role == CompanyRole.OFFICER
    response = client.post(f"/companies/{company_id}/users/{officer_membership}/role", data={"role": "employee"})
    assert response.status_code == 302
    assert membership_of(app, cast.users["officer_a"].id, company_id).role == CompanyRole.EMPLOYEE
    # ... and is no longer allowed to manage users.
    assert client.get(f"/companies/{company_id}/users").status_code == 403

    # The new (now only) officer cannot leave either.
    new_officer = app.test_client()
    login(cast.email("employee_a"), test_client=new_officer)
    response = new_officer.post(f"/companies/{company_id}/users/{employee_membership}/remove",
                                follow_redirects=True)
    assert "The last company officer cannot be removed." in response.text
    assert membership_of(app, cast.users["employee_a"].id, company_id) is not None


def test_the_last_officer_rule_counts_officers_per_company(app, client, cast, login):
    """An officer of company B does not count as a second officer of company A."""
    with app.app_context():
        user_b = db_session.get(User, cast.users["officer_b"].id)
        factories.member(db_session.get(type(cast.company_a), cast.company_a.id), user_b, CompanyRole.EMPLOYEE)
        db_session.commit()
    login(cast.email("officer_a"))
    officer_membership = membership_id(app, cast, "officer_a")
    client.post(f"/companies/{cast.company_a.id}/users/{officer_membership}/role", data={"role": "employee"})
    assert membership_of(app, cast.users["officer_a"].id, cast.company_a.id).role == CompanyRole.OFFICER


@pytest.mark.parametrize("actor", ["employee_a", "consultant_a", "readonly_a"])
def test_only_the_officer_manages_users(app, client, cast, login, actor):
    company_id = cast.company_a.id
    with app.app_context():
        from portal.companies import services

        company = db_session.get(type(cast.company_a), company_id)
        officer = db_session.get(User, cast.users["officer_a"].id)
        pending = services.invite_member(company, "pending@a.example", CompanyRole.EMPLOYEE, by=officer,
                                         accept_url_for=lambda token: f"http://x/invitations/{token}")
        db_session.commit()
        pending_id = pending.id
    target_key = "readonly_a" if actor != "readonly_a" else "employee_a"
    target = membership_id(app, cast, target_key)
    login(cast.email(actor))

    page = client.get(f"/companies/{company_id}")
    assert page.status_code == 200
    assert "Manage users and invitations" not in page.text
    assert client.get(f"/companies/{company_id}/users").status_code == 403
    assert invite(client, company_id, role="officer").status_code == 403
    assert client.post(f"/companies/{company_id}/users/{target}/role", data={"role": "officer"}).status_code == 403
    own = membership_id(app, cast, actor)
    assert client.post(f"/companies/{company_id}/users/{own}/role", data={"role": "officer"}).status_code == 403
    assert client.post(f"/companies/{company_id}/users/{target}/remove").status_code == 403
    assert client.post(f"/companies/{company_id}/invitations/{pending_id}/revoke").status_code == 403

    assert invitations(app, INVITEE) == []
    assert membership_of(app, cast.users[actor].id, company_id).role != CompanyRole.OFFICER
    assert membership_of(app, cast.users[target_key].id, company_id) is not None
    assert invitations(app, "pending@a.example")[0].revoked_at is None
    for action in ("member.invited", "member.role_changed", "member.removed", "member.invitation_revoked"):
        assert [e for e in audit_rows(app, action) if e.actor_id == cast.users[actor].id] == []


def test_a_member_of_another_company_gets_404(app, client, cast, login):
    company_id = cast.company_a.id
    target = membership_id(app, cast, "employee_a")
    login(cast.email("officer_a"))
    invite(client, company_id)
    [invitation] = invitations(app, INVITEE)

    outsider = app.test_client()
    login(cast.email("officer_b"), test_client=outsider)
    assert outsider.get(f"/companies/{company_id}/users").status_code == 404
    assert invite(outsider, company_id, email="spy@b.example").status_code == 404
    assert outsider.post(f"/companies/{company_id}/users/{target}/role", data={"role": "read_only"}).status_code == 404
    assert outsider.post(f"/companies/{company_id}/users/{target}/remove").status_code == 404
    assert outsider.post(f"/companies/{company_id}/invitations/{invitation.id}/revoke").status_code == 404
    # Company A's membership reached through company B's own URL is not found either.
    company_b = cast.company_b.id
    assert outsider.post(f"/companies/{company_b}/users/{target}/role", data={"role": "read_only"}).status_code == 404
    assert outsider.post(f"/companies/{company_b}/users/{target}/remove").status_code == 404
    assert outsider.post(f"/companies/{company_b}/invitations/{invitation.id}/revoke").status_code == 404

    assert membership_of(app, cast.users["employee_a"].id, company_id).role == CompanyRole.EMPLOYEE
    assert invitations(app, INVITEE)[0].revoked_at is None
    assert invitations(app, "spy@b.example") == []


def test_cbp_staff_do_not_manage_company_users(app, client, cast, login):
    login(cast.email("admin"))
    company_id = cast.company_a.id
    assert client.get(f"/companies/{company_id}/users").status_code == 403
    assert invite(client, company_id).status_code == 403
    assert invitations(app, INVITEE) == []
