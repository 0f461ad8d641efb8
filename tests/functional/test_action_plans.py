"""Action plans (issue 3, item 5): create with field errors, owners of the company only, optimistic
locking with a 409 page, milestones, status, overdue derived from the date, list filters and sorting,
404 for crafted or foreign ids, 403 for read-only users, and a constant number of SQL statements."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from flask import render_template
from markupsafe import escape
from sqlalchemy import event, func, select

from portal.action_plans import queries, services
from portal.action_plans.models import ActionPlan, Milestone
from portal.action_plans.services import PlanInput
from portal.audit import AuditEvent
from portal.auth.models import User
from portal.catalog.schema import Criterion
from portal.clock import today
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.services import applicable_criterion, catalog_of
from portal.profiles.workflow import ActionPlanStatus, ImplementationStatus, ProfileStatus

# --- helpers ---------------------------------------------------------------------------------------


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A short-lived session for arranging data and checking what requests stored."""
    with app.app_context():
        yield db_session


def profile_id_of(app: Any, account_id: int) -> int:
    with database(app) as session:
        profile_id = session.scalar(select(SecurityProfile.id).where(SecurityProfile.account_id == account_id))
    assert profile_id is not None
    return profile_id


@pytest.fixture
def pid(app: Any, cast: Any) -> int:
    """The id of company A's importer profile (created when the agreement was signed)."""
    return profile_id_of(app, cast.account_a.id)


@pytest.fixture
def pid_b(app: Any, cast: Any) -> int:
    return profile_id_of(app, cast.account_b.id)


def add_plan(app: Any, cast: Any, profile_id: int, criterion_id: str = "1.3", *, by: str = "officer_a",
             owner: str | None = "employee_a", owner_name: str | None = None, target: date | None = None,
             gap: str = "No written review yet", action: str = "Write and schedule the review",
             status: ActionPlanStatus | None = None, milestones: tuple[tuple[str, bool], ...] = ()) -> int:
    """Create a plan through the service (as a view would) and commit; return its id."""
    with database(app) as session:
        profile = session.get(SecurityProfile, profile_id)
        actor = session.get(User, cast.users[by].id)
        plan = services.create_plan(profile, criterion_id, PlanInput(
            gap=gap, corrective_action=action, owner_user_id=cast.users[owner].id if owner else None,
            owner_name=owner_name, target_date=target or today() + timedelta(days=60), status=status,
        ), by=actor)
        for text, done in milestones:
            milestone = services.add_milestone(plan, text, None, by=actor)
            if done:
                services.toggle_milestone(milestone, by=actor)
        session.commit()
        return plan.id


def get_plan(app: Any, plan_id: int) -> ActionPlan | None:
    with database(app) as session:
        plan = session.get(ActionPlan, plan_id)
        if plan is not None:
            _ = list(plan.milestones)
        return plan


def plans_of(app: Any, profile_id: int) -> list[ActionPlan]:
    with database(app) as session:
        return list(session.scalars(select(ActionPlan).where(ActionPlan.profile_id == profile_id)
                                    .order_by(ActionPlan.id)))


def answer(app: Any, profile_id: int, criterion_id: str, status: ImplementationStatus) -> None:
    with database(app) as session:
        session.add(Answer(profile_id=profile_id, criterion_id=criterion_id, status=status, narrative="Partly done"))
        session.commit()


def set_profile_status(app: Any, profile_id: int, status: ProfileStatus) -> None:
    with database(app) as session:
        session.get(SecurityProfile, profile_id).status = status
        session.commit()


def audit_actions(app: Any, company_id: int) -> list[str]:
    with database(app) as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.company_id == company_id)
                                    .order_by(AuditEvent.id)))


def field_error(html: str, field_id: str) -> str:
    """The error message shown at a field ('' when none)."""
    match = re.search(rf'<span class="usa-error-message" id="{field_id}-error" role="alert">(.*?)</span>', html, re.S)
    return match.group(1) if match else ""


def row_ids(html: str) -> list[int]:
    """The plan ids of the list's table rows, in order."""
    return [int(value) for value in re.findall(r'data-plan-id="(\d+)"', html)]


def plan_form(cast: Any, **overrides: Any) -> dict[str, Any]:
    data = {"gap": "Visitors are not logged", "corrective_action": "Introduce a visitor log",
            "owner": str(cast.users["employee_a"].id), "owner_name": "",
            "target_date": (today() + timedelta(days=30)).isoformat()}
    data.update(overrides)
    return data


def edit_form(app: Any, cast: Any, plan_id: int, **overrides: Any) -> dict[str, Any]:
    plan = get_plan(app, plan_id)
    assert plan is not None
    data = {"gap": plan.gap, "corrective_action": plan.corrective_action,
            "owner": str(plan.owner_user_id) if plan.owner_user_id else "other",
            "owner_name": plan.owner_name or "", "target_date": plan.target_date.isoformat(),
            "status": plan.status.value, "version": str(plan.version)}
    data.update(overrides)
    return data


def base(pid: int) -> str:
    return f"/profiles/{pid}/action-plans"


# --- create ----------------------------------------------------------------------------------------


def test_an_employee_creates_a_plan_and_sees_it_on_the_list(app, client, cast, login, pid):
    answer(app, pid, "1.3", ImplementationStatus.PARTIALLY_IMPLEMENTED)
    login(cast.email("employee_a"))
    page = client.get(f"/profiles/{pid}/criteria/1.3/action-plans/new")
    assert page.status_code == 200
    assert "is answered as partially implemented" in page.text  # the gap is prefilled from the answer
    assert "Another person (type the name)" in page.text and "Evan Employee" in page.text

    response = client.post(f"/profiles/{pid}/criteria/1.3/action-plans/new", data=plan_form(cast))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(base(pid))
    [plan] = plans_of(app, pid)
    assert (plan.criterion_id, plan.status, plan.owner_user_id, plan.updated_by_id) == (
        "1.3", ActionPlanStatus.OPEN, cast.users["employee_a"].id, cast.users["employee_a"].id)
    assert "action_plan.created" in audit_actions(app, cast.company_a.id)

    listing = client.get(base(pid))
    assert listing.status_code == 200
    assert "Visitors are not logged" in listing.text and "Evan Employee" in listing.text
    assert row_ids(listing.text) == [plan.id]


def test_invalid_input_is_shown_at_the_fields_and_what_was_typed_is_kept(app, client, cast, login, pid):
    login(cast.email("consultant_a"))
    url = f"/profiles/{pid}/criteria/1.3/action-plans/new"
    response = client.post(url, data=plan_form(cast, gap="", corrective_action="Buy <b>locks</b> & seals",
                                               owner="", target_date=""))
    assert response.status_code == 200
    assert "Describe the gap" in field_error(response.text, "gap")
    assert "Choose who owns the plan" in field_error(response.text, "owner")
    assert "Enter the target date" in field_error(response.text, "target_date")
    assert "There is a problem" in response.text
    assert str(escape("Buy <b>locks</b> & seals")) in response.text  # kept, and escaped

    too_long = client.post(url, data=plan_form(cast, gap="g" * 4001, corrective_action="c" * 4000))
    assert too_long.status_code == 200
    assert "4,001 characters long; the limit is 4,000" in field_error(too_long.text, "gap")
    assert not field_error(too_long.text, "corrective_action")

    far = client.post(url, data=plan_form(cast, target_date=(today() + timedelta(days=6 * 366)).isoformat()))
    assert "no more than 5 years ahead" in field_error(far.text, "target_date")
    early = client.post(url, data=plan_form(cast, target_date="1999-12-31"))
    assert f"on or after January 1, {today().year}" in field_error(early.text, "target_date")
    garbage = client.post(url, data=plan_form(cast, target_date="next tuesday"))
    assert field_error(garbage.text, "target_date")
    no_name = client.post(url, data=plan_form(cast, owner="other", owner_name=""))
    assert "Type the name" in field_error(no_name.text, "owner_name")

    assert plans_of(app, pid) == []


def test_a_past_target_date_is_allowed_and_flagged_overdue(app, client, cast, login, pid):
    login(cast.email("officer_a"))
    yesterday = (today() - timedelta(days=1)).isoformat()
    response = client.post(f"/profiles/{pid}/criteria/1.3/action-plans/new",
                           data=plan_form(cast, target_date=yesterday), follow_redirects=True)
    assert response.status_code == 200
    assert "shows as overdue" in response.text
    assert "Overdue" in response.text


def test_the_owner_must_be_a_user_of_the_company_or_a_named_person(app, client, cast, login, pid):
    login(cast.email("officer_a"))
    url = f"/profiles/{pid}/criteria/1.3/action-plans/new"
    foreign = client.post(url, data=plan_form(cast, owner=str(cast.users["officer_b"].id)))
    assert foreign.status_code == 200
    assert "Choose an owner from the company&#39;s users" in field_error(foreign.text, "owner")
    staff = client.post(url, data=plan_form(cast, owner=str(cast.users["reviewer"].id)))
    assert "Choose an owner from the company&#39;s users" in field_error(staff.text, "owner")
    crafted = client.post(url, data=plan_form(cast, owner="1 OR 1=1"))
    assert field_error(crafted.text, "owner")
    assert plans_of(app, pid) == []

    named = client.post(url, data=plan_form(cast, owner="other", owner_name="J. Smith, warehouse manager"))
    assert named.status_code == 302
    [plan] = plans_of(app, pid)
    assert (plan.owner_user_id, plan.owner_name) == (None, "J. Smith, warehouse manager")
    assert "J. Smith, warehouse manager" in client.get(base(pid)).text


def test_the_service_refuses_another_companys_owner(app, cast, pid):
    with database(app) as session:
        profile = session.get(SecurityProfile, pid)
        officer = session.get(User, cast.users["officer_a"].id)
        with pytest.raises(services.InvalidPlan) as refused:
            services.create_plan(profile, "1.3", PlanInput(
                gap="x", corrective_action="y", owner_user_id=cast.users["officer_b"].id, owner_name=None,
                target_date=today()), by=officer)
        assert refused.value.field == "owner"
        with pytest.raises(services.CriterionNotFound):
            services.create_plan(profile, "3.8", PlanInput(
                gap="x", corrective_action="y", owner_user_id=None, owner_name="A", target_date=today()), by=officer)
        readonly = session.get(User, cast.users["readonly_a"].id)
        with pytest.raises(DomainError):
            services.create_plan(profile, "1.3", PlanInput(
                gap="x", corrective_action="y", owner_user_id=None, owner_name="A", target_date=today()), by=readonly)
        session.rollback()
    assert plans_of(app, pid) == []


def test_create_redirects_to_a_safe_next_only(app, client, cast, login, pid):
    login(cast.email("officer_a"))
    url = f"/profiles/{pid}/criteria/1.3/action-plans/new"
    category_page = f"/profiles/{pid}/categories/1"
    page = client.get(url, query_string={"next": category_page})
    assert f'value="{category_page}"' in page.text
    local = client.post(url, data=plan_form(cast, next=category_page))
    assert local.headers["Location"].endswith(category_page)
    for evil in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        response = client.post(url, data=plan_form(cast, next=evil))
        assert response.status_code == 302
        assert response.headers["Location"].endswith(base(pid)), evil


@pytest.mark.parametrize("criterion_id", ["99.9", "3.8", "6.4", "1", "1.3x", "<script>"])
def test_a_crafted_criterion_id_gets_404_and_stores_nothing(app, client, cast, login, pid, criterion_id):
    login(cast.email("officer_a"))
    url = f"/profiles/{pid}/criteria/{criterion_id}/action-plans/new"
    assert client.get(url).status_code == 404
    assert client.post(url, data=plan_form(cast)).status_code == 404
    assert plans_of(app, pid) == []


# --- edit and optimistic locking -------------------------------------------------------------------


def test_edit_saves_status_and_text(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid)
    login(cast.email("employee_a"))
    page = client.get(f"{base(pid)}/{plan_id}/edit")
    assert page.status_code == 200
    assert 'name="version" type="hidden" value="1"' in page.text
    response = client.post(f"{base(pid)}/{plan_id}/edit",
                           data=edit_form(app, cast, plan_id, corrective_action="New approach", status="in_progress"))
    assert response.status_code == 302
    plan = get_plan(app, plan_id)
    assert (plan.corrective_action, plan.status, plan.version) == ("New approach", ActionPlanStatus.IN_PROGRESS, 2)
    assert audit_actions(app, cast.company_a.id).count("action_plan.updated") == 1

    completed = client.post(f"{base(pid)}/{plan_id}/edit", data=edit_form(app, cast, plan_id, status="completed"))
    assert completed.status_code == 302
    assert get_plan(app, plan_id).status == ActionPlanStatus.COMPLETED

    # "verified" is CBP's word: a partner cannot set it, even by crafting the form.
    crafted = client.post(f"{base(pid)}/{plan_id}/edit", data=edit_form(app, cast, plan_id, status="verified"))
    assert crafted.status_code == 200
    assert field_error(crafted.text, "status")
    assert get_plan(app, plan_id).status == ActionPlanStatus.COMPLETED


def test_set_status_service(app, cast, pid):
    plan_id = add_plan(app, cast, pid)
    with database(app) as session:
        plan = session.get(ActionPlan, plan_id)
        officer = session.get(User, cast.users["officer_a"].id)
        services.set_status(plan, ActionPlanStatus.IN_PROGRESS, by=officer, expected_version=1)
        session.commit()
        assert plan.version == 2
        with pytest.raises(services.PlanConflict):
            services.set_status(plan, ActionPlanStatus.COMPLETED, by=officer, expected_version=1)
        with pytest.raises(DomainError):
            services.set_status(plan, ActionPlanStatus.VERIFIED, by=officer)
        session.rollback()
    assert get_plan(app, plan_id).status == ActionPlanStatus.IN_PROGRESS


def test_a_stale_edit_gets_the_409_page_with_both_texts_and_overwrites_nothing(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid, action="Original action")
    login(cast.email("employee_a"))
    stale = edit_form(app, cast, plan_id, corrective_action="Employee's <em>action</em>")  # version 1

    consultant = app.test_client()
    login(cast.email("consultant_a"), test_client=consultant)
    saved = consultant.post(f"{base(pid)}/{plan_id}/edit",
                            data=edit_form(app, cast, plan_id, corrective_action="Consultant's action"))
    assert saved.status_code == 302

    conflict = client.post(f"{base(pid)}/{plan_id}/edit", data=stale)
    assert conflict.status_code == 409
    assert "Edit conflict" in conflict.text
    assert str(escape("Employee's <em>action</em>")) in conflict.text
    assert str(escape("Consultant's action")) in conflict.text
    assert "Cora Consultant" in conflict.text
    assert f"{base(pid)}/{plan_id}/edit" in conflict.text
    plan = get_plan(app, plan_id)
    assert (plan.corrective_action, plan.version) == ("Consultant's action", 2)

    missing_version = client.post(f"{base(pid)}/{plan_id}/edit", data={**stale, "version": ""})
    assert missing_version.status_code == 409
    assert get_plan(app, plan_id).corrective_action == "Consultant's action"


def test_edit_redirects_to_a_safe_next(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid)
    login(cast.email("officer_a"))
    category_page = f"/profiles/{pid}/categories/1"
    page = client.get(f"{base(pid)}/{plan_id}/edit", query_string={"next": category_page})
    assert f'value="{category_page}"' in page.text
    response = client.post(f"{base(pid)}/{plan_id}/edit", data=edit_form(app, cast, plan_id, next=category_page))
    assert response.headers["Location"].endswith(category_page)
    evil = client.post(f"{base(pid)}/{plan_id}/edit",
                       data=edit_form(app, cast, plan_id, gap="changed", next="https://evil.example"))
    assert evil.headers["Location"].endswith(base(pid))


def test_delete_removes_the_plan_and_its_milestones(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid, milestones=(("Draft", False),))
    login(cast.email("officer_a"))
    response = client.post(f"{base(pid)}/{plan_id}/delete")
    assert response.status_code == 302
    assert get_plan(app, plan_id) is None
    with database(app) as session:
        assert session.scalar(select(func.count(Milestone.id))) == 0
    assert "action_plan.deleted" in audit_actions(app, cast.company_a.id)


def test_a_submitted_profile_locks_its_plans(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid)
    set_profile_status(app, pid, ProfileStatus.SUBMITTED)
    login(cast.email("officer_a"))
    listing = client.get(base(pid))
    assert listing.status_code == 200 and "cannot be changed now" in listing.text
    assert f"{base(pid)}/{plan_id}/edit" not in listing.text
    page = client.get(f"{base(pid)}/{plan_id}/edit", follow_redirects=True)
    assert "cannot be changed now" in page.text
    response = client.post(f"{base(pid)}/{plan_id}/edit", data=edit_form(app, cast, plan_id, gap="changed"))
    assert response.status_code == 302
    assert client.post(f"{base(pid)}/{plan_id}/delete").status_code == 302
    plan = get_plan(app, plan_id)
    assert plan is not None and plan.gap == "No written review yet"


# --- milestones ------------------------------------------------------------------------------------


def test_milestones_are_added_toggled_and_deleted(app, client, cast, login, pid):
    plan_id = add_plan(app, cast, pid)
    login(cast.email("employee_a"))
    url = f"{base(pid)}/{plan_id}/milestones"
    due = (today() + timedelta(days=10)).isoformat()
    assert client.post(url, data={"text": "Draft the procedure", "due_date": due}).status_code == 302
    assert client.post(url, data={"text": "Train the staff", "due_date": ""}).status_code == 302
    invalid = client.post(url, data={"text": "", "due_date": "2999-01-01"})
    assert invalid.status_code == 200
    assert "Describe the milestone" in field_error(invalid.text, "text")
    too_long = client.post(url, data={"text": "m" * 501})
    assert "501 characters long" in field_error(too_long.text, "text")

    plan = get_plan(app, plan_id)
    first, second = sorted(plan.milestones, key=lambda m: m.text)
    assert (first.text, first.due_date, first.done) == ("Draft the procedure", date.fromisoformat(due), False)
    assert plan.version == 1  # milestones never make a plan edit stale

    assert client.post(f"{url}/{first.id}/toggle").status_code == 302
    assert "1 of 2" in client.get(base(pid)).text
    assert client.post(f"{url}/{first.id}/toggle").status_code == 302
    with database(app) as session:
        assert session.get(Milestone, first.id).done is False
    assert client.post(f"{url}/{second.id}/delete").status_code == 302
    assert [m.text for m in get_plan(app, plan_id).milestones] == ["Draft the procedure"]
    page = client.get(f"{base(pid)}/{plan_id}/edit")
    assert "Draft the procedure" in page.text and "Train the staff" not in page.text

    actions = audit_actions(app, cast.company_a.id)
    for action in ("milestone.added", "milestone.completed", "milestone.reopened", "milestone.deleted"):
        assert action in actions, action


def test_a_milestone_of_another_plan_gets_404(app, client, cast, login, pid):
    plan_1 = add_plan(app, cast, pid, milestones=(("Step", False),))
    plan_2 = add_plan(app, cast, pid, "1.4")
    milestone_id = get_plan(app, plan_1).milestones[0].id
    login(cast.email("officer_a"))
    assert client.post(f"{base(pid)}/{plan_2}/milestones/{milestone_id}/toggle").status_code == 404
    assert client.post(f"{base(pid)}/{plan_2}/milestones/{milestone_id}/delete").status_code == 404
    assert client.post(f"{base(pid)}/{plan_1}/milestones/999999/toggle").status_code == 404
    assert get_plan(app, plan_1).milestones[0].done is False


# --- overdue ---------------------------------------------------------------------------------------


def test_overdue_is_derived_from_the_date_and_never_stored(app, client, cast, login, pid, clock):
    plan_id = add_plan(app, cast, pid, target=today() + timedelta(days=5))
    done_id = add_plan(app, cast, pid, "1.4", target=today() + timedelta(days=5), status=ActionPlanStatus.COMPLETED)
    login(cast.email("officer_a"))
    assert "Overdue</span>" not in client.get(base(pid)).text

    clock.advance(days=6)
    client = app.test_client()  # the first session has timed out meanwhile
    login(cast.email("officer_a"), test_client=client)
    listing = client.get(base(pid))
    assert listing.status_code == 200
    assert listing.text.count("Overdue</span>") == 1
    row = listing.text.split(f'data-plan-id="{plan_id}"')[1].split("</tr>")[0]
    assert "Overdue" in row
    assert get_plan(app, plan_id).status == ActionPlanStatus.OPEN
    assert get_plan(app, done_id).status == ActionPlanStatus.COMPLETED
    assert row_ids(client.get(base(pid), query_string={"overdue": "yes"}).text) == [plan_id]
    assert row_ids(client.get(base(pid), query_string={"overdue": "no"}).text) == [done_id]


# --- list filters and sorting ----------------------------------------------------------------------


@pytest.fixture
def four_plans(app, cast, pid) -> dict[str, int]:
    """1.3 (cat 1, open, +30d), 5.14 (cat 5, in progress, +10d), 5.8 (cat 5, completed, -5d),
    4.1 (cat 4, open, -3d: overdue)."""
    t = today()
    return {
        "1.3": add_plan(app, cast, pid, "1.3", target=t + timedelta(days=30)),
        "5.14": add_plan(app, cast, pid, "5.14", target=t + timedelta(days=10), status=ActionPlanStatus.IN_PROGRESS),
        "5.8": add_plan(app, cast, pid, "5.8", target=t - timedelta(days=5), status=ActionPlanStatus.COMPLETED),
        "4.1": add_plan(app, cast, pid, "4.1", target=t - timedelta(days=3)),
    }


def test_list_filters_return_the_right_rows(app, client, cast, login, pid, four_plans):
    ids = four_plans
    login(cast.email("readonly_a"))

    def rows(**params: str) -> list[int]:
        response = client.get(base(pid), query_string=params)
        assert response.status_code == 200
        return row_ids(response.text)

    assert sorted(rows()) == sorted(ids.values())
    assert sorted(rows(status="open")) == sorted([ids["1.3"], ids["4.1"]])
    assert rows(status="in_progress") == [ids["5.14"]]
    assert rows(overdue="yes") == [ids["4.1"]]
    assert sorted(rows(overdue="no")) == sorted([ids["1.3"], ids["5.14"], ids["5.8"]])
    assert sorted(rows(category="5")) == sorted([ids["5.14"], ids["5.8"]])
    assert rows(category="5", status="completed") == [ids["5.8"]]
    assert rows(category="4", overdue="yes", status="open") == [ids["4.1"]]
    empty = client.get(base(pid), query_string={"category": "2"})
    assert row_ids(empty.text) == [] and "No action plans match these filters" in empty.text
    # Invalid values are ignored rather than failing.
    assert sorted(rows(status="bogus", category="x'; drop", overdue="maybe", sort="evil")) == sorted(ids.values())


def test_list_sorting_returns_the_right_order(app, client, cast, login, pid, four_plans):
    ids = four_plans
    login(cast.email("reviewer"))

    def order(sort: str, **params: str) -> list[int]:
        return row_ids(client.get(base(pid), query_string={"sort": sort, **params}).text)

    assert order("target_date") == [ids["5.8"], ids["4.1"], ids["5.14"], ids["1.3"]]
    assert order("criterion") == [ids["1.3"], ids["4.1"], ids["5.8"], ids["5.14"]]  # 5.8 before 5.14
    assert order("status") == [ids["4.1"], ids["1.3"], ids["5.14"], ids["5.8"]]  # open by date, then on
    assert order("criterion", category="5") == [ids["5.8"], ids["5.14"]]
    page = client.get(base(pid), query_string={"sort": "criterion", "category": "5"})
    assert 'sort=status' in page.text and "category=5" in page.text  # sort links keep the filters


def test_list_sort_by_updated(app, client, cast, login, pid, four_plans, clock):
    ids = four_plans
    clock.advance(minutes=5)
    login(cast.email("officer_a"))
    client.post(f"{base(pid)}/{ids['5.8']}/edit", data=edit_form(app, cast, ids["5.8"], gap="Changed last"))
    assert row_ids(client.get(base(pid), query_string={"sort": "updated"}).text)[0] == ids["5.8"]


def test_queries_filter_and_group(app, cast, pid, four_plans):
    ids = four_plans
    with database(app) as session:
        profile = session.get(SecurityProfile, pid)
        assert [p.id for p in queries.plans_for_profile(profile, category=5, sort="criterion")] == [ids["5.8"],
                                                                                                  ids["5.14"]]
        assert [p.id for p in queries.plans_for_profile(profile, overdue=True)] == [ids["4.1"]]
        grouped = queries.plans_by_criterion(profile)
        assert set(grouped) == {"1.3", "5.14", "5.8", "4.1"}
        assert [p.id for p in grouped["1.3"]] == [ids["1.3"]]


def test_the_empty_list_explains_where_plans_come_from(app, client, cast, login, pid):
    answer(app, pid, "4.1", ImplementationStatus.NOT_IMPLEMENTED)
    login(cast.email("employee_a"))
    page = client.get(base(pid))
    assert page.status_code == 200
    assert "No action plans yet" in page.text
    assert "Gaps without an action plan" in page.text and "required before submission" in page.text
    assert f"/profiles/{pid}/criteria/4.1/action-plans/new" in page.text


def test_user_text_is_escaped_on_the_list(app, client, cast, login, pid):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    add_plan(app, cast, pid, gap=payload, owner=None, owner_name=payload)
    login(cast.email("officer_a"))
    page = client.get(base(pid))
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text


# --- access ----------------------------------------------------------------------------------------


def routes(pid: int, plan_id: int, milestone_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", f"/profiles/{pid}/action-plans"),
        ("GET", f"/profiles/{pid}/criteria/1.3/action-plans/new"),
        ("POST", f"/profiles/{pid}/criteria/1.3/action-plans/new"),
        ("GET", f"/profiles/{pid}/action-plans/{plan_id}/edit"),
        ("POST", f"/profiles/{pid}/action-plans/{plan_id}/edit"),
        ("POST", f"/profiles/{pid}/action-plans/{plan_id}/milestones"),
        ("POST", f"/profiles/{pid}/action-plans/{plan_id}/milestones/{milestone_id}/toggle"),
        ("POST", f"/profiles/{pid}/action-plans/{plan_id}/milestones/{milestone_id}/delete"),
        ("POST", f"/profiles/{pid}/action-plans/{plan_id}/delete"),
    ]


def _snapshot(app: Any, plan_id: int) -> tuple[Any, ...]:
    plan = get_plan(app, plan_id)
    assert plan is not None
    return plan.gap, plan.version, plan.status, [(m.id, m.done) for m in plan.milestones]


def test_another_companys_profile_or_plan_gets_404_on_every_route(app, client, cast, login, pid, pid_b):
    plan_id = add_plan(app, cast, pid, milestones=(("Step", False),))
    milestone_id = get_plan(app, plan_id).milestones[0].id
    plan_b = add_plan(app, cast, pid_b, by="officer_b", owner="officer_b", milestones=(("B step", False),))
    milestone_b = get_plan(app, plan_b).milestones[0].id
    before = _snapshot(app, plan_id), _snapshot(app, plan_b)

    login(cast.email("officer_b"))
    for method, url in routes(pid, plan_id, milestone_id):
        response = client.open(url, method=method, data=plan_form(cast) if method == "POST" else None)
        assert response.status_code == 404, (method, url)

    client.post("/auth/logout")
    login(cast.email("officer_a"))
    # Company B's plan id under company A's profile, and company A's profile id with B's plan.
    for method, url in routes(pid, plan_b, milestone_b)[3:]:
        response = client.open(url, method=method, data={"text": "x", "gap": "x"} if method == "POST" else None)
        assert response.status_code == 404, (method, url)
    for method, url in routes(pid_b, plan_b, milestone_b):
        response = client.open(url, method=method, data={"text": "x"} if method == "POST" else None)
        assert response.status_code == 404, (method, url)
    assert (_snapshot(app, plan_id), _snapshot(app, plan_b)) == before
    assert len(plans_of(app, pid)) == 1 and len(plans_of(app, pid_b)) == 1


@pytest.mark.parametrize("actor", ["readonly_a", "reviewer"])
def test_read_only_users_and_staff_see_the_list_but_cannot_change(app, client, cast, login, pid, actor):
    plan_id = add_plan(app, cast, pid, milestones=(("Step", False),))
    milestone_id = get_plan(app, plan_id).milestones[0].id
    before = _snapshot(app, plan_id)
    login(cast.email(actor))
    listing = client.get(base(pid))
    assert listing.status_code == 200 and row_ids(listing.text) == [plan_id]
    assert "/edit" not in listing.text
    for method, url in routes(pid, plan_id, milestone_id)[1:]:
        response = client.open(url, method=method,
                               data={**edit_form(app, cast, plan_id, gap="hacked"), "text": "x"}
                               if method == "POST" else None)
        assert response.status_code == 403, (method, url)
    assert _snapshot(app, plan_id) == before
    assert len(plans_of(app, pid)) == 1


def test_anonymous_visitors_are_sent_to_sign_in(app, client, cast, pid):
    plan_id = add_plan(app, cast, pid, milestones=(("Step", False),))
    milestone_id = get_plan(app, plan_id).milestones[0].id
    for method, url in routes(pid, plan_id, milestone_id):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert "/auth/login" in response.headers["Location"]
    assert client.get("/profiles/999999/action-plans").status_code == 302


def test_an_unknown_profile_or_plan_gets_404(app, client, cast, login, pid):
    login(cast.email("officer_a"))
    assert client.get("/profiles/999999/action-plans").status_code == 404
    assert client.get(f"{base(pid)}/999999/edit").status_code == 404
    assert client.post(f"{base(pid)}/999999/delete").status_code == 404


# --- the questionnaire partial ---------------------------------------------------------------------


def _render_partial(app: Any, cast: Any, pid: int, criterion_id: str, *, can_edit: bool = True) -> str:
    with app.test_request_context("/"):
        profile = db_session.get(SecurityProfile, pid)
        criterion: Criterion | None = applicable_criterion(profile, criterion_id)
        assert criterion is not None
        row = db_session.scalar(select(Answer).where(Answer.profile_id == pid, Answer.criterion_id == criterion_id))
        plans = queries.plans_by_criterion(profile).get(criterion_id, [])
        html = render_template("action_plans/_criterion_plans.html", profile=profile, criterion=criterion,
                               plans=plans, answer=row, can_edit=can_edit, next_url=f"/profiles/{pid}/categories/1")
        db_session.remove()
        return html


def test_the_partial_warns_about_a_must_gap_without_a_plan(app, cast, pid):
    catalog_must = "1.3"
    answer(app, pid, catalog_must, ImplementationStatus.NOT_IMPLEMENTED)
    answer(app, pid, "1.1", ImplementationStatus.PARTIALLY_IMPLEMENTED)  # a Should: offered, not required
    with database(app) as session:
        catalog = catalog_of(session.get(SecurityProfile, pid))
        assert catalog.criterion("1.3").is_must and not catalog.criterion("1.1").is_must

    html = _render_partial(app, cast, pid, "1.3")
    assert "An action plan is required before submission" in html
    assert "usa-alert--warning" in html
    assert f"/profiles/{pid}/criteria/1.3/action-plans/new?next=/profiles/{pid}/categories/1" in html
    assert "An action plan is required" not in _render_partial(app, cast, pid, "1.1")
    assert "Add an action plan" not in _render_partial(app, cast, pid, "1.1", can_edit=False)

    plan_id = add_plan(app, cast, pid, "1.3", target=today() - timedelta(days=1))
    html = _render_partial(app, cast, pid, "1.3")
    assert "An action plan is required" not in html
    assert f"/action-plans/{plan_id}/edit?next=/profiles/{pid}/categories/1" in html
    assert "Overdue" in html and "Evan Employee" in html


# --- SQL statement count ---------------------------------------------------------------------------


def _count_statements(app: Any, client: Any, url: str) -> int:
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _before)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", _before)
    assert response.status_code == 200
    return len(statements)


def _bulk_plans(app: Any, cast: Any, pid: int, count: int) -> None:
    with database(app) as session:
        profile = session.get(SecurityProfile, pid)
        officer = session.get(User, cast.users["officer_a"].id)
        criteria = [c.id for c in catalog_of(profile).criteria if c.applies(profile.account.business_type)]
        owners = [cast.users["employee_a"].id, cast.users["consultant_a"].id, None]
        for n in range(count):
            owner = owners[n % 3]
            plan = services.create_plan(profile, criteria[n % len(criteria)], PlanInput(
                gap=f"Gap {n}", corrective_action=f"Action {n}", owner_user_id=owner,
                owner_name=None if owner else f"Named {n}", target_date=today() + timedelta(days=n - 5),
            ), by=officer)
            services.add_milestone(plan, f"Step {n}", None, by=officer)
        session.commit()


@pytest.mark.parametrize("query_string", ["", "?sort=criterion&status=open", "?overdue=yes&category=1"])
def test_the_list_page_issues_the_same_number_of_statements_for_3_and_30_plans(app, client, cast, login,
                                                                               query_string):
    pid = profile_id_of(app, cast.account_a.id)
    login(cast.email("officer_a"))
    _bulk_plans(app, cast, pid, 3)
    few = _count_statements(app, client, base(pid) + query_string)
    _bulk_plans(app, cast, pid, 27)
    assert len(plans_of(app, pid)) == 30
    many = _count_statements(app, client, base(pid) + query_string)
    assert few == many, (few, many)
