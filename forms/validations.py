"""Validation forms: planning (with sites covered under an MRA and MR records), visits and the
partner's answer, findings and the report, answers to required actions, calendars, blackouts,
lifecycle actions and the annual review. No DB access: the views fill the choices."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from forms.base import PortalForm
from portal.companies.countries import COUNTRY_CHOICES
from portal.companies.workflow import AccountAction
from portal.validations.workflow import BEST_PRACTICE_REQUIREMENTS, FindingKind, NoGoReason, SiteMode

DATE_HINT = "For example 2027-03-15."
TZ_HINT = "The site's IANA time zone, for example America/Chicago or Asia/Shanghai."


class NewValidationForm(PortalForm):
    lead_id = SelectField("Lead reviewer", coerce=int, validators=[InputRequired("Choose the lead reviewer.")])
    due_on = DateField("Due by (optional)", validators=[Optional()],
                       description="Defaults to one year after certification, or four years after the last "
                                   "validation. " + DATE_HINT)


class TeamForm(PortalForm):
    lead_id = SelectField("Lead reviewer", coerce=int, validators=[InputRequired("Choose the lead reviewer.")])
    member_ids = SelectMultipleField("Other team members", coerce=int, validators=[Optional()])


class SiteForm(PortalForm):
    address_id = SelectField("Facility", coerce=int, validators=[InputRequired("Choose a facility.")])
    mode = RadioField("How the site is validated", choices=[(m.value, m.label) for m in SiteMode],
                      default=SiteMode.ONSITE.value, validators=[InputRequired("Choose on site or virtual.")])
    no_go = BooleanField("No-go zone: this site is not visited")
    no_go_reason = SelectField("Reason for the no-go zone",
                               choices=[("", "Choose a reason")] + [(r.value, r.label) for r in NoGoReason],
                               validators=[Optional()])
    no_go_note = TextAreaField("Note on the no-go zone", validators=[Optional(), Length(max=2000)])


class CoverSiteForm(PortalForm):
    """Mark one company site covered by the foreign program's validation (one click from the sites page)."""

    # A database id: past 2**31 - 1 no row can match (and PostgreSQL refuses the comparison outright).
    address_id = IntegerField("Site", validators=[InputRequired("Choose the site."),
                                                  NumberRange(1, 2**31 - 1, "Choose one of the company's facilities.")])
    note = TextAreaField("Why the foreign validation is relied on (optional)",
                         validators=[Optional(), Length(max=2000)],
                         description="For example: SAT validated the plant in 2025 with no findings.")


class WithdrawCoverageForm(PortalForm):
    note = TextAreaField("Why a CBP visit is planned instead (optional)", validators=[Optional(), Length(max=2000)])


class MrRecordForm(PortalForm):
    """A foreign partner validated under an MRA program: chosen from the register (then only the date
    is needed) or typed in. The view sets the register and program choices."""

    business_partner_id = SelectField("Partner from the register", choices=[("", "Not in the register")],
                                      validators=[Optional()],
                                      description="Partners whose AEO certification is recognised today.")
    partner_name = StringField("Partner name", validators=[Optional(), Length(max=200)])
    country = SelectField("Country", choices=[("", "- Select the country -"), *COUNTRY_CHOICES],
                          validators=[Optional()])
    program_id = SelectField("AEO program", choices=[], validate_choice=False, validators=[Optional()])
    certificate_number = StringField("AEO certificate number", validators=[Optional(), Length(max=60)])
    validated_on = DateField("Date of the foreign validation",
                             validators=[InputRequired("Enter the date of the foreign validation.")],
                             description=DATE_HINT)
    notes = TextAreaField("Notes (seen by CBP only)", validators=[Optional(), Length(max=2000)])


class _WindowFields(PortalForm):
    start_date = DateField("First day", validators=[InputRequired("Give the first day.")], description=DATE_HINT)
    start_time = TimeField("Start time (local)", validators=[InputRequired("Give the start time.")],
                           description="24-hour clock at the site, for example 09:00.")
    end_date = DateField("Last day", validators=[InputRequired("Give the last day.")], description=DATE_HINT)
    end_time = TimeField("End time (local)", validators=[InputRequired("Give the end time.")],
                         description="24-hour clock at the site, for example 17:00.")


class VisitForm(_WindowFields):
    site_id = SelectField("Site", coerce=int, validators=[InputRequired("Choose the site.")])
    timezone = StringField("Time zone", validators=[InputRequired("Give the site's time zone."), Length(max=64)],
                           description=TZ_HINT)
    override_reason = TextAreaField("Reason to override the 30-day notice (supervisors only)",
                                    validators=[Optional(), Length(max=2000)],
                                    description="Only needed when the visit starts in less than 30 days.")
    version = HiddenField()


class RescheduleForm(_WindowFields):
    timezone = StringField("Time zone", validators=[InputRequired("Give the site's time zone."), Length(max=64)],
                           description=TZ_HINT)
    override_reason = TextAreaField("Reason to override the 30-day notice (supervisors only)",
                                    validators=[Optional(), Length(max=2000)])
    version = HiddenField()


class VisitResponseForm(PortalForm):
    """The partner confirms the window, or proposes another one (in the site's time zone) with a reason."""

    decision = RadioField("Your answer", choices=[("confirm", "Confirm this window"),
                                                  ("propose", "Propose another window")],
                          validators=[InputRequired("Choose whether you confirm or propose another window.")])
    start_date = DateField("First day", validators=[Optional()], description=DATE_HINT)
    start_time = TimeField("Start time (site's local time)", validators=[Optional()])
    end_date = DateField("Last day", validators=[Optional()], description=DATE_HINT)
    end_time = TimeField("End time (site's local time)", validators=[Optional()])
    reason = TextAreaField("Why another window", validators=[Optional(), Length(max=2000)])
    version = HiddenField()


class ReasonForm(PortalForm):
    reason = TextAreaField("Reason", validators=[InputRequired("Give the reason."), Length(max=2000)])


class VersionForm(PortalForm):
    version = HiddenField()


class SuggestForm(PortalForm):
    site_id = SelectField("Site", coerce=int, validators=[InputRequired("Choose the site.")])
    from_day = DateField("Earliest first day", validators=[InputRequired("Give the start of the range.")],
                         description=DATE_HINT)
    to_day = DateField("Latest last day", validators=[InputRequired("Give the end of the range.")],
                       description=DATE_HINT)
    days = IntegerField("Length in days", default=2,
                        validators=[InputRequired("Give the length."), NumberRange(1, 10, "Between 1 and 10 days.")])
    timezone = StringField("Time zone", validators=[InputRequired("Give the site's time zone."), Length(max=64)],
                           description=TZ_HINT)

    class Meta:
        csrf = False  # a GET search form: it changes nothing


class FindingForm(PortalForm):
    criterion_id = SelectField("Criterion", validators=[InputRequired("Choose the criterion.")])
    kind = RadioField("Kind of finding", choices=[(k.value, k.label) for k in FindingKind],
                      validators=[InputRequired("Choose the kind of finding.")])
    text = TextAreaField("Finding", validators=[InputRequired("Describe the finding."), Length(max=10_000)])
    due_on = DateField("Due date (required actions)", validators=[Optional()],
                       description="Defaults to 90 days from today. " + DATE_HINT)


class ReportForm(PortalForm):
    summary = TextAreaField("Report summary",
                            validators=[InputRequired("Write the report summary."), Length(max=10_000)])


class AnswerForm(PortalForm):
    action_plan = TextAreaField("Action plan", validators=[InputRequired("Describe the action plan."),
                                                           Length(max=10_000)],
                                description="What the company did or will do, who is responsible and by when.")
    evidence_ids = SelectMultipleField("Evidence from your library", coerce=int, validators=[Optional()])
    file = FileField("Upload new evidence (optional)")
    title = StringField("Title of the new document (optional)", validators=[Optional(), Length(max=200)])


class ReviewAnswerForm(PortalForm):
    decision = RadioField("Decision", choices=[("accept", "Accept the answer"), ("reject", "Reject: answer again")],
                          validators=[InputRequired("Choose accept or reject.")])
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=10_000)],
                            description="Required when rejecting: say what is missing.")


class RecogniseForm(PortalForm):
    requirements = SelectMultipleField("Requirements met", choices=list(BEST_PRACTICE_REQUIREMENTS),
                                       validators=[Optional()])


class BlackoutForm(PortalForm):
    starts_on = DateField("First day", validators=[InputRequired("Give the first day.")], description=DATE_HINT)
    ends_on = DateField("Last day", validators=[InputRequired("Give the last day.")], description=DATE_HINT)
    reason = StringField("Reason", validators=[InputRequired("Give the reason."), Length(max=200)],
                         description="For example: plant shutdown, national holiday.")


LIFECYCLE_CHOICES = [(AccountAction.SUSPEND.value, "Suspend"), (AccountAction.REINSTATE.value, "Reinstate"),
                     (AccountAction.REMOVE.value, "Remove"),
                     (AccountAction.WITHDRAW.value, "Withdraw (at the partner's request)")]


class LifecycleForm(PortalForm):
    action = RadioField("Action", choices=LIFECYCLE_CHOICES, validators=[InputRequired("Choose an action.")])
    reason = TextAreaField("Reason", validators=[InputRequired("Give the reason."), Length(max=4000)])
    corrective_action_plan = TextAreaField("Corrective action plan (suspensions)",
                                           validators=[Optional(), Length(max=4000)],
                                           description="The objectives and timeframes the partner must meet "
                                                       "to be reinstated.")
    due_on = DateField("Corrective action plan due (suspensions)", validators=[Optional()], description=DATE_HINT)


class ConfirmForm(PortalForm):
    """Confirm one criterion (``criterion_id``) or a whole category (``category``) unchanged."""

    criterion_id = StringField(validators=[Optional(), Length(max=10)])
    category = IntegerField(validators=[Optional()])


class AttestForm(PortalForm):
    typed_name = StringField("Type your full name to attest",
                             validators=[InputRequired("Type your full name to attest."), Length(max=200)])
