"""Account pages: the lifecycle (status history, suspensions, and the supervisor's suspend / reinstate /
remove / withdraw form) and the annual profile review (confirm unchanged, attest and submit; CBP
sees only the changes)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.validations import AttestForm, ConfirmForm, LifecycleForm
from portal import clock
from portal.auth.permissions import can_view_account, ensure, is_staff
from portal.companies.queries import get_account_or_404
from portal.companies.workflow import AccountAction
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.services import catalog_of, profile_for_account
from portal.validations import annual, lifecycle
from portal.validations.permissions import can_confirm_annual, can_manage_lifecycle, can_submit_annual
from portal.validations.routes import bp


def _account(account_id: int) -> Any:
    account = get_account_or_404(account_id)
    ensure(can_view_account(current_user, account), not_found=True)
    return account


@bp.route("/accounts/<int:account_id>/lifecycle", methods=["GET", "POST"], endpoint="lifecycle")
@login_required
def lifecycle_page(account_id: int):
    """Status history and suspensions; supervisors act on the account with a reason. (The function
    name avoids shadowing the ``lifecycle`` module; the endpoint is ``validations.lifecycle``.)"""
    account = _account(account_id)
    can_act = can_manage_lifecycle(current_user, account)
    if request.method == "POST":
        ensure(can_act)
    form = LifecycleForm()
    allowed = lifecycle.available_actions(account)
    form.action.choices = [(value, label) for value, label in form.action.choices
                           if AccountAction(value) in allowed]
    if form.validate_on_submit():
        try:
            lifecycle.apply_action(account, AccountAction(form.action.data), form.reason.data, by=current_user,
                                   corrective_action_plan=form.corrective_action_plan.data or "",
                                   due_on=form.due_on.data)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"The account is now {account.status.label.lower()}.", "success")
            return redirect(url_for("validations.lifecycle", account_id=account.id))
    return render_template("validations/lifecycle.html", account=account, company=account.company, form=form,
                           can_act=can_act and bool(allowed), suspensions=lifecycle.suspensions(account))


def _annual_context(account: Any) -> dict[str, Any]:
    cycle = annual.current_cycle(account, clock.today())
    profile = profile_for_account(account)
    states = annual.criterion_states(account, cycle) if cycle else []
    categories: dict[int, list[annual.CriterionState]] = {}
    for state in states:
        categories.setdefault(state.criterion.category, []).append(state)
    catalog = catalog_of(profile) if profile else None
    return {"account": account, "company": account.company, "cycle": cycle, "profile": profile,
            "categories": categories, "catalog": catalog, "today": clock.today(),
            "pending": sum(1 for s in states if s.state == "pending"),
            "delta": annual.annual_delta(account, cycle) if cycle and is_staff(current_user) else [],
            "can_confirm": can_confirm_annual(current_user, account),
            "can_submit": can_submit_annual(current_user, account)}


@bp.route("/accounts/<int:account_id>/annual-review")
@login_required
def annual_review(account_id: int):
    """Every criterion with its state in this year's review; CBP also sees the changes submitted."""
    account = _account(account_id)
    return render_template("validations/annual.html", form=AttestForm(), confirm_form=ConfirmForm(),
                           **_annual_context(account))


@bp.route("/accounts/<int:account_id>/annual-review/confirm", methods=["POST"])
@login_required
def annual_confirm(account_id: int):
    """Confirm one criterion, or every pending criterion of a category, unchanged."""
    account = _account(account_id)
    ensure(can_confirm_annual(current_user, account))
    form = ConfirmForm()
    form.validate()
    cycle = annual.current_cycle(account, clock.today())
    ids: list[str] = []
    if form.criterion_id.data:
        ids = [form.criterion_id.data]
    elif form.category.data is not None and cycle is not None:
        ids = [s.criterion.id for s in annual.criterion_states(account, cycle)
               if s.criterion.category == form.category.data and s.state == "pending"]
    try:
        added = annual.confirm_unchanged(account, ids, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"{len(added)} criterion confirmed unchanged." if len(added) == 1
              else f"{len(added)} criteria confirmed unchanged.", "success")
    anchor = f"#category-{form.category.data}" if form.category.data else ""
    return redirect(url_for("validations.annual_review", account_id=account.id) + anchor)


@bp.route("/accounts/<int:account_id>/annual-review/submit", methods=["POST"])
@login_required
def annual_submit(account_id: int):
    """The officer attests and submits the reviewed profile as a new version."""
    account = _account(account_id)
    ensure(can_submit_annual(current_user, account))
    form = AttestForm()
    if form.validate_on_submit():
        try:
            version = annual.submit_annual(account, form.typed_name.data, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"The annual review is submitted as version {version.number}; CBP reviews the changes.",
                  "success")
            return redirect(url_for("validations.annual_review", account_id=account.id))
    return render_template("validations/annual.html", form=form, confirm_form=ConfirmForm(),
                           **_annual_context(account)), 200
