"""Company pages: create and edit the company profile, its addresses, and its users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from forms.companies import AddressForm, CompanyForm, InviteForm, MemberRoleForm, NewCompanyForm
from portal.auth.permissions import can_edit_company, can_manage_members, can_view_company, ensure
from portal.auth.reauth import require_recent_auth
from portal.auth.roles import CompanyRole
from portal.companies import queries, services
from portal.companies.countries import default_timezone
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session
from portal.errors import DomainError

bp = Blueprint("companies", __name__, url_prefix="/companies")


def _company_data(form: Any) -> services.CompanyData:
    return services.CompanyData(
        legal_name=form.legal_name.data, dba=form.dba.data or None,
        ownership_type=OwnershipType(form.ownership_type.data), phone=form.phone.data,
        business_start_date=form.business_start_date.data, website=form.website.data or None,
        employee_count=form.employee_count.data, history=form.history.data or None,
    )


def _address_data(form: Any, kind: AddressKind) -> services.AddressData:
    timezone = getattr(form, "timezone", None)
    visitable = getattr(form, "visitable", None)
    return services.AddressData(
        kind=kind, name=form.name.data or None, line1=form.line1.data, line2=form.line2.data or None,
        city=form.city.data, region=form.region.data or None, postal_code=form.postal_code.data or None,
        country=form.country.data,
        timezone=(timezone.data if timezone else None) or default_timezone(form.country.data),
        visitable=bool(visitable.data) if visitable else False,
    )


def _trade_user_only() -> None:
    ensure(not current_user.is_staff, not_found=True)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new_company():
    """A registered trade user adds their company and becomes its company officer."""
    _trade_user_only()
    form = NewCompanyForm()
    if form.validate_on_submit():
        try:
            company = services.create_company(_company_data(form), _address_data(form, AddressKind.HEADQUARTERS),
                                              by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"{company.legal_name} is created and you are its company officer. "
                  "Next, choose the business type to apply for.", "success")
            return redirect(url_for("accounts.new_account", company_id=company.id))
    return render_template("companies/new_company.html", form=form)


@bp.route("/<int:company_id>")
@login_required
def show_company(company_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    members = queries.company_members(company) if can_manage_members(current_user, company) else []
    return render_template("companies/show_company.html", company=company, members=members)


@bp.route("/<int:company_id>/edit", methods=["GET", "POST"])
@login_required
def edit_company(company_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_edit_company(current_user, company))
    form = CompanyForm(obj=company)
    if form.validate_on_submit():
        try:
            services.update_company(company, _company_data(form), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The company profile is saved.", "success")
            return redirect(url_for("companies.show_company", company_id=company.id))
    return render_template("companies/edit_company.html", company=company, form=form)


@bp.route("/<int:company_id>/addresses/new", methods=["GET", "POST"])
@login_required
def new_address(company_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_edit_company(current_user, company))
    form = AddressForm()
    if form.validate_on_submit():
        try:
            services.add_address(company, _address_data(form, AddressKind(form.kind.data)), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The address is added.", "success")
            return redirect(url_for("companies.show_company", company_id=company.id))
    return render_template("companies/address_form.html", company=company, form=form, address=None)


@bp.route("/<int:company_id>/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def edit_address(company_id: int, address_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    address = queries.get_address_or_404(company, address_id)
    ensure(can_edit_company(current_user, company))
    form = AddressForm(obj=address)
    if form.validate_on_submit():
        try:
            services.update_address(address, _address_data(form, AddressKind(form.kind.data)), by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The address is saved.", "success")
            return redirect(url_for("companies.show_company", company_id=company.id))
    return render_template("companies/address_form.html", company=company, form=form, address=address)


@bp.route("/<int:company_id>/addresses/<int:address_id>/delete", methods=["POST"])
@login_required
def delete_address(company_id: int, address_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    address = queries.get_address_or_404(company, address_id)
    ensure(can_edit_company(current_user, company))
    try:
        services.delete_address(address, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("The address is removed.", "success")
    return redirect(url_for("companies.show_company", company_id=company.id))


@bp.route("/<int:company_id>/users", methods=["GET", "POST"])
@login_required
def members(company_id: int):
    """The officer's page to invite users, set their roles and remove them."""
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_manage_members(current_user, company))
    form = InviteForm()
    if form.validate_on_submit():
        try:
            services.invite_member(
                company, form.email.data, CompanyRole(form.role.data), by=current_user,
                accept_url_for=lambda token: url_for("accounts.accept_invitation", token=token, _external=True),
            )
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"An invitation was sent to {form.email.data}. It expires in 7 days.", "success")
            return redirect(url_for("companies.members", company_id=company.id))
    return render_template(
        "companies/members.html", company=company, form=form, members=queries.company_members(company),
        invitations=queries.pending_invitations(company), role_form=MemberRoleForm(),
    )


@bp.route("/<int:company_id>/users/<int:membership_id>/role", methods=["POST"])
@login_required
@require_recent_auth()  # role changes need a fresh sign-in (portal/auth/reauth.py)
def change_role(company_id: int, membership_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_manage_members(current_user, company))
    membership = queries.get_membership_or_404(company, membership_id)
    form = MemberRoleForm()
    if not form.validate_on_submit():
        flash("Choose a valid role.", "error")
        return redirect(url_for("companies.members", company_id=company.id))
    try:
        services.change_member_role(membership, CompanyRole(form.role.data), by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"{membership.user.full_name} is now {membership.role.label.lower()}.", "success")
    return redirect(url_for("companies.members", company_id=company.id))


@bp.route("/<int:company_id>/users/<int:membership_id>/remove", methods=["POST"])
@login_required
@require_recent_auth()  # role changes need a fresh sign-in (portal/auth/reauth.py)
def remove_member(company_id: int, membership_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_manage_members(current_user, company))
    membership = queries.get_membership_or_404(company, membership_id)
    name = membership.user.full_name
    try:
        services.remove_member(membership, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"{name} no longer has access to {company.legal_name}.", "success")
    return redirect(url_for("companies.members", company_id=company.id))


@bp.route("/<int:company_id>/invitations/<int:invitation_id>/revoke", methods=["POST"])
@login_required
def revoke_invitation(company_id: int, invitation_id: int):
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_manage_members(current_user, company))
    invitation = queries.get_invitation_or_404(company, invitation_id)
    try:
        services.revoke_invitation(invitation, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"The invitation to {invitation.email} is revoked.", "success")
    return redirect(url_for("companies.members", company_id=company.id))
