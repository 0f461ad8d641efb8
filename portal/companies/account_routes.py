"""CTPAT account pages: start an application, answer eligibility, enter identifiers, sign the
Partner Agreement, see the status history; and accepting an invitation to a company."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.companies import AgreementForm, IdentifierForm, NewAccountForm, build_eligibility_form
from portal.audit import client_ip
from portal.auth.permissions import (
    can_edit_application,
    can_edit_company,
    can_sign_agreement,
    can_view_account,
    can_view_company,
    ensure,
)
from portal.companies import applications, eligibility, queries, services
from portal.companies.business_types import BusinessType, ConsolidatorSubtype, HighwayBorder
from portal.companies.identifiers import IdentifierKind, identifiers_for, missing_identifiers
from portal.companies.workflow import ApplicationStep
from portal.db import db_session
from portal.errors import DomainError

bp = Blueprint("accounts", __name__)


def _load_account(account_id: int):
    account = queries.get_account_or_404(account_id)
    ensure(can_view_account(current_user, account), not_found=True)
    return account


@bp.route("/companies/<int:company_id>/accounts/new", methods=["GET", "POST"])
@login_required
def new_account(company_id: int):
    """Choose the business type to apply in; a company may hold one account per type."""
    company = queries.get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_edit_company(current_user, company))
    form = NewAccountForm()
    if form.validate_on_submit():
        try:
            account = applications.open_account(
                company, BusinessType(form.business_type.data), by=current_user,
                consolidator_subtype=ConsolidatorSubtype(form.consolidator_subtype.data)
                if form.consolidator_subtype.data else None,
                highway_border=HighwayBorder(form.highway_border.data) if form.highway_border.data else None,
            )
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            return redirect(url_for("accounts.eligibility_step", account_id=account.id))
    return render_template("accounts/new_account.html", company=company, form=form)


@bp.route("/accounts/<int:account_id>")
@login_required
def show_account(account_id: int):
    account = _load_account(account_id)
    flags = queries.duplicate_identifier_flags(account) if current_user.is_staff else {}
    return render_template("accounts/show_account.html", account=account, company=account.company,
                           duplicate_flags=flags)


@bp.route("/accounts/<int:account_id>/eligibility", methods=["GET", "POST"])
@login_required
def eligibility_step(account_id: int):
    account = _load_account(account_id)
    ensure(can_edit_application(current_user, account))
    questions = eligibility.questions_for(account.business_type)
    form_class = build_eligibility_form(questions)
    saved = {answer.question_key: ("yes" if answer.answer else "no") for answer in account.eligibility_answers}
    form = form_class(data={f"q_{key}": value for key, value in saved.items()} if request.method == "GET" else None)
    result = None
    if form.validate_on_submit():
        answers = {question.key: form[f"q_{question.key}"].data == "yes" for question in questions}
        try:
            result = applications.save_eligibility(account, answers, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            if result.eligible:
                flash("Your answers show the company is eligible. Next, enter its business identifiers.", "success")
                return redirect(url_for("accounts.identifiers_step", account_id=account.id))
    elif account.application_step == ApplicationStep.NOT_ELIGIBLE and request.method == "GET":
        result = eligibility.evaluate(account.business_type,
                                      {a.question_key: a.answer for a in account.eligibility_answers})
    return render_template("accounts/eligibility.html", account=account, company=account.company, form=form,
                           questions=questions, result=result)


@bp.route("/accounts/<int:account_id>/identifiers", methods=["GET", "POST"])
@login_required
def identifiers_step(account_id: int):
    account = _load_account(account_id)
    ensure(can_edit_application(current_user, account))
    if account.application_step in {ApplicationStep.ELIGIBILITY, ApplicationStep.NOT_ELIGIBLE}:
        flash("Answer the eligibility questions first.", "info")
        return redirect(url_for("accounts.eligibility_step", account_id=account.id))
    form = IdentifierForm()
    offered = identifiers_for(account.business_type)
    form.kind.choices = [(kind.value, kind.label) for kind in offered]
    if form.validate_on_submit():
        try:
            applications.add_identifier(account, IdentifierKind(form.kind.data), form.value.data, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The identifier is added.", "success")
            return redirect(url_for("accounts.identifiers_step", account_id=account.id))
    return render_template(
        "accounts/identifiers.html", account=account, company=account.company, form=form, offered=offered,
        missing=missing_identifiers(account.business_type, [i.kind for i in account.identifiers]),
    )


@bp.route("/accounts/<int:account_id>/identifiers/<int:identifier_id>/delete", methods=["POST"])
@login_required
def delete_identifier(account_id: int, identifier_id: int):
    account = _load_account(account_id)
    identifier = queries.get_identifier_or_404(account, identifier_id)
    ensure(can_edit_application(current_user, account))
    applications.remove_identifier(identifier, by=current_user)
    db_session.commit()
    flash("The identifier is removed.", "success")
    return redirect(url_for("accounts.identifiers_step", account_id=account.id))


@bp.route("/accounts/<int:account_id>/identifiers/done", methods=["POST"])
@login_required
def finish_identifiers(account_id: int):
    account = _load_account(account_id)
    ensure(can_edit_application(current_user, account))
    try:
        applications.finish_identifiers(account, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(url_for("accounts.identifiers_step", account_id=account.id))
    db_session.commit()
    return redirect(url_for("accounts.agreement_step", account_id=account.id))


@bp.route("/accounts/<int:account_id>/agreement", methods=["GET", "POST"])
@login_required
def agreement_step(account_id: int):
    """The company officer signs the Partner Agreement; other users see who must sign."""
    account = _load_account(account_id)
    ensure(can_sign_agreement(current_user, account) or account.agreement is not None
           or can_edit_application(current_user, account))
    if request.method == "POST":
        ensure(can_sign_agreement(current_user, account))  # 403 for anyone else, whatever the form holds
    form = AgreementForm()
    if form.validate_on_submit():
        try:
            applications.sign_agreement(account, form.typed_name.data, by=current_user, ip_address=client_ip())
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The Partner Agreement is signed and your application is complete. "
                  "Next, fill in the security profile.", "success")
            return redirect(url_for("accounts.show_account", account_id=account.id))
    return render_template("accounts/agreement.html", account=account, company=account.company, form=form,
                           agreement_text=applications.AGREEMENT_TEXT,
                           can_sign=can_sign_agreement(current_user, account))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
def accept_invitation(token: str):
    """Accept an invitation while signed in with the invited address."""
    invitation = services.find_invitation(token)
    if invitation is None:
        return render_template("accounts/invitation_invalid.html"), 404
    if request.method == "POST":
        try:
            membership = services.accept_invitation(token, current_user)
        except DomainError as error:
            db_session.rollback()
            flash(error.message, "error")
        else:
            db_session.commit()
            flash(f"You joined {membership.company.legal_name}.", "success")
            return redirect(url_for("companies.show_company", company_id=membership.company_id))
    return render_template("accounts/accept_invitation.html", invitation=invitation, token=token)
