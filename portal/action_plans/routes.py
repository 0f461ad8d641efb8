"""Action plans of a security profile: list with filters, create, edit, milestones."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.action_plans import (
    OTHER_OWNER,
    ActionPlanFilterForm,
    ActionPlanForm,
    EditActionPlanForm,
    MilestoneForm,
    NextForm,
    owner_choices,
)
from portal.action_plans import queries, services
from portal.action_plans.models import ActionPlan, Milestone
from portal.auth.permissions import can_edit_company, can_edit_profile, can_view_profile, ensure
from portal.catalog.schema import Criterion
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.services import applicable_criterion, catalog_of
from portal.profiles.workflow import ActionPlanStatus
from portal.security import is_safe_next

bp = Blueprint("action_plans", __name__)

SORT_LABELS = {"target_date": "Target date", "criterion": "Criterion", "status": "Status", "updated": "Last updated"}


# --- loading and authorising -----------------------------------------------------------------------


def _load_profile(profile_id: int) -> SecurityProfile:
    """The profile, or 404 when it does not exist or belongs to another company."""
    profile = db_session.get(SecurityProfile, profile_id)
    if profile is None:
        abort(404)
    ensure(can_view_profile(current_user, profile), not_found=True)
    return profile


def _load_plan(profile: SecurityProfile, plan_id: int) -> ActionPlan:
    plan = queries.plan_in_profile(profile, plan_id)
    if plan is None:
        abort(404)
    return plan


def _load_milestone(plan: ActionPlan, milestone_id: int) -> Milestone:
    milestone = queries.milestone_in_plan(plan, milestone_id)
    if milestone is None:
        abort(404)
    return milestone


def _ensure_editor(profile: SecurityProfile) -> None:
    """Read-only users and CBP staff may look but not change (403)."""
    ensure(can_edit_company(current_user, profile.account.company))


def _locked_redirect(profile: SecurityProfile) -> Any | None:
    """While the profile is submitted or in review, say why and go back to the list."""
    if profile.status.editable:
        return None
    flash(f"The profile is {profile.status.label.lower()}, so its action plans cannot be changed now. "
          "They can be changed again if CBP returns the profile for revision.", "warning")
    return redirect(url_for("action_plans.list_plans", profile_id=profile.id))


def _next_url(value: str | None) -> str | None:
    return value if is_safe_next(value) else None


def _list_url(profile: SecurityProfile) -> str:
    return url_for("action_plans.list_plans", profile_id=profile.id)


def _after_save(profile: SecurityProfile, next_value: str | None) -> Any:
    return redirect(_next_url(next_value) or _list_url(profile))


def _edit_url(profile: SecurityProfile, plan: ActionPlan, next_value: str | None) -> str:
    return url_for("action_plans.edit_plan", profile_id=profile.id, plan_id=plan.id, next=_next_url(next_value))


def _set_owner_choices(form: ActionPlanForm, profile: SecurityProfile) -> None:
    users = queries.company_users(profile.account.company_id)
    form.owner.choices = owner_choices([(user.id, user.full_name) for user in users])


def _plan_input(form: ActionPlanForm, status: ActionPlanStatus | None = None) -> services.PlanInput:
    return services.PlanInput(
        gap=form.gap.data or "", corrective_action=form.corrective_action.data or "",
        owner_user_id=form.owner_user_id, owner_name=form.owner_other_name,
        target_date=form.target_date.data, status=status,
    )


def _show_problems(form: Any, error: DomainError) -> None:
    problems = error.problems if isinstance(error, services.InvalidPlan) else [(error.field, error.message)]
    for field_name, message in problems:
        form.add_error(field_name, message)


def _answer_for(profile: SecurityProfile, criterion_id: str) -> Answer | None:
    return db_session.scalar(select(Answer).where(Answer.profile_id == profile.id,
                                                  Answer.criterion_id == criterion_id))


def _suggested_gap(criterion: Criterion, answer: Answer | None) -> str:
    """A starting text for the gap from the partner's own answer (they edit it)."""
    if answer is None or answer.status is None or not answer.status.is_gap:
        return ""
    return (f"Criterion {criterion.id} ({criterion.title}) is answered as {answer.status.label.lower()}. "
            "Not yet in place: ")


# --- the list --------------------------------------------------------------------------------------


def _filters(profile: SecurityProfile) -> tuple[ActionPlanFilterForm, dict[str, Any], dict[str, str]]:
    """Read the GET filters; invalid values are ignored (the list shows unfiltered on that axis)."""
    catalog = catalog_of(profile)
    business_type = profile.account.business_type
    form = ActionPlanFilterForm(request.args)
    form.category.choices = [("", "All categories")] + [
        (str(category.number), f"{category.number}. {category.title}") for category in catalog.categories
        if catalog.criteria_in(category, business_type)
    ]
    valid_categories = {value for value, _label in form.category.choices if value}
    status = form.status.data if form.status.data in {s.value for s in ActionPlanStatus} else ""
    overdue = form.overdue.data if form.overdue.data in {"yes", "no"} else ""
    category = form.category.data if form.category.data in valid_categories else ""
    sort = form.sort.data if form.sort.data in SORT_LABELS else "target_date"
    form.status.data, form.overdue.data, form.category.data, form.sort.data = status, overdue, category, sort
    kwargs: dict[str, Any] = {
        "status": ActionPlanStatus(status) if status else None,
        "overdue": {"yes": True, "no": False}.get(overdue),
        "category": int(category) if category else None,
        "sort": sort,
    }
    active = {key: value for key, value in (("status", status), ("overdue", overdue), ("category", category))
              if value}
    return form, kwargs, active


@bp.route("/profiles/<int:profile_id>/action-plans")
@login_required
def list_plans(profile_id: int):
    """The account's action plans with filters (status, overdue, category) and sorting."""
    profile = _load_profile(profile_id)
    form, kwargs, active = _filters(profile)
    plans = queries.plans_for_profile(profile, **kwargs)
    total = queries.count_plans(profile) if (active or not plans) else len(plans)
    catalog = catalog_of(profile)
    return render_template(
        "action_plans/list.html", profile=profile, account=profile.account, catalog=catalog, plans=plans,
        total=total, form=form, active_filters=active, sort=kwargs["sort"], sort_labels=SORT_LABELS,
        gaps=queries.gaps_without_plan(profile), can_edit=can_edit_profile(current_user, profile),
        list_url=request.full_path.rstrip("?"),
    )


# --- create and edit -------------------------------------------------------------------------------


@bp.route("/profiles/<int:profile_id>/criteria/<criterion_id>/action-plans/new", methods=["GET", "POST"])
@login_required
def new_plan(profile_id: int, criterion_id: str):
    profile = _load_profile(profile_id)
    criterion = applicable_criterion(profile, criterion_id)
    if criterion is None:
        abort(404)
    _ensure_editor(profile)
    if (locked := _locked_redirect(profile)) is not None:
        return locked
    answer = _answer_for(profile, criterion.id)
    form = ActionPlanForm()
    _set_owner_choices(form, profile)
    if request.method == "GET":
        form.next.data = _next_url(request.args.get("next"))
        form.gap.data = _suggested_gap(criterion, answer)
    if form.validate_on_submit():
        try:
            plan = services.create_plan(profile, criterion.id, _plan_input(form), by=current_user)
        except services.CriterionNotFound:
            db_session.rollback()
            abort(404)
        except DomainError as error:
            db_session.rollback()
            _show_problems(form, error)
        else:
            db_session.commit()
            flash(f"The action plan for criterion {criterion.id} is saved. Open it to add milestones.", "success")
            if plan.is_overdue:
                flash("The target date has passed, so the plan shows as overdue.", "warning")
            return _after_save(profile, form.next.data)
    return render_template("action_plans/form.html", profile=profile, criterion=criterion, answer=answer,
                           form=form, plan=None, other_owner=OTHER_OWNER,
                           back_url=_next_url(form.next.data) or _list_url(profile))


def _edit_page(profile: SecurityProfile, plan: ActionPlan, form: EditActionPlanForm,
               milestone_form: MilestoneForm, status: int = 200) -> Any:
    catalog = catalog_of(profile)
    criterion = catalog.criterion(plan.criterion_id) if catalog.has_criterion(plan.criterion_id) else None
    return render_template(
        "action_plans/form.html", profile=profile, criterion=criterion, plan=plan, form=form,
        milestone_form=milestone_form, answer=_answer_for(profile, plan.criterion_id), other_owner=OTHER_OWNER,
        can_edit=can_edit_profile(current_user, profile),
        back_url=_next_url(form.next.data) or _list_url(profile),
    ), status


def _fill_plan_form(form: EditActionPlanForm, plan: ActionPlan, next_value: str | None) -> None:
    form.gap.data = plan.gap
    form.corrective_action.data = plan.corrective_action
    form.owner.data = str(plan.owner_user_id) if plan.owner_user_id else (OTHER_OWNER if plan.owner_name else "")
    form.owner_name.data = plan.owner_name or ""
    form.target_date.data = plan.target_date
    form.status.data = plan.status.value
    form.version.data = str(plan.version)
    form.next.data = _next_url(next_value)


def _edit_form(profile: SecurityProfile, plan: ActionPlan, *, stored: bool = False,
               next_value: str | None = None) -> EditActionPlanForm:
    """The plan form: from the request on POST, from the stored plan on GET (or when ``stored``)."""
    form = EditActionPlanForm(formdata=None) if stored else EditActionPlanForm()
    _set_owner_choices(form, profile)
    if stored or request.method == "GET":
        _fill_plan_form(form, plan, next_value if stored else request.args.get("next"))
    return form


@bp.route("/profiles/<int:profile_id>/action-plans/<int:plan_id>/edit", methods=["GET", "POST"])
@login_required
def edit_plan(profile_id: int, plan_id: int):
    profile = _load_profile(profile_id)
    plan = _load_plan(profile, plan_id)
    _ensure_editor(profile)
    if (locked := _locked_redirect(profile)) is not None:
        return locked
    form = _edit_form(profile, plan)
    milestone_form = MilestoneForm(formdata=None, next=form.next.data)
    if form.validate_on_submit():
        try:
            services.update_plan(plan, _plan_input(form, ActionPlanStatus(form.status.data)),
                                 form.expected_version, by=current_user)
        except services.PlanConflict as conflict:
            db_session.rollback()
            return render_template(
                "errors/409.html", code=409, title="Edit conflict",
                conflict={"mine": conflict.mine, "theirs": conflict.theirs, "by": conflict.by,
                          "back_url": _edit_url(profile, plan, form.next.data)},
            ), 409
        except DomainError as error:
            db_session.rollback()
            _show_problems(form, error)
        else:
            db_session.commit()
            flash(f"The action plan for criterion {plan.criterion_id} is saved.", "success")
            if plan.is_overdue:
                flash("The target date has passed, so the plan shows as overdue.", "warning")
            return _after_save(profile, form.next.data)
    return _edit_page(profile, plan, form, milestone_form)


@bp.route("/profiles/<int:profile_id>/action-plans/<int:plan_id>/delete", methods=["POST"])
@login_required
def delete_plan(profile_id: int, plan_id: int):
    profile = _load_profile(profile_id)
    plan = _load_plan(profile, plan_id)
    _ensure_editor(profile)
    form = NextForm()
    if not form.validate_on_submit():
        abort(400)
    criterion_id = plan.criterion_id
    try:
        services.delete_plan(plan, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(_list_url(profile))
    db_session.commit()
    flash(f"The action plan for criterion {criterion_id} is deleted.", "success")
    return _after_save(profile, form.next.data)


# --- milestones ------------------------------------------------------------------------------------


@bp.route("/profiles/<int:profile_id>/action-plans/<int:plan_id>/milestones", methods=["POST"])
@login_required
def add_milestone(profile_id: int, plan_id: int):
    profile = _load_profile(profile_id)
    plan = _load_plan(profile, plan_id)
    _ensure_editor(profile)
    if (locked := _locked_redirect(profile)) is not None:
        return locked
    milestone_form = MilestoneForm()
    if milestone_form.validate_on_submit():
        try:
            services.add_milestone(plan, milestone_form.text.data or "", milestone_form.due_date.data,
                                   by=current_user)
        except DomainError as error:
            db_session.rollback()
            _show_problems(milestone_form, error)
        else:
            db_session.commit()
            flash("The milestone is added.", "success")
            return redirect(_edit_url(profile, plan, milestone_form.next.data))
    # Show the plan form as stored, and the milestone form with its errors and what was typed.
    return _edit_page(profile, plan, _edit_form(profile, plan, stored=True, next_value=milestone_form.next.data),
                      milestone_form)


def _milestone_action(profile_id: int, plan_id: int, milestone_id: int, verb: str) -> Any:
    profile = _load_profile(profile_id)
    plan = _load_plan(profile, plan_id)
    milestone = _load_milestone(plan, milestone_id)
    _ensure_editor(profile)
    form = NextForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        if verb == "toggle":
            services.toggle_milestone(milestone, by=current_user)
            message = "The milestone is marked done." if milestone.done else "The milestone is marked not done."
        else:
            services.delete_milestone(milestone, by=current_user)
            message = "The milestone is deleted."
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(_list_url(profile))
    db_session.commit()
    flash(message, "success")
    return redirect(_edit_url(profile, plan, form.next.data))


@bp.route("/profiles/<int:profile_id>/action-plans/<int:plan_id>/milestones/<int:milestone_id>/toggle",
          methods=["POST"])
@login_required
def toggle_milestone(profile_id: int, plan_id: int, milestone_id: int):
    return _milestone_action(profile_id, plan_id, milestone_id, "toggle")


@bp.route("/profiles/<int:profile_id>/action-plans/<int:plan_id>/milestones/<int:milestone_id>/delete",
          methods=["POST"])
@login_required
def delete_milestone(profile_id: int, plan_id: int, milestone_id: int):
    return _milestone_action(profile_id, plan_id, milestone_id, "delete")
