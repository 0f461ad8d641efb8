"""Jinja globals and filters: permission predicates, enums, date formatting, the CSP-safe asset URLs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g

from portal.auth.permissions import TEMPLATE_PREDICATES
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.business_types import BusinessType
from portal.companies.workflow import AccountStatus, ApplicationStep

DISPLAY_TZ = ZoneInfo("America/New_York")


def format_datetime(value: datetime | None, fmt: str = "%b %d, %Y %H:%M %Z") -> str:
    """Show a UTC timestamp in Eastern time (CBP headquarters), with the zone named."""
    if value is None:
        return ""
    return value.astimezone(DISPLAY_TZ).strftime(fmt)


def format_date(value: date | datetime | None, fmt: str = "%b %d, %Y") -> str:
    if value is None:
        return ""
    return value.strftime(fmt)


def _account_profile(account: Any) -> Any:
    from portal.profiles.services import profile_for_account

    return profile_for_account(account)


def _profile_review(profile: Any) -> Any:
    from portal.reviews.queries import current_review

    return current_review(profile)


def init_app(app: Flask) -> None:
    """Register helpers used by every template."""
    app.jinja_env.globals.update(TEMPLATE_PREDICATES)
    app.jinja_env.globals.update(
        CompanyRole=CompanyRole,
        StaffRole=StaffRole,
        BusinessType=BusinessType,
        AccountStatus=AccountStatus,
        ApplicationStep=ApplicationStep,
    )
    app.jinja_env.globals["account_profile"] = _account_profile
    app.jinja_env.globals["profile_review"] = _profile_review
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    @app.context_processor
    def _context() -> dict[str, Any]:
        return {"request_id": g.get("request_id", "")}
