"""The audit viewer: the whole trail for CBP supervisors and admins (/audit), and a company's own
history for its officer (/companies/<id>/history). Both are read-only GET pages with filters and pages.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from forms.audit import AuditFilterForm
from portal import audit_queries as queries
from portal.auth.permissions import can_manage_members, can_view_company, ensure, is_staff
from portal.auth.roles import StaffRole
from portal.companies.queries import get_company_or_404
from portal.pagination import page_numbers, parse_page

bp = Blueprint("audit", __name__)


@bp.app_template_global()
def can_view_audit(user: Any) -> bool:
    """CBP supervisors and admins read the whole audit trail."""
    return is_staff(user, StaffRole.SUPERVISOR, StaffRole.ADMIN)


@bp.app_template_global()
def can_view_company_history(user: Any, company: Any) -> bool:
    """The company officer reads the company's own history."""
    return can_manage_members(user, company)


def can_export_audit_view(user: Any) -> bool:
    """The export of the trail is for admins (portal/exports/permissions.can_export_audit)."""
    try:
        from portal.exports.permissions import can_export_audit
    except ImportError:  # pragma: no cover - the exports package is optional here
        return False
    return can_export_audit(user)


def _filter_form(*, companies: list[tuple[int, str]] | None, actions: list[str]) -> tuple[AuditFilterForm,
                                                                                         queries.AuditFilters]:
    form = AuditFilterForm(formdata=request.args if request.args else None)
    if companies is None:
        del form.company
        del form.actor
    else:
        form.company.choices = [("", "All companies"), *((str(cid), name) for cid, name in companies)]
    form.action.choices = [("", "All actions"), *((action, action) for action in actions)]
    if request.args and not form.validate():
        # Keep the filters that are valid; the error summary says which ones were not.
        data = {name: field.data for name, field in form._fields.items() if not field.errors}
    else:
        data = form.data
    return form, queries.filters_from(data)


@bp.route("/audit")
@login_required
def index():
    """Every audit event, newest first, filtered by company, actor, action and date range."""
    ensure(is_staff(current_user), not_found=True)
    ensure(can_view_audit(current_user))
    form, filters = _filter_form(companies=queries.company_choices(), actions=queries.distinct_actions())
    result = queries.events_page(filters, parse_page(request.args.get("page")))
    export_args = {key: value for key, value in
                   (("action", filters.action), ("company_id", filters.company_id)) if value}
    return render_template(
        "audit/index.html", form=form, filters=filters, result=result, list_args=filters.as_args(),
        page_numbers=page_numbers(result.page, result.pages),
        can_export=can_export_audit_view(current_user), export_args=export_args,
        export_partial=bool(filters.actor or filters.date_from or filters.date_to),
    )


@bp.route("/companies/<int:company_id>/history")
@login_required
def company_history(company_id: int):
    """The company's own history for its officer: what its users did, and CBP's decisions."""
    company = get_company_or_404(company_id)
    ensure(can_view_company(current_user, company), not_found=True)
    ensure(can_view_company_history(current_user, company))
    form, filters = _filter_form(companies=None, actions=queries.distinct_actions(company_scope=company.id))
    result = queries.events_page(filters, parse_page(request.args.get("page")), company_scope=company.id)
    return render_template(
        "audit/company_history.html", company=company, form=form, filters=filters, result=result,
        list_args=filters.as_args(), page_numbers=page_numbers(result.page, result.pages),
    )
