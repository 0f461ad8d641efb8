"""Sign-in, sign-out, registration, password change and password reset."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from forms.auth import ChangePasswordForm, ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from portal.auth import services
from portal.db import db_session
from portal.errors import DomainError
from portal.security import is_safe_next, start_session

bp = Blueprint("auth", __name__, url_prefix="/auth")

GENERIC_LOGIN_ERROR = "The e-mail address or password is not correct, or the account is locked. " \
    "After 5 failed attempts an account is locked for 15 minutes."


def _after_login_target() -> str:
    target = request.args.get("next") or request.form.get("next")
    return target if is_safe_next(target) else url_for("main.dashboard")


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
            user = services.authenticate(form.email.data, form.password.data)
        except services.LoginFailed:
            db_session.commit()  # keep the failure count and the audit event
            form.form_errors.append(GENERIC_LOGIN_ERROR)
        else:
            db_session.commit()
            session.clear()
            login_user(user)
            start_session(user)
            return redirect(_after_login_target())
    return render_template("auth/login.html", form=form, next=request.args.get("next", ""))


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
