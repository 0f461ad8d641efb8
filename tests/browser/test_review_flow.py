"""A reviewer rates a category and recommends, a supervisor approves, and the partner sees the
outcome, in a real browser; every page passes axe-core (WCAG 2.1 AA).

Issue 4, "Tests": a reviewer rates a category and recommends, a supervisor approves, the partner
sees the outcome; 0 axe-core violations on the queue, review, score and decision pages.

To stay fast, the profile is answered and submitted through the factories, and after the reviewer
takes the review in the browser every category but Personnel Security (11) is rated "meets"
through the review services; the browser rates category 11.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.auth.models import User
from portal.db import db_session
from portal.profiles.submission import submit_profile
from portal.reviews import services as review_services
from portal.reviews.models import Review
from portal.reviews.scoring import Rating
from tests import factories

pytestmark = pytest.mark.browser

CATEGORY = 11
COMPANY = "Alpha Imports Inc."
COMMENT_11_2 = "Criminal history checks are planned but not yet done for every new hire."


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


def choose(page: Any, name: str, value: str) -> None:
    """Pick a USWDS radio or checkbox by clicking its visible label."""
    control = page.locator(f"input[name='{name}'][value='{value}']")
    page.locator(f"label[for='{control.get_attribute('id')}']").click()
    expect(control).to_be_checked()


def user_by_email(email: str) -> User:
    return db_session.scalar(select(User).where(User.email == email))


def seed_submitted_profile(live_server: Any) -> tuple[int, int, int]:
    """Company A's profile, fully answered and submitted as version 1: (profile, review, account) ids."""
    with live_server.app.app_context():
        cast = factories.build_cast()
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        submit_profile(profile, "Olivia Officer", by=user_by_email("officer@a.example"))
        db_session.commit()
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        return profile.id, review.id, cast.account_a.id


def rate_other_categories(live_server: Any, review_id: int) -> None:
    """Start the review and rate every criterion outside ``CATEGORY`` as meets."""
    with live_server.app.app_context():
        review = db_session.get(Review, review_id)
        reviewer = user_by_email("reviewer@cbp.example")
        assert review.reviewer_id == reviewer.id, "the reviewer has not taken the review"
        review_services.start(review, by=reviewer)
        for criterion in review_services.criteria_in_version(review).values():
            if criterion.category != CATEGORY:
                review_services.save_rating(review, criterion,
                                            review_services.RatingInput(Rating.MEETS, "", (), None), by=reviewer)
        db_session.commit()


def test_reviewer_rates_and_recommends_supervisor_approves_partner_sees_outcome(
        page: Any, new_page: Any, live_server: Any, assert_accessible: Any) -> None:
    profile_id, review_id, account_id = seed_submitted_profile(live_server)

    # The reviewer finds the submitted profile in the queue and takes it.
    sign_in(page, "reviewer@cbp.example")
    page.goto("/reviews")
    expect_heading(page, "Review queue")
    row = page.locator(f"tr[data-review-id='{review_id}']")
    expect(row).to_contain_text(COMPANY)
    expect(row).to_contain_text("Unassigned")
    assert_accessible(page, "the review queue")
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("button", name=re.compile("^Take")).click()
    expect(page.locator("main")).to_contain_text("The review is yours.")
    expect_heading(page, "Review: 1. Security Vision and Responsibility")
    assert_accessible(page, "a review category page of a waiting review")

    rate_other_categories(live_server, review_id)

    # Category 11: a Should rated below meets needs a comment; the first save shows the error.
    page.get_by_role("navigation", name="Categories").get_by_role("link", name=f"{CATEGORY} Personnel Security").click()
    expect_heading(page, f"Review: {CATEGORY}. Personnel Security")
    expect(page.locator("#r-11-2")).to_contain_text("Identity verified")  # the catalog's checklist items
    assert_accessible(page, "a review category page")
    choose(page, "c_11_1-rating", "meets")
    choose(page, "c_11_2-rating", "partially_meets")
    choose(page, "c_11_2-checklist", "Identity verified")
    choose(page, "c_11_5-rating", "exceeds")
    submit(page, "Save ratings")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("Explain a rating below meets in a comment.")
    assert_accessible(page, "a review category page with an error")
    page.locator("#c_11_2-comment").fill(COMMENT_11_2)
    submit(page, "Save ratings")
    expect(page.locator("main")).to_contain_text("3 rating(s) saved as a draft.")
    expect(page.locator("input[name='c_11_2-rating'][value='partially_meets']")).to_be_checked()
    expect(page.locator("input[name='c_11_2-checklist'][value='Identity verified']")).to_be_checked()
    expect(page.locator("#c_11_2-comment")).to_have_value(COMMENT_11_2)

    # Scores: every Must meets, so there is no open Must gap.
    page.get_by_role("navigation", name="Review sections").get_by_role("link", name="Scores").click()
    expect_heading(page, "Scores")
    expect(page.get_by_role("heading", name=re.compile(r"^Overall: \d+"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("None: every applicable Must meets the criteria.")
    assert_accessible(page, "the scores page")

    # Recommend certification.
    page.get_by_role("navigation", name="Review sections").get_by_role("link", name="Recommendation").click()
    expect_heading(page, "Recommendation")
    assert_accessible(page, "the recommendation page")
    choose(page, "recommendation", "certify")
    page.locator("#summary").fill("Every Must meets the criteria; one Should is partially met with a plan.")
    submit(page, "Send to a supervisor")
    expect_heading(page, "Supervisor decision")
    expect(page.locator("main")).to_contain_text("Your recommendation is sent to a supervisor for approval.")
    expect(page.locator("main")).to_contain_text("A supervisor other than the reviewer decides")
    expect(page.get_by_role("button", name="Record the decision")).to_have_count(0)  # four eyes
    assert_accessible(page, "the decision page for the reviewer")

    # The supervisor, in a browser context of their own, approves.
    supervisor = new_page()
    sign_in(supervisor, "supervisor@cbp.example")
    supervisor.goto("/reviews")
    expect(supervisor.locator(f"tr[data-review-id='{review_id}']")).to_contain_text("Riley Reviewer")
    assert_accessible(supervisor, "the review queue for a supervisor")
    supervisor.goto(f"/reviews/{review_id}/decision")
    expect_heading(supervisor, "Supervisor decision")
    expect(supervisor.locator("main")).to_contain_text("Certify by Riley Reviewer")
    assert_accessible(supervisor, "the decision page")
    choose(supervisor, "decision", "approve")
    submit(supervisor, "Record the decision")
    expect(supervisor.locator("main")).to_contain_text("Decision applied: certify.")
    expect(supervisor.locator("main")).to_contain_text("by Sam Supervisor")
    assert_accessible(supervisor, "the decision page after the decision")

    # The partner's officer sees the outcome per criterion, without scores.
    officer = new_page()
    sign_in(officer, "officer@a.example")
    officer.goto(f"/profiles/{profile_id}/outcome")
    expect_heading(officer, "CBP review outcome")
    main = officer.locator("main")
    expect(main).to_contain_text("Version 1: Certify")
    expect(main.locator("tr").filter(has_text="11.1 ")).to_contain_text("Accepted")
    row_11_2 = main.locator("tr").filter(has_text="11.2 ")
    expect(row_11_2).to_contain_text("Needs revision")
    expect(row_11_2).to_contain_text(COMMENT_11_2)
    expect(main).not_to_contain_text("Overall")
    assert_accessible(officer, "the review outcome page")
    officer.goto(f"/accounts/{account_id}")
    expect(officer.locator("main")).to_contain_text("Certified")
