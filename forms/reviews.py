"""Forms of the review: ratings per criterion, questions, recommendation and supervisor decision."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import Form, FormField, HiddenField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import PortalForm
from forms.questionnaire import field_key
from portal.catalog.schema import Criterion
from portal.reviews.scoring import Rating
from portal.reviews.workflow import Recommendation

RATING_CHOICES = [(rating.value, rating.label) for rating in Rating]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class RatingForm(Form):
    rating = RadioField("Rating", choices=RATING_CHOICES, validators=[Optional()])
    comment = TextAreaField("Comment to the partner", filters=[_strip], validators=[Length(max=4000)],
                            description="Required below meets. The partner sees it if the profile is returned.")
    checklist = MultiCheckboxField("Checklist", choices=[], validate_choice=True)
    version = HiddenField()

    def validate_comment(self, field: Any) -> None:
        if self.rating.data in {Rating.PARTIALLY_MEETS.value, Rating.DOES_NOT_MEET.value} and not field.data:
            raise ValidationError("Explain a rating below meets in a comment.")

    def validate_version(self, field: Any) -> None:
        if field.data and not str(field.data).isdecimal():  # "²".isdigit() is True, int("²") fails
            raise ValidationError("The form is damaged; reload the page.")


def build_rating_form(criteria: Iterable[Criterion]) -> type[PortalForm]:
    """One ``RatingForm`` per criterion, with the criterion's checklist as choices."""
    attrs: dict[str, Any] = {}
    for criterion in criteria:
        sub = type(f"RatingForm_{field_key(criterion.id)}", (RatingForm,), {
            "checklist": MultiCheckboxField("Checklist", choices=[(item, item) for item in criterion.checklist],
                                            validate_choice=True),
        })
        attrs[field_key(criterion.id)] = FormField(sub, label=f"{criterion.id} {criterion.title}")
    return type("RatingPageForm", (PortalForm,), attrs)


class QuestionForm(PortalForm):
    question = TextAreaField("Question to the partner", validators=[DataRequired("Write the question."),
                                                                    Length(max=4000)])


class RecommendForm(PortalForm):
    recommendation = RadioField("Recommendation", choices=[(r.value, r.label) for r in Recommendation],
                                validators=[InputRequired("Choose a recommendation.")])
    summary = TextAreaField("Summary", validators=[DataRequired("Write a summary of the review."),
                                                   Length(max=4000)])


class DecisionForm(PortalForm):
    decision = RadioField("Decision", choices=[("approve", "Approve the recommendation"),
                                               ("override", "Override with another outcome"),
                                               ("send_back", "Send back to the reviewer")],
                          validators=[InputRequired("Choose a decision.")])
    outcome = SelectField("Outcome when overriding", choices=[("", "- Select -")] +
                          [(r.value, r.label) for r in Recommendation], validators=[Optional()])
    reason = TextAreaField("Reason", validators=[Length(max=4000)],
                           description="Required to override or to send back.")

    def validate(self, extra_validators: Any = None) -> bool:
        # Not an inline validate_outcome: Optional() stops the field's chain on an empty value, so an
        # override without an outcome would pass and fail later as Recommendation(None) (a 500).
        valid = super().validate(extra_validators)
        if self.decision.data == "override" and self.outcome.data not in {r.value for r in Recommendation}:
            self.outcome.errors = [*self.outcome.errors, "Choose the outcome that replaces the recommendation."]
            return False
        return valid

    def validate_reason(self, field: Any) -> None:
        if self.decision.data in {"override", "send_back"} and not (field.data or "").strip():
            raise ValidationError("Give the reason.")


ASSIGN_SELECTED_MAX = 100


class _ReviewIdsField(SelectMultipleField):
    """Review ids ticked in the queue; anything that is not a whole number is refused in plain words."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            self.data = []
            raise ValueError("The selection is not valid: reload the queue and tick the reviews again.") from error


class AssignSelectedForm(PortalForm):
    """The queue's one assign form: the reviews ticked in the table (their checkboxes name this form)
    and the reviewer they go to."""

    review_ids = _ReviewIdsField("Reviews", coerce=int, validate_choice=False)
    reviewer_id = SelectField("Assign the selected reviews to", coerce=int, choices=[],
                              validators=[DataRequired("Choose a reviewer.")])

    def validate_review_ids(self, field: Any) -> None:
        if field.process_errors:
            return  # the unreadable selection is already reported
        if not field.data:
            raise ValidationError("Select at least one review in the table.")
        if len(set(field.data or ())) > ASSIGN_SELECTED_MAX:
            raise ValidationError(f"Select at most {ASSIGN_SELECTED_MAX} reviews at a time.")
