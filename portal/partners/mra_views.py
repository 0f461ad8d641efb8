"""The MRA program pages (public list and detail, admin upkeep) and an account's own foreign AEO
certifications. The blueprint lives in ``routes.py``, which registers these views under the same
``partners.`` endpoint names (see its docstring for the URLs)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.partners import AccountMraForm, ConfirmForm, MraProgramForm, MraStatusForm
from portal.auth.permissions import ensure
from portal.clock import today
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import mra, queries
from portal.partners.enums import DatePrecision, MraStatus
from portal.partners.permissions import can_edit_account_mra, can_manage_mra_programs, can_view_partners


def load_account(account_id: int) -> TradeAccount:
    """The account, or 404 when it does not exist or the user is outside its company."""
    account = db_session.get(TradeAccount, account_id)
    if account is None:
        abort(404)
    ensure(can_view_partners(current_user, account), not_found=True)
    return account


# --- MRA programs ------------------------------------------------------------------------------------


def mra_programs() -> Any:
    """The public list of foreign AEO programs and where each stands with the U.S."""
    return render_template("mra/list.html", programs=queries.programs(), today=today())


def mra_program(program_id: int) -> Any:
    program = queries.get_program_or_404(program_id)
    return render_template("mra/show.html", program=program, today=today(), countries=mra.countries_label(program))


def _program_input(form: MraProgramForm) -> mra.ProgramInput:
    return mra.ProgramInput(code=form.code.data or "", partner=form.partner.data or "",
                            countries=form.countries.data or "",
                            customs_administration=form.customs_administration.data or "",
                            program_name=form.program_name.data or "", notes=form.notes.data or "")


@login_required
def new_mra_program() -> Any:
    ensure(can_manage_mra_programs(current_user), not_found=True)
    form = MraProgramForm()
    if form.validate_on_submit():
        try:
            program = mra.create_program(_program_input(form), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"{program.partner} added. Record the first step of its history.", "success")
            return redirect(url_for("partners.add_mra_status", program_id=program.id))
    return render_template("mra/program_form.html", form=form, program=None)


@login_required
def edit_mra_program(program_id: int) -> Any:
    ensure(can_manage_mra_programs(current_user), not_found=True)
    program = queries.get_program_or_404(program_id)
    form = MraProgramForm(obj=program)
    if form.validate_on_submit():
        try:
            mra.update_program(program, _program_input(form), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"{program.partner} saved.", "success")
            return redirect(url_for("partners.mra_program", program_id=program.id))
    return render_template("mra/program_form.html", form=form, program=program)


@login_required
def add_mra_status(program_id: int) -> Any:
    """Record a dated step (joint work plan, MRA in force, suspension); earlier steps stay as history."""
    ensure(can_manage_mra_programs(current_user), not_found=True)
    program = queries.get_program_or_404(program_id)
    form = MraStatusForm()
    if form.validate_on_submit():
        try:
            mra.record_status_change(program, MraStatus(form.status.data), form.effective_on.data, by=current_user,
                                     precision=DatePrecision(form.precision.data), note=form.note.data or "")
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"{program.partner}: {MraStatus(form.status.data).label} recorded.", "success")
            return redirect(url_for("partners.mra_program", program_id=program.id))
    return render_template("mra/status_form.html", form=form, program=program, today=today())


# --- the account's own foreign certification ---------------------------------------------------------


@login_required
def account_mra(account_id: int) -> Any:
    """The account's foreign AEO certifications: listed for members and staff, added by editors."""
    account = load_account(account_id)
    form = AccountMraForm()
    form.program_id.choices = [("", "- Select the program -"),
                               *((str(pid), label) for pid, label in queries.program_choices(today()))]
    if request.method == "POST":
        ensure(can_edit_account_mra(current_user, account))
        if form.validate_on_submit():
            data = mra.AccountCertificationInput(
                program_id=int(form.program_id.data) if (form.program_id.data or "").isdecimal()
                and len(form.program_id.data) <= 9 else 0,
                certificate_number=form.certificate_number.data or "", expires_on=form.expires_on.data,
                certified_on=form.certified_on.data)
            try:
                mra.add_account_certification(account, data, by=current_user)
            except DomainError as error:
                db_session.rollback()
                form.add_error(error.field, error.message)
            else:
                db_session.commit()
                flash("Foreign AEO certification recorded.", "success")
                return redirect(url_for("partners.account_mra", account_id=account.id))
    return render_template("partners/account_mra.html", account=account, form=form, delete_form=ConfirmForm(),
                           can_edit=can_edit_account_mra(current_user, account))


@login_required
def delete_account_mra(account_id: int, certification_id: int) -> Any:
    account = load_account(account_id)
    row = queries.get_account_certification_or_404(account, certification_id)
    ensure(can_edit_account_mra(current_user, account))
    mra.remove_account_certification(row, by=current_user)
    db_session.commit()
    flash("Foreign AEO certification removed.", "success")
    return redirect(url_for("partners.account_mra", account_id=account.id))


# (rule, endpoint, view, methods): registered on the partners blueprint by routes.py.
RULES: list[tuple[str, str, Any, list[str]]] = [
    ("/mra-programs", "mra_programs", mra_programs, ["GET"]),
    ("/mra-programs/<int:program_id>", "mra_program", mra_program, ["GET"]),
    ("/admin/mra-programs/new", "new_mra_program", new_mra_program, ["GET", "POST"]),
    ("/admin/mra-programs/<int:program_id>/edit", "edit_mra_program", edit_mra_program, ["GET", "POST"]),
    ("/admin/mra-programs/<int:program_id>/status", "add_mra_status", add_mra_status, ["GET", "POST"]),
    ("/accounts/<int:account_id>/mra-certifications", "account_mra", account_mra, ["GET", "POST"]),
    ("/accounts/<int:account_id>/mra-certifications/<int:certification_id>/delete", "delete_account_mra",
     delete_account_mra, ["POST"]),
]
