"""The home page, each user's dashboard, and the health check for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from portal.auth.models import Membership
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import AccountStatus
from portal.db import db_session
from portal.profiles.models import SecurityProfile

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return render_template("main/home.html")


@bp.route("/dashboard")
@login_required
def dashboard():
    """Trade users see their companies and accounts; CBP staff see the program at a glance."""
    if current_user.is_staff:
        counts = dict(db_session.execute(
            select(TradeAccount.status, func.count()).group_by(TradeAccount.status)
        ).all())
        recent = db_session.scalars(
            select(TradeAccount).options(selectinload(TradeAccount.company))
            .where(TradeAccount.applied_at.is_not(None))
            .order_by(TradeAccount.applied_at.desc()).limit(20)
        ).all()
        return render_template("main/staff_dashboard.html", counts=counts, recent=recent, statuses=list(AccountStatus))
    memberships = db_session.scalars(
        select(Membership).where(Membership.user_id == current_user.id)
        .options(selectinload(Membership.company).selectinload(Company.accounts))
        .order_by(Membership.id)
    ).all()
    # Every account's profile in one query (a company may hold an account per business type).
    account_ids = [account.id for m in memberships for account in m.company.accounts]
    profiles = {profile.account_id: profile for profile in db_session.scalars(
        select(SecurityProfile).where(SecurityProfile.account_id.in_(account_ids)))} if account_ids else {}
    return render_template("main/dashboard.html", memberships=memberships, profiles=profiles)


@bp.route("/healthz")
def healthz():
    """Liveness and database reachability, as JSON, for load balancers."""
    try:
        db_session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        db_session.rollback()
        database = "unavailable"
    healthy = database == "ok"
    response = jsonify({"status": "ok" if healthy else "degraded", "database": database})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
