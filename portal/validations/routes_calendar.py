"""Calendar pages: a reviewer's month of visits, the personal feed (made, shown once, revoked) and the
feed itself, reached by its secret token without signing in (calendar clients cannot sign in)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from forms.validations import VersionForm
from portal import clock
from portal.auth.permissions import staff_required
from portal.db import db_session
from portal.validations import calendar, ics
from portal.validations.routes import bp


@bp.route("/calendar")
@login_required
@staff_required()
def month():
    """The signed-in reviewer's visits in a month grid (``?month=YYYY-MM``), with local times."""
    first = calendar.parse_month(request.args.get("month"), clock.today())
    return render_template("validations/calendar.html", month=calendar.month_view(current_user, first),
                           today=clock.today(), feed=calendar.active_token(current_user))


@bp.route("/calendar/feed", methods=["GET", "POST"])
@login_required
@staff_required()
def feed_settings():
    """Make a new feed URL (the old one stops working) or revoke it; the URL is shown once."""
    form = VersionForm()
    new_url = None
    if request.method == "POST" and form.validate():
        if request.form.get("revoke"):
            count = calendar.revoke_tokens(current_user, by=current_user)
            db_session.commit()
            flash("The calendar feed link is revoked." if count else "There was no active feed link.", "success")
            return redirect(url_for("validations.feed_settings"))
        token = calendar.new_token(current_user, by=current_user)
        db_session.commit()
        new_url = url_for("validations.feed", token=token, _external=True)
    return render_template("validations/feed.html", form=form, feed=calendar.active_token(current_user),
                           new_url=new_url)


@bp.route("/calendar/feed/<token>.ics")
def feed(token: str):
    """All visits of the token's reviewer as an iCalendar feed; a revoked or unknown token is 404."""
    user = calendar.user_for_token(token)
    if user is None:
        abort(404)
    visits = calendar.reviewer_visits(user)
    body = ics.build_calendar(
        calendar.visit_events(visits, lambda v: url_for("validations.show", validation_id=v.validation_id,
                                                        _external=True)),
        name=f"CTPAT visits of {user.full_name}", stamp=clock.utcnow())
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "no-store"
    return response
