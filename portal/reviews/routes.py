"""The review of a submitted version: start, rate criteria by category, ask questions, carry
ratings over, see scores, recommend, and the supervisor's four-eyes decision; plus the outcome page
the partner sees."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from forms.questionnaire import field_key
from forms.reviews import DecisionForm, QuestionForm, RecommendForm, build_rating_form
from portal.auth.permissions import (
    can_decide_review,
    can_rate_review,
    can_take_review,
    can_view_profile,
    can_view_reviews,
    ensure,
    is_staff,
)
from portal.auth.reauth import require_recent_auth
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.reviews import decisions, queries, services
from portal.reviews.scoring import Rating, open_must_gaps, score_profile
from portal.reviews.workflow import Recommendation, ReviewStatus

bp = Blueprint("reviews", __name__)


def _load(review_id: int):  # noqa: ANN202
    ensure(can_view_reviews(current_user), not_found=True)
    return queries.get_review_or_404(review_id)


@bp.route("/reviews/<int:review_id>")
@login_required
def review(review_id: int):
    review_ = _load(review_id)
    version = queries.version_for(review_)
    categories = queries.review_categories(services.get_catalog(version.catalog_id), version)
    return redirect(url_for("reviews.category", review_id=review_.id, number=categories[0].number))


@bp.route("/reviews/<int:review_id>/take", methods=["POST"])
@login_required
def take(review_id: int):
    review_ = _load(review_id)
    ensure(can_take_review(current_user, review_))
    try:
        services.take(review_, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(url_for("queue.index"))
    db_session.commit()
    flash("The review is yours.", "success")
    return redirect(url_for("reviews.review", review_id=review_.id))


@bp.route("/reviews/<int:review_id>/categories/<int:number>", methods=["GET", "POST"])
@login_required
def category(review_id: int, number: int):
    """Rate every criterion of one category of the submitted version."""
    review_ = _load(review_id)
    page = queries.review_page(review_, number)
    can_rate = can_rate_review(current_user, review_)
    criteria = [criterion for criterion, _ in page.rows]
    form_class = build_rating_form(criteria)
    if request.method == "POST":
        ensure(can_rate)
        form = form_class()
    else:
        form = form_class(data={field_key(c.id): _rating_data(page.ratings.get(c.id)) for c in criteria})
    conflicts: dict[str, dict[str, Any]] = {}
    if request.method == "POST" and form.validate():
        services.start(review_, by=current_user)
        saved = 0
        try:
            for criterion in criteria:
                sub = form[field_key(criterion.id)]
                if not (sub.rating.data or "").strip():  # a blank radio value is "no rating"
                    continue
                data = services.RatingInput(rating=Rating(sub.rating.data), comment=sub.comment.data or "",
                                            checklist=tuple(sub.checklist.data or ()),
                                            expected_version=int(sub.version.data) if sub.version.data else None)
                existing = page.ratings.get(criterion.id)
                if existing and (existing.rating, existing.comment, list(existing.checklist)) == (
                        data.rating, data.comment.strip(), [i for i in criterion.checklist if i in data.checklist]):
                    continue
                try:
                    services.save_rating(review_, criterion, data, by=current_user)
                    saved += 1
                except StaleEdit as error:
                    current = services.ratings_of(review_).get(criterion.id)
                    conflicts[criterion.id] = {"mine": error.mine, "theirs": error.theirs,
                                               "by": current.updated_by.full_name if current and current.updated_by
                                               else None}
                    sub.version.data = str(current.version) if current else ""
        except DomainError as error:
            db_session.rollback()
            form.form_errors.append(error.message)
        else:
            db_session.commit()
            if not conflicts:
                flash(f"{saved} rating(s) saved as a draft.", "success")
                target = number
                if request.form.get("continue"):
                    later = [c.number for c in page.categories if c.number > number]
                    if later:
                        target = later[0]
                    else:
                        return redirect(url_for("reviews.scores", review_id=review_.id))
                return redirect(url_for("reviews.category", review_id=review_.id, number=target))
            page = queries.review_page(review_, number)
    changed = services.changed_criteria(review_)
    return render_template(
        "reviews/category.html", review=review_, profile=review_.profile, account=review_.profile.account,
        page=page, form=form, can_rate=can_rate, field_key=field_key, changed=changed, conflicts=conflicts,
        question_form=QuestionForm(), earlier=services.previous_approved_review(review_) if can_rate else None,
    ), (409 if conflicts else 200)


def _rating_data(rating: Any) -> dict[str, Any]:
    if rating is None:
        return {"rating": None, "comment": "", "checklist": [], "version": ""}
    return {"rating": rating.rating.value, "comment": rating.comment, "checklist": list(rating.checklist),
            "version": str(rating.version)}


@bp.route("/reviews/<int:review_id>/criteria/<criterion_id>/question", methods=["POST"])
@login_required
def ask(review_id: int, criterion_id: str):
    review_ = _load(review_id)
    criterion = services.criteria_in_version(review_).get(criterion_id)
    if criterion is None:
        abort(404)
    ensure(can_rate_review(current_user, review_))
    form = QuestionForm()
    if form.validate_on_submit():
        services.start(review_, by=current_user)
        try:
            services.request_info(review_, criterion, form.question.data, by=current_user)
        except DomainError as error:
            db_session.rollback()
            flash(error.message, "error")
        else:
            db_session.commit()
            flash(f"Question on {criterion.id} recorded; the partner sees it if the profile is returned.", "success")
    else:
        flash("Write the question (at most 4,000 characters).", "error")
    return redirect(url_for("reviews.category", review_id=review_.id, number=criterion.category)
                    + f"#r-{criterion.id.replace('.', '-')}")


@bp.route("/reviews/<int:review_id>/carry-over", methods=["POST"])
@login_required
def carry_over(review_id: int):
    review_ = _load(review_id)
    ensure(can_rate_review(current_user, review_))
    services.start(review_, by=current_user)
    try:
        carried = services.carry_over(review_, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"{len(carried)} rating(s) of unchanged criteria carried over"
              + (f": {', '.join(carried)}." if carried else "."), "success")
    return redirect(url_for("reviews.review", review_id=review_.id))


@bp.route("/reviews/<int:review_id>/scores")
@login_required
def scores(review_id: int):
    """Category, focus-area and overall scores with how each was computed; open Must gaps."""
    review_ = _load(review_id)
    version = queries.version_for(review_)
    catalog = services.get_catalog(version.catalog_id)
    ratings = {cid: r.rating for cid, r in services.ratings_of(review_).items()}
    business_type = review_.profile.account.business_type
    result = score_profile(catalog, business_type, ratings)
    chart = [{"label": f"{catalog.category(n).number}. {catalog.category(n).title}",
              "value": s.value if s.value is not None else 0,
              "detail": s.explanation} for n, s in result.categories.items()]
    return render_template("reviews/scores.html", review=review_, profile=review_.profile,
                           account=review_.profile.account, catalog=catalog, result=result, chart=chart,
                           gaps=open_must_gaps(catalog, business_type, ratings))


@bp.route("/reviews/<int:review_id>/recommend", methods=["GET", "POST"])
@login_required
def recommend(review_id: int):
    review_ = _load(review_id)
    form = RecommendForm()
    can_rate = can_rate_review(current_user, review_)
    if request.method == "POST":
        ensure(can_rate)
        if form.validate():
            services.start(review_, by=current_user)
            try:
                decisions.recommend(review_, Recommendation(form.recommendation.data), form.summary.data,
                                    by=current_user)
            except DomainError as error:
                db_session.rollback()
                form.add_error(error.field or "recommendation", error.message)
            else:
                db_session.commit()
                flash("Your recommendation is sent to a supervisor for approval.", "success")
                return redirect(url_for("reviews.decision", review_id=review_.id))
    gates = decisions.gates(review_) if can_rate else {}
    return render_template("reviews/recommend.html", review=review_, profile=review_.profile,
                           account=review_.profile.account, form=form, can_rate=can_rate, gates=gates)


@bp.route("/reviews/<int:review_id>/decision", methods=["GET", "POST"])
@login_required
@require_recent_auth()  # a decision needs a fresh sign-in (POST only; portal/auth/reauth.py)
def decision(review_id: int):
    """The supervisor approves, overrides with a reason, or sends the recommendation back."""
    review_ = _load(review_id)
    form = DecisionForm()
    can_decide = can_decide_review(current_user, review_)
    if request.method == "POST":
        ensure(is_staff(current_user))
        if form.validate():
            try:
                if form.decision.data == "send_back":
                    decisions.send_back(review_, form.reason.data or "", by=current_user)
                    message = "The recommendation is sent back to the reviewer."
                else:
                    override = Recommendation(form.outcome.data) if form.decision.data == "override" else None
                    outcome = decisions.decide(review_, by=current_user, override=override,
                                               reason=form.reason.data or "")
                    message = f"Decision applied: {outcome.label.lower()}. The partner has been notified."
            except DomainError as error:
                db_session.rollback()
                form.add_error(error.field or "decision", error.message)
            else:
                db_session.commit()
                flash(message, "success")
                return redirect(url_for("reviews.decision", review_id=review_.id))
    return render_template("reviews/decision.html", review=review_, profile=review_.profile,
                           account=review_.profile.account, form=form, can_decide=can_decide,
                           ReviewStatus=ReviewStatus)


@bp.route("/reviews/<int:review_id>/evidence/<int:evidence_id>/preview")
@login_required
def preview(review_id: int, evidence_id: int):
    """Show a PDF or image inline for the reviewer; other types download."""
    from portal.profiles.models import EvidenceFile
    from portal.profiles.storage import get_storage

    review_ = _load(review_id)
    evidence = db_session.get(EvidenceFile, evidence_id)
    if evidence is None or evidence.company_id != review_.profile.account.company_id:
        abort(404)
    inline = evidence.content_type in {"application/pdf", "image/png", "image/jpeg"}
    import io

    data = get_storage().open(evidence.storage_key)
    content = data if isinstance(data, bytes) else data.read()
    response = send_file(io.BytesIO(content), mimetype=evidence.content_type, as_attachment=not inline,
                         download_name=evidence.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A previewed document is sandboxed: no scripts, no forms, even if a PDF viewer would allow them.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; object-src 'self'"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/profiles/<int:profile_id>/outcome")
@login_required
def outcome(profile_id: int):
    """What the partner sees after a decision: per criterion accepted or needs revision, with the
    reviewer's comment and questions. Numeric scores are for CBP staff only."""
    from portal.profiles.queries import get_profile_or_404

    profile = get_profile_or_404(profile_id)
    ensure(can_view_profile(current_user, profile), not_found=True)
    decided = queries.latest_decided_review(profile)
    rows = []
    if decided is not None:
        catalog = services.get_catalog(profile.catalog_id)
        ratings = {r.criterion_id: r for r in decided.ratings}
        questions: dict[str, list[Any]] = {}
        for question in decided.info_requests:
            questions.setdefault(question.criterion_id, []).append(question)
        version = queries.version_for(decided)
        for row in version.content["criteria"]:
            rating = ratings.get(row["id"])
            accepted = rating is not None and not rating.rating.below_meets
            rows.append({"criterion": catalog.criterion(row["id"]) if catalog.has_criterion(row["id"]) else None,
                         "id": row["id"], "accepted": accepted,
                         "comment": rating.comment if rating else "", "questions": questions.get(row["id"], [])})
    return render_template("reviews/outcome.html", profile=profile, account=profile.account, review=decided,
                           rows=rows)
