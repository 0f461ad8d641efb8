"""An employee answers a questionnaire category in a real browser, the officer submits the profile,
and every page passes axe-core (WCAG 2.1 AA).

Issue 3, "Tests": an employee answers a category, autosave shows "Saved", a reload keeps the
answers, the officer submits; 0 axe-core violations on the overview, category, action-plan and
submit pages. Issue 8: the category is completed with the keyboard only (Tab, Space, arrow keys and
typing; no mouse).

To stay fast, every other category is answered through the factories; the browser answers the
Personnel Security category (11.1 Must, 11.2 Should, 11.5 Must).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.db import db_session
from portal.profiles import services as profile_services
from tests import factories

pytestmark = pytest.mark.browser

CATEGORY = 11
# criterion id -> (status, narrative) typed by the employee; 11.2 is a Should left partially implemented.
ANSWERS = {
    "11.1": ("implemented", "Applications are screened and references checked before an offer is made."),
    "11.2": ("partially_implemented", "Identity is verified for every hire; criminal history checks start in 2026."),
    "11.5": ("implemented", "A code of conduct is signed by every employee and reviewed each year."),
}
STATUS_ORDER = ["implemented", "partially_implemented", "not_implemented", "not_applicable"]
MAX_TABS = 400


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


def active_matches(page: Any, selector: str) -> bool:
    return page.evaluate("(sel) => !!document.activeElement && document.activeElement.matches(sel)", selector)


def tab_to(page: Any, selector: str) -> None:
    """Press Tab until the focused element matches ``selector``, as a keyboard user would."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if active_matches(page, selector):
            return
    raise AssertionError(f"{selector} was not reached with {MAX_TABS} presses of Tab")


def field_name(criterion_id: str, part: str) -> str:
    return f"c_{criterion_id.replace('.', '_')}-{part}"


def seed_profile(live_server: Any) -> int:
    """Company A's importer profile with every category but ``CATEGORY`` answered as implemented."""
    with live_server.app.app_context():
        cast = factories.build_cast()
        profile = factories.profile_of(cast.account_a)
        catalog = profile_services.catalog_of(profile)
        criteria = catalog.criteria_for(profile.account.business_type)
        assert sorted(c.id for c in criteria if c.category == CATEGORY) == sorted(ANSWERS)
        for criterion in criteria:
            if criterion.category != CATEGORY:
                factories.answer(profile, criterion.id, "implemented", narrative=f"How we meet {criterion.id}.")
        db_session.commit()
        return profile.id


def answer_with_keyboard(page: Any) -> None:
    """Answer every criterion of the category with Tab, Space, the arrow keys and typing."""
    for criterion_id, (status, narrative) in ANSWERS.items():
        # Tab reaches the first radio of an unanswered group; Space checks it; arrows move the choice.
        tab_to(page, f"input[name='{field_name(criterion_id, 'status')}']")
        page.keyboard.press("Space")
        for _ in range(STATUS_ORDER.index(status)):
            page.keyboard.press("ArrowDown")
        expect(page.locator(f"input[name='{field_name(criterion_id, 'status')}'][value='{status}']")).to_be_checked()
        page.keyboard.press("Tab")
        assert active_matches(page, f"textarea[name='{field_name(criterion_id, 'narrative')}']"), \
            f"Tab after the status of {criterion_id} does not reach its narrative"
        page.keyboard.type(narrative)


def expect_answers(page: Any) -> None:
    for criterion_id, (status, narrative) in ANSWERS.items():
        expect(page.locator(f"input[name='{field_name(criterion_id, 'status')}'][value='{status}']")).to_be_checked()
        expect(page.locator(f"textarea[name='{field_name(criterion_id, 'narrative')}']")).to_have_value(narrative)


def test_employee_answers_a_category_and_the_officer_submits(page: Any, new_page: Any, live_server: Any,
                                                             assert_accessible: Any) -> None:
    profile_id = seed_profile(live_server)
    sign_in(page, "employee@a.example")

    # The overview: progress, and the category still to answer.
    page.goto(f"/profiles/{profile_id}")
    expect_heading(page, "Security profile questionnaire")
    row = page.locator("tbody tr").filter(has_text="Personnel Security")
    expect(row).to_contain_text("0 / 3")
    assert_accessible(page, "the questionnaire overview")

    # Keyboard only from here: reach the "Start with category 11" link and follow it.
    tab_to(page, f"a[href$='/profiles/{profile_id}/categories/{CATEGORY}'].usa-button")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    expect_heading(page, f"{CATEGORY}. Personnel Security")
    assert_accessible(page, "a questionnaire category page")

    answer_with_keyboard(page)
    # Autosave: each answer saves itself a few seconds after typing stops.
    for criterion_id in ANSWERS:
        status_line = page.locator(f"[data-criterion='{criterion_id}'] [data-saved-status]")
        expect(status_line).to_have_text(re.compile(r"^Saved at \d\d:\d\d$"), timeout=15_000)
    assert_accessible(page, "a questionnaire category page after autosave")

    # A reload keeps the answers, and says who saved them.
    page.reload(wait_until="load")
    expect_answers(page)
    expect(page.locator("[data-criterion='11.1'] [data-saved-status]")).to_contain_text("by Evan Employee")

    # Still with the keyboard: "Save and continue" posts the form and opens the next category.
    tab_to(page, "button[name='continue']")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    expect_heading(page, "12. Education, Training and Awareness")
    expect(page.locator("main")).to_contain_text(f"Category {CATEGORY} saved at")

    page.goto(f"/profiles/{profile_id}")
    expect(page.locator("main")).to_contain_text(re.compile(r"Criteria answered: (\d+) of \1 \(100%\)"))
    expect(row).to_contain_text("3 / 3")
    assert_accessible(page, "the questionnaire overview when complete")

    # Action plans: the Should answered as partially implemented is offered a plan.
    page.get_by_role("link", name="Action plans", exact=True).click()
    expect_heading(page, "Action plans")
    gaps = page.locator("section[aria-labelledby='gaps-heading']")
    expect(gaps).to_contain_text("11.2")
    assert_accessible(page, "the action plans page with a gap")
    gaps.get_by_role("link", name="Add an action plan for criterion 11.2").click()
    expect_heading(page, "Add an action plan for criterion 11.2")
    assert_accessible(page, "the new action plan page")
    page.locator("#gap").fill("Criminal history checks are not yet done for every new hire.")
    page.locator("#corrective_action").fill("Contract a screening provider and check every new hire.")
    page.locator("#owner").select_option(label="Evan Employee")
    page.locator("#target_date").fill("2030-06-30")
    submit(page, "Save action plan")
    expect_heading(page, "Action plans")
    expect(page.locator("main table")).to_contain_text("11.2")
    expect(page.locator("section[aria-labelledby='gaps-heading']")).to_have_count(0)
    assert_accessible(page, "the action plans page with a plan")

    # The employee may check the profile, but only the officer attests and submits.
    page.goto(f"/profiles/{profile_id}/submit")
    expect_heading(page, "Review and submit")
    expect(page.locator("main")).to_contain_text("Only the company officer can attest and submit")
    expect(page.get_by_role("button", name=re.compile("^Attest and submit"))).to_have_count(0)
    assert_accessible(page, "the submit page for an employee")

    # The officer, in a browser context of their own, attests and submits version 1.
    officer = new_page()
    sign_in(officer, "officer@a.example")
    officer.goto(f"/profiles/{profile_id}/submit")
    expect_heading(officer, "Review and submit")
    expect(officer.locator("main")).to_contain_text("Every applicable criterion is answered")
    assert_accessible(officer, "the submit page")
    attest = officer.locator("input[name='confirm'][value='yes']")
    officer.locator(f"label[for='{attest.get_attribute('id')}']").click()
    expect(attest).to_be_checked()
    officer.locator("#typed_name").fill("Olivia Officer")
    submit(officer, "Attest and submit version 1")
    expect_heading(officer, "Version 1")
    expect(officer.locator("main")).to_contain_text("Version 1 of the security profile is submitted to CBP")
    assert_accessible(officer, "the submitted version page")

    # The profile is now read-only for the employee, who is told why.
    page.goto(f"/profiles/{profile_id}/categories/{CATEGORY}")
    expect(page.locator("main")).to_contain_text("it is read-only while CBP reviews version 1")
    expect(page.locator(f"textarea[name='{field_name('11.1', 'narrative')}']")).to_have_count(0)
    assert_accessible(page, "a read-only category page")
