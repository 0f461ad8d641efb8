"""A new trade user applies for CTPAT in a real browser, and every page passes axe-core (WCAG 2.1 AA).

Issue 2, "Tests": register, create the company, answer the eligibility questions, sign the agreement.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.companies.business_types import BusinessType
from portal.companies.eligibility import questions_for

pytestmark = pytest.mark.browser

FULL_NAME = "Dana Whitfield"
EMAIL = "dana.whitfield@harbor-imports.example"
PASSWORD = "lantern-harbor-7"  # 16 characters
assert len(PASSWORD) == 16


def choose(page: Any, name: str, value: str) -> None:
    """Pick a USWDS radio or checkbox the way a user does: by clicking its visible label."""
    control = page.locator(f"input[name='{name}'][value='{value}']")
    page.locator(f"label[for='{control.get_attribute('id')}']").click()
    assert control.is_checked(), f"{name}={value} was not selected"


def tick(page: Any, field_id: str) -> None:
    page.locator(f"label[for='{field_id}']").click()
    assert page.locator(f"#{field_id}").is_checked()


def expect_heading(page: Any, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(text)


def submit(page: Any, button: str) -> None:
    """Press a submit button and wait until the next page has loaded (redirects included)."""
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name=button, exact=True).click()


def test_new_importer_registers_creates_company_and_applies(page: Any, assert_accessible: Any) -> None:
    # Home page; the skip link is the first thing the keyboard reaches, and it moves to the content.
    page.goto("/")
    expect_heading(page, "CTPAT Portal")
    assert_accessible(page, "the home page")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert focused == ["usa-skipnav", "#main-content"], f"first focusable element is {focused}"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main-content$"))
    expect(page.locator("#main-content")).to_be_focused()

    # The sign-in page, before the account exists.
    page.goto("/auth/login")
    expect_heading(page, "Sign in")
    assert_accessible(page, "the sign-in page")

    # Register: an empty submission first, so the form comes back with its errors.
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    expect_heading(page, "Create an account")
    assert_accessible(page, "the registration page")
    submit(page, "Create account")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_be_focused()  # portal.js moves focus to it
    expect(page.locator("#full_name")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the registration page with errors")
    summary.get_by_role("link", name=re.compile("^Full name")).click()
    expect(page.locator("#full_name")).to_be_focused()

    page.locator("#full_name").fill(FULL_NAME)
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm_password").fill(PASSWORD)
    submit(page, "Create account")

    # Add the company with its headquarters address.
    expect_heading(page, "Add your company")
    assert_accessible(page, "the new company page")
    page.locator("#legal_name").fill("Harbor Imports LLC")
    page.locator("#ownership_type").select_option("llc")
    page.locator("#phone").fill("+1 312-555-0142")
    page.locator("#line1").fill("200 West Adams Street")
    page.locator("#city").fill("Chicago")
    page.locator("#region").fill("IL")
    page.locator("#postal_code").fill("60606")
    page.locator("#country").select_option("US")
    submit(page, "Create company")

    # Business type.
    expect_heading(page, "choose a business type")
    assert_accessible(page, "the new account (business type) page")
    choose(page, "business_type", BusinessType.IMPORTER.value)
    submit(page, "Continue to eligibility")

    # Eligibility: an empty submission shows the radio groups in error, then the eligible answers.
    expect_heading(page, "Eligibility: Importer")
    assert_accessible(page, "the eligibility page")
    # On a phone USWDS hides the step labels; the step heading must still say where the user is.
    desktop = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 812})
    step_heading = page.locator(".usa-step-indicator__heading")
    expect(step_heading).to_be_visible()
    expect(step_heading).to_contain_text(re.compile(r"Step\s*1\s*of 3\s*Eligibility"))
    assert_accessible(page, "the eligibility page on a 375px-wide screen")
    page.set_viewport_size(desktop)
    submit(page, "Check eligibility")
    expect(page.locator("[data-error-summary]")).to_contain_text("Answer this question.")
    assert_accessible(page, "the eligibility page with errors")
    first = questions_for(BusinessType.IMPORTER)[0]
    page.locator("[data-error-summary]").get_by_role("link", name=re.compile(re.escape(first.text))).click()
    expect(page.locator(f"#q_{first.key}-0")).to_be_focused()  # a radio group's error link reaches its first option
    questions = questions_for(BusinessType.IMPORTER)
    assert len(questions) >= 9
    for question in questions:
        eligible_answer = "no" if question.knock_out_answer else "yes"
        choose(page, f"q_{question.key}", eligible_answer)
    submit(page, "Check eligibility")

    # Identifiers: the importer's IOR number and continuous bond.
    expect_heading(page, "Business entity identifiers")
    assert_accessible(page, "the identifiers page")
    for kind, value in (("ior", "36-4812345"), ("bond", "987654321")):
        page.locator("#kind").select_option(kind)
        page.locator("#value").fill(value)
        submit(page, "Add identifier")
        expect_heading(page, "Business entity identifiers")
        expect(page.locator("table")).to_contain_text(value)
    assert_accessible(page, "the identifiers page with identifiers")
    submit(page, "Continue to the Partner Agreement")

    # Partner Agreement, signed by the officer.
    expect_heading(page, "Partner Agreement")
    assert_accessible(page, "the Partner Agreement page")
    tick(page, "accept")
    page.locator("#typed_name").fill(FULL_NAME)
    submit(page, "Sign the Partner Agreement")

    # The account page: application complete, status Applicant.
    expect_heading(page, "Importer account")
    main = page.locator("main")
    expect(main).to_contain_text("Application complete")
    expect(main).to_contain_text(f"by {FULL_NAME}")
    expect(main.locator(".usa-tag").first).to_have_text("Applicant")  # text content; CSS shows it upper-case
    assert_accessible(page, "the account page")
