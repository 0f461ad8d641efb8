"""Sign-in (password, then a second factor when the user has or needs one), MFA enrolment and
settings, re-authentication, sign-out, registration, password change and password reset."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from forms.auth import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    MfaCodeForm,
    MfaSetupForm,
    ReauthForm,
    RegisterForm,
    ResetPasswordForm,
)
from portal import audit
from portal.auth import mfa, services
from portal.auth.models import User
from portal.auth.passwords import verify_password
from portal.auth.permissions import can_manage_users
from portal.auth.reauth import ensure_recent_auth, mark_recent_auth, require_recent_auth
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError
from portal.security import is_safe_next, start_session

bp = Blueprint("auth", __name__, url_prefix="/auth")

GENERIC_LOGIN_ERROR = "The e-mail address or password is not correct, or the account is locked. " \
    "After 5 failed attempts an account is locked for 15 minutes."
LOCKED_MESSAGE = "Too many failed attempts: the account is locked for 15 minutes. Sign in again later."
PENDING_EXPIRED = "Your sign-in took too long. Sign in again."

# Pages a signed-in member of CBP staff without an authenticator may still open (MFA is required).
_ENROLMENT_ENDPOINTS = {"auth.mfa_setup", "auth.logout", "auth.reauth", "static"}


def _after_login_target() -> str:
    target = request.args.get("next") or request.form.get("next")
    return target if is_safe_next(target) else url_for("main.dashboard")


def _sign_in(user: User) -> None:
    """Start a fresh session for a user whose every factor is checked (after the commit)."""
    session.clear()
    login_user(user)
    start_session(user)


@bp.before_app_request
def _require_enrolment() -> Any:
    """A member of CBP staff signed in without an authenticator (a session from before MFA was
    required) sets one up before anything else."""
    if request.endpoint in _ENROLMENT_ENDPOINTS or not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    if mfa.mfa_required(user) and not user.mfa_enrolled:
        flash("Set up two-step verification to continue: it is required for CBP staff accounts.", "info")
        return redirect(url_for("auth.mfa_setup"))
    return None


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Trade users create their own account; CBP staff accounts are made by an admin."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.email.data, form.full_name.data, form.password.data)
        except DomainError as error:
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            login_user(user)
            start_session(user)
            target = request.args.get("next")
            if is_safe_next(target):
                flash("Your account is ready.", "success")
                return redirect(target)
            flash("Your account is ready. Next, add your company to start a CTPAT application.", "success")
            return redirect(url_for("companies.new_company"))
    return render_template("auth/register.html", form=form, next=request.args.get("next", ""))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_after_login_target())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data,
                                         needs_second_factor=mfa.needs_second_factor)
        except services.LoginFailed:
            db_session.commit()  # keep the failure count and the audit event
            form.form_errors.append(GENERIC_LOGIN_ERROR)
        else:
            target = _after_login_target()
            if mfa.needs_second_factor(user):
                # Not signed in yet: the code (or the enrolment of an authenticator) comes first.
                db_session.commit()
                session.clear()
                mfa.start_pending(user, target)
                return redirect(url_for("auth.mfa_verify" if user.mfa_enrolled else "auth.mfa_setup"))
            db_session.commit()
            _sign_in(user)
            return redirect(target)
    return render_template("auth/login.html", form=form, next=request.args.get("next", ""))


def _locked_out() -> Any:
    """End a pending sign-in (or session) whose account just got locked."""
    mfa.clear_pending()
    if current_user.is_authenticated:
        logout_user()
    session.clear()
    flash(LOCKED_MESSAGE, "error")
    return redirect(url_for("auth.login"))


@bp.route("/mfa", methods=["GET", "POST"])
def mfa_verify():
    """The second step of signing in: a code from the authenticator app or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    user = mfa.pending_user()
    if user is None:
        mfa.clear_pending()
        flash(PENDING_EXPIRED, "info")
        return redirect(url_for("auth.login"))
    if not user.mfa_enrolled:
        return redirect(url_for("auth.mfa_setup"))
    form = MfaCodeForm()
    if form.validate_on_submit():
        target = (mfa.pending() or {}).get("next") or ""
        try:
            kind = mfa.verify_second_factor(user, form.code.data)
        except mfa.SecondFactorFailed as failure:
            db_session.commit()  # keep the failure count and the audit event
            if failure.locked:
                return _locked_out()
            form.add_error("code", mfa.WRONG_CODE)
            form.code.data = ""  # a one-time code is never shown back
        else:
            services.complete_login(user, summary="with a recovery code" if kind == "recovery" else "with MFA")
            left = mfa.remaining_recovery_codes(user) if kind == "recovery" else None
            db_session.commit()
            _sign_in(user)
            if left is not None:
                flash(f"You signed in with a recovery code; {left} unused code(s) left. "
                      "Create new recovery codes on the Security page if you are running out.", "warning")
            return redirect(target if is_safe_next(target) else url_for("main.dashboard"))
    return render_template("auth/mfa_verify.html", form=form)


def _enrolment_user() -> tuple[User | None, bool]:
    """Who is setting up an authenticator: the signed-in user, or the user of a pending sign-in
    (``True``: the sign-in completes with the enrolment)."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), False
    return mfa.pending_user(), True


@bp.route("/mfa/setup", methods=["GET", "POST"])
def mfa_setup():
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a first code,
    then note the recovery codes, shown once."""
    user, signing_in = _enrolment_user()
    if user is None:
        mfa.clear_pending()
        flash(PENDING_EXPIRED, "info")
        return redirect(url_for("auth.login"))
    if user.mfa_enrolled:
        if signing_in:
            return redirect(url_for("auth.mfa_verify"))
        flash("Two-step verification is already set up.", "info")
        return redirect(url_for("auth.security"))
    if not signing_in:
        # Adding an authenticator to an open session needs a fresh proof of identity (a stolen
        # session must not be able to attach the thief's phone).
        stale = ensure_recent_auth()
        if stale is not None:
            return stale
    if request.method == "POST" and services.is_locked(user):
        return _locked_out()
    form = MfaSetupForm()
    if request.method == "POST" and request.form.get("start"):
        # "Begin set-up": create the seed (a POST, so no GET ever changes state) and show the QR code.
        mfa.begin_enrolment(user)
        db_session.commit()
        form = MfaSetupForm(formdata=None)
    elif form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(user, form.code.data)
        except DomainError as error:
            locked = services.is_locked(user)
            db_session.commit()  # keep the failure count and the audit event
            if locked:
                return _locked_out()
            form.add_error(error.field, error.message)
        else:
            if signing_in:
                target = (mfa.pending() or {}).get("next") or ""
                services.complete_login(user, summary="after setting up MFA")
                db_session.commit()
                _sign_in(user)
            else:
                target = url_for("auth.security")
                db_session.commit()
            # Shown in this response only: the codes are never stored in clear, not even in the session.
            return render_template("auth/recovery_codes.html", codes=codes, enrolled=True,
                                   next=target if is_safe_next(target) else url_for("main.dashboard"))
    if request.method == "POST" and not user.totp_secret:
        mfa.begin_enrolment(user)
        db_session.commit()
    if not user.totp_secret:
        # No seed yet: the page offers "Begin set-up" (a GET only reads).
        return render_template("auth/mfa_setup.html", form=form, secret=None, qr_uri=None, signing_in=signing_in,
                               required=mfa.mfa_required(user))
    return render_template("auth/mfa_setup.html", form=form, secret=mfa.grouped(user.totp_secret),
                           qr_uri=mfa.qr_data_uri(mfa.provisioning_uri(user)), signing_in=signing_in,
                           required=mfa.mfa_required(user))


@bp.route("/security")
@login_required
def security():
    """The user's two-step verification: status, recovery codes left, set up or turn off."""
    user = current_user._get_current_object()
    return render_template("auth/security.html", user=user, required=mfa.mfa_required(user),
                           codes_left=mfa.remaining_recovery_codes(user) if user.mfa_enrolled else 0)


@bp.route("/mfa/recovery-codes", methods=["POST"])
@login_required
@require_recent_auth()
def regenerate_recovery_codes():
    user = current_user._get_current_object()
    try:
        codes = mfa.regenerate_recovery_codes(user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return redirect(url_for("auth.security"))
    db_session.commit()
    return render_template("auth/recovery_codes.html", codes=codes, enrolled=False, next=url_for("auth.security"))


@bp.route("/mfa/disable", methods=["POST"])
@login_required
@require_recent_auth()
def disable_mfa():
    try:
        mfa.disable_mfa(current_user._get_current_object())
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash("Two-step verification is turned off. You will sign in with your password alone.", "success")
    return redirect(url_for("auth.security"))


@bp.route("/users/<int:user_id>/mfa/reset", methods=["POST"])
@login_required
@require_recent_auth()
def reset_user_mfa(user_id: int):
    """An administrator removes a user's authenticator (lost phone); the user's sessions end."""
    if not can_manage_users(current_user):
        abort(404)
    user = db_session.get(User, user_id)
    if user is None:
        abort(404)
    try:
        mfa.reset_mfa(user, by=current_user._get_current_object())
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
    else:
        db_session.commit()
        flash(f"Two-step verification of {user.email} is reset. They set it up again at their next sign-in.",
              "success")
    return redirect(url_for("admin.users"))


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
def reauth():
    """Confirm your identity (password, plus a code when enrolled) before a sensitive action."""
    user = current_user._get_current_object()
    form = ReauthForm()
    target = request.args.get("next") or request.form.get("next")
    target = target if is_safe_next(target) else url_for("main.dashboard")
    if form.validate_on_submit():
        if services.is_locked(user):
            audit.record("auth.login_locked", obj=user, summary="Re-authentication attempted while locked")
            db_session.commit()
            return _locked_out()
        if not verify_password(user.password_hash, form.password.data):
            locked = services.register_failure(user, utcnow(), action="auth.reauth_failed", actor=user,
                                               summary="Wrong password when confirming identity")
            db_session.commit()
            if locked:
                return _locked_out()
            form.add_error("password", "The password is not correct.")
        elif user.mfa_enrolled and not (form.code.data or "").strip():
            form.add_error("code", "Enter the code from your authenticator app or a recovery code.")
        else:
            try:
                if user.mfa_enrolled:
                    mfa.verify_second_factor(user, form.code.data, purpose="re-authentication")
            except mfa.SecondFactorFailed as failure:
                db_session.commit()
                if failure.locked:
                    return _locked_out()
                form.add_error("code", mfa.WRONG_CODE)
                form.code.data = ""  # a one-time code is never shown back
            else:
                audit.record("auth.reauth", actor=user, obj=user)
                db_session.commit()
                mark_recent_auth()
                return redirect(target)
    return render_template("auth/reauth.html", form=form, next=target, mfa_enrolled=user.mfa_enrolled)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    services.logout(current_user._get_current_object())
    db_session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            # The token rotated: sign this browser in again with the new one; all others are out.
            login_user(user)
            start_session(user)
            flash("Your password is changed. Other sessions were signed out.", "success")
            return redirect(url_for("main.dashboard"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(
            form.email.data, lambda token: url_for("auth.reset_password", token=token, _external=True)
        )
        db_session.commit()
        flash("If an account exists for that address, we sent a link to reset its password. "
              "The link works for one hour.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if services.find_reset_token(token) is None:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data)
        except DomainError as error:
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash("Your password is reset. Sign in with the new password.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, token=token)
