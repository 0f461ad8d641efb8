"""Submission of the security profile (gates and attestation), its frozen versions, and the
per-criterion diff between two versions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.questionnaire import SubmitForm
from portal.auth.permissions import can_submit_profile, can_view_profile, ensure
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles import queries, services, submission

bp = Blueprint("submissions", __name__)


def _load(profile_id: int):  # noqa: ANN202
    profile = queries.get_profile_or_404(profile_id)
    ensure(can_view_profile(current_user, profile), not_found=True)
    return profile


@bp.route("/profiles/<int:profile_id>/submit", methods=["GET", "POST"])
@login_required
def submit(profile_id: int):
    """Check the gates; the officer attests and submits, freezing version N+1."""
    profile = _load(profile_id)
    form = SubmitForm()
    can_submit = can_submit_profile(current_user, profile)
    if request.method == "POST":
        ensure(can_submit)
        if form.validate():
            try:
                version = submission.submit_profile(profile, form.typed_name.data, by=current_user)
            except DomainError as error:
                db_session.rollback()
                form.add_error(error.field, error.message)
            else:
                db_session.commit()
                flash(f"Version {version.number} of the security profile is submitted to CBP. "
                      "It is read-only while CBP reviews it.", "success")
                return redirect(url_for("submissions.show_version", profile_id=profile.id, number=version.number))
    problems = submission.problems_for(profile) if profile.status.editable else []
    return render_template("profiles/submit.html", profile=profile, account=profile.account, form=form,
                           problems=problems, can_submit=can_submit, attestation=submission.ATTESTATION_TEXT,
                           catalog=services.catalog_of(profile))


@bp.route("/profiles/<int:profile_id>/versions")
@login_required
def versions(profile_id: int):
    profile = _load(profile_id)
    return render_template("profiles/versions.html", profile=profile, account=profile.account,
                           versions=queries.versions_of(profile))


@bp.route("/profiles/<int:profile_id>/versions/<int:number>")
@login_required
def show_version(profile_id: int, number: int):
    """A submitted version, read-only, exactly as frozen."""
    profile = _load(profile_id)
    version = queries.get_version_or_404(profile, number)
    catalog = services.catalog_of(profile)
    return render_template("profiles/version.html", profile=profile, account=profile.account, version=version,
                           catalog=catalog, verified=submission.content_sha256(version.content) == version.sha256)


@bp.route("/profiles/<int:profile_id>/diff")
@login_required
def diff(profile_id: int):
    """Per-criterion differences between two versions (?from=N&to=M)."""
    profile = _load(profile_id)
    try:
        old_number = int(request.args.get("from", ""))
        new_number = int(request.args.get("to", ""))
    except ValueError:
        abort(404)
    if not (0 < old_number < 2**31 and 0 < new_number < 2**31):
        abort(404)
    if not (0 < old_number < 2**31 and 0 < new_number < 2**31):
        abort(404)  # past the integer column: no such version (and no driver error)
    old = queries.get_version_or_404(profile, old_number)
    new = queries.get_version_or_404(profile, new_number)
    rows = submission.diff_versions(old.content, new.content)
    only_changes = request.args.get("all") != "1"
    return render_template("profiles/diff.html", profile=profile, account=profile.account, old=old, new=new,
                           rows=[r for r in rows if r.change != "unchanged"] if only_changes else rows,
                           unchanged=sum(1 for r in rows if r.change == "unchanged"), only_changes=only_changes,
                           catalog=services.catalog_of(profile))
