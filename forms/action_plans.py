"""Forms of action plans: the plan itself, its milestones and the list filters. No DB access: the
view sets the owner choices (company users) and the category choices (from the catalog)."""

from __future__ import annotations

from typing import Any

from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional, ValidationError

from forms.base import PortalForm
from portal.profiles.workflow import ActionPlanStatus

OTHER_OWNER = "other"
OTHER_OWNER_LABEL = "Another person (type the name)"
TEXT_MAX = 4_000
OWNER_NAME_MAX = 200
MILESTONE_TEXT_MAX = 500
PARTNER_STATUS_CHOICES = [(status.value, status.label) for status in
                          (ActionPlanStatus.OPEN, ActionPlanStatus.IN_PROGRESS, ActionPlanStatus.COMPLETED)]


class MaxChars:
    """Refuse a text over ``limit`` characters, saying how long it is (the browser's maxlength is
    never set, so pasted text is not cut silently; the server says by how much it is over)."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what

    def __call__(self, form: Any, field: Any) -> None:
        length = len(field.data or "")
        if length > self.limit:
            raise ValidationError(f"The {self.what} is {length:,} characters long; the limit is {self.limit:,}. "
                                  f"Shorten it by {length - self.limit:,} characters.")


def _is_id(value: object) -> bool:
    """Digits that fit a database id ("²".isdigit() is True but int("²") fails; 10**40 overflows)."""
    return str(value).isdecimal() and len(str(value)) <= 9


def owner_choices(users: list[tuple[int, str]]) -> list[tuple[str, str]]:
    """The owner select: a prompt, the company's users (id, name), then "another person"."""
    return [("", "- Select the owner -"), *((str(user_id), name) for user_id, name in users),
            (OTHER_OWNER, OTHER_OWNER_LABEL)]


class ActionPlanForm(PortalForm):
    gap = TextAreaField("Gap", validators=[DataRequired("Describe the gap: what is not yet in place."),
                                           MaxChars(TEXT_MAX, "gap")],
                        description="What is missing or only partly in place (at most 4,000 characters).")
    corrective_action = TextAreaField(
        "Corrective action",
        validators=[DataRequired("Describe the corrective action that will close the gap."),
                    MaxChars(TEXT_MAX, "corrective action")],
        description="What the company will do, and how it will show the gap is closed (at most 4,000 characters).")
    # Choices come from the view; the service checks that a chosen user belongs to the company, so a
    # crafted id gets a message on this field instead of a bare "Not a valid choice".
    owner = SelectField("Owner", choices=[], validate_choice=False,
                        validators=[DataRequired("Choose who owns the plan: a company user or another named person.")])
    owner_name = StringField("Name of the other person", validators=[MaxChars(OWNER_NAME_MAX, "name")],
                             description=f"Only when the owner is \u201c{OTHER_OWNER_LABEL}\u201d: their name and "
                                         "role, e.g. \u201cJ. Smith, warehouse manager\u201d.")
    target_date = DateField("Target date", validators=[DataRequired("Enter the target date as YYYY-MM-DD, "
                                                                    "e.g. 2026-09-30.")],
                            description="When the gap will be closed. A date in the past marks the plan overdue.")
    next = HiddenField()

    def validate_owner_name(self, field: Any) -> None:
        if self.owner.data == OTHER_OWNER and not field.data:
            raise ValidationError("Type the name of the person who owns the plan.")

    def validate_owner(self, field: Any) -> None:
        if field.data and field.data != OTHER_OWNER and not _is_id(field.data):
            raise ValidationError("Choose an owner from the list.")

    @property
    def owner_user_id(self) -> int | None:
        value = self.owner.data
        return int(value) if value and _is_id(value) else None

    @property
    def owner_other_name(self) -> str | None:
        return (self.owner_name.data or None) if self.owner.data == OTHER_OWNER else None


class EditActionPlanForm(ActionPlanForm):
    status = SelectField("Status", choices=PARTNER_STATUS_CHOICES,
                         validators=[DataRequired("Choose the status.")],
                         description="Overdue is shown automatically when the target date has passed.")
    version = HiddenField()

    @property
    def expected_version(self) -> int | None:
        value = self.version.data
        return int(value) if value and _is_id(value) else None


class MilestoneForm(PortalForm):
    text = StringField("Milestone", validators=[DataRequired("Describe the milestone."),
                                                MaxChars(MILESTONE_TEXT_MAX, "milestone")],
                       description="A step towards closing the gap (at most 500 characters).")
    due_date = DateField("Due date", validators=[Optional()], description="Optional, as YYYY-MM-DD.")
    next = HiddenField()


class NextForm(PortalForm):
    """The bare POST forms (delete, toggle): only CSRF and where to go back to."""

    next = HiddenField()


class ActionPlanFilterForm(PortalForm):
    """The list's GET filter form (no CSRF: it changes nothing). Invalid values are ignored."""

    class Meta:
        csrf = False

    status = SelectField("Status", choices=[("", "Any status"), *((s.value, s.label) for s in ActionPlanStatus)],
                         validators=[Optional()])
    overdue = SelectField("Overdue", choices=[("", "Overdue or not"), ("yes", "Overdue only"),
                                              ("no", "Not overdue")], validators=[Optional()])
    category = SelectField("Category", choices=[("", "All categories")], validators=[Optional()])
    sort = HiddenField()
