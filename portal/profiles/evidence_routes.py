"""The evidence library of a company: upload, link to criteria, download.

Endpoints (blueprint ``evidence``):

- ``evidence.library``            GET/POST ``/companies/<company_id>/evidence``
- ``evidence.criterion_evidence`` POST ``/profiles/<profile_id>/criteria/<criterion_id>/evidence``
  (a new file, or ``evidence_id`` of a library document)
- ``evidence.delete_link``        POST ``/profiles/<profile_id>/evidence-links/<link_id>/delete``
- ``evidence.download``           GET  ``/evidence/<evidence_id>/download``

Another company's profile, document or link, and a criterion the profile does not have, answer 404
before anything changes; a visible action the user may not take answers 403 (DESIGN.md §5).
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.evidence import EvidenceUploadForm, LinkEvidenceForm
from portal.auth.permissions import can_edit_company, can_edit_profile, can_view_company, can_view_profile, ensure
from portal.catalog.schema import Criterion
from portal.companies.models import Company
from portal.companies.queries import get_company_or_404
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles import evidence as services
from portal.profiles.models import EvidenceFile, EvidenceLink, SecurityProfile
from portal.profiles.services import applicable_criterion, catalog_of
from portal.profiles.sniffing import ACCEPT_ATTRIBUTE, ALLOWED_DESCRIPTION, MAX_EVIDENCE_BYTES
from portal.profiles.storage import get_storage
from portal.security import is_safe_next

bp = Blueprint("evidence", __name__)

CATEGORY_ENDPOINT = "profiles.category"
# A download is never rendered by the browser, so it gets no rights at all if it ever were.
DOWNLOAD_CSP = "default-src 'none'; sandbox"


# The partial is rendered by the questionnaire's views too; the rules it states come from one place. Template
# globals, set once (a context processor would copy them into every render).
bp.record_once(lambda state: state.app.jinja_env.globals.update(
    evidence_allowed=ALLOWED_DESCRIPTION, evidence_accept=ACCEPT_ATTRIBUTE,
    evidence_max_mb=MAX_EVIDENCE_BYTES // (1024 * 1024)))


def criterion_anchor(criterion_id: str) -> str:
    """The fragment id of a criterion on its category page: 3.4 -> ``c-3-4``."""
    return "c-" + criterion_id.replace(".", "-")


def _profile_or_404(profile_id: int) -> SecurityProfile:
    profile = db_session.get(SecurityProfile, profile_id)
    if profile is None:
        abort(404)
    ensure(can_view_profile(current_user, profile), not_found=True)
    return profile


def _criterion_or_404(profile: SecurityProfile, criterion_id: str) -> Criterion:
    criterion = applicable_criterion(profile, criterion_id)
    if criterion is None:
        abort(404)
    return criterion


def _back_to_criterion(profile: SecurityProfile, criterion_id: str, next_url: str | None) -> str:
    """The category page at the criterion; else a safe local ``next``; else the company's library."""
    url = _category_url(profile, criterion_id)
    if url is not None:
        return url
    if next_url and is_safe_next(next_url):
        return next_url
    return url_for("evidence.library", company_id=profile.account.company_id)


def _read_upload(form: EvidenceUploadForm) -> tuple[bytes, str]:
    """The uploaded bytes (read one past the limit, so the size check sees an oversized file
    without us reading an arbitrary amount) and the name the browser sent."""
    upload = form.file.data
    return upload.stream.read(MAX_EVIDENCE_BYTES + 1), upload.filename or ""


@bp.route("/companies/<int:company_id>/evidence", methods=["GET", "POST"])
@login_required
def library(company_id: int) -> Any:
    """The company's evidence library: every document, where it is used, and an upload form."""
    company = get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    can_upload = can_edit_company(current_user, company)
    form = EvidenceUploadForm()
    if request.method == "POST":
        ensure(can_upload)
        if form.validate_on_submit():
            data, filename = _read_upload(form)
            try:
                evidence, created = services.upload_evidence(
                    company, data, filename, title=form.title.data, effective_date=form.effective_date.data,
                    by=current_user)
            except DomainError as error:
                db_session.rollback()
                form.add_error(error.field, error.message)
            else:
                db_session.commit()
                if created:
                    flash(f"“{evidence.display_name}” is added to the evidence library.", "success")
                else:
                    flash(f"The library already holds this document as “{evidence.display_name}”; "
                          "it was not stored again.", "info")
                return redirect(url_for("evidence.library", company_id=company.id) + f"#evidence-{evidence.id}")
    return _render_library(company, form=form, can_upload=can_upload)


def _render_library(company: Company, **context: Any) -> str:
    documents = services.company_library(company.id)
    links = services.links_by_evidence(document.id for document in documents)
    # Where each link's criterion is answered (None until the questionnaire's category page exists).
    link_urls: dict[int, str | None] = {}
    for pairs in links.values():
        for link, profile in pairs:
            link_urls[link.id] = _category_url(profile, link.criterion_id)
    return render_template("evidence/library.html", company=company, documents=documents, links=links,
                           link_urls=link_urls, **context)


def _category_url(profile: SecurityProfile, criterion_id: str) -> str | None:
    catalog = catalog_of(profile)
    if CATEGORY_ENDPOINT not in current_app.view_functions or not catalog.has_criterion(criterion_id):
        return None
    return url_for(CATEGORY_ENDPOINT, profile_id=profile.id,
                   number=catalog.criterion(criterion_id).category) + "#" + criterion_anchor(criterion_id)


@bp.route("/profiles/<int:profile_id>/criteria/<criterion_id>/evidence", methods=["POST"])
@login_required
def criterion_evidence(profile_id: int, criterion_id: str) -> Any:
    """Upload a new document and link it to the criterion, or link a library document
    (when the form carries ``evidence_id``)."""
    profile = _profile_or_404(profile_id)
    criterion = _criterion_or_404(profile, criterion_id)
    ensure(can_edit_profile(current_user, profile))
    company = profile.account.company
    if "evidence_id" in request.form:
        return _link_existing(profile, criterion)

    form = EvidenceUploadForm()
    if form.validate_on_submit():
        data, filename = _read_upload(form)
        try:
            evidence, created = services.upload_evidence(
                company, data, filename, title=form.title.data, effective_date=form.effective_date.data,
                by=current_user)
            _, linked = services.link_evidence(profile, criterion.id, evidence, current_user)
        except services.EvidenceNotFound:
            db_session.rollback()
            abort(404)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            if created:
                flash(f"“{evidence.display_name}” is uploaded and linked to criterion {criterion.id}.", "success")
            elif linked:
                flash(f"The library already holds this document as “{evidence.display_name}”; it was not "
                      f"stored again, and is now linked to criterion {criterion.id}.", "info")
            else:
                flash(f"“{evidence.display_name}” was already linked to criterion {criterion.id}.", "info")
            return redirect(_back_to_criterion(profile, criterion.id, form.next.data))
    # The category page belongs to the questionnaire; the failed upload is shown on its own page,
    # with the message at the file field and the other fields as typed.
    return _render_library(company, profile=profile, criterion=criterion, upload_form=form,
                           criterion_links=services.links_by_criterion(profile).get(criterion.id, []),
                           back_url=_back_to_criterion(profile, criterion.id, form.next.data))


def _link_existing(profile: SecurityProfile, criterion: Criterion) -> Any:
    form = LinkEvidenceForm()
    back = _back_to_criterion(profile, criterion.id, form.next.data)
    if not form.validate_on_submit():
        flash("Choose a document from the library to link.", "error")
        return redirect(back)
    evidence = services.company_evidence(profile.account.company_id, form.evidence_id.data)
    if evidence is None:
        abort(404)
    try:
        _, created = services.link_evidence(profile, criterion.id, evidence, current_user)
    except services.EvidenceNotFound:
        db_session.rollback()
        abort(404)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db_session.commit()
    flash(f"“{evidence.display_name}” is linked to criterion {criterion.id}." if created
          else f"“{evidence.display_name}” was already linked to criterion {criterion.id}.",
          "success" if created else "info")
    return redirect(back)


@bp.route("/profiles/<int:profile_id>/evidence-links/<int:link_id>/delete", methods=["POST"])
@login_required
def delete_link(profile_id: int, link_id: int) -> Any:
    """Detach a document from a criterion; the document stays in the library."""
    profile = _profile_or_404(profile_id)
    link = db_session.get(EvidenceLink, link_id)
    if link is None or link.profile_id != profile.id:
        abort(404)
    ensure(can_edit_profile(current_user, profile))
    criterion_id, name = link.criterion_id, link.evidence.display_name
    back = _back_to_criterion(profile, criterion_id, request.form.get("next"))
    try:
        services.unlink_evidence(link, current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db_session.commit()
    flash(f"“{name}” is no longer linked to criterion {criterion_id}; it stays in the library.", "success")
    return redirect(back)


@bp.route("/evidence/<int:evidence_id>/download")
@login_required
def download(evidence_id: int) -> Response:
    """The document, always as an attachment with its allowlisted type, for the company's users
    and CBP staff."""
    evidence = db_session.get(EvidenceFile, evidence_id)
    if evidence is None:
        abort(404)
    company = db_session.get(Company, evidence.company_id)
    ensure(company is not None and can_view_company(current_user, company), not_found=True)
    try:
        handle = get_storage().open(evidence.storage_key)
    except FileNotFoundError:
        current_app.logger.error("Evidence %s has no stored file (key %s)", evidence.id, evidence.storage_key)
        abort(404)
    response = send_file(handle, mimetype=evidence.content_type, as_attachment=True,
                         download_name=evidence.original_name, conditional=False, etag=False, max_age=None)
    # Exactly the allowlisted type (Werkzeug would append a second charset to our text types).
    response.headers["Content-Type"] = evidence.content_type
    response.headers["Content-Disposition"] = content_disposition(evidence.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` for old clients and the exact name as an RFC 5987
    ``filename*`` (Werkzeug adds the latter only for non-ASCII names; we always send both)."""
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in fallback).strip() or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
