"""Forms of the MRA programs and the business-partner register. No DB access: the views set the choices
of MRA programs and evidence documents; the services check meaning (duplicates, required pairs)."""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import PortalForm
from portal.companies.countries import COUNTRY_CHOICES
from portal.partners.enums import (
    AssessmentResult,
    AssessmentType,
    CertificationKind,
    CtpatStatus,
    DatePrecision,
    MraStatus,
    PartnerRole,
    RiskRating,
    ScreeningStatus,
)

DATE_HINT = "For example 2025-03-15."


def _choices(enum_cls: Any, blank: str | None = None) -> list[tuple[str, str]]:
    options = [(member.value, member.label) for member in enum_cls]
    return [("", blank), *options] if blank is not None else options


def _enum_or_none(enum_cls: Any, value: str | None) -> Any:
    return enum_cls(value) if value else None


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (works without JS, unlike a multi-select box on phones)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- MRA programs ----------------------------------------------------------------------------------


class MraProgramForm(PortalForm):
    code = StringField("Code", validators=[DataRequired("Enter a short code."), Length(max=8)],
                       description="A short key used by imports: the partner's ISO code (e.g. MX), EU for the Union.")
    partner = StringField("Partner", validators=[DataRequired("Enter the partner's name."), Length(max=100)],
                          description="The country or union the arrangement is with, e.g. Guatemala.")
    countries = StringField("Countries certified by the program",
                            validators=[DataRequired("Enter at least one country code."), Length(max=200)],
                            description="ISO codes separated by commas, e.g. GT (or every member state for the EU).")
    customs_administration = StringField("Customs administration",
                                         validators=[DataRequired("Enter the customs administration."),
                                                     Length(max=300)])
    program_name = StringField("AEO program", validators=[DataRequired("Enter the program's name."), Length(max=300)])
    notes = TextAreaField("Notes (optional)", validators=[Optional(), Length(max=2000)])


class MraStatusForm(PortalForm):
    status = RadioField("New status", choices=_choices(MraStatus),
                        validators=[InputRequired("Choose the status that takes effect.")])
    effective_on = DateField("Effective date", validators=[InputRequired("Enter the date as YYYY-MM-DD.")],
                             description="The day the joint work plan or MRA was signed, or the suspension began.")
    precision = RadioField("How precise is the date?", choices=_choices(DatePrecision), default="day",
                           validators=[InputRequired("Say whether the day is known.")])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=2000)],
                         description="Where and how it was signed, or the source.")


# --- business partners -----------------------------------------------------------------------------


class PartnerForm(PortalForm):
    name = StringField("Name", validators=[DataRequired("Enter the partner's name."), Length(max=200)])
    role = SelectField("Role", choices=_choices(PartnerRole, "- Select the role -"),
                       validators=[DataRequired("Choose the partner's role.")])
    country = SelectField("Country", choices=[("", "- Select the country -"), *COUNTRY_CHOICES],
                          validators=[DataRequired("Choose the country.")])
    address = StringField("Address (optional)", validators=[Optional(), Length(max=300)])
    city = StringField("City (optional)", validators=[Optional(), Length(max=100)])
    ctpat_eligible = BooleanField("The partner is eligible for CTPAT",
                                  description="Carriers, brokers, consolidators, 3PLs and Mexican manufacturers can "
                                              "join CTPAT; most foreign suppliers cannot.")
    certification = RadioField("Certification the partner claims", choices=_choices(CertificationKind),
                               default=CertificationKind.NONE.value,
                               validators=[InputRequired("Choose the partner's certification.")])
    ctpat_account_number = StringField("CTPAT account number", validators=[Optional(), Length(max=20)],
                                       description="Only for CTPAT partners: the account (SVI) number they gave you.")
    ctpat_status = SelectField("CTPAT status", choices=_choices(CtpatStatus, "- Only for CTPAT partners -"),
                               validators=[Optional()])
    mra_program_id = SelectField("AEO program", choices=[], validate_choice=False, validators=[Optional()],
                                 description="Only for partners certified abroad: the program from the MRA list.")
    certificate_number = StringField("AEO certificate number", validators=[Optional(), Length(max=60)])
    certificate_expires_on = DateField("AEO certificate expiry", validators=[Optional()], description=DATE_HINT)
    evidence_ids = MultiCheckboxField("Evidence from the library", coerce=int, choices=[], validators=[Optional()],
                                      description="Certificates, completed questionnaires, audit reports.")
    last_assessed_on = DateField("Date of the last security assessment", validators=[Optional()],
                                 description=DATE_HINT)
    last_assessment_type = SelectField("Type of assessment", choices=_choices(AssessmentType, "- None yet -"),
                                       validators=[Optional()])
    last_assessment_result = SelectField("Result", choices=_choices(AssessmentResult, "- None yet -"),
                                         validators=[Optional()])
    risk_rating = SelectField("Risk rating", choices=_choices(RiskRating, "- Not rated yet -"),
                              validators=[Optional()],
                              description="Sets the next review: high yearly, medium every 2 years, low every 3.")
    risk_reason = TextAreaField("Reason for the rating", validators=[Optional(), Length(max=2000)],
                                description="The threat at origin and transit, the partner's role, past findings.")
    next_review_override = DateField("Next review date (override)", validators=[Optional()],
                                     description="Leave blank to derive it from the risk rating and the last "
                                                 "assessment. " + DATE_HINT)
    notes = TextAreaField("Notes (optional)", validators=[Optional(), Length(max=4000)])
    version = HiddenField()

    def partner_data(self) -> dict[str, Any]:
        """The typed values, as keyword arguments of ``services.PartnerInput``."""
        return {
            "name": self.name.data or "", "role": PartnerRole(self.role.data), "country": self.country.data or "",
            "address": self.address.data or "", "city": self.city.data or "",
            "ctpat_eligible": bool(self.ctpat_eligible.data),
            "certification": CertificationKind(self.certification.data),
            "ctpat_account_number": self.ctpat_account_number.data or None,
            "ctpat_status": _enum_or_none(CtpatStatus, self.ctpat_status.data),
            "mra_program_id": int(self.mra_program_id.data) if (self.mra_program_id.data or "").isdecimal()
            and len(self.mra_program_id.data) <= 9 else None,
            "certificate_number": self.certificate_number.data or None,
            "certificate_expires_on": self.certificate_expires_on.data,
            "last_assessed_on": self.last_assessed_on.data,
            "last_assessment_type": _enum_or_none(AssessmentType, self.last_assessment_type.data),
            "last_assessment_result": _enum_or_none(AssessmentResult, self.last_assessment_result.data),
            "risk_rating": _enum_or_none(RiskRating, self.risk_rating.data),
            "risk_reason": self.risk_reason.data or "", "next_review_override": self.next_review_override.data,
            "notes": self.notes.data or "", "evidence_ids": tuple(self.evidence_ids.data or ()),
        }


class RegisterFilterForm(PortalForm):
    """The register's GET filters (no CSRF: it changes nothing). Invalid values are ignored."""

    class Meta:
        csrf = False

    q = StringField("Name contains", validators=[Optional(), Length(max=200)])
    status = SelectField("Screening status", choices=_choices(ScreeningStatus, "Any status"), validators=[Optional()])
    country = SelectField("Country", choices=[("", "Any country")], validators=[Optional()])
    role = SelectField("Role", choices=_choices(PartnerRole, "Any role"), validators=[Optional()])


class PartnerImportForm(PortalForm):
    file = FileField("Partner list", validators=[FileRequired("Choose a CSV or XLSX file to upload.")],
                     description="CSV or Excel workbook (.xlsx), at most 5 MB and 5,000 rows, with the template's "
                                 "header row.")


class ConfirmForm(PortalForm):
    """A POST that only needs its CSRF token (confirm or discard an import, delete a row)."""


# --- the account's own foreign certification -------------------------------------------------------


class AccountMraForm(PortalForm):
    program_id = SelectField("AEO program", choices=[], validate_choice=False,
                             validators=[DataRequired("Choose the program from the MRA list.")])
    certificate_number = StringField("Certificate number",
                                     validators=[DataRequired("Enter the certificate number."), Length(max=60)])
    certified_on = DateField("Certified on (optional)", validators=[Optional()], description=DATE_HINT)
    expires_on = DateField("Expires on", validators=[InputRequired("Enter the expiry date as YYYY-MM-DD.")],
                           description=DATE_HINT)
