"""Validations: planning (due dates, sites, no-go zones, team), the full flow from visit to close-out
through the web pages, the finding state machine, the close-out gate and the tier rules.

The helpers at the top are shared by the other ``test_validations_*`` modules.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.auth.models import User
from portal.companies import services as company_services
from portal.companies.applications import change_status
from portal.companies.business_types import BusinessType
from portal.companies.models import Address, Company, TradeAccount
from portal.companies.workflow import AccountAction, AccountStatus, AddressKind
from portal.db import db_session
from portal.errors import DomainError
from portal.notifications.inbox import Notification
from portal.validations import findings, services, visits
from portal.validations.findings import BestPracticeCheck, close_out_problems, outcome_tier
from portal.validations.models import Finding, Validation, ValidationSite, Visit
from portal.validations.workflow import (
    FINDING_TRANSITIONS,
    FindingAction,
    FindingKind,
    FindingStatus,
    InvalidFindingTransition,
    NoGoReason,
    SiteMode,
    ValidationStatus,
    VisitStatus,
    next_finding_status,
)

ALL_FIVE = ["senior_management", "innovative", "documented", "verifiable", "checks_and_balances"]


# -- shared helpers ----------------------------------------------------------------------------------


def user(key: str, cast: Any) -> User:
    return db_session.get(User, cast.users[key].id)


def certify(account_id: int, cast: Any, on: date | None = None) -> TradeAccount:
    """Certify an account directly (as the review decision would), in the current app context."""
    account = db_session.get(TradeAccount, account_id)
    change_status(account, AccountAction.CERTIFY, by=user("supervisor", cast), reason="Certified in a test")
    day = on or date.today()
    account.certified_on = day
    account.anniversary_on = services.add_years(day, 1)
    account.next_validation_due = services.add_years(day, 1)
    account.tier = 1 if account.business_type in {BusinessType.IMPORTER, BusinessType.EXPORTER} else None
    db_session.flush()
    return account


def facility(company_id: int, cast: Any, *, country: str = "US", tz: str | None = "America/Chicago",
             name: str = "Chicago DC", kind: AddressKind = AddressKind.FACILITY) -> Address:
    company = db_session.get(Company, company_id)
    officer = next(m.user for m in company.memberships if m.role.value == "officer")
    return company_services.add_address(company, company_services.AddressData(
        kind=kind, name=name, line1=f"1 {name} Road", city=name.split()[0], country=country, timezone=tz,
        visitable=True), by=officer)


def planned(app: Any, cast: Any, *, account: str = "account_a", members: tuple[str, ...] = ("reviewer2",),
            certified_on: date | None = None) -> dict[str, int]:
    """A certified account with a planned validation: lead ``reviewer`` plus members, a domestic site
    (Chicago) and a foreign one (Monterrey, Mexico)."""
    with app.app_context():
        trade_account = certify(getattr(cast, account).id, cast, certified_on)
        lead = user("reviewer", cast)
        validation = services.create_validation(trade_account, lead, by=lead)
        services.set_team(validation, lead, [user(m, cast) for m in members], by=lead)
        us = services.add_site(validation, facility(trade_account.company_id, cast), SiteMode.ONSITE, by=lead)
        mx = services.add_site(validation, facility(trade_account.company_id, cast, country="MX",
                                                    tz="America/Monterrey", name="Monterrey plant",
                                                    kind=AddressKind.FOREIGN_SITE), SiteMode.ONSITE, by=lead)
        db_session.commit()
        return {"validation": validation.id, "us_site": us.id, "mx_site": mx.id, "account": trade_account.id}


def window(day: date, days: int = 1, tz: str = "America/Chicago", start: str = "09:00",
           end: str = "17:00") -> visits.LocalWindow:
    from datetime import time

    return visits.LocalWindow(day, time.fromisoformat(start), day + timedelta(days=days - 1), time.fromisoformat(end),
                              tz)


def visit_form(site_id: int | None, day: date, days: int = 1, tz: str = "America/Chicago", **extra: Any) -> dict:
    data = {"start_date": day.isoformat(), "start_time": "09:00",
            "end_date": (day + timedelta(days=days - 1)).isoformat(), "end_time": "17:00", "timezone": tz}
    if site_id is not None:
        data["site_id"] = str(site_id)
    data.update(extra)
    return data


def schedule(app: Any, cast: Any, ids: dict[str, int], day: date, *, site: str = "us_site", days: int = 1,
             tz: str = "America/Chicago", by: str = "reviewer") -> int:
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        visit = visits.schedule_visit(validation, db_session.get(ValidationSite, ids[site]), window(day, days, tz),
                                      by=user(by, cast))
        db_session.commit()
        return visit.id


def sent_with(app: Any, cast: Any, ids: dict[str, int], kinds: tuple[FindingKind, ...]) -> list[int]:
    """Take a planned validation (without visits) to a report sent to the partner with these findings."""
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        lead = user("reviewer", cast)
        rows = [findings.add_finding(validation, "1.1", kind, f"Finding {n}", by=lead,
                                     due_on=date.today() + timedelta(days=90)) for n, kind in enumerate(kinds)]
        findings.save_report(validation, "Summary of the validation.", by=lead)
        findings.submit_report(validation, by=lead)
        findings.approve_report(validation, by=user("supervisor", cast))
        findings.send_report(validation, by=lead)
        db_session.commit()
        return [row.id for row in rows]


def relogin(login: Any, email: str, test_client: Any = None) -> None:
    """Sign in again after moving the clock: the first POST only ends the idle session."""
    login(email, test_client=test_client)
    login(email, test_client=test_client)


def next_weekday(start: date) -> date:
    while start.weekday() >= 5:
        start += timedelta(days=1)
    return start


# -- planning ----------------------------------------------------------------------------------------


def test_only_certified_accounts_get_a_validation_due_within_a_year(app, cast):
    with app.app_context():
        reviewer = user("reviewer", cast)
        applicant = db_session.get(TradeAccount, cast.account_a.id)
        with pytest.raises(DomainError, match="Only certified accounts"):
            services.create_validation(applicant, reviewer, by=reviewer)
        account = certify(cast.account_a.id, cast, date(2026, 2, 10))
        validation = services.create_validation(account, reviewer, by=reviewer)
        assert validation.kind.value == "initial" and validation.due_on == date(2027, 2, 10)
        with pytest.raises(DomainError, match="already has a validation"):
            services.create_validation(account, reviewer, by=reviewer)
        with pytest.raises(DomainError, match="reviewers"):
            services.set_team(validation, user("officer_a", cast), [], by=reviewer)
        # After a validation, the next one is a revalidation four years on.
        account.last_validated_on = date(2026, 9, 1)
        account.next_validation_due = None
        assert services.validation_due(account) == date(2030, 9, 1)


def test_sites_come_from_the_companys_own_facilities_and_no_go_zones_need_a_reason(app, cast):
    ids = planned(app, cast)
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        lead = user("reviewer", cast)
        other = facility(cast.company_b.id, cast, country="MX", tz="America/Monterrey", name="Bravo plant")
        with pytest.raises(DomainError, match="company's facilities"):
            services.add_site(validation, other, SiteMode.ONSITE, by=lead)
        third = facility(cast.company_a.id, cast, country="CN", tz="Asia/Shanghai", name="Shenzhen supplier",
                         kind=AddressKind.FOREIGN_SITE)
        with pytest.raises(DomainError, match="reason"):
            services.add_site(validation, third, SiteMode.ONSITE, by=lead, no_go=True)
        # A reason or a note without the box ticked is refused, not dropped.
        for extra in ({"no_go_reason": NoGoReason.SECURITY}, {"no_go_note": "Cartel activity"}):
            with pytest.raises(DomainError, match="Tick") as refused:
                services.add_site(validation, third, SiteMode.ONSITE, by=lead, **extra)
            assert refused.value.field == "no_go"
        assert len(validation.sites) == 2
        site = services.add_site(validation, third, SiteMode.ONSITE, by=lead, no_go=True,
                                 no_go_reason=NoGoReason.BUDGET)
        with pytest.raises(DomainError, match="no-go zone"):
            visits.schedule_visit(validation, site, window(date.today() + timedelta(days=60)), by=lead)
        with pytest.raises(DomainError, match="already part"):
            services.add_site(validation, third, SiteMode.VIRTUAL, by=lead)


def test_sites_page_lists_foreign_sites_and_refuses_another_companys_address(app, client, login, cast):
    ids = planned(app, cast)
    with app.app_context():
        other = facility(cast.company_b.id, cast, country="MX", tz="America/Monterrey", name="Bravo plant")
        # The choices offer only sites not yet planned (Monterrey is): a second foreign site shows the kind.
        facility(cast.company_a.id, cast, country="CN", tz="Asia/Shanghai", name="Shenzhen supplier",
                 kind=AddressKind.FOREIGN_SITE)
        db_session.commit()
        other_id = other.id
    login(cast.email("reviewer"))
    page = client.get(f"/validations/{ids['validation']}/sites").get_data(as_text=True)
    assert "Monterrey plant" in page and "Shenzhen supplier" in page and "Foreign site" in page
    assert "Bravo plant" not in page
    response = client.post(f"/validations/{ids['validation']}/sites", data={"address_id": other_id, "mode": "onsite"})
    assert response.status_code == 200 and "Choose one of the company&#39;s facilities." in response.get_data(
        as_text=True)


# -- the whole flow through the pages ----------------------------------------------------------------


def test_a_validation_from_visit_to_close_out(app, client, login, cast, clock):
    ids = planned(app, cast)
    partner = app.test_client()
    supervisor = app.test_client()
    login(cast.email("reviewer"))
    day = next_weekday(clock.now.date() + timedelta(days=40))

    # The reviewer proposes a visit; the partner is told.
    response = client.post(f"/validations/{ids['validation']}/visits/new", data=visit_form(ids["us_site"], day))
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        visit = db_session.scalar(select(Visit))
        assert visit.status == VisitStatus.PROPOSED and visit.timezone == "America/Chicago"
        assert visit.starts_at.hour in (14, 15)  # 09:00 Chicago in UTC (CDT or CST)
        assert db_session.get(Validation, ids["validation"]).status == ValidationStatus.SCHEDULED
        officer_id = cast.users["officer_a"].id
        assert db_session.scalar(select(func.count()).select_from(Notification)
                                 .where(Notification.user_id == officer_id)) >= 1
        visit_id, version = visit.id, visit.version

    # The partner sees the proposal and confirms it.
    login(cast.email("officer_a"), test_client=partner)
    page = partner.get(f"/validations/{ids['validation']}").get_data(as_text=True)
    assert "Confirm or propose another window" in page and "Findings" not in page
    response = partner.post(f"/visits/{visit_id}/respond", data={"decision": "confirm", "version": version})
    assert response.status_code == 302
    with app.app_context():
        assert db_session.get(Visit, visit_id).status == VisitStatus.CONFIRMED

    # After the visit: done, findings, report.
    clock.advance(days=45)
    relogin(login, cast.email("reviewer"))
    assert client.post(f"/visits/{visit_id}/done").status_code == 302
    with app.app_context():
        assert db_session.get(Validation, ids["validation"]).status == ValidationStatus.VISITS_DONE
    form = client.get(f"/validations/{ids['validation']}/findings/new").get_data(as_text=True)
    default_due = (clock.now.date() + timedelta(days=90)).isoformat()
    assert default_due in form
    assert client.post(f"/validations/{ids['validation']}/findings/new", data={
        "criterion_id": "1.1", "kind": "required_action", "text": "Seal log incomplete at the dock.",
        "due_on": default_due}).status_code == 302
    assert client.post(f"/validations/{ids['validation']}/findings/new", data={
        "criterion_id": "1.1", "kind": "recommendation", "text": "Consider a second camera."}).status_code == 302
    assert client.post(f"/validations/{ids['validation']}/report", data={
        "summary": "Walk-through of the Chicago DC.", "submit_report": "1"}).status_code == 302

    # The supervisor (not on the team) approves; the lead sends the report.
    login(cast.email("supervisor"), test_client=supervisor)
    assert supervisor.post(f"/validations/{ids['validation']}/report/decision",
                           data={"approve": "1"}).status_code == 302
    assert client.post(f"/validations/{ids['validation']}/send").status_code == 302

    # The partner answers the required action with an action plan and an uploaded document.
    relogin(login, cast.email("officer_a"), test_client=partner)
    with app.app_context():
        required = db_session.scalar(select(Finding).where(Finding.kind == FindingKind.REQUIRED_ACTION))
        finding_id = required.id
    page = partner.get(f"/validations/{ids['validation']}").get_data(as_text=True)
    assert "Seal log incomplete" in page and "Consider a second camera" in page
    from io import BytesIO

    response = partner.post(f"/findings/{finding_id}/answer", data={
        "action_plan": "Seal log now checked daily by the shift lead.",
        "file": (BytesIO(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"), "seal-log.pdf"),
        "title": "Seal log procedure"}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        finding = db_session.get(Finding, finding_id)
        assert finding.status == FindingStatus.ANSWERED
        assert [e.display_name for e in finding.latest_response.evidence] == ["Seal log procedure"]
        assert finding.validation.status == ValidationStatus.RESPONSE_SUBMITTED

    # The reviewer rejects (a comment is required), the partner answers again, the reviewer accepts.
    bad = client.post(f"/findings/{finding_id}/review", data={"decision": "reject", "comment": ""})
    assert bad.status_code == 200 and "Explain what is missing" in bad.get_data(as_text=True)
    assert client.post(f"/findings/{finding_id}/review", data={
        "decision": "reject", "comment": "Attach the signed log of last week."}).status_code == 302
    with app.app_context():
        assert db_session.get(Validation, ids["validation"]).status == ValidationStatus.RESPONSE_RETURNED
    assert partner.post(f"/findings/{finding_id}/answer", data={
        "action_plan": "Signed log attached.", "evidence_ids": []}).status_code == 302
    assert client.post(f"/findings/{finding_id}/review", data={"decision": "accept", "comment": ""}).status_code == 302

    # Close-out: the account is validated, Tier 2, with the next revalidation in four years.
    assert client.post(f"/validations/{ids['validation']}/close").status_code == 302
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        account = db_session.get(TradeAccount, ids["account"])
        assert validation.status == ValidationStatus.CLOSED and validation.outcome_tier == 2
        assert account.status == AccountStatus.VALIDATED and account.tier == 2
        assert account.last_validated_on == clock.now.date()
        assert account.next_validation_due == services.add_years(clock.now.date(), 4)
        kinds = [e.kind for e in validation.events]
    assert kinds[:2] == ["initiated", "team_changed"]
    for kind in ("visit_proposed", "visit_confirmed", "visit_done", "visits_done", "report_drafted",
                 "report_submitted", "report_approved", "sent", "response_submitted", "response_returned",
                 "response_accepted", "closed"):
        assert kind in kinds
    timeline = client.get(f"/validations/{ids['validation']}").get_data(as_text=True)
    assert "Report sent to the partner" in timeline and "Validation closed" in timeline


# -- state machines and rules ------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(FindingStatus))
@pytest.mark.parametrize("action", list(FindingAction))
def test_finding_state_machine(status, action):
    expected = {
        (FindingStatus.OPEN, FindingAction.ANSWER): FindingStatus.ANSWERED,
        (FindingStatus.REJECTED, FindingAction.ANSWER): FindingStatus.ANSWERED,
        (FindingStatus.ANSWERED, FindingAction.ACCEPT): FindingStatus.ACCEPTED,
        (FindingStatus.ANSWERED, FindingAction.REJECT): FindingStatus.REJECTED,
    }
    assert FINDING_TRANSITIONS == expected
    if (status, action) in expected:
        assert next_finding_status(status, action) == expected[(status, action)]
    else:
        with pytest.raises(InvalidFindingTransition):
            next_finding_status(status, action)


@pytest.mark.parametrize(("business_type", "checks", "tier"), [
    (BusinessType.IMPORTER, [], 2),
    (BusinessType.EXPORTER, [BestPracticeCheck(True, frozenset(ALL_FIVE))], 3),
    (BusinessType.IMPORTER, [BestPracticeCheck(True, frozenset(ALL_FIVE[:4]))], 2),
    (BusinessType.IMPORTER, [BestPracticeCheck(False, frozenset(ALL_FIVE))], 2),
    (BusinessType.IMPORTER, [BestPracticeCheck(True, frozenset(ALL_FIVE[1:])),
                             BestPracticeCheck(True, frozenset(ALL_FIVE))], 3),
    (BusinessType.FOREIGN_MANUFACTURER, [BestPracticeCheck(True, frozenset(ALL_FIVE))], None),
    (BusinessType.HIGHWAY_CARRIER, [], None),
])
def test_tier_rules(business_type, checks, tier):
    assert outcome_tier(business_type, checks) == tier


@pytest.mark.parametrize(("status", "required", "blocked"), [
    (ValidationStatus.SENT_TO_PARTNER, [], False),
    (ValidationStatus.RESPONSE_ACCEPTED, [FindingStatus.ACCEPTED, FindingStatus.ACCEPTED], False),
    (ValidationStatus.SENT_TO_PARTNER, [FindingStatus.OPEN], True),
    (ValidationStatus.RESPONSE_SUBMITTED, [FindingStatus.ANSWERED], True),
    (ValidationStatus.RESPONSE_RETURNED, [FindingStatus.REJECTED, FindingStatus.ACCEPTED], True),
    (ValidationStatus.REPORT_APPROVED, [], True),
    (ValidationStatus.CLOSED, [], True),
])
def test_close_out_gate_rule(status, required, blocked):
    assert bool(close_out_problems(status, required)) is blocked


def test_close_out_waits_for_every_required_action(app, cast):
    ids = planned(app, cast)
    first, second, _rec = sent_with(app, cast, ids, (FindingKind.REQUIRED_ACTION, FindingKind.REQUIRED_ACTION,
                                                     FindingKind.RECOMMENDATION))
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        lead, officer = user("reviewer", cast), user("officer_a", cast)
        with pytest.raises(DomainError, match="2 required action"):
            findings.close_validation(validation, by=lead)
        for finding_id in (first, second):
            findings.answer_finding(db_session.get(Finding, finding_id), "Done.", [], by=officer)
        findings.review_answer(db_session.get(Finding, first), True, "", by=lead)
        with pytest.raises(DomainError, match="not all accepted"):
            findings.close_validation(validation, by=lead)
        assert db_session.get(TradeAccount, ids["account"]).status == AccountStatus.CERTIFIED
        findings.review_answer(db_session.get(Finding, second), True, "Fine.", by=lead)
        assert validation.status == ValidationStatus.RESPONSE_ACCEPTED
        assert findings.close_validation(validation, by=lead) == 2


def test_tier_3_needs_a_supervisor_to_recognise_all_five_requirements(app, cast):
    ids = planned(app, cast)
    [best] = sent_with(app, cast, ids, (FindingKind.BEST_PRACTICE,))
    with app.app_context():
        finding = db_session.get(Finding, best)
        with pytest.raises(DomainError, match="Only a supervisor"):
            findings.recognise_best_practice(finding, ALL_FIVE, by=user("reviewer", cast))
        findings.recognise_best_practice(finding, ALL_FIVE[:4], by=user("supervisor", cast))
        assert finding.recognised_at is None
        findings.recognise_best_practice(finding, ALL_FIVE, by=user("supervisor", cast))
        assert finding.recognised_at is not None
        # No required actions: the sent report closes at once, and the importer reaches Tier 3.
        assert findings.close_validation(finding.validation, by=user("reviewer", cast)) == 3
        assert db_session.get(TradeAccount, ids["account"]).tier == 3


def test_the_report_needs_a_supervisor_outside_the_team(app, cast):
    ids = planned(app, cast, members=("supervisor",))
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        findings.save_report(validation, "Virtual validation, no visit.", by=user("reviewer", cast))
        findings.submit_report(validation, by=user("reviewer", cast))
        with pytest.raises(DomainError, match="four-eyes"):
            findings.approve_report(validation, by=user("supervisor", cast))
        with pytest.raises(DomainError, match="Only a supervisor"):
            findings.approve_report(validation, by=user("reviewer2", cast))
        findings.return_report(validation, "Add the site list.", by=user("admin", cast))
        assert validation.status == ValidationStatus.REPORT_DRAFTED


def test_findings_need_a_profile_criterion_and_required_actions_a_future_due_date(app, cast):
    ids = planned(app, cast)
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        lead = user("reviewer", cast)
        with pytest.raises(DomainError, match="criterion"):
            findings.add_finding(validation, "99.9", FindingKind.RECOMMENDATION, "x", by=lead)
        with pytest.raises(DomainError, match="due date"):
            findings.add_finding(validation, "1.1", FindingKind.REQUIRED_ACTION, "x", by=lead)
        with pytest.raises(DomainError, match="future"):
            findings.add_finding(validation, "1.1", FindingKind.REQUIRED_ACTION, "x", by=lead, due_on=date.today())
        recommendation = findings.add_finding(validation, "1.1", FindingKind.RECOMMENDATION, "x", by=lead,
                                              due_on=date.today() + timedelta(days=5))
        assert recommendation.due_on is None


def test_the_default_due_date_is_configurable(app, cast):
    with app.app_context():
        assert services.default_finding_due(date(2027, 1, 1)) == date(2027, 4, 1)
        app.config["VALIDATION_FINDING_DUE_DAYS"] = 30
        assert services.default_finding_due(date(2027, 1, 1)) == date(2027, 1, 31)


def test_the_partner_answers_only_its_own_findings(app, client, login, cast):
    ids = planned(app, cast)
    [required] = sent_with(app, cast, ids, (FindingKind.REQUIRED_ACTION,))
    login(cast.email("officer_b"))
    assert client.get(f"/findings/{required}/answer").status_code == 404
    assert client.post(f"/findings/{required}/answer", data={"action_plan": "x"}).status_code == 404
    reader = app.test_client()
    login(cast.email("readonly_a"), test_client=reader)
    assert reader.get(f"/findings/{required}/answer").status_code == 200
    assert reader.post(f"/findings/{required}/answer", data={"action_plan": "x"}).status_code == 403
    with app.app_context():
        # Evidence of another company cannot be attached either.
        from portal.profiles.evidence import upload_evidence

        doc, _ = upload_evidence(db_session.get(Company, cast.company_b.id), b"%PDF-1.4\n%%EOF\n", "b.pdf",
                                 title=None, effective_date=None, by=user("officer_b", cast))
        with pytest.raises(DomainError, match="evidence library"):
            findings.answer_finding(db_session.get(Finding, required), "Plan", [doc], by=user("officer_a", cast))


def test_findings_stay_hidden_from_the_partner_until_the_report_is_sent(app, client, login, cast):
    ids = planned(app, cast)
    with app.app_context():
        finding = findings.add_finding(db_session.get(Validation, ids["validation"]), "1.1",
                                       FindingKind.RECOMMENDATION, "Secret draft remark", by=user("reviewer", cast))
        db_session.commit()
        finding_id = finding.id
    login(cast.email("officer_a"))
    assert "Secret draft remark" not in client.get(f"/validations/{ids['validation']}").get_data(as_text=True)
    assert client.get(f"/findings/{finding_id}/answer").status_code == 404


def test_the_account_page_links_to_validations_and_staff_see_the_nav_item(app, client, login, cast):
    ids = planned(app, cast)
    login(cast.email("officer_a"))
    page = client.get(f"/accounts/{ids['account']}").get_data(as_text=True)
    assert f"/validations/{ids['validation']}" in page and "Annual profile review" in page
    assert f"/accounts/{ids['account']}/lifecycle" in page and ">Validations<" not in page
    staff = app.test_client()
    login(cast.email("reviewer"), test_client=staff)
    page = staff.get(f"/accounts/{ids['account']}").get_data(as_text=True)
    assert "<span>Validations</span>" in page and "Dates we cannot host" not in page
    listing = staff.get(f"/accounts/{ids['account']}/validations").get_data(as_text=True)
    assert "Initial validation" in listing and "Planned" in listing
