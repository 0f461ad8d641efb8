"""Who may see and change MRA programs, partner registers and an account's foreign certifications.

Members of the company see its register and editors (officer, employee, consultant) change it; CBP
staff see it; admins keep the MRA list; another company's user gets 404 (DESIGN.md §5).
"""

from __future__ import annotations

from typing import Any

from portal.auth.permissions import can_edit_company, can_view_account, is_staff
from portal.auth.roles import StaffRole


def can_view_partners(user: Any, account: Any) -> bool:
    """Members of the account's company and CBP staff see its partner register and summary."""
    return can_view_account(user, account)


def can_edit_partners(user: Any, account: Any) -> bool:
    """Officers, employees and consultants add, change, import and remove partners; read-only users and
    CBP staff do not."""
    return can_edit_company(user, account.company)


def can_manage_mra_programs(user: Any) -> bool:
    """Only admins keep the MRA reference list (add programs, record status changes)."""
    return is_staff(user, StaffRole.ADMIN)


def can_view_supply_chain(user: Any, account: Any) -> bool:
    """The reviewer view of an account's supply chain is for CBP staff."""
    return is_staff(user)


def can_edit_account_mra(user: Any, account: Any) -> bool:
    """The company's editors record their own foreign AEO certifications; staff read them."""
    return can_edit_company(user, account.company)


TEMPLATE_PREDICATES = {
    "can_view_partners": can_view_partners,
    "can_edit_partners": can_edit_partners,
    "can_manage_mra_programs": can_manage_mra_programs,
    "can_view_supply_chain": can_view_supply_chain,
    "can_edit_account_mra": can_edit_account_mra,
}
