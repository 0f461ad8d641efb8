"""Role enums for trade users (per company) and CBP staff (global), DESIGN.md §5."""

from __future__ import annotations

from enum import StrEnum


class CompanyRole(StrEnum):
    """A trade user's role in one company, held through a membership."""

    OFFICER = "officer"
    EMPLOYEE = "employee"
    CONSULTANT = "consultant"
    READ_ONLY = "read_only"

    @property
    def label(self) -> str:
        return {
            "officer": "Company officer",
            "employee": "Employee",
            "consultant": "Consultant",
            "read_only": "Read-only",
        }[self.value]

    @property
    def can_edit(self) -> bool:
        return self in {CompanyRole.OFFICER, CompanyRole.EMPLOYEE, CompanyRole.CONSULTANT}


class StaffRole(StrEnum):
    """A CBP staff role; staff accounts are created only by an admin or the CLI."""

    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"reviewer": "Reviewer (SCSS)", "supervisor": "Supervisor", "admin": "Administrator"}[self.value]
