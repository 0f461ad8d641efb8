"""Named permission predicates ``can_<verb>_<noun>(user, obj) -> bool`` and ``ensure`` (DESIGN.md §5).

Objects of another tenant answer 404, not 403, so their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user

from portal.auth.models import User
from portal.auth.roles import CompanyRole, StaffRole
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import ApplicationStep

F = TypeVar("F", bound=Callable[..., Any])


def ensure(allowed: bool, *, not_found: bool = False) -> None:
    """Abort with 403 (or 404 to hide the object) unless ``allowed``."""
    if not allowed:
        abort(404 if not_found else 403)


def _role(user: Any, company_id: int) -> CompanyRole | None:
    if user is None or not getattr(user, "is_authenticated", False) or user.is_staff:
        return None
    return user.role_in(company_id)


def is_member(user: Any, company: Company) -> bool:
    """Whether the user belongs to the company in any role."""
    return _role(user, company.id) is not None


def can_view_company(user: Any, company: Company) -> bool:
    """Members see their company; CBP staff see every company."""
    return is_member(user, company) or (getattr(user, "is_authenticated", False) and user.is_staff)


def can_edit_company(user: Any, company: Company) -> bool:
    """Officers, employees and consultants edit the company profile; read-only users do not."""
    role = _role(user, company.id)
    return role is not None and role.can_edit


def can_manage_members(user: Any, company: Company) -> bool:
    """Only the company officer invites users, sets their roles and removes them."""
    return _role(user, company.id) == CompanyRole.OFFICER


def can_view_account(user: Any, account: TradeAccount) -> bool:
    """Members of the owning company and CBP staff see an account."""
    return can_view_company(user, account.company)


def can_edit_application(user: Any, account: TradeAccount) -> bool:
    """Editors may answer eligibility questions and enter identifiers until the application completes."""
    return can_edit_company(user, account.company) and account.application_step not in {ApplicationStep.COMPLETE}


def can_sign_agreement(user: Any, account: TradeAccount) -> bool:
    """Only the company officer signs the Partner Agreement, once the earlier steps are done."""
    return (
        _role(user, account.company_id) == CompanyRole.OFFICER
        and account.application_step == ApplicationStep.AGREEMENT
    )


def is_staff(user: Any, *roles: StaffRole) -> bool:
    """Whether the user is CBP staff (optionally in one of ``roles``)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    return not roles or user.staff_role in roles


def can_manage_users(user: Any) -> bool:
    """Only admins create staff accounts and manage users."""
    return is_staff(user, StaffRole.ADMIN)


def can_view_profile(user: Any, profile: Any) -> bool:
    """Members of the owning company and CBP staff see a security profile, its evidence and plans."""
    return can_view_company(user, profile.account.company)


def can_edit_profile(user: Any, profile: Any) -> bool:
    """Officers, employees and consultants edit answers, evidence and action plans while the profile
    is editable (not while it is submitted or in review)."""
    from portal.companies.workflow import TERMINAL

    return can_edit_company(user, profile.account.company) and profile.status.editable \
        and profile.account.status not in TERMINAL


def can_submit_profile(user: Any, profile: Any) -> bool:
    """Only the company officer attests and submits, and only an editable profile."""
    return _role(user, profile.account.company_id) == CompanyRole.OFFICER and can_edit_profile(user, profile)


def can_view_reviews(user: Any) -> bool:
    """CBP staff see the review queue and every review (trade users get 404)."""
    return is_staff(user)


def can_assign_reviews(user: Any) -> bool:
    """Supervisors (and admins) assign and reassign reviews."""
    return is_staff(user, StaffRole.SUPERVISOR, StaffRole.ADMIN)


def can_take_review(user: Any, review: Any) -> bool:
    """A reviewer may take an unassigned, undecided review from the shared queue."""
    return is_staff(user, StaffRole.REVIEWER, StaffRole.SUPERVISOR) and review.reviewer_id is None \
        and review.status.value != "decided"


def can_rate_review(user: Any, review: Any) -> bool:
    """Only the assigned reviewer rates, asks and recommends, while the review is open."""
    return is_staff(user) and review.reviewer_id == user.id and review.status.value in {"waiting", "in_progress"}


def can_decide_review(user: Any, review: Any) -> bool:
    """A supervisor who is neither the reviewer nor the recommender decides a recommendation."""
    return is_staff(user, StaffRole.SUPERVISOR, StaffRole.ADMIN) and review.status.value == "recommended" \
        and user.id not in {review.reviewer_id, review.recommended_by_id}


def staff_required(*roles: StaffRole) -> Callable[[F], F]:
    """Decorator for views reserved to CBP staff; trade users get 404, as for another tenant's data."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            ensure(is_staff(current_user, *roles), not_found=True)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


TEMPLATE_PREDICATES: dict[str, Callable[..., bool]] = {
    "can_view_company": can_view_company,
    "can_edit_company": can_edit_company,
    "can_manage_members": can_manage_members,
    "can_view_account": can_view_account,
    "can_edit_application": can_edit_application,
    "can_sign_agreement": can_sign_agreement,
    "can_manage_users": can_manage_users,
    "can_view_profile": can_view_profile,
    "can_edit_profile": can_edit_profile,
    "can_submit_profile": can_submit_profile,
    "can_view_reviews": can_view_reviews,
    "can_assign_reviews": can_assign_reviews,
    "can_take_review": can_take_review,
    "can_rate_review": can_rate_review,
    "can_decide_review": can_decide_review,
    "is_staff": is_staff,
}

__all__ = ["User", "ensure", "staff_required", "TEMPLATE_PREDICATES"]
