"""The audit viewer's filter form (a GET form: it changes nothing, so it carries no CSRF token)."""

from __future__ import annotations

from typing import Any

from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from forms.base import PortalForm

DATE_HINT = "Eastern Time. For example 2026-03-31."


class AuditFilterForm(PortalForm):
    """Company, actor, action and a date range; the view fills the company and action choices."""

    company = SelectField("Company", choices=[("", "All companies")], validators=[Optional()])
    actor = StringField("Actor e-mail", validators=[Optional(), Length(max=254)],
                        description="Part of the e-mail address of the person who acted.")
    action = SelectField("Action", choices=[("", "All actions")], validators=[Optional()])
    date_from = DateField("From", validators=[Optional()], description=DATE_HINT)
    date_to = DateField("To", validators=[Optional()], description=DATE_HINT)

    class Meta:
        csrf = False

    def validate_date_to(self, field: Any) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date must be on or after the start date.")
