"""Administration: the list of users and the creation of CBP staff accounts."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from forms.auth import StaffUserForm
from portal.auth import services
from portal.auth.models import User
from portal.auth.permissions import staff_required
from portal.auth.roles import StaffRole
from portal.db import db_session
from portal.errors import DomainError

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@login_required
@staff_required(StaffRole.ADMIN)
def users():
    """List users and create CBP staff accounts (trade users register themselves)."""
    form = StaffUserForm()
    if form.validate_on_submit():
        try:
            user = services.create_staff_user(form.email.data, form.full_name.data, StaffRole(form.role.data),
                                              form.password.data, by=current_user)
        except DomainError as error:
            db_session.rollback()
            form.add_error(error.field, error.message)
        else:
            db_session.commit()
            flash(f"The {user.staff_role.label.lower()} account {user.email} is created.", "success")
            return redirect(url_for("admin.users"))
    all_users = db_session.scalars(select(User).order_by(User.staff_role.is_(None), User.email)).all()
    return render_template("admin/users.html", form=form, users=all_users)
