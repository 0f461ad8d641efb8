"""A validation's on-site verification (issue 6): the read-only page of what the team verified, the visit
workbook downloaded for the validation (stored checks pre-filled, the validation named in ``_meta``),
and the import of the filled workbook: upload and check, preview, confirm or discard.

Registered on the ``exports`` blueprint (imported at the bottom of ``portal.exports.routes``). CBP staff
who see the validation see the page and download the workbook; the team and supervisors, while findings
may be recorded (``can_edit_findings``, as for ``validations.new_finding``), import. Trade users get 404.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from forms.exports import MAX_IMPORT_BYTES, ConfirmImportForm, VisitWorkbookUploadForm
from portal.auth.permissions import ensure
from portal.auth.reauth import require_recent_auth
from portal.catalog import get_catalog
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.exports import permissions, visit_services
from portal.exports.importer import plan_fingerprint
from portal.exports.models import ExcelImport, ImportStatus
from portal.exports.routes import _audit_export, _file_part, _send_xlsx, _stamp, bp
from portal.exports.services import PreviewOutdated, is_expired
from portal.exports.visit_import import CHANGED, CONFLICT, NEW, UNCHANGED, read_and_validate_visit
from portal.exports.visit_workbook import build_visit_workbook
from portal.exports.xlsx_upload import ImportProblem, ImportRejected
from portal.profiles.models import SecurityProfile
from portal.profiles.services import profile_for_account
from portal.validations.models import Validation
from portal.validations.queries import get_validation_or_404
from portal.validations.verification import CLEAR_MARKER, NOTES_MAX, Verified, checks_of


def _load(validation_id: int) -> tuple[Validation, SecurityProfile]:
    """The validation and its account's profile; 404 for trade users, another tenant, or no profile."""
    validation = get_validation_or_404(validation_id)
    ensure(permissions.can_view_verification(current_user, validation), not_found=True)
    profile = profile_for_account(validation.account)
    if profile is None:
        abort(404)
    return validation, profile


def _render_page(validation: Validation, profile: SecurityProfile, form: VisitWorkbookUploadForm,
                 problems: list[ImportProblem] | None = None) -> str:
    catalog = get_catalog(profile.catalog_id)
    checks = checks_of(validation)
    criteria = list(catalog.criteria_for(validation.account.business_type))
    counts = {verified: sum(1 for c in checks.values() if c.verified == verified) for verified in Verified}
    return render_template(
        "exports/verification.html", validation=validation, account=validation.account, form=form,
        problems=problems or [], criteria=criteria, checks=checks, counts=counts,
        unrecorded=sum(1 for c in criteria if c.id not in checks or checks[c.id].verified is None),
        can_import=permissions.can_import_verification(current_user, validation),
        max_mb=MAX_IMPORT_BYTES // (1024 * 1024), notes_max=NOTES_MAX, clear_marker=CLEAR_MARKER,
    )


@bp.route("/validations/<int:validation_id>/verification")
@login_required
def verification(validation_id: int):
    """Each applicable criterion's stored on-site verification and notes, the download and the upload."""
    validation, profile = _load(validation_id)
    return _render_page(validation, profile, VisitWorkbookUploadForm())


@bp.route("/validations/<int:validation_id>/visit-workbook.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def validation_visit_workbook(validation_id: int) -> Response:
    """The CBP visit workbook for this validation: its ID in ``_meta``, the stored checks pre-filled, and
    its visit plan with the MRA certificates of covered sites."""
    validation, profile = _load(validation_id)
    data = visit_services.workbook_data(validation, profile)
    plan = visit_services.visit_plan(validation)
    account = _file_part(validation.account.account_number or f"account-{validation.account_id}")
    name = f"ctpat-visit-workbook-{account}-validation-{validation.id}-v{data.version}-{_stamp(data.exported_at)}.xlsx"
    response = _send_xlsx(lambda out: build_visit_workbook(data, plan, out), name)
    _audit_export("export.visit_workbook", f"validation {validation.id}, {data.version_label}, "
                                           f"SHA-256 {data.content_sha256}",
                  company_id=validation.account.company_id, obj=validation)
    return response


@bp.route("/validations/<int:validation_id>/verification/import", methods=["POST"])
@login_required
def verification_upload(validation_id: int):
    """Check an uploaded visit workbook completely; if it passes, keep it and show its preview."""
    validation, profile = _load(validation_id)
    ensure(permissions.can_import_verification(current_user, validation))
    form = VisitWorkbookUploadForm()
    if not form.validate_on_submit():
        return _render_page(validation, profile, form)
    upload = form.file.data
    data = upload.read(MAX_IMPORT_BYTES + 1)
    filename = upload.filename or "visit-workbook.xlsx"
    if len(data) > MAX_IMPORT_BYTES:
        form.add_error("file", f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        return _render_page(validation, profile, form)
    try:
        parsed = read_and_validate_visit(data, filename, visit_services.expectation_for(validation, profile))
    except ImportRejected as rejected:
        form.add_error("file", f"The workbook was not imported: {len(rejected.problems)} problem(s), listed below. "
                               "Nothing was changed.")
        return _render_page(validation, profile, form, rejected.problems)
    row = visit_services.store_visit_import(validation, profile, parsed, filename, by=current_user)
    db_session.commit()
    return redirect(url_for("exports.verification_preview", validation_id=validation.id, import_id=row.id))


def _load_import(validation_id: int, import_id: int) -> tuple[Validation, SecurityProfile, ExcelImport]:
    validation, profile = _load(validation_id)
    ensure(permissions.can_import_verification(current_user, validation))
    row = visit_services.pending_visit_import(validation, import_id, current_user)
    if row is None:
        abort(404)
    return validation, profile, row


def _confirm_form(changes: list[Any], **values: Any) -> ConfirmImportForm:
    form = ConfirmImportForm(**values)
    form.overwrite.choices = [(c.criterion_id, c.criterion_id) for c in changes if c.kind == CONFLICT]
    return form


def _render_preview(validation: Validation, profile: SecurityProfile, row: ExcelImport, changes: list[Any],
                    form: ConfirmImportForm, status: int = 200) -> tuple[str, int]:
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in (NEW, CHANGED, UNCHANGED, CONFLICT)}
    return render_template(
        "exports/verification_preview.html", validation=validation, account=validation.account, upload=row,
        changes=changes, form=form, counts=counts, catalog=get_catalog(profile.catalog_id),
        pending=row.status == ImportStatus.PENDING, expired=is_expired(row),
        shown=[c for c in changes if c.kind != UNCHANGED], cleared=sum(1 for c in changes if c.cleared),
        clear_marker=CLEAR_MARKER,
    ), status


@bp.route("/validations/<int:validation_id>/verification/imports/<int:import_id>")
@login_required
def verification_preview(validation_id: int, import_id: int):
    """Per criterion: new, changed, unchanged or in conflict with a check stored since the download."""
    validation, profile, row = _load_import(validation_id, import_id)
    changes = visit_services.preview(row, validation, profile)
    return _render_preview(validation, profile, row, changes,
                           _confirm_form(changes, fingerprint=plan_fingerprint(changes)))


@bp.route("/validations/<int:validation_id>/verification/imports/<int:import_id>/apply", methods=["POST"])
@login_required
def verification_apply(validation_id: int, import_id: int):
    """Apply the confirmed preview in one transaction, or nothing at all."""
    validation, profile, row = _load_import(validation_id, import_id)
    changes = visit_services.preview(row, validation, profile)
    form = _confirm_form(changes)
    if not form.validate_on_submit():
        return _render_preview(validation, profile, row, changes, form, 400)
    preview_url = url_for("exports.verification_preview", validation_id=validation.id, import_id=import_id)
    try:
        saved = visit_services.apply_visit_import(row, validation, profile, fingerprint=form.fingerprint.data or "",
                                                  overwrite=set(form.overwrite.data or ()), by=current_user)
    except (StaleEdit, PreviewOutdated) as error:
        db_session.rollback()
        flash(f"Nothing was imported. {error.message}", "error")
        return redirect(preview_url)
    except DomainError as error:
        db_session.rollback()
        flash(f"{error.message} Nothing was imported.", "error")
        return redirect(url_for("exports.verification", validation_id=validation.id))
    db_session.commit()
    flash(f"The on-site verification of {len(saved)} criteri{'on' if len(saved) == 1 else 'a'} was imported."
          if saved else "Nothing to import: the workbook matches the verification stored online.", "success")
    return redirect(url_for("exports.verification", validation_id=validation.id))


@bp.route("/validations/<int:validation_id>/verification/imports/<int:import_id>/discard", methods=["POST"])
@login_required
def verification_discard(validation_id: int, import_id: int):
    validation, _profile, row = _load_import(validation_id, import_id)
    visit_services.discard_visit_import(row, validation, by=current_user)
    db_session.commit()
    flash("The uploaded visit workbook was discarded; nothing was imported.", "success")
    return redirect(url_for("exports.verification", validation_id=validation.id))
