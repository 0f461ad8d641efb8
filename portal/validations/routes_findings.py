"""Finding and report pages: record findings, write and submit the report, the supervisor's approval,
sending it, the partner's answers (action plan and evidence), CBP's verdicts, best-practice
recognition and the close-out."""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.validations import AnswerForm, FindingForm, ReasonForm, RecogniseForm, ReportForm, ReviewAnswerForm
from portal.auth.permissions import ensure, staff_required
from portal.catalog import get_catalog
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.evidence import upload_evidence
from portal.profiles.models import EvidenceFile
from portal.profiles.services import profile_for_account
from portal.profiles.sniffing import MAX_EVIDENCE_BYTES
from portal.validations import findings, queries, services
from portal.validations.permissions import (
    can_answer_finding,
    can_approve_report,
    can_edit_findings,
    can_manage_validation,
    can_recognise_best_practice,
    can_review_answer,
    can_view_findings,
    can_view_validation,
)
from portal.validations.routes import back_to, bp, load_validation
from portal.validations.workflow import BEST_PRACTICE_REQUIREMENTS, FindingKind


def _load_finding(finding_id: int) -> Any:
    finding = queries.get_finding_or_404(finding_id)
    ensure(can_view_validation(current_user, finding.validation) and can_view_findings(current_user,
                                                                                       finding.validation),
           not_found=True)
    return finding


def _criteria(validation: Any) -> list[Any]:
    profile = profile_for_account(validation.account)
    if profile is None:
        return []
    return list(get_catalog(profile.catalog_id).criteria_for(validation.account.business_type))


@bp.route("/validations/<int:validation_id>/findings/new", methods=["GET", "POST"])
@login_required
@staff_required()
def new_finding(validation_id: int):
    validation = load_validation(validation_id)
    ensure(can_edit_findings(current_user, validation))
    form = FindingForm()
    form.criterion_id.choices = [("", "Choose a criterion")] + [(c.id, f"{c.id} {c.title}")
                                                                for c in _criteria(validation)]
    if request.method == "GET":
        form.due_on.data = services.default_finding_due()
        form.criterion_id.data = request.args.get("criterion_id", "")
    if form.validate_on_submit():
        kind = FindingKind(form.kind.data)
        try:
            findings.add_finding(validation, form.criterion_id.data, kind, form.text.data, by=current_user,
                                 due_on=form.due_on.data or (services.default_finding_due()
                                                             if kind == FindingKind.REQUIRED_ACTION else None))
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"The {kind.label.lower()} on {form.criterion_id.data} is recorded.", "success")
            return back_to(validation, "findings")
    return render_template("validations/finding_form.html", validation=validation, account=validation.account,
                           form=form)


@bp.route("/findings/<int:finding_id>/delete", methods=["POST"])
@login_required
@staff_required()
def delete_finding(finding_id: int):
    finding = _load_finding(finding_id)
    validation = finding.validation
    ensure(can_edit_findings(current_user, validation))
    try:
        findings.delete_finding(finding, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("The finding is removed.", "success")
    return back_to(validation, "findings")


@bp.route("/validations/<int:validation_id>/report", methods=["GET", "POST"])
@login_required
@staff_required()
def report(validation_id: int):
    """Write the report summary; 'submit' sends it to a supervisor for approval."""
    validation = load_validation(validation_id)
    ensure(can_manage_validation(current_user, validation))
    form = ReportForm()
    if request.method == "GET":
        form.summary.data = validation.report_summary
    if form.validate_on_submit():
        try:
            findings.save_report(validation, form.summary.data, by=current_user)
            if request.form.get("submit_report"):
                findings.submit_report(validation, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The report is submitted for approval." if request.form.get("submit_report")
                  else "The report is saved.", "success")
            return back_to(validation, "report")
    return render_template("validations/report.html", validation=validation, account=validation.account, form=form)


@bp.route("/validations/<int:validation_id>/report/decision", methods=["GET", "POST"])
@login_required
@staff_required()
def report_decision(validation_id: int):
    """A supervisor not on the team approves the report or returns it with a reason."""
    validation = load_validation(validation_id)
    ensure(can_approve_report(current_user, validation))
    form = ReasonForm()
    if request.method == "POST":
        try:
            if request.form.get("approve"):
                findings.approve_report(validation, by=current_user)
                message = "The report is approved."
            else:
                if not form.validate():
                    raise DomainError("Say what the team should revise.", field="reason")
                findings.return_report(validation, form.reason.data, by=current_user)
                message = "The report is returned to the team."
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(message, "success")
            return back_to(validation, "report")
    return render_template("validations/report_decision.html", validation=validation, account=validation.account,
                           form=form)


def _simple(validation_id: int, verb: str) -> Any:
    validation = load_validation(validation_id)
    ensure(can_manage_validation(current_user, validation))
    try:
        if verb == "send":
            findings.send_report(validation, by=current_user)
            message = "The report is sent to the partner."
        else:
            tier = findings.close_validation(validation, by=current_user)
            message = "The validation is closed and the account validated" + (f" (Tier {tier})." if tier else ".")
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(message, "success")
    return back_to(validation)


@bp.route("/validations/<int:validation_id>/send", methods=["POST"])
@login_required
@staff_required()
def send_report(validation_id: int):
    return _simple(validation_id, "send")


@bp.route("/validations/<int:validation_id>/close", methods=["POST"])
@login_required
@staff_required()
def close(validation_id: int):
    return _simple(validation_id, "close")


@bp.route("/findings/<int:finding_id>/answer", methods=["GET", "POST"])
@login_required
def answer_finding(finding_id: int):
    """The partner answers a required action with an action plan and evidence (library or upload)."""
    finding = _load_finding(finding_id)
    validation = finding.validation
    company = validation.account.company
    can_answer = can_answer_finding(current_user, finding)
    if request.method == "POST":
        ensure(can_answer)
    library = list(db_session.scalars(select(EvidenceFile).where(EvidenceFile.company_id == company.id)
                                      .order_by(EvidenceFile.uploaded_at.desc())))
    form = AnswerForm()
    form.evidence_ids.choices = [(e.id, e.display_name) for e in library]
    if form.validate_on_submit():
        chosen = [e for e in library if e.id in set(form.evidence_ids.data or [])]
        try:
            upload = form.file.data
            if upload is not None and getattr(upload, "filename", ""):
                # The company's evidence library keeps the document, as for profile evidence.
                evidence, _created = upload_evidence(company, upload.stream.read(MAX_EVIDENCE_BYTES + 1),
                                                     upload.filename, title=form.title.data, effective_date=None,
                                                     by=current_user)
                if evidence not in chosen:
                    chosen.append(evidence)
            findings.answer_finding(finding, form.action_plan.data, chosen, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("Your answer is sent to CBP.", "success")
            return back_to(validation, "findings")
    return render_template("validations/answer.html", finding=finding, validation=validation,
                           account=validation.account, form=form, can_answer=can_answer, library=library)


@bp.route("/findings/<int:finding_id>/review", methods=["GET", "POST"])
@login_required
@staff_required()
def review_answer(finding_id: int):
    """The team accepts or rejects the partner's latest answer with a comment."""
    finding = _load_finding(finding_id)
    ensure(can_review_answer(current_user, finding))
    form = ReviewAnswerForm()
    if form.validate_on_submit():
        try:
            findings.review_answer(finding, form.decision.data == "accept", form.comment.data or "",
                                   by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The answer is accepted." if form.decision.data == "accept" else
                  "The answer is rejected; the partner is asked to answer again.", "success")
            return back_to(finding.validation, "findings")
    return render_template("validations/review_answer.html", finding=finding, validation=finding.validation,
                           account=finding.validation.account, form=form)


@bp.route("/findings/<int:finding_id>/recognise", methods=["GET", "POST"])
@login_required
@staff_required()
def recognise(finding_id: int):
    """A supervisor checks a best practice against the five requirements of CBP's framework."""
    finding = _load_finding(finding_id)
    ensure(can_recognise_best_practice(current_user, finding))
    form = RecogniseForm()
    if request.method == "GET":
        form.requirements.data = list(finding.best_practice_checks or [])
    if form.validate_on_submit():
        try:
            findings.recognise_best_practice(finding, form.requirements.data or [], by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("The best practice is recognised." if finding.recognised_at else
                  "Saved: not all five requirements are met, so it is not recognised.", "success")
            return back_to(finding.validation, "findings")
    return render_template("validations/recognise.html", finding=finding, validation=finding.validation,
                           account=finding.validation.account, form=form, requirements=BEST_PRACTICE_REQUIREMENTS)

