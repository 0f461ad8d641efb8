"""Excel downloads and the offline questionnaire import (issue 6); the blueprint the ``flask export``
commands (``portal.exports.cli``) and the on-site verification pages (``visit_routes``) hang on.

Every download is written to a spooled temporary file first (write-only mode keeps memory flat), then
sent as an attachment with the xlsx type, ``nosniff`` and ``Cache-Control: no-store``. Each export is
recorded in the audit trail in its own short transaction after the data was read.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import IO, Any, cast

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

import portal.exports.models  # noqa: F401 - registers ExcelImport with the metadata at app start (create_all)
from forms.exports import MAX_IMPORT_BYTES, ConfirmImportForm, QuestionnaireUploadForm
from portal import audit
from portal.auth.permissions import can_view_profile, ensure, is_staff
from portal.auth.reauth import require_recent_auth
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.exports import permissions, queries, services
from portal.exports.importer import (
    CONFLICT,
    NEW,
    UNCHANGED,
    ImportProblem,
    ImportRejected,
    plan_fingerprint,
    read_and_validate,
)
from portal.exports.list_exports import (
    build_action_plan_export,
    build_audit_export,
    build_finding_export,
    build_queue_export,
)
from portal.exports.models import ImportStatus
from portal.exports.profile_workbook import Audience, build_profile_workbook
from portal.exports.questionnaire import build_questionnaire
from portal.exports.workbook import XLSX_MIMETYPE
from portal.profiles.models import SecurityProfile
from portal.profiles.queries import get_profile_or_404
from portal.reviews import queue

bp = Blueprint("exports", __name__, cli_group="export")

SPOOL_BYTES = 4 * 1024 * 1024


# -- helpers -----------------------------------------------------------------------------------------


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "export"


def _send_xlsx(build: Callable[[IO[bytes]], Any], download_name: str) -> Response:
    """Build into a spooled temporary file (disk beyond a few MB) and send it as an attachment."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by the response
    build(cast(IO[bytes], spool))
    spool.seek(0)
    response = send_file(spool, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=download_name,
                         conditional=False, etag=False, max_age=None)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _audit_export(action: str, summary: str, *, company_id: int | None = None, obj: Any = None) -> None:
    """Record a download in its own short transaction: the read transaction ends first, so the write
    never has to upgrade a SQLite read snapshot (DESIGN.md §4)."""
    db_session.commit()
    audit.record(action, actor=current_user, company_id=company_id, obj=obj, summary=summary)
    db_session.commit()


def _load_profile(profile_id: int) -> SecurityProfile:
    profile = get_profile_or_404(profile_id)
    ensure(can_view_profile(current_user, profile), not_found=True)
    return profile


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M")


def _profile_name(profile: SecurityProfile) -> str:
    return _file_part(profile.account.account_number or f"profile-{profile.id}")


# -- the profile page "Work offline in Excel" ----------------------------------------------------------


def _render_excel_page(profile: SecurityProfile, form: QuestionnaireUploadForm,
                       problems: list[ImportProblem] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "exports/profile.html", profile=profile, account=profile.account, form=form, problems=problems or [],
        can_import=permissions.can_import_questionnaire(current_user, profile),
        can_partner=permissions.can_export_partner_workbook(current_user, profile),
        can_visit=permissions.can_export_visit_workbook(current_user, profile),
        max_mb=MAX_IMPORT_BYTES // (1024 * 1024),
    ), status


@bp.route("/profiles/<int:profile_id>/excel")
@login_required
def profile_excel(profile_id: int):
    """Downloads of this profile, and the upload of a completed offline questionnaire."""
    profile = _load_profile(profile_id)
    return _render_excel_page(profile, QuestionnaireUploadForm())


# -- downloads -----------------------------------------------------------------------------------------


@bp.route("/profiles/<int:profile_id>/visit-workbook.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def visit_workbook(profile_id: int) -> Response:
    """The CBP validation copy: ratings, scores and the "Verified on site" and notes columns.
    ``?version=N`` picks a submitted version (default: the latest)."""
    ensure(is_staff(current_user), not_found=True)
    profile = _load_profile(profile_id)
    ensure(permissions.can_export_visit_workbook(current_user, profile), not_found=True)
    number = request.args.get("version", type=int)
    if number is not None and not 0 < number < 2**31:
        abort(404)  # no such version; a number past the integer column would fail in the driver
    data = queries.profile_workbook_data(profile, Audience.CBP, number=number)
    if data is None:
        abort(404)
    name = f"ctpat-visit-workbook-{_profile_name(profile)}-v{data.version}-{_stamp(data.exported_at)}.xlsx"
    response = _send_xlsx(lambda out: build_profile_workbook(data, Audience.CBP, out), name)
    _audit_export("export.visit_workbook", f"{data.version_label}, SHA-256 {data.content_sha256}",
                  company_id=profile.account.company_id, obj=profile)
    return response


@bp.route("/profiles/<int:profile_id>/profile-workbook.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def partner_workbook(profile_id: int) -> Response:
    """The partner's copy of the profile workbook (no CBP-only columns, no scores)."""
    profile = _load_profile(profile_id)
    ensure(permissions.can_export_partner_workbook(current_user, profile))
    data = queries.profile_workbook_data(profile, Audience.PARTNER)
    assert data is not None  # no version number asked for: the latest version or the draft
    name = f"ctpat-profile-{_profile_name(profile)}-v{data.version}-{_stamp(data.exported_at)}.xlsx"
    response = _send_xlsx(lambda out: build_profile_workbook(data, Audience.PARTNER, out), name)
    _audit_export("export.profile_workbook", data.version_label, company_id=profile.account.company_id, obj=profile)
    return response


@bp.route("/profiles/<int:profile_id>/questionnaire.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def questionnaire(profile_id: int) -> Response:
    """The offline questionnaire: a row per applicable criterion, answer cells unlocked."""
    profile = _load_profile(profile_id)
    ensure(permissions.can_download_questionnaire(current_user, profile))
    data = queries.questionnaire_data(profile, exported_by=current_user.email)
    secret = current_app.config["SECRET_KEY"]
    name = f"ctpat-questionnaire-{_profile_name(profile)}-{_stamp(data.exported_at)}.xlsx"
    response = _send_xlsx(lambda out: build_questionnaire(data, secret, out), name)
    _audit_export("export.questionnaire", f"{len(data.rows)} criteria", company_id=profile.account.company_id,
                  obj=profile)
    return response


@bp.route("/profiles/<int:profile_id>/action-plans.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def action_plans(profile_id: int) -> Response:
    """The profile's action plans as a list."""
    profile = _load_profile(profile_id)
    ensure(permissions.can_export_action_plans(current_user, profile))
    now = utcnow()
    heading = f"Action plans: {profile.account.company.legal_name}, {profile.account.business_type.label}"
    name = f"ctpat-action-plans-{_profile_name(profile)}-{_stamp(now)}.xlsx"
    count: list[int] = []
    response = _send_xlsx(lambda out: count.append(build_action_plan_export(
        queries.action_plan_rows(profile), out, exported_at=now, heading=heading,
        criteria=[("account", profile.account.account_number or profile.account.id)])), name)
    _audit_export("export.action_plans", f"{count[0]} plans", company_id=profile.account.company_id, obj=profile)
    return response


@bp.route("/validations/<int:validation_id>/findings.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def validation_findings(validation_id: int) -> Response:
    """A validation's findings as a list (CBP staff; the company once the report was sent)."""
    from portal.validations.permissions import can_view_validation
    from portal.validations.queries import get_validation_or_404

    validation = get_validation_or_404(validation_id)
    ensure(can_view_validation(current_user, validation), not_found=True)
    ensure(permissions.can_export_findings(current_user, validation))
    account = validation.account
    now = utcnow()
    heading = f"Validation findings: {account.company.legal_name}, {account.business_type.label}"
    name = f"ctpat-findings-{_file_part(account.account_number or str(account.id))}-v{validation.id}-{_stamp(now)}.xlsx"
    count: list[int] = []
    response = _send_xlsx(lambda out: count.append(build_finding_export(
        queries.validation_finding_rows(validation), out, exported_at=now, heading=heading,
        criteria=[("validation", validation.id)])), name)
    _audit_export("export.findings", f"{count[0]} findings", company_id=account.company_id, obj=validation)
    return response


@bp.route("/reviews/queue.xlsx")
@login_required
@require_recent_auth(methods=("GET",))  # exports need a fresh sign-in (portal/auth/reauth.py)
def queue_export() -> Response:
    """The review queue with the filters and order of the page it was linked from."""
    ensure(permissions.can_export_queue(current_user), not_found=True)
    filters = queue.QueueFilters.from_args(request.args)
    sort = queue.QueueSort.from_args(request.args)
    now = utcnow()
    count: list[int] = []
    response = _send_xlsx(lambda out: count.append(build_queue_export(
        queries.queue_rows(filters, sort, user=current_user, now=now), out, exported_at=now,
        criteria=[*filters.as_args().items(), *sort.as_args().items()])), f"ctpat-review-queue-{_stamp(now)}.xlsx")
    _audit_export("export.queue", f"{count[0]} reviews; filters {filters.as_args() or 'none'}")
    return response


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return None


@bp.route("/admin/audit-events.xlsx")
@login_required
def audit_export() -> Response:
    """The audit trail (administrators), with the audit viewer's filters: ``action`` (exact),
    ``company_id`` (or ``company``), ``actor`` (part of an e-mail), ``date_from``/``date_to`` (UTC)."""
    ensure(permissions.can_export_audit(current_user), not_found=True)
    action = (request.args.get("action") or "").strip()[:64]
    company_id = request.args.get("company_id", type=int) or request.args.get("company", type=int)
    company_id = company_id if company_id is not None and 0 < company_id < 2**31 else None
    actor = (request.args.get("actor") or "").strip().lower()[:254]
    date_from, date_to = _date_arg("date_from"), _date_arg("date_to")
    now = utcnow()
    count: list[int] = []
    criteria = [("action", action), ("company_id", company_id), ("actor", actor),
                ("date_from", date_from.isoformat() if date_from else ""),
                ("date_to", date_to.isoformat() if date_to else "")]
    response = _send_xlsx(lambda out: count.append(build_audit_export(
        queries.audit_rows(action=action, company_id=company_id, actor=actor, date_from=date_from, date_to=date_to),
        out, exported_at=now, criteria=criteria)), f"ctpat-audit-events-{_stamp(now)}.xlsx")
    _audit_export("export.audit_events", f"{count[0]} events")
    return response


# -- the offline import ------------------------------------------------------------------------------


@bp.route("/profiles/<int:profile_id>/questionnaire/import", methods=["POST"])
@login_required
def import_upload(profile_id: int):
    """Check an uploaded questionnaire completely; if it passes, keep it and show its preview."""
    profile = _load_profile(profile_id)
    ensure(permissions.can_import_questionnaire(current_user, profile))
    form = QuestionnaireUploadForm()
    if not form.validate_on_submit():
        return _render_excel_page(profile, form)
    upload = form.file.data
    data = upload.read(MAX_IMPORT_BYTES + 1)
    filename = upload.filename or "questionnaire.xlsx"
    if len(data) > MAX_IMPORT_BYTES:
        form.add_error("file", f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        return _render_excel_page(profile, form)
    try:
        parsed = read_and_validate(data, filename, services.expectation_for(profile, current_app.config["SECRET_KEY"]))
    except ImportRejected as rejected:
        form.add_error("file", f"The workbook was not imported: {len(rejected.problems)} problem(s), listed below. "
                               "Nothing was changed.")
        return _render_excel_page(profile, form, rejected.problems)
    row = services.store_import(profile, parsed, filename, by=current_user)
    db_session.commit()
    return redirect(url_for("exports.import_preview", profile_id=profile.id, import_id=row.id))


def _load_import(profile_id: int, import_id: int) -> tuple[SecurityProfile, Any]:
    profile = _load_profile(profile_id)
    ensure(permissions.can_import_questionnaire(current_user, profile))
    row = services.pending_import(profile, import_id, current_user)
    if row is None:
        abort(404)
    return profile, row


@bp.route("/profiles/<int:profile_id>/imports/<int:import_id>")
@login_required
def import_preview(profile_id: int, import_id: int):
    """Per criterion: new, changed, unchanged or in conflict with an online edit, old and new text."""
    profile, row = _load_import(profile_id, import_id)
    changes = services.preview(row, profile)
    form = ConfirmImportForm(fingerprint=plan_fingerprint(changes))
    form.overwrite.choices = [(c.criterion_id, c.criterion_id) for c in changes if c.kind == CONFLICT]
    return _render_preview(profile, row, changes, form)


def _render_preview(profile: SecurityProfile, row: Any, changes: list[Any], form: ConfirmImportForm,
                    status: int = 200) -> tuple[str, int]:
    from portal.catalog import get_catalog

    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in (NEW, "changed", UNCHANGED, CONFLICT)}
    return render_template(
        "exports/preview.html", profile=profile, account=profile.account, upload=row, changes=changes, form=form,
        counts=counts, catalog=get_catalog(profile.catalog_id), pending=row.status == ImportStatus.PENDING,
        expired=services.is_expired(row), shown=[c for c in changes if c.kind != UNCHANGED],
    ), status


@bp.route("/profiles/<int:profile_id>/imports/<int:import_id>/apply", methods=["POST"])
@login_required
def import_apply(profile_id: int, import_id: int):
    """Apply the confirmed preview in one transaction, or nothing at all."""
    profile, row = _load_import(profile_id, import_id)
    changes = services.preview(row, profile)
    form = ConfirmImportForm()
    form.overwrite.choices = [(c.criterion_id, c.criterion_id) for c in changes if c.kind == CONFLICT]
    if not form.validate_on_submit():
        return _render_preview(profile, row, changes, form, 400)
    try:
        saved = services.apply_import(row, profile, fingerprint=form.fingerprint.data or "",
                                      overwrite=set(form.overwrite.data or ()), by=current_user)
    except StaleEdit as error:
        db_session.rollback()
        flash(f"Nothing was imported. {error.message}", "error")
        return redirect(url_for("exports.import_preview", profile_id=profile.id, import_id=import_id))
    except services.PreviewOutdated as error:
        db_session.rollback()
        flash(f"{error.message} Nothing was imported yet.", "error")
        return redirect(url_for("exports.import_preview", profile_id=profile.id, import_id=import_id))
    except DomainError as error:
        db_session.rollback()
        flash(f"{error.message} Nothing was imported.", "error")
        return redirect(url_for("exports.profile_excel", profile_id=profile.id))
    db_session.commit()
    flash(f"{len(saved)} answer(s) imported from the workbook." if saved
          else "Nothing to import: the workbook matches the answers stored online.", "success")
    return redirect(url_for("profiles.overview", profile_id=profile.id))


@bp.route("/profiles/<int:profile_id>/imports/<int:import_id>/discard", methods=["POST"])
@login_required
def import_discard(profile_id: int, import_id: int):
    profile, row = _load_import(profile_id, import_id)
    services.discard_import(row, profile, by=current_user)
    db_session.commit()
    flash("The uploaded workbook was discarded; nothing was imported.", "success")
    return redirect(url_for("exports.profile_excel", profile_id=profile.id))


# The on-site verification pages and the ``flask export`` commands register on this blueprint (they
# import ``bp`` from here).
from portal.exports import cli, visit_routes  # noqa: E402, F401
