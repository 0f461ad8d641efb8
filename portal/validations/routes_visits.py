"""Visit pages: propose, suggest, reschedule, accept the partner's window, mark done, cancel; the
partner's confirmation or counter-proposal; the .ics of one visit; the partner's blackout dates."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.validations import (
    BlackoutForm,
    ReasonForm,
    RescheduleForm,
    SuggestForm,
    VersionForm,
    VisitForm,
    VisitResponseForm,
)
from portal import clock
from portal.auth.permissions import can_view_company, ensure, staff_required
from portal.companies.queries import get_company_or_404
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.validations import calendar, ics, queries, visits
from portal.validations.permissions import (
    can_edit_planning,
    can_manage_blackouts,
    can_manage_validation,
    can_respond_visit,
    can_view_validation,
)
from portal.validations.routes import back_to, bp, load_validation, stale_page


def _version(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _load_visit(visit_id: int) -> Any:
    visit = queries.get_visit_or_404(visit_id)
    ensure(can_view_validation(current_user, visit.validation), not_found=True)
    return visit


def _window(form: Any, zone: str) -> visits.LocalWindow:
    return visits.LocalWindow(form.start_date.data, form.start_time.data, form.end_date.data, form.end_time.data,
                              zone)


def _site_choices(validation: Any) -> list[tuple[int, str]]:
    return [(s.id, f"{s.address.name + ': ' if s.address.name else ''}{s.address.one_line} ({s.mode.label})")
            for s in validation.sites if not s.no_go]


def _prefill_day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _prefill_time(name: str) -> time | None:
    try:
        return time.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/validations/<int:validation_id>/visits/new", methods=["GET", "POST"])
@login_required
@staff_required()
def new_visit(validation_id: int):
    """Propose a visit window in the site's time zone; conflicts, notice and blackouts are checked."""
    validation = load_validation(validation_id)
    ensure(can_edit_planning(current_user, validation))
    form = VisitForm()
    form.site_id.choices = _site_choices(validation)
    if request.method == "GET":
        site_id = request.args.get("site_id", type=int)
        site = next((s for s in validation.sites if s.id == site_id and not s.no_go), None) \
            or next((s for s in validation.sites if not s.no_go), None)
        if site is not None:
            form.site_id.data = site.id
            form.timezone.data = request.args.get("timezone") or site.address.timezone or ""
        form.start_date.data, form.end_date.data = _prefill_day("start_date"), _prefill_day("end_date")
        form.start_time.data = _prefill_time("start_time") or time(9)
        form.end_time.data = _prefill_time("end_time") or time(17)
    if form.validate_on_submit():
        try:
            site = queries.get_site_or_404(validation, form.site_id.data)
            visits.schedule_visit(validation, site, _window(form, form.timezone.data), by=current_user,
                                  override_reason=form.override_reason.data or "")
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The visit is proposed to the partner.", "success")
            return back_to(validation, "visits")
    return render_template("validations/visit_form.html", validation=validation, account=validation.account,
                           form=form, visit=None)


@bp.route("/validations/<int:validation_id>/suggest")
@login_required
@staff_required()
def suggest(validation_id: int):
    """Find the earliest conflict-free window for the whole team in a date range (a GET search)."""
    validation = load_validation(validation_id)
    ensure(can_edit_planning(current_user, validation))
    form = SuggestForm(request.args)
    form.site_id.choices = _site_choices(validation)
    if not request.args:
        site = next((s for s in validation.sites if not s.no_go), None)
        if site is not None:
            form.site_id.data, form.timezone.data = site.id, site.address.timezone or ""
        start = clock.today() + timedelta(days=31)
        form.from_day.data, form.to_day.data = start, start + timedelta(days=60)
    suggestion, searched = None, False
    if request.args and form.validate():
        searched = True
        try:
            site = queries.get_site_or_404(validation, form.site_id.data)
            suggestion = visits.suggest(validation, site, form.from_day.data, form.to_day.data, form.days.data,
                                        form.timezone.data)
        except DomainError as error:
            searched = False
            form.add_error(error.field, error.message)
    return render_template("validations/suggest.html", validation=validation, account=validation.account, form=form,
                           suggestion=suggestion, searched=searched)


@bp.route("/visits/<int:visit_id>/reschedule", methods=["GET", "POST"])
@login_required
@staff_required()
def reschedule(visit_id: int):
    visit = _load_visit(visit_id)
    validation = visit.validation
    ensure(can_edit_planning(current_user, validation))
    form = RescheduleForm()
    if request.method == "GET":
        zone = ZoneInfo(visit.timezone)
        start, end = visit.starts_at.astimezone(zone), visit.ends_at.astimezone(zone)
        form.start_date.data, form.start_time.data = start.date(), start.time()
        form.end_date.data, form.end_time.data = end.date(), end.time()
        form.timezone.data, form.version.data = visit.timezone, str(visit.version)
    if form.validate_on_submit():
        try:
            visits.reschedule_visit(visit, _window(form, form.timezone.data), by=current_user,
                                    expected_version=_version(form.version.data),
                                    override_reason=form.override_reason.data or "")
        except StaleEdit as error:
            return stale_page(error, url_for("validations.reschedule", visit_id=visit_id))
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The visit is rescheduled; the partner is asked to confirm again.", "success")
            return back_to(validation, "visits")
    return render_template("validations/visit_form.html", validation=validation, account=validation.account,
                           form=form, visit=visit)


def _visit_action(visit_id: int, action: str) -> Any:
    visit = _load_visit(visit_id)
    validation = visit.validation
    ensure(can_manage_validation(current_user, validation))
    form = ReasonForm() if action == "cancel" else VersionForm()
    try:
        if action == "accept":
            visits.accept_proposal(visit, by=current_user, expected_version=_version(form.version.data))
            message = "The partner's window is accepted and the visit confirmed."
        elif action == "done":
            visits.mark_done(visit, by=current_user)
            message = "The visit is marked done."
        else:
            visits.cancel_visit(visit, form.reason.data or "", by=current_user)
            message = "The visit is cancelled."
    except StaleEdit as error:
        return stale_page(error, url_for("validations.show", validation_id=validation.id) + "#visits")
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(message, "success")
    return back_to(validation, "visits")


@bp.route("/visits/<int:visit_id>/accept", methods=["POST"])
@login_required
@staff_required()
def accept_proposal(visit_id: int):
    return _visit_action(visit_id, "accept")


@bp.route("/visits/<int:visit_id>/done", methods=["POST"])
@login_required
@staff_required()
def visit_done(visit_id: int):
    return _visit_action(visit_id, "done")


@bp.route("/visits/<int:visit_id>/cancel", methods=["POST"])
@login_required
@staff_required()
def cancel_visit(visit_id: int):
    return _visit_action(visit_id, "cancel")


@bp.route("/visits/<int:visit_id>/respond", methods=["GET", "POST"])
@login_required
def respond_visit(visit_id: int):
    """The partner sees a proposed visit and confirms it or proposes another window with a reason."""
    visit = _load_visit(visit_id)
    can_respond = can_respond_visit(current_user, visit)
    if request.method == "POST":
        ensure(can_respond)
    form = VisitResponseForm()
    if request.method == "GET":
        form.version.data = str(visit.version)
    if form.validate_on_submit():
        try:
            if form.decision.data == "confirm":
                visits.confirm_visit(visit, by=current_user, expected_version=_version(form.version.data))
                message = "Thank you: the visit is confirmed."
            else:
                if not (form.start_date.data and form.start_time.data and form.end_date.data and form.end_time.data):
                    raise DomainError("Give the first and last day and the times of the window you propose.",
                                      field="start_date")
                visits.propose_other_window(visit, _window(form, visit.timezone), form.reason.data or "",
                                            by=current_user, expected_version=_version(form.version.data))
                message = "Your proposal is sent to CBP."
        except StaleEdit as error:
            return stale_page(error, url_for("validations.respond_visit", visit_id=visit_id))
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(message, "success")
            return redirect(url_for("validations.respond_visit", visit_id=visit.id))
    return render_template("validations/respond_visit.html", visit=visit, validation=visit.validation,
                           account=visit.validation.account, form=form, can_respond=can_respond)


@bp.route("/visits/<int:visit_id>/visit.ics")
@login_required
def visit_ics(visit_id: int):
    """One visit as an .ics file (staff and the company's users)."""
    visit = _load_visit(visit_id)
    body = ics.build_calendar(
        [calendar.visit_event(visit, url_for("validations.show", validation_id=visit.validation_id,
                                             _external=True))],
        name=f"CTPAT visit {visit.name}", stamp=clock.utcnow())
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="ctpat-visit-{visit.id}.ics"'})


# -- blackouts ---------------------------------------------------------------------------------------


@bp.route("/companies/<int:company_id>/blackouts", methods=["GET", "POST"])
@login_required
def blackouts(company_id: int):
    """Dates on which the company cannot host a validation visit."""
    company = get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    can_edit = can_manage_blackouts(current_user, company)
    if request.method == "POST":
        ensure(can_edit)
    form = BlackoutForm()
    if form.validate_on_submit():
        try:
            visits.add_blackout(company, form.starts_on.data, form.ends_on.data, form.reason.data, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The blackout dates are saved.", "success")
            return redirect(url_for("validations.blackouts", company_id=company.id))
    return render_template("validations/blackouts.html", company=company, form=form, can_edit=can_edit,
                           rows=queries.blackouts_of(company))


@bp.route("/companies/<int:company_id>/blackouts/<int:blackout_id>/delete", methods=["POST"])
@login_required
def delete_blackout(company_id: int, blackout_id: int):
    company = get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    row = queries.get_blackout_or_404(company, blackout_id)
    ensure(can_manage_blackouts(current_user, company))
    visits.remove_blackout(row, by=current_user)
    db_session.commit()
    flash("The blackout dates are removed.", "success")
    return redirect(url_for("validations.blackouts", company_id=company.id))

