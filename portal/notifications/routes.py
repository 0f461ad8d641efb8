"""The signed-in user's notification preferences (the inbox itself is in portal/reviews/queue_routes.py)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.auth import NotificationPreferencesForm
from portal.db import db_session
from portal.notifications import preferences

bp = Blueprint("account_notifications", __name__, url_prefix="/account")


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def preferences_page():
    """Choose whether notifications are also sent by e-mail."""
    user = current_user._get_current_object()
    # An unticked box sends nothing: read the posted form even when it is empty (no CSRF field).
    form = NotificationPreferencesForm(formdata=request.form if request.method == "POST" else None,
                                       data={"email_notifications": user.email_notifications})
    if form.validate_on_submit():
        changed = preferences.set_email_notifications(user, bool(form.email_notifications.data))
        db_session.commit()
        if changed:
            flash("Your notifications will also be sent by e-mail." if user.email_notifications
                  else "Your notifications will appear in the portal only, not by e-mail.", "success")
        return redirect(url_for("account_notifications.preferences_page"))
    return render_template("notifications/preferences.html", form=form)
