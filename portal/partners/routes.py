"""MRA programs (public list, admin upkeep) and the business-partner register with screening.

Endpoints (blueprint ``partners``; CLI group ``mra``):

- ``partners.mra_programs``        GET       ``/mra-programs``                              (public)
- ``partners.mra_program``         GET       ``/mra-programs/<program_id>``                 (public)
- ``partners.new_mra_program``     GET/POST  ``/admin/mra-programs/new``                    (admins)
- ``partners.edit_mra_program``    GET/POST  ``/admin/mra-programs/<program_id>/edit``      (admins)
- ``partners.add_mra_status``      GET/POST  ``/admin/mra-programs/<program_id>/status``    (admins)
- ``partners.register``            GET       ``/accounts/<account_id>/partners``
- ``partners.new_partner``         GET/POST  ``/accounts/<account_id>/partners/new``
- ``partners.show_partner``        GET       ``/accounts/<account_id>/partners/<partner_id>``
- ``partners.edit_partner``        GET/POST  ``/accounts/<account_id>/partners/<partner_id>/edit``
- ``partners.delete_partner``      POST      ``/accounts/<account_id>/partners/<partner_id>/delete``
- ``partners.summary``             GET       ``/accounts/<account_id>/partners/summary``
- ``partners.supply_chain``        GET       ``/accounts/<account_id>/partners/supply-chain`` (CBP staff)
- ``partners.export_register``     GET       ``/accounts/<account_id>/partners/export.<csv|xlsx>``
- ``partners.import_template``     GET       ``/accounts/<account_id>/partners/template.<csv|xlsx>``
- ``partners.import_partners``     GET/POST  ``/accounts/<account_id>/partners/import``
- ``partners.import_preview``      GET       ``/accounts/<account_id>/partners/import/<import_id>``
- ``partners.confirm_import``      POST      ``/accounts/<account_id>/partners/import/<import_id>/confirm``
- ``partners.discard_import``      POST      ``/accounts/<account_id>/partners/import/<import_id>/discard``
- ``partners.account_mra``         GET/POST  ``/accounts/<account_id>/mra-certifications``
- ``partners.delete_account_mra``  POST      ``/accounts/<account_id>/mra-certifications/<certification_id>/delete``

The MRA program views and the account-certification views are in ``mra_views.py`` and registered
here under the same blueprint. Another company's account, partner, import or certification answers
404; a visible action the user may not take answers 403 (DESIGN.md §5).
"""

from __future__ import annotations

import io
from typing import Any

import click
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from forms.partners import (
    ConfirmForm,
    PartnerForm,
    PartnerImportForm,
    RegisterFilterForm,
)
from portal.auth.permissions import ensure
from portal.clock import today
from portal.companies.countries import COUNTRIES, country_name
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.partners import export, importer, mra, mra_views, queries, services
from portal.partners.enums import PartnerRole, ScreeningStatus
from portal.partners.mra_views import load_account
from portal.partners.permissions import (
    TEMPLATE_PREDICATES,
    can_edit_partners,
    can_view_supply_chain,
)
from portal.partners.recognition import certification_standing, sites_covered_by_mra
from portal.partners.screening import next_review_due, screen_partner
from portal.profiles.evidence import company_library
from portal.profiles.sniffing import safe_display_name

bp = Blueprint("partners", __name__, cli_group="mra")
for _rule, _endpoint, _view, _methods in mra_views.RULES:
    bp.add_url_rule(_rule, endpoint=_endpoint, view_func=_view, methods=_methods)


@bp.cli.command("seed")
def seed_command() -> None:
    """Add the MRA programs of the domain reference that are missing (running it again changes nothing)."""
    result = mra.seed_mra_programs()
    db_session.commit()
    click.secho(f"MRA programs: {result.programs_added} added, {result.steps_added} status step(s) added.",
                fg="green")


def _account_mra_standings(account: Any) -> list[Any]:
    return [certification_standing(row, today()) for row in queries.account_certifications(account.id)]


def _mra_sites_covered(account: Any) -> list[Any]:
    queries.account_certifications(account.id)  # loads programs and histories in two queries
    return sites_covered_by_mra(account, today())


# Template globals, set once (a context processor would copy them into every render).
bp.record_once(lambda state: state.app.jinja_env.globals.update(
    TEMPLATE_PREDICATES, account_mra_standings=_account_mra_standings, mra_sites_covered=_mra_sites_covered,
    country_name=country_name, ScreeningStatus=ScreeningStatus))


# --- helpers -----------------------------------------------------------------------------------------


def _editor(account: TradeAccount) -> None:
    ensure(can_edit_partners(current_user, account))


def _register_url(account: TradeAccount) -> str:
    return url_for("partners.register", account_id=account.id)


def _show_problems(form: Any, error: DomainError) -> None:
    problems = error.problems if isinstance(error, services.InvalidPartner) else [(error.field, error.message)]
    for field_name, message in problems:
        form.add_error(field_name, message)


# --- the register ------------------------------------------------------------------------------------


def _filters() -> tuple[RegisterFilterForm, queries.RegisterFilters]:
    """Read the GET filters; an unknown value is ignored (the list is then unfiltered on that axis)."""
    form = RegisterFilterForm(request.args)
    status = form.status.data if form.status.data in {s.value for s in ScreeningStatus} else ""
    role = form.role.data if form.role.data in {r.value for r in PartnerRole} else ""
    country = form.country.data if form.country.data in COUNTRIES else ""
    q = (form.q.data or "")[:200]
    form.status.data, form.role.data, form.country.data, form.q.data = status, role, country, q
    return form, queries.RegisterFilters(q=q, status=ScreeningStatus(status) if status else None, country=country,
                                         role=PartnerRole(role) if role else None)


@bp.route("/accounts/<int:account_id>/partners")
@login_required
def register(account_id: int) -> Any:
    account = load_account(account_id)
    page_arg = request.args.get("page", "1")
    page = int(page_arg) if page_arg.isdecimal() and len(page_arg) <= 6 else 1
    form, filters = _filters()
    result = queries.register_page(account.id, today(), filters, page)
    # The country choices are the register's own countries, which the page query returns.
    form.country.choices = [("", "Any country"), *((code, country_name(code)) for code in result.countries)]
    return render_template("partners/register.html", account=account, form=form, filters=filters, result=result,
                           numbers=queries.page_numbers(result.page, result.pages),
                           programs=queries.program_names(), can_edit=can_edit_partners(current_user, account))


def _partner_form(account: TradeAccount, formdata_obj: Any = None, **kwargs: Any) -> PartnerForm:
    form = PartnerForm(obj=formdata_obj, **kwargs)
    form.mra_program_id.choices = [("", "- Only for AEO partners -"),
                                   *((str(pid), label) for pid, label in queries.program_choices(today()))]
    form.evidence_ids.choices = [(doc.id, doc.title or doc.original_name)
                                 for doc in company_library(account.company_id)]
    return form


@bp.route("/accounts/<int:account_id>/partners/new", methods=["GET", "POST"])
@login_required
def new_partner(account_id: int) -> Any:
    account = load_account(account_id)
    _editor(account)
    form = _partner_form(account)
    if form.validate_on_submit():
        try:
            partner = services.create_partner(account, services.PartnerInput(**form.partner_data()), by=current_user)
        except DomainError as error:
            db_session.rollback()
            _show_problems(form, error)
        else:
            db_session.commit()
            flash(f"{partner.name} added to the register.", "success")
            return redirect(url_for("partners.show_partner", account_id=account.id, partner_id=partner.id))
    return render_template("partners/form.html", account=account, form=form, partner=None)


@bp.route("/accounts/<int:account_id>/partners/<int:partner_id>")
@login_required
def show_partner(account_id: int, partner_id: int) -> Any:
    account = load_account(account_id)
    partner = queries.get_partner_or_404(account, partner_id)
    result = screen_partner(partner, queries.timelines(), today())
    return render_template("partners/show.html", account=account, partner=partner, result=result,
                           derived_review=next_review_due(partner.last_assessed_on, partner.risk_rating, None),
                           can_edit=can_edit_partners(current_user, account), delete_form=ConfirmForm())


@bp.route("/accounts/<int:account_id>/partners/<int:partner_id>/edit", methods=["GET", "POST"])
@login_required
def edit_partner(account_id: int, partner_id: int) -> Any:
    account = load_account(account_id)
    partner = queries.get_partner_or_404(account, partner_id)
    _editor(account)
    form = _partner_form(account, partner if request.method == "GET" else None)
    if request.method == "GET":
        form.mra_program_id.data = str(partner.mra_program_id or "")
        form.evidence_ids.data = [doc.id for doc in partner.evidence]
        form.version.data = str(partner.version)
        for name in ("role", "certification", "ctpat_status", "last_assessment_type", "last_assessment_result",
                     "risk_rating"):
            value = getattr(partner, name)
            form[name].data = value.value if value is not None else ""
    if form.validate_on_submit():
        expected = int(form.version.data) if (form.version.data or "").isdecimal() else None
        try:
            services.update_partner(partner, services.PartnerInput(**form.partner_data()),
                                    expected_version=expected, by=current_user)
        except StaleEdit as error:
            db_session.rollback()
            conflict = {"mine": error.mine, "theirs": error.theirs,
                        "back_url": url_for("partners.edit_partner", account_id=account.id, partner_id=partner.id)}
            return render_template("errors/409.html", code=409, title="Edit conflict", conflict=conflict), 409
        except DomainError as error:
            db_session.rollback()
            _show_problems(form, error)
        else:
            db_session.commit()
            flash(f"{partner.name} saved.", "success")
            return redirect(url_for("partners.show_partner", account_id=account.id, partner_id=partner.id))
    return render_template("partners/form.html", account=account, form=form, partner=partner)


@bp.route("/accounts/<int:account_id>/partners/<int:partner_id>/delete", methods=["POST"])
@login_required
def delete_partner(account_id: int, partner_id: int) -> Any:
    account = load_account(account_id)
    partner = queries.get_partner_or_404(account, partner_id)
    _editor(account)
    name = partner.name
    services.delete_partner(partner, by=current_user)
    db_session.commit()
    flash(f"{name} removed from the register.", "success")
    return redirect(_register_url(account))


@bp.route("/accounts/<int:account_id>/partners/summary")
@login_required
def summary(account_id: int) -> Any:
    account = load_account(account_id)
    result = queries.account_summary(account.id, today())
    return render_template("partners/summary.html", account=account, summary=result)


@bp.route("/accounts/<int:account_id>/partners/supply-chain")
@login_required
def supply_chain(account_id: int) -> Any:
    """The reviewer's view: partners by country and status, and where the non-certified ones sit."""
    account = load_account(account_id)
    ensure(can_view_supply_chain(current_user, account), not_found=True)
    result = queries.account_summary(account.id, today())
    return render_template("partners/supply_chain.html", account=account, summary=result)


# --- export, template, import ------------------------------------------------------------------------


def _send(data: bytes, fmt: str, name: str) -> Any:
    mimetype = export.XLSX_MIMETYPE if fmt == "xlsx" else export.CSV_MIMETYPE
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=f"{name}.{fmt}")


@bp.route("/accounts/<int:account_id>/partners/export.<any(csv, xlsx):fmt>")
@login_required
def export_register(account_id: int, fmt: str) -> Any:
    account = load_account(account_id)
    sheet = export.register_sheet(queries.screened(account.id, today()), queries.program_codes())
    data = export.to_csv(sheet) if fmt == "csv" else export.to_xlsx([sheet])
    return _send(data, fmt, f"business-partners-{account.id}-{today().isoformat()}")


@bp.route("/accounts/<int:account_id>/partners/template.<any(csv, xlsx):fmt>")
@login_required
def import_template(account_id: int, fmt: str) -> Any:
    load_account(account_id)
    if fmt == "csv":
        data = export.template_csv()
    else:
        programs = [(p.code, p.partner, p.program_name) for p in queries.programs()]
        data = export.to_xlsx(export.template_sheets(programs))
    return _send(data, fmt, "business-partners-template")


@bp.route("/accounts/<int:account_id>/partners/import", methods=["GET", "POST"])
@login_required
def import_partners(account_id: int) -> Any:
    """Upload a list; it is checked and kept for a preview, and nothing is added until confirmed."""
    account = load_account(account_id)
    _editor(account)
    form = PartnerImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        filename = safe_display_name(upload.filename)
        try:
            table = importer.read_table(filename, upload.read(importer.MAX_UPLOAD_BYTES + 1))
            parsed = importer.parse_table(table, importer.ImportContext(
                programs=queries.program_words(), existing=services.existing_keys(account.id), on=today()))
        except importer.RejectedFile as error:
            form.add_error("file", error.message)
        else:
            staged = services.stage_import(account, filename, parsed.rows, by=current_user)
            db_session.commit()
            if parsed.ignored_headers:
                flash("Columns not used: " + ", ".join(parsed.ignored_headers[:10]) + ".", "info")
            return redirect(url_for("partners.import_preview", account_id=account.id, import_id=staged.id))
    return render_template("partners/import.html", account=account, form=form)


@bp.route("/accounts/<int:account_id>/partners/import/<int:import_id>")
@login_required
def import_preview(account_id: int, import_id: int) -> Any:
    account = load_account(account_id)
    _editor(account)
    staged = queries.get_import_or_404(account, import_id)
    return render_template("partners/import_preview.html", account=account, staged=staged, form=ConfirmForm(),
                           expired=services.import_expired(staged), role_label=_role_label)


def _role_label(value: str) -> str:
    try:
        return PartnerRole(value).label
    except ValueError:
        return value


@bp.route("/accounts/<int:account_id>/partners/import/<int:import_id>/confirm", methods=["POST"])
@login_required
def confirm_import(account_id: int, import_id: int) -> Any:
    account = load_account(account_id)
    _editor(account)
    staged = queries.get_import_or_404(account, import_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = services.confirm_import(account, staged, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(url_for("partners.import_partners", account_id=account.id))
    db_session.commit()
    message = f"{outcome.created} partner{'' if outcome.created == 1 else 's'} added to the register."
    if outcome.skipped:
        message += " Skipped because they changed since the preview: " + "; ".join(
            f"row {line} ({why})" for line, why in outcome.skipped[:10]) + "."
    flash(message, "success" if not outcome.skipped else "warning")
    return redirect(_register_url(account))


@bp.route("/accounts/<int:account_id>/partners/import/<int:import_id>/discard", methods=["POST"])
@login_required
def discard_import(account_id: int, import_id: int) -> Any:
    account = load_account(account_id)
    _editor(account)
    staged = queries.get_import_or_404(account, import_id)
    services.discard_import(account, staged, by=current_user)
    db_session.commit()
    flash("The upload was discarded; nothing was added.", "info")
    return redirect(_register_url(account))
