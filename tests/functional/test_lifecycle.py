"""Account lifecycle by supervisors: suspend with a corrective action plan, reinstate, remove and
withdraw, each with a reason, in the status history and the audit trail; who may act."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.audit import AuditEvent
from portal.companies.models import TradeAccount
from portal.companies.workflow import AccountAction, AccountStatus
from portal.db import db_session
from portal.errors import DomainError
from portal.notifications.inbox import Notification
from portal.validations import lifecycle
from portal.validations.models import Suspension
from tests.functional.test_validations import certify, user


def _certified(app, cast) -> int:
    with app.app_context():
        account = certify(cast.account_a.id, cast)
        db_session.commit()
        return account.id


def _suspend_form(**extra):
    data = {"action": "suspend", "reason": "Seizure of narcotics in a container.",
            "corrective_action_plan": "Re-train staff on container inspection; install seals audit.",
            "due_on": (date.today() + timedelta(days=90)).isoformat()}
    data.update(extra)
    return data


def test_suspend_then_reinstate_keeps_history_plan_and_audit(app, client, login, cast):
    account_id = _certified(app, cast)
    login(cast.email("supervisor"))
    url = f"/accounts/{account_id}/lifecycle"
    no_plan = client.post(url, data=_suspend_form(corrective_action_plan=""))
    assert no_plan.status_code == 200 and "corrective action plan" in no_plan.get_data(as_text=True)
    past_due = client.post(url, data=_suspend_form(due_on=date.today().isoformat()))
    assert "due date in the future" in past_due.get_data(as_text=True)
    no_reason = client.post(url, data=_suspend_form(reason=""))
    assert no_reason.status_code == 200 and "Give the reason" in no_reason.get_data(as_text=True)
    assert client.post(url, data=_suspend_form()).status_code == 302
    with app.app_context():
        account = db_session.get(TradeAccount, account_id)
        assert account.status == AccountStatus.SUSPENDED
        suspension = db_session.scalar(select(Suspension))
        assert suspension.lifted_at is None and suspension.due_on == date.today() + timedelta(days=90)
        officer_notes = db_session.scalars(select(Notification).where(
            Notification.user_id == cast.users["officer_a"].id)).all()
        assert any("suspended" in n.title for n in officer_notes)
        assert any("Corrective action plan" in n.body for n in officer_notes)
    page = client.get(url).get_data(as_text=True)
    assert "Seizure of narcotics" in page and "install seals audit" in page and "In force" in page
    assert client.post(url, data={"action": "reinstate", "reason": "Plan met; unannounced visit done."}
                       ).status_code == 302
    with app.app_context():
        account = db_session.get(TradeAccount, account_id)
        assert account.status == AccountStatus.REINSTATED
        assert db_session.scalar(select(Suspension)).lifted_at is not None
        history = [(c.from_status, c.to_status, c.reason) for c in account.status_history]
        assert history[-2:] == [
            (AccountStatus.CERTIFIED, AccountStatus.SUSPENDED, "Seizure of narcotics in a container."),
            (AccountStatus.SUSPENDED, AccountStatus.REINSTATED, "Plan met; unannounced visit done.")]
        actions = [e.action for e in db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions.count("account.status_changed") >= 3 and "account.suspension_plan" in actions


@pytest.mark.parametrize(("action", "status"), [("remove", AccountStatus.REMOVED),
                                                ("withdraw", AccountStatus.WITHDRAWN)])
def test_remove_and_withdraw_end_the_membership(app, cast, action, status):
    account_id = _certified(app, cast)
    with app.app_context():
        account = db_session.get(TradeAccount, account_id)
        lifecycle.apply_action(account, AccountAction(action), "Partner asked by e-mail of 3 May."
                               if action == "withdraw" else "False information filed.", by=user("admin", cast))
        assert account.status == status
        assert lifecycle.available_actions(account) == []
        with pytest.raises(DomainError, match="cannot be given"):
            lifecycle.apply_action(account, AccountAction.REINSTATE, "x", by=user("supervisor", cast))


def test_only_actions_the_status_allows_are_offered_and_accepted(app, client, login, cast):
    account_id = _certified(app, cast)
    login(cast.email("supervisor"))
    page = client.get(f"/accounts/{account_id}/lifecycle").get_data(as_text=True)
    assert 'value="suspend"' in page and 'value="reinstate"' not in page
    response = client.post(f"/accounts/{account_id}/lifecycle", data={"action": "reinstate", "reason": "x"})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(as_text=True)
    with app.app_context():
        applicant = db_session.get(TradeAccount, cast.account_b.id)
        assert lifecycle.available_actions(applicant) == [AccountAction.WITHDRAW]


def test_only_supervisors_act_and_members_see_the_history(app, client, login, cast):
    account_id = _certified(app, cast)
    url = f"/accounts/{account_id}/lifecycle"
    assert client.get(url).status_code == 302  # anonymous: sign in
    login(cast.email("reviewer"))
    assert client.get(url).status_code == 200
    assert "Lifecycle action" not in client.get(url).get_data(as_text=True)
    assert client.post(url, data=_suspend_form()).status_code == 403
    officer = app.test_client()
    login(cast.email("officer_a"), test_client=officer)
    page = officer.get(url)
    assert page.status_code == 200 and "Status history" in page.get_data(as_text=True)
    assert officer.post(url, data=_suspend_form()).status_code == 403
    other = app.test_client()
    login(cast.email("officer_b"), test_client=other)
    assert other.get(url).status_code == 404 and other.post(url, data=_suspend_form()).status_code == 404
    with app.app_context():
        with pytest.raises(DomainError, match="Only a supervisor"):
            lifecycle.apply_action(db_session.get(TradeAccount, account_id), AccountAction.SUSPEND, "x",
                                   by=user("reviewer", cast), corrective_action_plan="y",
                                   due_on=date.today() + timedelta(days=30))
        assert db_session.get(TradeAccount, account_id).status == AccountStatus.CERTIFIED
