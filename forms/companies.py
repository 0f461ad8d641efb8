"""Forms of the company profile, addresses, users and the CTPAT application steps."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Email, InputRequired, Length, NumberRange, Optional, Regexp

from forms.base import PortalForm
from portal.auth.roles import CompanyRole
from portal.companies.business_types import BusinessType, ConsolidatorSubtype, HighwayBorder
from portal.companies.countries import COUNTRY_CHOICES
from portal.companies.identifiers import IdentifierKind
from portal.companies.workflow import AddressKind, OwnershipType

# At least 7 digits; the rest may be spaces and the usual separators.
PHONE = Regexp(r"^\+?(?=(?:\D*\d){7})[0-9 ()./-]{7,25}$",
               message="Enter a phone number with 7 to 25 digits, spaces, +, - or ().")
COUNTRY_OPTIONS = [("", "- Select a country -"), *COUNTRY_CHOICES]


def _choices(enum: Any, blank: str | None = None) -> list[tuple[str, str]]:
    options = [(member.value, member.label) for member in enum]
    return [("", blank), *options] if blank else options


class CompanyForm(PortalForm):
    legal_name = StringField("Legal name", validators=[DataRequired("Enter the company's legal name."),
                                                       Length(max=200)])
    dba = StringField("Doing business as (DBA)", validators=[Optional(), Length(max=200)],
                      description="Leave empty if the company trades under its legal name.")
    ownership_type = SelectField("Ownership type", choices=_choices(OwnershipType, "- Select -"),
                                 validators=[DataRequired("Choose the ownership type.")])
    business_start_date = DateField("Business start date", validators=[Optional()],
                                    description="The date the company began operating, e.g. 2004-03-15.")
    phone = StringField("Phone", validators=[DataRequired("Enter a phone number."), PHONE])
    website = StringField("Website", validators=[Optional(), Length(max=300),
                                                 URL(message="Enter a full web address starting with https://.")])
    employee_count = IntegerField("Number of employees", validators=[
        Optional(), NumberRange(min=1, max=5_000_000, message="Enter a number between 1 and 5,000,000.")])
    history = TextAreaField("Short company history", validators=[Optional(), Length(max=4000)],
                            description="What the company does and how it moves goods internationally "
                                        "(at most 4,000 characters).")


class AddressFields(PortalForm):
    name = StringField("Site name", validators=[Optional(), Length(max=200)],
                       description="For facilities: how you refer to this site, e.g. 'Laredo warehouse'.")
    line1 = StringField("Street address", validators=[DataRequired("Enter the street address."), Length(max=200)])
    line2 = StringField("Street address line 2", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[DataRequired("Enter the city."), Length(max=100)])
    region = StringField("State, province or region", validators=[Optional(), Length(max=100)])
    postal_code = StringField("ZIP or postal code", validators=[Optional(), Length(max=20)])
    country = SelectField("Country", choices=COUNTRY_OPTIONS, validators=[DataRequired("Choose a country.")])


class NewCompanyForm(CompanyForm, AddressFields):
    """The first step: the company and its headquarters address together."""


class AddressForm(AddressFields):
    kind = SelectField("Address type", choices=_choices(AddressKind), validators=[DataRequired()])
    timezone = StringField("Time zone", validators=[Optional(), Length(max=64)],
                           description="IANA name such as America/Chicago; used to schedule validation visits.")
    visitable = BooleanField("CBP validation teams may visit this facility")


class InviteForm(PortalForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter the e-mail address."),
                                                     Email("Enter a valid e-mail address."), Length(max=254)])
    role = SelectField("Role", choices=_choices(CompanyRole), validators=[DataRequired("Choose a role.")],
                       description="Only company officers sign agreements and submit the security profile.")


class MemberRoleForm(PortalForm):
    role = SelectField("Role", choices=_choices(CompanyRole), validators=[DataRequired("Choose a role.")])


class NewAccountForm(PortalForm):
    business_type = RadioField("Business type", choices=_choices(BusinessType),
                               validators=[InputRequired("Choose a business type.")])
    consolidator_subtype = SelectField("Kind of consolidator", choices=_choices(ConsolidatorSubtype, "- Select -"),
                                       validators=[Optional()], description="Only for consolidators.")
    highway_border = SelectField("Border crossed", choices=_choices(HighwayBorder, "- Select -"),
                                 validators=[Optional()],
                                 description="Only for highway carriers. Carriers crossing both borders "
                                             "apply as U.S. / Mexico.")


class IdentifierForm(PortalForm):
    kind = SelectField("Identifier type", choices=_choices(IdentifierKind),
                       validators=[DataRequired("Choose the identifier type.")])
    value = StringField("Identifier", validators=[DataRequired("Enter the identifier."), Length(max=40)])


class AgreementForm(PortalForm):
    typed_name = StringField("Type your full name to sign", validators=[DataRequired("Type your full name."),
                                                                        Length(max=200)])
    accept = BooleanField("I have read the Partner Agreement and agree to it on behalf of the company",
                          validators=[DataRequired("Confirm that you agree to the Partner Agreement.")])


def build_eligibility_form(questions: Any) -> type[PortalForm]:
    """A fresh form class with one yes/no radio group per eligibility question (``q_<key>``)."""
    attrs: dict[str, Any] = {}
    for question in questions:
        attrs[f"q_{question.key}"] = RadioField(
            question.text,
            choices=[("yes", "Yes"), ("no", "No")],
            validators=[InputRequired("Answer this question.")],
            description=question.hint,
        )
    return type("EligibilityForm", (PortalForm,), attrs)
