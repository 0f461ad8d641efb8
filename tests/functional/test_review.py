"""Reviewing a submitted version: start, ratings with comments and checklists, no lost update,
questions, carry-over, scores, the certify gate, four-eyes decisions, and what the partner sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.companies.models import TradeAccount
from portal.companies.workflow import AccountStatus
from portal.db import db_session
from portal.notifications.inbox import Notification
from portal.notifications.models import OutboxEmail
from portal.profiles.models import SecurityProfile
from portal.profiles.submission import submit_profile
from portal.profiles.workflow import ProfileStatus
from portal.reviews.decision_months import month_of, rebuild_decision_months
from portal.reviews.models import CriterionRating, DecisionMonth, Review
from portal.reviews.scoring import Rating
from portal.reviews.workflow import Recommendation, ReviewStatus
from tests import factories


def _submitted_review(app, cast, assign_to="reviewer"):
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id))
        if assign_to:
            review.reviewer_id = cast.users[assign_to].id
        db_session.commit()
        return review.id, profile.id


def _rate_all(app, review_id, rating=Rating.MEETS, by_key="reviewer", cast=None, except_ids=()):
    from portal.reviews import services

    with app.app_context():
        review = db_session.get(Review, review_id)
        services.start(review, by=cast.users[by_key])
        for cid, criterion in services.criteria_in_version(review).items():
            if cid in except_ids:
                continue
            services.save_rating(review, criterion, services.RatingInput(rating, "ok", (), None), by=cast.users[by_key])
        db_session.commit()


def _review(app, review_id):
    with app.app_context():
        return db_session.get(Review, review_id)


def _rating_form(criteria, **extra):
    data = dict(extra)
    for cid, values in criteria.items():
        key = "c_" + cid.replace(".", "_")
        for name, value in values.items():
            data[f"{key}-{name}"] = value
    return data


def test_saving_a_rating_starts_the_review_and_requires_a_comment_below_meets(app, client, login, cast):
    review_id, profile_id = _submitted_review(app, cast)
    login(cast.email("reviewer"))
    bad = client.post(f"/reviews/{review_id}/categories/1", data=_rating_form(
        {"1.1": {"rating": "partially_meets", "comment": ""}}))
    assert bad.status_code == 200 and "Explain a rating below meets" in bad.get_data(as_text=True)
    ok = client.post(f"/reviews/{review_id}/categories/1", data=_rating_form(
        {"1.1": {"rating": "partially_meets", "comment": "Statement not displayed at the warehouse."},
         "1.3": {"rating": "meets"}}))
    assert ok.status_code == 302
    review = _review(app, review_id)
    assert review.status == ReviewStatus.IN_PROGRESS
    with app.app_context():
        assert db_session.get(SecurityProfile, profile_id).status == ProfileStatus.IN_REVIEW
        assert db_session.scalar(select(func.count()).select_from(CriterionRating)) == 2


def test_checklist_items_are_stored_and_foreign_items_refused(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    login(cast.email("reviewer"))
    from portal.catalog import get_catalog

    items = get_catalog().criterion("10.2").checklist
    response = client.post(f"/reviews/{review_id}/categories/10", data=_rating_form(
        {"10.2": {"rating": "meets", "checklist": items[0]}}))
    assert response.status_code == 302
    with app.app_context():
        rating = db_session.scalar(select(CriterionRating).where(CriterionRating.criterion_id == "10.2"))
        assert rating.checklist == [items[0]]
    bad = client.post(f"/reviews/{review_id}/categories/10", data=_rating_form(
        {"10.2": {"rating": "meets", "checklist": "Something invented", "version": "1"}}))
    assert bad.status_code == 200 and "not a valid choice" in bad.get_data(as_text=True)


def test_rating_a_criterion_not_in_the_version_is_404(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    login(cast.email("reviewer"))
    assert client.post(f"/reviews/{review_id}/criteria/3.8/question", data={"question": "?"}).status_code == 404
    assert client.post(f"/reviews/{review_id}/criteria/99.1/question", data={"question": "?"}).status_code == 404
    assert client.get(f"/reviews/{review_id}/categories/13").status_code == 404


def test_a_stale_rating_save_gets_the_conflict_page_with_both_values(app, client, cast, login):
    """Two tabs (or a reassigned colleague) holding the same form: the later save never wins silently."""
    review_id, _ = _submitted_review(app, cast)
    login(cast.email("reviewer"))
    # Both tabs loaded the page before any rating existed, so both post without a version.
    assert client.post(f"/reviews/{review_id}/categories/1", data=_rating_form(
        {"1.1": {"rating": "meets"}})).status_code == 302
    response = client.post(f"/reviews/{review_id}/categories/1", data=_rating_form(
        {"1.1": {"rating": "does_not_meet", "comment": "No statement on file."}}))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Meets" in html and "No statement on file." in html
    with app.app_context():
        rating = db_session.scalar(select(CriterionRating).where(CriterionRating.criterion_id == "1.1"))
        assert rating.rating == Rating.MEETS and rating.version == 1


def test_two_reviewers_saving_the_same_rating_never_overwrite_each_other(app, cast, db):
    from portal.errors import StaleEdit
    from portal.reviews import services

    review_id, _ = _submitted_review(app, cast)
    review = db.get(Review, review_id)
    services.start(review, by=cast.users["reviewer"])
    criterion = services.criteria_in_version(review)["1.1"]
    services.save_rating(review, criterion, services.RatingInput(Rating.MEETS, "", (), None),
                         by=cast.users["reviewer"])
    db.commit()
    # The second reviewer loaded version 1 too; the first saves again (version 2), then the second saves.
    services.save_rating(review, criterion, services.RatingInput(Rating.EXCEEDS, "Best practice", (), 1),
                         by=cast.users["reviewer"])
    db.commit()
    with pytest.raises(StaleEdit) as conflict:
        services.save_rating(review, criterion, services.RatingInput(Rating.DOES_NOT_MEET, "Missing", (), 1),
                             by=cast.users["reviewer2"])
    assert "Exceeds" in conflict.value.theirs and "Missing" in conflict.value.mine
    db.rollback()
    assert db.scalar(select(CriterionRating.rating)) == Rating.EXCEEDS


def test_only_the_assigned_reviewer_rates_and_trade_users_get_404(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    login(cast.email("reviewer2"))
    assert client.post(f"/reviews/{review_id}/categories/1", data=_rating_form(
        {"1.1": {"rating": "meets"}})).status_code == 403
    trade = app.test_client()
    login(cast.email("officer_a"), test_client=trade)
    for url in (f"/reviews/{review_id}", f"/reviews/{review_id}/categories/1", f"/reviews/{review_id}/scores",
                f"/reviews/{review_id}/recommend", f"/reviews/{review_id}/decision"):
        assert trade.get(url).status_code == 404, url
    for url in (f"/reviews/{review_id}/categories/1", f"/reviews/{review_id}/take", "/reviews/assign",
                f"/reviews/{review_id}/carry-over", f"/reviews/{review_id}/recommend",
                f"/reviews/{review_id}/decision", f"/reviews/{review_id}/criteria/1.1/question"):
        assert trade.post(url, data={}).status_code == 404, url


def test_certify_is_refused_while_a_must_is_below_meets(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast, except_ids={"4.1"})
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/categories/4", data=_rating_form(
        {"4.1": {"rating": "partially_meets", "comment": "No annual review of the policy."}}))
    response = client.post(f"/reviews/{review_id}/recommend", data={"recommendation": "certify",
                                                                      "summary": "Good profile."})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Must 4.1" in html and "partially meets" in html
    assert _review(app, review_id).status == ReviewStatus.IN_PROGRESS


def test_return_needs_a_criterion_comment(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    with app.app_context():
        from portal.reviews import services

        review = db_session.get(Review, review_id)
        services.start(review, by=cast.users["reviewer"])
        db_session.commit()
    login(cast.email("reviewer"))
    response = client.post(f"/reviews/{review_id}/recommend", data={"recommendation": "return", "summary": "x"})
    assert "at least one criterion comment" in response.get_data(as_text=True)


def test_four_eyes_certification_end_to_end(app, client, login, cast):
    review_id, profile_id = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    assert client.post(f"/reviews/{review_id}/recommend", data={
        "recommendation": "certify", "summary": "All Musts met."}).status_code == 302
    assert _review(app, review_id).status == ReviewStatus.RECOMMENDED
    # The reviewer cannot approve their own recommendation, even if made supervisor later.
    refused = client.post(f"/reviews/{review_id}/decision", data={"decision": "approve"})
    assert refused.status_code == 200 and "four-eyes" in refused.get_data(as_text=True)
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    assert supervisor.post(f"/reviews/{review_id}/decision", data={"decision": "approve"}).status_code == 302
    with app.app_context():
        account = db_session.get(TradeAccount, cast.account_a.id)
        assert account.status == AccountStatus.CERTIFIED and account.tier == 1
        assert account.certified_on is not None
        assert account.anniversary_on.year == account.certified_on.year + 1
        assert account.next_validation_due == account.anniversary_on
        assert db_session.get(SecurityProfile, profile_id).status == ProfileStatus.APPROVED
        # The decision is counted once in the monthly summary (the refused approval above is not).
        review = db_session.get(Review, review_id)
        summary = db_session.scalars(select(DecisionMonth)).all()
        assert [(row.month, row.outcome, row.decisions) for row in summary] == [
            (month_of(review.decided_at), Recommendation.CERTIFY, 1)]
        assert summary[0].days_total == pytest.approx(
            (review.decided_at - review.submitted_at).total_seconds() / 86400)
        officer_notes = db_session.scalars(select(Notification).where(
            Notification.user_id == cast.users["officer_a"].id)).all()
        assert any("certified" in n.title for n in officer_notes)
        assert db_session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.recipient == "officer@a.example", OutboxEmail.subject.contains("certified"))) == 1
    outcome = app.test_client()
    login(cast.email("employee_a"), test_client=outcome)
    html = outcome.get(f"/profiles/{profile_id}/outcome").get_data(as_text=True)
    assert "Accepted" in html and "Certify" in html
    assert "weighted points" not in html and "Overall" not in html and "Score" not in html


def test_return_sends_comments_and_questions_to_the_partner_and_reopens_editing(app, client, login, cast):
    review_id, profile_id = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/categories/6", data=_rating_form(
        {"6.7": {"rating": "does_not_meet", "comment": "VVTT not in the seal procedure.", "version": "1"}}))
    client.post(f"/reviews/{review_id}/criteria/6.1/question", data={"question": "Who keeps the seal log?"})
    assert client.post(f"/reviews/{review_id}/recommend", data={
        "recommendation": "return", "summary": "Seal controls incomplete."}).status_code == 302
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    assert supervisor.post(f"/reviews/{review_id}/decision", data={"decision": "approve"}).status_code == 302
    with app.app_context():
        assert db_session.get(SecurityProfile, profile_id).status == ProfileStatus.RETURNED
        assert db_session.get(TradeAccount, cast.account_a.id).status == AccountStatus.RETURNED
    partner = app.test_client()
    login(cast.email("officer_a"), test_client=partner)
    html = partner.get(f"/profiles/{profile_id}/outcome").get_data(as_text=True)
    assert "Needs revision" in html and "VVTT not in the seal procedure." in html
    assert "Who keeps the seal log?" in html
    assert partner.post(f"/profiles/{profile_id}/criteria/6.7/autosave", data={
        "status": "implemented", "narrative": "VVTT added to the procedure.", "version": "1"}).status_code == 200


def test_supervisor_override_needs_a_reason_and_deny_makes_the_account_ineligible(app, client, login, cast):
    review_id, profile_id = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/recommend", data={"recommendation": "certify", "summary": "Fine."})
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    no_reason = supervisor.post(f"/reviews/{review_id}/decision", data={"decision": "override", "outcome": "deny"})
    assert no_reason.status_code == 200 and "Give the reason" in no_reason.get_data(as_text=True)
    assert supervisor.post(f"/reviews/{review_id}/decision", data={
        "decision": "override", "outcome": "deny", "reason": "Derogatory vetting results."}).status_code == 302
    with app.app_context():
        account = db_session.get(TradeAccount, cast.account_a.id)
        assert account.status == AccountStatus.INELIGIBLE
        assert "Derogatory vetting results." in account.status_history[-1].reason
        review = db_session.get(Review, review_id)
        assert review.overridden and review.outcome.value == "deny"
        # Counted under the outcome decided, not the one recommended.
        assert [(row.outcome, row.decisions) for row in db_session.scalars(select(DecisionMonth))] == [
            (Recommendation.DENY, 1)]


def _decide_latest(app, cast, override: Recommendation | None) -> None:
    """Submit account A's profile unless it is submitted, then rate, recommend certification and decide
    (``override``: the supervisor's outcome instead) through the services."""
    from portal.reviews import decisions

    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        if profile.status != ProfileStatus.SUBMITTED:
            submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id)
                                   .order_by(Review.id.desc()).limit(1))
        review.reviewer_id = cast.users["reviewer"].id
        db_session.commit()
        review_id = review.id
    _rate_all(app, review_id, cast=cast)
    with app.app_context():
        review = db_session.get(Review, review_id)
        decisions.recommend(review, Recommendation.CERTIFY, "Summary.", by=cast.users["reviewer"])
        decisions.decide(review, by=cast.users["supervisor"], override=override,
                         reason="Seal log missing." if override else "")
        db_session.commit()


def _returned_twice_then_certified(app, cast) -> None:
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    for override in (Recommendation.RETURN, Recommendation.RETURN, None):
        _decide_latest(app, cast, override)


def test_the_summary_kept_by_decisions_equals_the_one_rebuilt_from_the_reviews(app, cast):
    """Three decisions through decisions.decide on one profile (returned twice, then certified: two
    decisions in one month row) give the rows rebuild_decision_months computes from the reviews."""

    def rows() -> list[tuple]:
        return [(row.month, row.outcome, row.decisions, row.days_total)
                for row in db_session.scalars(select(DecisionMonth).order_by(DecisionMonth.month,
                                                                              DecisionMonth.outcome))]

    _returned_twice_then_certified(app, cast)
    with app.app_context():
        kept = rows()
        assert sorted((outcome.value, count) for _, outcome, count, _ in kept) == [("certify", 1), ("return", 2)]
        assert rebuild_decision_months() == 2
        db_session.commit()
        rebuilt = rows()
        assert [row[:3] for row in rebuilt] == [row[:3] for row in kept]
        # The kept days are summed in Python from exact timestamps, the rebuilt ones in SQL (SQLite's
        # julianday is a double: about 50 microseconds apart at today's dates). The decisions here are
        # made a fraction of a second apart, so a rounding of each to a few digits could fall either side.
        assert [row[3] for row in rebuilt] == pytest.approx([row[3] for row in kept], abs=1e-8)


def test_a_resubmission_after_a_return_keeps_the_applicants_90_day_clock(app, cast, clock):
    """Each version's review stores when its clock started (services.clock_start): for an applicant,
    the first submission of the profile, however often it was returned and submitted again."""
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    for override in (Recommendation.RETURN, Recommendation.RETURN):
        _decide_latest(app, cast, override)
        clock.advance(days=10)
    _decide_latest(app, cast, None)
    with app.app_context():
        reviews = db_session.scalars(select(Review).where(Review.profile_id == factories.profile_of(
            cast.account_a).id).order_by(Review.version_number)).all()
        assert [r.version_number for r in reviews] == [1, 2, 3]
        assert reviews[2].submitted_at - reviews[0].submitted_at == timedelta(days=20)
        assert {r.clock_started_at for r in reviews} == {reviews[0].submitted_at}


def test_send_back_returns_the_review_to_the_reviewer(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/recommend", data={"recommendation": "certify", "summary": "Fine."})
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    assert supervisor.post(f"/reviews/{review_id}/decision", data={
        "decision": "send_back", "reason": "Check 9.13 evidence."}).status_code == 302
    review = _review(app, review_id)
    assert review.status == ReviewStatus.IN_PROGRESS and review.outcome is None


def test_carry_over_copies_only_unchanged_criteria_marked_as_carried(app, client, login, cast):
    review_id, profile_id = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/recommend", data={"recommendation": "certify", "summary": "Fine."})
    supervisor = app.test_client()
    login(cast.email("supervisor"), test_client=supervisor)
    supervisor.post(f"/reviews/{review_id}/decision", data={"decision": "approve"})
    # Annual update: the partner changes one answer and submits version 2.
    with app.app_context():
        profile = db_session.get(SecurityProfile, profile_id)
        factories.answer(profile, "1.1", narrative="New statement signed in 2026.")
        submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
        second = db_session.scalar(select(Review).where(Review.profile_id == profile_id, Review.version_number == 2))
        second.reviewer_id = cast.users["reviewer2"].id
        db_session.commit()
        second_id = second.id
    reviewer2 = app.test_client()
    login(cast.email("reviewer2"), test_client=reviewer2)
    page = reviewer2.get(f"/reviews/{second_id}/categories/1").get_data(as_text=True)
    assert "Changed since version 1" in page
    assert reviewer2.post(f"/reviews/{second_id}/carry-over").status_code == 302
    with app.app_context():
        ratings = {r.criterion_id: r for r in db_session.scalars(
            select(CriterionRating).where(CriterionRating.review_id == second_id))}
        assert "1.1" not in ratings
        assert len(ratings) == 94 and all(r.carried_over for r in ratings.values())


def test_scores_page_explains_each_number(app, client, login, cast):
    review_id, _ = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    client.post(f"/reviews/{review_id}/categories/4", data=_rating_form(
        {"4.1": {"rating": "does_not_meet", "comment": "No policy.", "version": "1"}}))
    html = client.get(f"/reviews/{review_id}/scores").get_data(as_text=True)
    assert "Overall:" in html and "weighted points" in html
    assert "4.1" in html.split("Open Must gaps")[1]
    assert "<svg" in html and "<table" in html


def test_the_recommend_page_reads_ratings_and_version_once_for_its_three_gates(app, client, login, cast):
    from sqlalchemy import event

    review_id, _ = _submitted_review(app, cast)
    _rate_all(app, review_id, cast=cast)
    login(cast.email("reviewer"))
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", keep)
    try:
        response = client.get(f"/reviews/{review_id}/recommend")
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert response.status_code == 200
    assert sum("FROM criterion_ratings" in s for s in seen) == 1
    assert sum("FROM profile_versions" in s for s in seen) == 1
