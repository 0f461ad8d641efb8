"""The guided questionnaire: overview with progress, category pages, answer saving (plain POST)
and autosave (fetch with the CSRF header), and the partner dashboard."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from forms.questionnaire import AutosaveForm, build_category_form, field_key
from portal import clock
from portal.action_plans.models import ActionPlan
from portal.auth.permissions import can_edit_profile, can_view_profile, ensure
from portal.clock import utcnow
from portal.db import db_session
from portal.db_connections import writes_begin_late
from portal.errors import DomainError, StaleEdit
from portal.fragment_cache import fragment_cache, page_cache
from portal.profiles import queries, services
from portal.profiles.models import Answer
from portal.profiles.progress import compute_progress
from portal.profiles.workflow import ImplementationStatus
from portal.security import read_with_user
from portal.templating import format_datetime, layout_key

bp = Blueprint("profiles", __name__)


def _load(profile_id: int):  # noqa: ANN202
    profile = queries.get_profile_or_404(profile_id)
    ensure(can_view_profile(current_user, profile), not_found=True)
    return profile


def _answer_input(status: str | None, narrative: str | None, justification: str | None,
                  version: str | None) -> services.AnswerInput:
    return services.AnswerInput(
        # A blank radio value ("   ") passes Optional() unchecked: it means "no status", not a 500.
        status=ImplementationStatus(status) if status and status.strip() else None,
        narrative=narrative or "",
        justification=justification or "",
        expected_version=int(version) if version else None,
    )


# The profile (and on the category page the fingerprint of the category) is read in the statement that
# loads the signed-in user.
read_with_user("profiles.category", queries.CATEGORY_READ)
for _endpoint in ("profiles.overview", "profiles.dashboard"):
    read_with_user(_endpoint, queries.PROFILE_READ)
# Autosave also reads the answer it saves with the user; its one write is that answer's, checked by
# version (and its audit event), so on SQLite it takes the writer's lock only to write.
read_with_user("profiles.autosave", queries.AUTOSAVE_READ)
writes_begin_late("profiles.autosave")


@bp.route("/profiles/<int:profile_id>")
@login_required
def overview(profile_id: int):
    """Categories with their progress, the overall progress bar, and where to resume."""
    profile = _load(profile_id)
    catalog = services.catalog_of(profile)
    progress = compute_progress(catalog, profile.account.business_type, queries.answers_of(profile))
    resume = profile.last_category or (progress.first_incomplete().number if progress.first_incomplete() else None)
    return render_template("profiles/overview.html", profile=profile, account=profile.account, catalog=catalog,
                           progress=progress, resume=resume, can_edit=can_edit_profile(current_user, profile))


@bp.route("/profiles/<int:profile_id>/dashboard")
@login_required
def dashboard(profile_id: int):
    """The partner dashboard: status, progress by category (chart + table), open action plans."""
    profile = _load(profile_id)
    catalog = services.catalog_of(profile)
    progress = compute_progress(catalog, profile.account.business_type, queries.answers_of(profile))
    plans = [plan for plan in db_session.scalars(
        select(ActionPlan).where(ActionPlan.profile_id == profile.id).order_by(ActionPlan.target_date))
        if not plan.status.is_closed]
    rows = [{"label": f"{c.category.number}. {c.category.title}", "value": c.percent,
             "detail": f"{c.answered} of {c.total} answered"} for c in progress.categories]
    return render_template("profiles/dashboard.html", profile=profile, account=profile.account, progress=progress,
                           chart_rows=rows, plans=plans, catalog=catalog)


@bp.route("/profiles/<int:profile_id>/categories/<int:number>", methods=["GET", "POST"])
@login_required
def category(profile_id: int, number: int):
    """Answer every criterion of one category; "save and continue" moves to the next category."""
    # The profile with the fingerprint of the category's rows (the criteria's cache key) in one statement.
    profile, fingerprint = queries.get_profile_with_fingerprint_or_404(profile_id, number)
    ensure(can_view_profile(current_user, profile), not_found=True)
    catalog = services.catalog_of(profile)
    category_ = queries.get_category_or_404(catalog, profile, number)
    can_edit = can_edit_profile(current_user, profile)
    categories = catalog.categories_for(profile.account.business_type)
    numbers = [c.number for c in categories]
    position = numbers.index(number)
    previous_number = numbers[position - 1] if position > 0 else None
    next_number = numbers[position + 1] if position + 1 < len(numbers) else None
    here = url_for("profiles.category", profile_id=profile.id, number=number)
    conflicts: dict[str, dict[str, Any]] = {}
    page: queries.CategoryPage | None = None
    form = None
    if request.method == "POST":
        ensure(can_edit)
        page = queries.category_page(profile, category_)
        form = build_category_form(page.criteria)()
    if form is not None and form.validate():
        try:
            for criterion in page.criteria:
                sub = form[field_key(criterion.id)]
                data = _answer_input(sub.status.data, sub.narrative.data, sub.justification.data, sub.version.data)
                try:
                    services.save_answer(profile, criterion, data, by=current_user)
                except StaleEdit as error:
                    # Keep what this user typed on the page and show the other save beside it; the
                    # next save of this criterion overwrites deliberately.
                    theirs = queries.answers_of(profile).get(criterion.id)
                    conflicts[criterion.id] = {"mine": error.mine, "theirs": error.theirs,
                                               "by": theirs.updated_by.full_name if theirs and theirs.updated_by
                                               else None}
                    sub.version.data = str(theirs.version) if theirs else ""
            services.remember_category(profile, number)
        except DomainError as error:
            db_session.rollback()
            form.form_errors.append(error.message)
        else:
            db_session.commit()
            if not conflicts:
                flash(f"Category {number} saved at {format_datetime(utcnow(), '%H:%M %Z')}.", "success")
                if request.form.get("continue") and next_number is not None:
                    return redirect(url_for("profiles.category", profile_id=profile.id, number=next_number))
                if request.form.get("continue"):
                    return redirect(url_for("submissions.submit", profile_id=profile.id))
                return redirect(here)
            page = queries.category_page(profile, category_)
    criteria_html = _criteria_html(profile, category_, page, form, can_edit, conflicts, here, fingerprint)
    # The rest of a page that shows stored data comes from the page cache, keyed by what it shows: the
    # category (its number is in the URL) and its neighbours for the business type, the header, the
    # rights, and the layout. A form sent back (with conflicts or errors) is rendered afresh.
    key = None if form is not None else ("profiles.category", here, profile.catalog_id,
                                         profile.account.business_type, can_edit, header_key(profile), layout_key())

    def render(csrf_token: Any, request_id: str, body: Markup) -> str:
        return render_template(
            "profiles/category.html", profile=profile, account=profile.account, catalog=catalog, category=category_,
            form=form, can_edit=can_edit, previous_number=previous_number, next_number=next_number,
            criteria_html=body, conflicts=conflicts, csrf_token=csrf_token, request_id=request_id,
        )

    return page_cache().render_page(key, render, criteria_html), 409 if conflicts else 200


def header_key(profile: Any) -> tuple[Any, ...]:
    """What profiles/_header.html shows of a profile, its account and company (a page cache key)."""
    account = profile.account
    return (profile.id, profile.status, profile.catalog_id, profile.current_version, account.id,
            account.business_type, account.account_number, account.company.legal_name)


def _criteria_html(profile: Any, category_: Any, page: queries.CategoryPage | None, form: Any, can_edit: bool,
                   conflicts: dict[str, dict[str, Any]], here: str, fingerprint: str) -> Markup:
    """The criteria of the page. A page that shows only stored data (a GET) comes from the fragment
    cache, keyed by the rows it shows (``fingerprint``, read with the profile); a form sent back with
    the user's input is rendered afresh."""
    key = None
    if form is None:
        # The day is part of the key: action plans past their target date show as overdue.
        key = ("profiles.category", here, profile.catalog_id, can_edit, clock.today(), fingerprint)

    def render(csrf_token: Any) -> str:
        loaded = page if page is not None else queries.category_page(profile, category_)
        shown = form if form is not None else build_category_form(loaded.criteria)(
            data={field_key(c.id): _answer_data(loaded.answers.get(c.id)) for c in loaded.criteria})
        return render_template("profiles/_criteria.html", profile=profile, page=loaded, form=shown,
                               can_edit=can_edit, field_key=field_key, conflicts=conflicts, next_url=here,
                               csrf_token=csrf_token)

    return fragment_cache().render(key, render)


def _answer_data(answer: Any) -> dict[str, Any]:
    if answer is None:
        return {"status": None, "narrative": "", "justification": "", "version": ""}
    return {"status": answer.status.value if answer.status else None, "narrative": answer.narrative,
            "justification": answer.justification, "version": str(answer.version)}


@bp.route("/profiles/<int:profile_id>/criteria/<criterion_id>/autosave", methods=["POST"])
@login_required
def autosave(profile_id: int, criterion_id: str):
    """Save one answer in the background; answers JSON (the page shows "Saved at HH:MM")."""
    profile = _load(profile_id)
    criterion = services.applicable_criterion(profile, criterion_id)
    if criterion is None:
        abort(404)
    if not can_edit_profile(current_user, profile):
        return jsonify({"ok": False, "error": "The profile cannot be edited now."}), 403
    form = AutosaveForm()
    if not form.validate():
        errors = [message for field in form for message in field.errors]
        return jsonify({"ok": False, "error": " ".join(errors) or "The answer could not be saved."}), 400
    stored = queries.stored_answer(profile, criterion.id)
    try:
        answer = services.save_answer(
            profile, criterion,
            _answer_input(form.status.data, form.narrative.data, form.justification.data, form.version.data),
            by=current_user, stored=stored,
        )
    except StaleEdit as error:
        db_session.rollback()
        current = queries.answers_of(profile).get(criterion.id)
        return jsonify({"ok": False, "conflict": True, "error": error.message, "mine": error.mine,
                        "theirs": error.theirs, "version": current.version if current else None,
                        "by": current.updated_by.full_name if current and current.updated_by else None}), 409
    except IntegrityError:
        # Another save inserted the first answer to this criterion between our read and our INSERT (the
        # answer's unique key): the same conflict as above, as JSON for the page's script. (A save of a
        # stored answer committed in between is a StaleEdit: the rewrite's version check found no row.)
        db_session.rollback()
        current = queries.answers_of(profile).get(criterion.id)
        if current is None or isinstance(stored, Answer):
            # Not another save's first answer (the profile deleted meanwhile, or a failure of the rewrite of
            # the answer read): not a conflict.
            raise
        return jsonify({"ok": False, "conflict": True, "error": f"Someone else saved criterion {criterion.id} "
                        "at the same moment.", "mine": form.narrative.data, "theirs": current.narrative if current
                        else "", "version": current.version if current else None,
                        "by": current.updated_by.full_name if current and current.updated_by else None}), 409
    except DomainError as error:
        db_session.rollback()
        return jsonify({"ok": False, "error": error.message}), 400
    db_session.commit()
    if answer is None:
        return jsonify({"ok": True, "version": None, "saved_at": utcnow().isoformat(), "complete": False})
    return jsonify({"ok": True, "version": answer.version, "saved_at": answer.updated_at.isoformat(),
                    "complete": answer.is_complete})
