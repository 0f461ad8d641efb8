"""The review queue and the reviewer and supervisor dashboards (CBP staff only; trade users get 404),
and the in-app notifications inbox of every signed-in user."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, get_template_attribute, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from forms.reviews import AssignSelectedForm
from portal.auth.models import User
from portal.auth.permissions import can_assign_reviews, can_take_review, ensure, staff_required
from portal.db import db_session
from portal.errors import DomainError
from portal.fragment_cache import fragment_cache, page_cache, row_cache
from portal.notifications import inbox
from portal.notifications.inbox import unread_count
from portal.pagination import page_numbers, parse_page
from portal.reviews import dashboards, queries, queue, services
from portal.reviews.workflow import Recommendation, ReviewStatus
from portal.security import csrf_token, is_safe_next
from portal.templating import layout_key

bp = Blueprint("queue", __name__)


@bp.route("/reviews")
@login_required
@staff_required()
def index():
    """Submitted profiles waiting for, or in, review: filters, search, sorting and pages."""
    filters = queue.QueueFilters.from_args(request.args)
    sort = queue.QueueSort.from_args(request.args)
    result = queue.queue_page(filters, sort, parse_page(request.args.get("page")), user=current_user)
    can_assign = can_assign_reviews(current_user)
    # One reviewer list per page (not per row): the page stays the same size however many staff there are.
    assignable = can_assign and any(row.status != ReviewStatus.DECIDED for row in result.rows)
    me = current_user._get_current_object()
    list_args = {**filters.as_args(), **sort.as_args()}
    # A search's parts are rendered afresh: its text makes them one-off, and they would push the pages'
    # fragments out of the cache.
    cached = not filters.q
    reviewers = services.reviewer_choices() if assignable else []
    current_url = request.full_path.rstrip("?")
    rows = _cached_rows("queue_row", [(row, can_take_review(me, row), assignable) for row in result.rows])
    # The rest of the page comes from the page cache, keyed by what it shows besides the rows: the
    # filters, order and page (and the URL the assign form returns to), the counts, the assignment
    # choices and the layout.
    key = ("queue.index", request.script_root, current_url, filters, sort, result.total, result.page, result.pages,
           len(result.rows), assignable, tuple(reviewers), layout_key()) if cached else None

    def render(csrf: Any, request_id: str, body: Markup) -> str:
        return render_template(
            "queue/index.html", result=result, filters=filters, sort=sort, list_args=list_args,
            filter_form=_cached_part("filter_form", cached, filters, sort, queue.STATUS_CHOICES,
                                     queue.ASSIGNED_CHOICES, queue.TARGET_DAYS),
            table_head=_cached_part("table_head", cached, filters, sort) if result.rows else "",
            rows=body, page_numbers=page_numbers(result.page, result.pages), reviewers=reviewers,
            can_assign=assignable, sort_labels=queue.SORT_LABELS, target_days=queue.TARGET_DAYS,
            current_url=current_url, csrf_token=csrf, request_id=request_id,
        )

    return page_cache().render_page(key, render, rows)


def _key_of(value: Any) -> Hashable:
    """``value`` as part of a cache key: a dict (the choices) as a tuple of its items."""
    return tuple(value.items()) if isinstance(value, dict) else value


def _cached_part(name: str, cached: bool, *args: Any) -> Markup:
    """The macro ``name`` of queue/_parts.html (the filter form, the table's header), rendered through
    the fragment cache when ``cached``.

    These parts are functions of their arguments alone (the filters, the sort, the choices), so the
    arguments and the root path their links start with are the key: a reviewer working the queue renders
    them once per combination, not once per page view. They must hold no form with a CSRF token: the
    placeholder is not passed on, so a part that asked for ``csrf_token()`` would cache the session's
    own token and serve it to other users (a form belongs in the page or in a row, as "Take" is).
    """
    macro = get_template_attribute("queue/_parts.html", name)
    key = ("queue", name, request.script_root, *map(_key_of, args)) if cached else None
    return fragment_cache().render(key, lambda _placeholder: macro(*args))


def _cached_rows(name: str, rows: Iterable[tuple[Hashable, ...]]) -> Markup:
    """The macro ``name`` of queue/_rows.html for each tuple of arguments in ``rows``, rendered through
    the row cache, as one piece of HTML.

    A row's HTML is a function of the macro's arguments (a QueueRow, a named tuple, and the user's
    rights on it), so they are the key, with the root path its links start with. A reviewer paging
    through the queue renders each row once for as long as it does not change. The rows are looked up
    here rather than by a loop in the template: Jinja's call of a Python function cost more than the
    cached row's lookup itself.
    """
    macro = get_template_attribute("queue/_rows.html", name)
    cache = row_cache()
    root = request.script_root
    token: list[str] = []

    def csrf() -> str:  # the session's token, looked up once for all the rows of the page
        if not token:
            token.append(csrf_token())
        return token[0]

    return Markup("".join([  # noqa: S704 - rows rendered by an autoescaping template
        cache.render((name, root, *args), lambda placeholder, args=args: macro(*args, csrf=placeholder), csrf)
        for args in rows]))


@bp.route("/reviews/assign", methods=["POST"])
@login_required
@staff_required()
def assign_selected():
    """Supervisors assign the reviews ticked in the queue to one reviewer, all or none, and return to
    the same queue page."""
    ensure(can_assign_reviews(current_user))
    form = AssignSelectedForm()
    form.reviewer_id.choices = services.reviewer_choices()
    target = request.form.get("next")
    back = redirect(target if is_safe_next(target) else url_for("queue.index"))
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return back
    reviews = queries.reviews_by_ids(form.review_ids.data)
    if len(reviews) != len(set(form.review_ids.data)):
        flash("Some of the selected reviews no longer exist; nothing was assigned.", "error")
        return back
    reviewer = db_session.get(User, form.reviewer_id.data)
    try:
        count = services.assign_many(reviews, reviewer, by=current_user)
    except DomainError as error:
        db_session.rollback()
        flash(error.message, "error")
        return back
    db_session.commit()
    flash(f"{count} review{'' if count == 1 else 's'} assigned to {reviewer.full_name}.", "success")
    return back


@bp.route("/reviews/dashboard")
@login_required
@staff_required()
def dashboard():
    """The reviewer's own counts and overdue reviews; supervisors also see approvals, the average
    time to certification and decisions per month."""
    mine = dashboards.reviewer_dashboard(current_user)
    supervisor: dict[str, Any] = {}
    if can_assign_reviews(current_user):
        summary = dashboards.decision_summary()
        months = summary.months
        supervisor = {
            "awaiting": dashboards.awaiting_approval(),
            "certification": summary.certification,
            "months": months,
            "chart": [{"label": m.label, "value": m.total,
                       "detail": ", ".join(f"{o.label} {m.counts.get(o, 0)}" for o in Recommendation)}
                      for m in months],
            "chart_max": max([m.total for m in months] + [1]),
        }
    return render_template("queue/dashboard.html", mine=mine, supervisor=supervisor, ReviewStatus=ReviewStatus,
                           overdue_items=_cached_rows("overdue_item", [(row,) for row in mine.my_overdue.rows]),
                           Recommendation=Recommendation, target_days=queue.TARGET_DAYS)


# -- notifications ---------------------------------------------------------------------------------


def _safe_link(link: str | None) -> str | None:
    """A notification's link, only when it is a same-site path or an http(s) URL."""
    if not link:
        return None
    if is_safe_next(link):
        return link
    return link if urlsplit(link).scheme in {"http", "https"} and urlsplit(link).netloc else None


@bp.route("/notifications")
@login_required
def notifications():
    """The signed-in user's notifications, newest first, unread ones marked."""
    page = inbox.inbox_page(current_user.id, parse_page(request.args.get("page")))
    g.unread_notifications = page.unread  # the header shows the same count without asking again
    return render_template("notifications/index.html", inbox=page, safe_link=_safe_link,
                           page_numbers=page_numbers(page.page, page.pages),
                           current_url=request.full_path.rstrip("?"))


def _back() -> Any:
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("queue.notifications"))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int):
    """Mark one of your own notifications read; anyone else's answers 404."""
    notification = inbox.own_notification(current_user.id, notification_id)
    if notification is None:
        abort(404)
    inbox.mark_read(notification)
    db_session.commit()
    flash(f"Marked as read: {notification.title}", "success")
    return _back()


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read():
    changed = inbox.mark_all_read(current_user.id)
    db_session.commit()
    flash(f"{changed} notification{'' if changed == 1 else 's'} marked as read.", "success")
    return _back()


def unread_notifications() -> int | None:
    """``unread_notifications()`` for the header: the signed-in user's unread count, or None when
    nobody is signed in or the database cannot answer (an error page must still render)."""
    if not getattr(current_user, "is_authenticated", False):
        return None
    if "unread_notifications" not in g:
        try:
            g.unread_notifications = unread_count(current_user.id)
        except SQLAlchemyError:
            g.unread_notifications = None
    return g.unread_notifications


# A template global, set once (a context processor would copy it into every render).
bp.record_once(lambda state: state.app.jinja_env.globals.update(unread_notifications=unread_notifications))
