"""Validations: planning, visits with conflict checks, calendars, findings, reports and partner responses.

This module defines the blueprint, its template helpers and the ``reminders run`` command, and the
planning pages (dashboard, validations of an account, team and sites). The other pages live in
``routes_visits``, ``routes_findings``, ``routes_calendar`` and ``routes_account``, imported at the
bottom so they register on the same blueprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.validations import NewValidationForm, SiteForm, TeamForm
from portal import clock
from portal.auth.models import User
from portal.auth.permissions import can_view_account, ensure, is_staff, staff_required
from portal.companies.queries import get_account_or_404
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.pagination import excerpt, parse_page
from portal.validations import board as dashboard_reads
from portal.validations import mr_records, queries, recognition, services
from portal.validations.permissions import (
    TEMPLATE_PREDICATES,
    can_edit_planning,
    can_manage_validation,
    can_plan_validation,
    can_view_validation,
)
from portal.validations.workflow import NoGoReason, SiteMode

bp = Blueprint("validations", __name__, cli_group="reminders")


# -- helpers shared by the route modules -------------------------------------------------------------


def load_validation(validation_id: int) -> Any:
    """The validation, or 404 for a missing one or another company's."""
    validation = queries.get_validation_or_404(validation_id)
    ensure(can_view_validation(current_user, validation), not_found=True)
    return validation


def back_to(validation: Any, anchor: str = "") -> Any:
    return redirect(url_for("validations.show", validation_id=validation.id) + (f"#{anchor}" if anchor else ""))


def stale_page(error: StaleEdit, back_url: str) -> tuple[str, int]:
    """The 409 page with both values (DESIGN.md §4)."""
    db_session.rollback()
    return render_template("errors/409.html", code=409, title="Edit conflict",
                           conflict={"mine": error.mine, "theirs": error.theirs, "back_url": back_url}), 409


def _staff_users(ids: list[int]) -> list[User]:
    chosen = {u.id: u for u in queries.staff_choices()}
    return [chosen[i] for i in ids if i in chosen]


def in_zone(value: datetime | None, zone_name: str, fmt: str = "%a %b %d, %Y %H:%M %Z") -> str:
    """A UTC time shown in a site's zone (templates)."""
    if value is None:
        return ""
    try:
        return value.astimezone(ZoneInfo(zone_name)).strftime(fmt)
    except (ZoneInfoNotFoundError, ValueError):
        return value.strftime(fmt)


# Template globals, set once (a context processor would copy them into every render).
bp.record_once(lambda state: state.app.jinja_env.globals.update(
    TEMPLATE_PREDICATES, in_zone=in_zone, validation_event_label=services.EVENT_LABELS.get,
    account_validations=queries.validations_of))


@bp.cli.command("run")
def reminders_run() -> None:
    """Send today's reminders (idempotent: running it twice sends nothing new)."""
    from portal.validations import reminders

    counts = reminders.run()
    db_session.commit()
    if not counts:
        click.echo("No reminders due.")
    for kind, count in sorted(counts.items()):
        click.echo(f"{kind}: {count}")


# -- dashboard and planning --------------------------------------------------------------------------


@bp.route("/validations")
@login_required
@staff_required()
def dashboard():
    """Validations due within 90 and 30 days or overdue, my validations and visits, missed annual reviews.

    Each list of accounts shows its most urgent 25; ``?list=<name>&page=<n>`` opens one list in pages
    of 100 (a program of 10,000 accounts has thousands due within 90 days).
    """
    day = clock.today()
    board = dashboard_reads.dashboard(current_user, day)
    opened = request.args.get("list")
    page = parse_page(request.args.get("page"))
    lists = dashboard_reads.with_accounts({
        name: excerpt(rows, expanded=opened == name, page=page)
        for name, rows in (*((bucket, board.due_in(bucket)) for bucket in dashboard_reads.DUE_BUCKETS),
                           ("missed", board.missed_annual))})
    return render_template("validations/dashboard.html", board=board, lists=lists, opened=opened, today=day)


@bp.route("/accounts/<int:account_id>/validations")
@login_required
def account_validations(account_id: int):
    """The validations of one account (staff and the company's users)."""
    account = get_account_or_404(account_id)
    ensure(can_view_account(current_user, account), not_found=True)
    return render_template("validations/account.html", account=account, company=account.company,
                           validations=queries.validations_of(account), due=services.validation_due(account))


@bp.route("/accounts/<int:account_id>/validations/new", methods=["GET", "POST"])
@login_required
@staff_required()
def new_validation(account_id: int):
    account = get_account_or_404(account_id)
    ensure(can_plan_validation(current_user, account))
    form = NewValidationForm()
    staff = queries.staff_choices()
    form.lead_id.choices = [(u.id, f"{u.full_name} ({u.staff_role.label})") for u in staff]
    if request.method == "GET" and current_user.id in {u.id for u in staff}:
        form.lead_id.data = current_user.id
    if form.validate_on_submit():
        lead = next(u for u in staff if u.id == form.lead_id.data)
        try:
            validation = services.create_validation(account, lead, by=current_user, due_on=form.due_on.data)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The validation is initiated. Choose its sites and team, then schedule the visits.", "success")
            return back_to(validation)
    return render_template("validations/new.html", account=account, form=form,
                           due=services.validation_due(account))


@bp.route("/validations/<int:validation_id>")
@login_required
def show(validation_id: int):
    """The validation: plan, visits, findings, report, response and timeline (partners see their part)."""
    validation = load_validation(validation_id)
    from portal.validations.findings import close_out_problems, response_state

    statuses = [f.status for f in validation.required_actions]
    return render_template(
        "validations/show.html", validation=validation, account=validation.account,
        close_problems=close_out_problems(validation.status, statuses), response=response_state(statuses),
        now=clock.utcnow(), recognition=recognition.planning_recognition(validation) if is_staff(current_user)
        else None, mr_standings=mr_records.mr_record_standings(validation))


@bp.route("/validations/<int:validation_id>/team", methods=["GET", "POST"])
@login_required
@staff_required()
def team(validation_id: int):
    validation = load_validation(validation_id)
    ensure(can_manage_validation(current_user, validation))
    staff = queries.staff_choices()
    form = TeamForm()
    form.lead_id.choices = [(u.id, u.full_name) for u in staff]
    form.member_ids.choices = [(u.id, u.full_name) for u in staff]
    if request.method == "GET":
        form.lead_id.data = validation.lead_id
        form.member_ids.data = [m.id for m in validation.members]
    if form.validate_on_submit():
        lead = _staff_users([form.lead_id.data])
        try:
            if not lead:
                raise DomainError("Choose the lead reviewer.", field="lead_id")
            services.set_team(validation, lead[0], _staff_users(form.member_ids.data or []), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The team is saved.", "success")
            return back_to(validation, "team")
    return render_template("validations/team.html", validation=validation, account=validation.account, form=form)


@bp.route("/validations/<int:validation_id>/sites", methods=["GET", "POST"])
@login_required
@staff_required()
def sites(validation_id: int):
    """Choose sites from the company's facilities (domestic and foreign), on site or virtual, or no-go.

    Sites covered by a recognised foreign certification of the account are listed with one button each
    to mark them covered (``recognition``); they are never added on their own.
    """
    validation = load_validation(validation_id)
    ensure(can_edit_planning(current_user, validation))
    offered = services.offered_addresses(validation.account)
    unplanned = services.unplanned_addresses(validation)
    planning = recognition.planning_recognition(validation)
    covered = {offer.address.id for offer in planning.offers}
    form = SiteForm()
    form.address_id.choices = [(a.id, f"{a.name + ': ' if a.name else ''}{a.one_line} ({a.kind.label}"
                                      f"{', visitable' if a.visitable else ''}"
                                      f"{', covered by a foreign validation under an MRA' if a.id in covered else ''})")
                               for a in unplanned]
    # The list offers only sites not yet planned, but a stale page (someone added the site meanwhile) may
    # still post one: the service refuses it with a message naming the site, not "Not a valid choice".
    form.address_id.validate_choice = False
    if form.validate_on_submit():
        address = next((a for a in offered if a.id == form.address_id.data), None)
        try:
            if address is None:
                raise DomainError("Choose one of the company's facilities.", field="address_id")
            services.add_site(validation, address, SiteMode(form.mode.data), by=current_user,
                              no_go=form.no_go.data,
                              no_go_reason=NoGoReason(form.no_go_reason.data) if form.no_go_reason.data else None,
                              no_go_note=form.no_go_note.data or "")
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"{address.one_line} is added.", "success")
            return redirect(url_for("validations.sites", validation_id=validation.id))
    return render_template("validations/sites.html", validation=validation, account=validation.account, form=form,
                           offered=offered, unplanned=unplanned, recognition=planning)


@bp.route("/validations/<int:validation_id>/sites/<int:site_id>/delete", methods=["POST"])
@login_required
@staff_required()
def delete_site(validation_id: int, site_id: int):
    validation = load_validation(validation_id)
    site = queries.get_site_or_404(validation, site_id)
    ensure(can_edit_planning(current_user, validation))
    try:
        services.remove_site(site, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("The site is removed.", "success")
    return redirect(url_for("validations.sites", validation_id=validation.id))


# Register the other pages on the blueprint (they import ``bp`` from here).
from portal.validations import (  # noqa: E402, F401
    routes_account,
    routes_calendar,
    routes_findings,
    routes_recognition,
    routes_visits,
)
