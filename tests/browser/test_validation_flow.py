"""A reviewer schedules a visit, the partner confirms, the reviewer records a finding, the partner
answers it, in a real browser; every page visited passes axe-core (WCAG 2.1 AA).

Issue 5, "Tests": a reviewer schedules a visit, the partner confirms, the reviewer records a finding,
the partner answers it; axe-core 0 violations on the pages visited.

Setup (through the services, as the validations' functional tests do): company A's importer
account is certified and has a planned initial validation led by Riley Reviewer, with a Chicago
site (and a Monterrey one). Everything after that happens in the browser, one browser context per
user. The visit is proposed about 45 days ahead (the 30-day notice rule); the test then moves the
portal's clock past the visit so the reviewer can mark it done and write the report. Moving the
clock ends every open session (idle limit), so each user signs in again in a fresh context.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.db import db_session
from portal.validations.models import Finding, Validation, Visit
from portal.validations.workflow import FindingStatus, ValidationStatus, VisitStatus
from tests import factories
from tests.functional.test_validations import next_weekday, planned

pytestmark = pytest.mark.browser

COMPANY = "Alpha Imports Inc."
FINDING_TEXT = "The seal log at the Chicago dock is not signed at every shift change."
ACTION_PLAN = "The shift lead now signs the seal log at every change; the site manager audits it weekly."
SUMMARY = "On-site validation of the Chicago DC: one required action on seal control."


def sign_in(page: Any, email: str) -> None:
    page.goto("/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(factories.PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("main")).not_to_contain_text("There is a problem")


def expect_heading(page: Any, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(text)


def submit(page: Any, button: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=button, exact=True).click()


def follow(page: Any, link: Any) -> None:
    with page.expect_navigation(wait_until="load"):
        link.click()


def choose(page: Any, name: str, value: str) -> None:
    """Pick a USWDS radio or checkbox by clicking its visible label."""
    control = page.locator(f"input[name='{name}'][value='{value}']")
    page.locator(f"label[for='{control.get_attribute('id')}']").click()
    expect(control).to_be_checked()


def expect_flash(page: Any, text: str) -> None:
    expect(page.locator("main")).to_contain_text(text)
    expect(page.locator("main")).not_to_contain_text("There is a problem")


def state(live_server: Any, validation_id: int) -> tuple[VisitStatus | None, list[tuple[str, FindingStatus]]]:
    """The visit's status and the (kind, status) of each finding, read from the database."""
    with live_server.app.app_context():
        visit = db_session.scalar(select(Visit).where(Visit.validation_id == validation_id))
        rows = db_session.scalars(select(Finding).where(Finding.validation_id == validation_id)).all()
        result = (visit.status if visit else None, [(f.kind.value, f.status) for f in rows])
        db_session.rollback()
        return result


def validation_status(live_server: Any, validation_id: int) -> ValidationStatus:
    with live_server.app.app_context():
        status = db_session.get(Validation, validation_id).status
        db_session.rollback()
        return status


def test_reviewer_schedules_partner_confirms_reviewer_records_finding_partner_answers(
        page: Any, new_page: Any, live_server: Any, clock: Any, assert_accessible: Any) -> None:
    with live_server.app.app_context():
        cast = factories.build_cast()
    ids = planned(live_server.app, cast)
    validation_id, account_id = ids["validation"], ids["account"]
    show_url = f"/validations/{validation_id}"
    # About 45 days ahead, on a weekday (the site is in Chicago, behind UTC: the UTC date is safe).
    day = next_weekday(clock.now.date() + timedelta(days=45))

    # -- The lead reviewer proposes a visit to the Chicago site --------------------------------------
    reviewer = page
    sign_in(reviewer, "reviewer@cbp.example")
    reviewer.goto(f"/accounts/{account_id}/validations")
    expect_heading(reviewer, "Validations")
    assert_accessible(reviewer, "the account's validations (reviewer)")
    follow(reviewer, reviewer.get_by_role("link", name="Initial validation"))
    expect_heading(reviewer, f"Initial validation of {COMPANY}")
    expect(reviewer.locator("#visits")).to_contain_text("No visit scheduled yet.")
    assert_accessible(reviewer, "a planned validation (reviewer)")

    follow(reviewer, reviewer.get_by_role("link", name="Propose a visit", exact=True))
    expect_heading(reviewer, "Propose a visit")
    site = reviewer.locator("#site_id")
    site.select_option(str(ids["us_site"]))
    expect(reviewer.locator("#timezone")).to_have_value("America/Chicago")
    # A supervisor's override field is not offered to a reviewer.
    expect(reviewer.locator("#override_reason")).to_have_count(0)
    assert_accessible(reviewer, "the visit form")
    reviewer.locator("#start_date").fill(day.isoformat())
    reviewer.locator("#start_time").fill("09:00")
    reviewer.locator("#end_date").fill((day + timedelta(days=1)).isoformat())
    reviewer.locator("#end_time").fill("17:00")
    submit(reviewer, "Propose the visit")
    expect_flash(reviewer, "The visit is proposed to the partner.")
    visits = reviewer.locator("#visits")
    expect(visits).to_contain_text("Chicago DC")
    expect(visits).to_contain_text("Proposed")
    expect(visits).to_contain_text("America/Chicago")
    expect(visits).to_contain_text(day.strftime("%b %d, %Y") + " 09:00 C")  # CDT or CST, local time
    assert_accessible(reviewer, "the validation with a proposed visit")
    assert state(live_server, validation_id)[0] == VisitStatus.PROPOSED

    # -- The partner's officer sees the proposed visit and confirms it -------------------------------
    officer = new_page()
    sign_in(officer, "officer@a.example")
    officer.goto(f"/accounts/{account_id}/validations")
    expect_heading(officer, "Validations")
    assert_accessible(officer, "the account's validations (partner)")
    follow(officer, officer.get_by_role("link", name="Initial validation"))
    expect_heading(officer, f"Initial validation of {COMPANY}")
    expect(officer.locator("main")).not_to_contain_text("Findings")  # nothing reaches the partner yet
    expect(officer.locator("#visits")).to_contain_text("Proposed")
    assert_accessible(officer, "the validation (partner)")
    follow(officer, officer.get_by_role("link", name="Confirm or propose another window"))
    expect_heading(officer, "Validation visit")
    assert_accessible(officer, "the visit response page")
    choose(officer, "decision", "confirm")
    submit(officer, "Send my answer")
    expect_flash(officer, "Thank you: the visit is confirmed.")
    expect(officer.locator("dl")).to_contain_text("Confirmed")
    assert_accessible(officer, "the visit response page after confirming")
    assert state(live_server, validation_id)[0] == VisitStatus.CONFIRMED

    # -- After the visit: every open session has timed out, so each user signs in afresh --------------
    clock.advance(days=(day - clock.now.date()).days + 2)

    reviewer = new_page()
    sign_in(reviewer, "reviewer@cbp.example")
    reviewer.goto(show_url)
    expect(reviewer.locator("#visits")).to_contain_text("Confirmed")
    submit(reviewer, "Mark done")
    expect_flash(reviewer, "The visit is marked done.")
    assert validation_status(live_server, validation_id) == ValidationStatus.VISITS_DONE

    # The reviewer records a required action on criterion 1.1.
    follow(reviewer, reviewer.get_by_role("link", name="Record a finding"))
    expect_heading(reviewer, "Record a finding")
    default_due = clock.now.date() + timedelta(days=90)
    expect(reviewer.locator("#due_on")).to_have_value(default_due.isoformat())
    assert_accessible(reviewer, "the finding form")
    reviewer.locator("#criterion_id").select_option("1.1")
    choose(reviewer, "kind", "required_action")
    reviewer.locator("#text").fill(FINDING_TEXT)
    submit(reviewer, "Record the finding")
    expect_flash(reviewer, "The required action on 1.1 is recorded.")
    findings = reviewer.locator("#findings")
    expect(findings).to_contain_text(FINDING_TEXT)
    expect(findings).to_contain_text("Awaiting answer")
    assert_accessible(reviewer, "the validation with a finding")

    # The reviewer writes the report and submits it for approval.
    follow(reviewer, reviewer.get_by_role("link", name="Write the report"))
    expect_heading(reviewer, "Validation report")
    assert_accessible(reviewer, "the report form")
    reviewer.locator("#summary").fill(SUMMARY)
    submit(reviewer, "Save and submit for approval")
    expect_flash(reviewer, "The report is submitted for approval.")

    # A supervisor outside the team approves it.
    supervisor = new_page()
    sign_in(supervisor, "supervisor@cbp.example")
    supervisor.goto(show_url)
    follow(supervisor, supervisor.get_by_role("link", name="Approve or return the report"))
    expect_heading(supervisor, "Approve the validation report")
    expect(supervisor.locator("main")).to_contain_text(FINDING_TEXT)
    assert_accessible(supervisor, "the report decision page")
    submit(supervisor, "Approve the report")
    expect_flash(supervisor, "The report is approved.")

    # The lead sends the report to the partner.
    reviewer.goto(show_url)
    submit(reviewer, "Send the report to the partner")
    expect_flash(reviewer, "The report is sent to the partner.")
    assert validation_status(live_server, validation_id) == ValidationStatus.SENT_TO_PARTNER

    # -- The partner sees the finding and answers it with an action plan -----------------------------
    officer = new_page()
    sign_in(officer, "officer@a.example")
    officer.goto(show_url)
    findings = officer.locator("#findings")
    expect(findings).to_contain_text(FINDING_TEXT)
    expect(findings).to_contain_text("Awaiting answer")
    expect(officer.locator("#report")).to_contain_text(SUMMARY)
    assert_accessible(officer, "the validation with the sent report (partner)")
    follow(officer, findings.get_by_role("link", name="Answer the required action on 1.1"))
    expect_heading(officer, "Required action on criterion 1.1")
    expect(officer.locator("main")).to_contain_text(FINDING_TEXT)
    assert_accessible(officer, "the answer form")
    officer.locator("#action_plan").fill(ACTION_PLAN)
    submit(officer, "Send the answer to CBP")
    expect_flash(officer, "Your answer is sent to CBP.")
    findings = officer.locator("#findings")
    expect(findings).to_contain_text("Answered")
    expect(findings).to_contain_text(ACTION_PLAN)
    expect(findings.get_by_role("link", name=re.compile("^Answer"))).to_have_count(0)  # answered once
    assert_accessible(officer, "the validation after answering (partner)")

    # -- The reviewer sees the finding answered --------------------------------------------------------
    reviewer.goto(show_url)
    findings = reviewer.locator("#findings")
    expect(findings).to_contain_text("Answered")
    expect(findings).to_contain_text(ACTION_PLAN)
    expect(findings).to_contain_text("by Olivia Officer")
    expect(reviewer.locator("#timeline")).to_contain_text(re.compile("[Rr]esponse"))
    assert_accessible(reviewer, "the validation with an answered finding")
    follow(reviewer, findings.get_by_role("link", name="Accept or reject the answer on 1.1"))
    expect_heading(reviewer, "Answer on criterion 1.1")
    expect(reviewer.locator("main")).to_contain_text(ACTION_PLAN)
    assert_accessible(reviewer, "the answer review page")

    assert state(live_server, validation_id)[1] == [("required_action", FindingStatus.ANSWERED)]
    assert validation_status(live_server, validation_id) == ValidationStatus.RESPONSE_SUBMITTED
