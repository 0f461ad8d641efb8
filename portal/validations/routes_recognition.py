"""Mutual recognition pages of a validation (``portal.validations.recognition``, ``mr_records``): mark a site
covered by the foreign program's validation or withdraw that, and the validation's MR records. CBP staff only;
the team and supervisors change them. The company sees the MR records on the validation page."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from forms.validations import CoverSiteForm, MrRecordForm, WithdrawCoverageForm
from portal.auth.permissions import ensure, staff_required
from portal.companies.models import Address
from portal.db import db_session
from portal.errors import DomainError
from portal.partners import queries as partner_queries
from portal.partners.screening import long_date
from portal.validations import queries, recognition
from portal.validations.mr_records import (
    MrRecordInput,
    add_mr_record,
    mr_record_choices,
    mr_record_standings,
    remove_mr_record,
)
from portal.validations.permissions import can_edit_mr_records, can_edit_planning
from portal.validations.routes import bp, load_validation


def _sites_page(validation: Any) -> Any:
    return redirect(url_for("validations.sites", validation_id=validation.id) + "#recognition")


def _first_error(form: Any) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return "Check the form."


@bp.route("/validations/<int:validation_id>/coverage", methods=["POST"])
@login_required
@staff_required()
def cover_site(validation_id: int):
    """Mark a company site covered by the foreign program's validation (adding it to the plan if needed)."""
    validation = load_validation(validation_id)
    ensure(can_edit_planning(current_user, validation))
    form = CoverSiteForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _sites_page(validation)
    address = db_session.get(Address, form.address_id.data) if form.address_id.data is not None else None
    try:
        if address is None:
            raise DomainError("Choose one of the company's facilities.")
        site = recognition.mark_covered(validation, address, by=current_user, note=form.note.data or "")
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"{address.name or address.one_line} is covered by the foreign validation; no CBP visit is planned "
              f"there ({site.mra_program.display_name if site.mra_program else 'MRA'}).", "success")
    return _sites_page(validation)


@bp.route("/validations/<int:validation_id>/sites/<int:site_id>/coverage/withdraw", methods=["POST"])
@login_required
@staff_required()
def withdraw_coverage(validation_id: int, site_id: int):
    """Stop relying on the foreign validation at a site, so that a CBP visit can be planned there."""
    validation = load_validation(validation_id)
    site = queries.get_site_or_404(validation, site_id)
    ensure(can_edit_planning(current_user, validation))
    form = WithdrawCoverageForm()
    if not form.validate_on_submit():
        flash(_first_error(form), "error")
        return _sites_page(validation)
    try:
        recognition.withdraw_coverage(site, by=current_user, note=form.note.data or "")
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("The coverage is withdrawn: the site can now be visited. Propose a visit when ready.", "success")
    return _sites_page(validation)


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdecimal() and len(raw) <= 9 else None


@bp.route("/validations/<int:validation_id>/mr-records", methods=["GET", "POST"])
@login_required
@staff_required()
def mr_records(validation_id: int):
    """Record foreign partners validated under an MRA program: one click for the register's partners with
    a recognised AEO certification (only the date of the foreign validation is asked), or by hand."""
    validation = load_validation(validation_id)
    ensure(can_edit_mr_records(current_user, validation))
    day = recognition.planning_date(validation)
    choices = mr_record_choices(validation, day)
    form = MrRecordForm()
    form.business_partner_id.choices = [("", "Not in the register"), *(
        (str(partner.id), f"{partner.name} ({partner.country})") for partner, _result in choices)]
    form.program_id.choices = [("", "- Select the program -"), *(
        (str(pid), label) for pid, label in partner_queries.program_choices(day))]
    if form.validate_on_submit():
        data = MrRecordInput(
            validated_on=form.validated_on.data, business_partner_id=_int_or_none(form.business_partner_id.data),
            partner_name=form.partner_name.data or "", country=form.country.data or "",
            program_id=_int_or_none(form.program_id.data), certificate_number=form.certificate_number.data or "",
            notes=form.notes.data or "")
        try:
            record = add_mr_record(validation, data, by=current_user, on_date=day)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"MR record added: {record.partner_name}, validated {long_date(record.validated_on)}.", "success")
            return redirect(url_for("validations.mr_records", validation_id=validation.id))
    return render_template("validations/mr_records.html", validation=validation, account=validation.account,
                           form=form, choices=choices, standings=mr_record_standings(validation, day),
                           today=day)


@bp.route("/validations/<int:validation_id>/mr-records/<int:record_id>/delete", methods=["POST"])
@login_required
@staff_required()
def delete_mr_record(validation_id: int, record_id: int):
    validation = load_validation(validation_id)
    record = queries.get_mr_record_or_404(validation, record_id)
    ensure(can_edit_mr_records(current_user, validation))
    try:
        remove_mr_record(record, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("The MR record is removed.", "success")
    return redirect(url_for("validations.mr_records", validation_id=validation.id))
