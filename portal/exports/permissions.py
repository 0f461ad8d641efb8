"""Who may download which export, who may import an offline questionnaire and who may import a validation's
visit workbook (DESIGN.md §5).

Trade users asking for CBP exports get 404 (as for another tenant's data); another company's users get
404 for every profile export; read-only members get 403 on the import.
"""

from __future__ import annotations

from typing import Any

from portal.auth.permissions import can_edit_profile, can_view_profile, is_member, is_staff
from portal.auth.roles import StaffRole


def can_export_visit_workbook(user: Any, profile: Any) -> bool:
    """The CBP validation copy (ratings, scores, "Verified on site") is for CBP staff only."""
    return is_staff(user) and can_view_profile(user, profile)


def can_export_partner_workbook(user: Any, profile: Any) -> bool:
    """The partner's copy of the profile workbook: members of the owning company."""
    return is_member(user, profile.account.company)


def can_download_questionnaire(user: Any, profile: Any) -> bool:
    """Any member of the owning company may take the questionnaire offline (read-only users too)."""
    return is_member(user, profile.account.company)


def can_import_questionnaire(user: Any, profile: Any) -> bool:
    """Editors (officer, employee, consultant) import answers, and only while the profile is editable."""
    return can_edit_profile(user, profile)


def can_export_action_plans(user: Any, profile: Any) -> bool:
    """Whoever sees the profile sees its action plans: the company's members and CBP staff."""
    return can_view_profile(user, profile)


def can_export_queue(user: Any) -> bool:
    """The review queue is CBP-internal."""
    return is_staff(user)


def can_export_audit(user: Any) -> bool:
    """The audit trail is exported by administrators only."""
    return is_staff(user, StaffRole.ADMIN)


def can_export_findings(user: Any, validation: Any) -> bool:
    """Whoever may read a validation's findings may take them away: CBP staff always, the company's
    members once the report was sent (the validations package's own rule)."""
    from portal.validations.permissions import can_view_findings

    return can_view_findings(user, validation)


def can_view_verification(user: Any, validation: Any) -> bool:
    """A validation's on-site verification and its visit workbook are CBP-internal: staff who see it."""
    from portal.validations.permissions import can_view_validation

    return is_staff(user) and can_view_validation(user, validation)


def can_import_verification(user: Any, validation: Any) -> bool:
    """Whoever records the validation's findings (its team and supervisors, until the report goes to the
    supervisor) imports the team's on-site verification."""
    from portal.validations.permissions import can_edit_findings

    return can_view_verification(user, validation) and can_edit_findings(user, validation)
