"""The questionnaire forms: one sub-form per criterion, built per request from the catalog."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import Form, FormField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from forms.base import PortalForm
from portal.catalog.schema import Criterion
from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX, ImplementationStatus

STATUS_CHOICES = [(status.value, status.label) for status in ImplementationStatus]


def field_key(criterion_id: str) -> str:
    """Form field names cannot hold dots: criterion 3.4 becomes ``c_3_4``."""
    return "c_" + criterion_id.replace(".", "_")


class MaxChars:
    """Length limit whose message gives the count, so the user knows how much to cut."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what

    def __call__(self, form: Any, field: Any) -> None:
        length = len(field.data or "")
        if length > self.limit:
            raise ValidationError(f"The {self.what} is {length:,} characters long; the limit is {self.limit:,}. "
                                  f"Shorten it by {length - self.limit:,} characters.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class AnswerForm(Form):
    """One criterion's answer; sub-forms carry no CSRF token of their own (the page form does)."""

    status = RadioField("Implementation status", choices=STATUS_CHOICES, validators=[Optional()],
                        validate_choice=True)
    narrative = TextAreaField("How the company meets this criterion", filters=[_strip],
                              validators=[MaxChars(NARRATIVE_MAX, "narrative")])
    justification = TextAreaField("Why this criterion does not apply", filters=[_strip],
                                  validators=[MaxChars(JUSTIFICATION_MAX, "justification")])
    version = HiddenField()

    def validate_version(self, field: Any) -> None:
        if field.data and not str(field.data).isdecimal():  # "²".isdigit() is True, int("²") fails
            raise ValidationError("The form is damaged; reload the page.")


def build_category_form(criteria: Iterable[Criterion]) -> type[PortalForm]:
    """A fresh form class with one ``AnswerForm`` per criterion, named ``c_<id>``."""
    attrs: dict[str, Any] = {
        criterion_field: FormField(AnswerForm, label=f"{criterion.id} {criterion.title}")
        for criterion in criteria
        for criterion_field in [field_key(criterion.id)]
    }
    return type("CategoryForm", (PortalForm,), attrs)


class AutosaveForm(PortalForm):
    """One criterion saved in the background (fetch with the CSRF header)."""

    status = StringField(validators=[Optional()])
    narrative = TextAreaField(validators=[MaxChars(NARRATIVE_MAX, "narrative")])
    justification = TextAreaField(validators=[MaxChars(JUSTIFICATION_MAX, "justification")])
    version = HiddenField()

    def validate_status(self, field: Any) -> None:
        if field.data and field.data not in {s.value for s in ImplementationStatus}:
            raise ValidationError("Choose an implementation status from the list.")

    def validate_version(self, field: Any) -> None:
        if field.data and not str(field.data).isdecimal():  # "²".isdigit() is True, int("²") fails
            raise ValidationError("The form is damaged; reload the page.")


class SubmitForm(PortalForm):
    typed_name = StringField("Type your full name to attest", validators=[DataRequired("Type your full name."),
                                                                           Length(max=200)])
    confirm = RadioField("Attestation", choices=[("yes", "I attest to the statement above")],
                         validators=[DataRequired("Confirm the attestation.")])
