"""Eligibility questionnaire: yes/no questions per business type and their knock-out answers.

Domain reference §1.2 (requirements common to every type) and §1.3 (type-specific rules). An
applicant answers these before the account is created; a knock-out answer means CBP would find the
company ineligible, so the portal stops the application early and says why instead of letting the
company fill in a security profile that can only be rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from portal.companies.business_types import BusinessType

__all__ = [
    "COMMON_QUESTIONS",
    "TYPE_QUESTIONS",
    "EligibilityQuestion",
    "EligibilityResult",
    "evaluate",
    "questions_for",
]


@dataclass(frozen=True)
class EligibilityQuestion:
    """One yes/no question; answering ``knock_out_answer`` makes the applicant ineligible."""

    key: str
    text: str
    knock_out_answer: bool
    explanation: str
    hint: str = ""


@dataclass(frozen=True)
class EligibilityResult:
    """Outcome of a questionnaire.

    ``eligible`` is True only when every question is answered and none was knocked out, so a
    half-filled questionnaire never reads as a pass.
    """

    complete: bool
    eligible: bool
    knocked_out: tuple[tuple[EligibilityQuestion, str], ...]
    unanswered: tuple[str, ...]


def _requires(key: str, text: str, explanation: str, hint: str = "") -> EligibilityQuestion:
    # Most questions ask about something the company must have; "No" is the knock-out.
    return EligibilityQuestion(key, text, False, explanation, hint)


def _forbids(key: str, text: str, explanation: str, hint: str = "") -> EligibilityQuestion:
    # Questions about something the company must not have; "Yes" is the knock-out.
    return EligibilityQuestion(key, text, True, explanation, hint)


def _staffed_office(key: str, where: str) -> EligibilityQuestion:
    return _requires(
        key,
        f"Does the company have a staffed business office in {where}?",
        f"CTPAT requires a staffed business office in {where} for this business type. A "
        "mailing address or a registered agent alone is not enough.",
    )


COMMON_QUESTIONS: tuple[EligibilityQuestion, ...] = (
    _forbids(
        "unpaid_cbp_debt",
        "Does the company have any unpaid final debt to CBP?",
        "A company with unpaid final CBP debt cannot join CTPAT or renew its membership. Pay "
        "the debt first, then apply.",
        hint="A final debt is one for which all administrative and judicial remedies are "
        "exhausted and a final bill remains unpaid. Debts still under protest or appeal do not "
        "count.",
    ),
    _requires(
        "security_officer",
        "Has the company designated a company officer as the primary cargo security officer "
        "responsible for CTPAT?",
        "CTPAT requires a company officer who is responsible for the program and signs the "
        "partner agreement on the company's behalf. Designate one, then apply.",
    ),
    _forbids(
        "security_events",
        "Has the company had a significant security-related event in its supply chain?",
        "CTPAT is open to companies that have had no significant security-related events. CBP "
        "judges each application on its own facts, so you may contact the CTPAT program to "
        "discuss the event before applying.",
        hint="For example, narcotics or other contraband found in your shipments or "
        "conveyances.",
    ),
    _requires(
        "partner_agreement",
        'Will a company officer sign the "CTPAT-Partner Agreement to Voluntarily Participate"?',
        "Every CTPAT member signs the partner agreement when it applies. Without it the "
        "application cannot be submitted.",
    ),
    _requires(
        "security_profile",
        "Will the company complete a supply chain security profile showing how it meets the "
        "Minimum Security Criteria for its business type?",
        "The security profile is how CBP assesses an applicant; an application without one "
        "cannot be reviewed.",
    ),
)

_T = BusinessType
_NORTH_AMERICA = "the United States, Canada or Mexico"

# Type-specific questions, in the order the reference lists the rules. Keys are unique within a
# business type together with the common keys; shared wording reuses the same key on purpose.
TYPE_QUESTIONS: Mapping[BusinessType, tuple[EligibilityQuestion, ...]] = MappingProxyType({
    _T.IMPORTER: (
        _requires(
            "imported_last_12_months",
            "Has the company imported goods into the United States in the last 12 months?",
            "CTPAT admits active importers only, meaning companies that imported into the U.S. "
            "in the last 12 months. Apply once the company is importing.",
            hint="Non-Resident Canadian Importers count as importers.",
        ),
        _staffed_office("staffed_office_us_or_canada", "the United States or Canada"),
        _requires(
            "active_ior",
            "Does the company have an active Importer of Record (IOR) number?",
            "An importer applies under its active IOR number (an IRS EIN, an SSN or a "
            "CBP-assigned importer number). Obtain one before applying.",
        ),
        _requires(
            "continuous_import_bond",
            "Does the company have a valid continuous import bond registered with CBP?",
            "Importers must hold a valid continuous import bond registered with CBP. A "
            "single-transaction bond does not qualify.",
        ),
    ),
    _T.EXPORTER: (
        _requires(
            "principal_party_controlling_export",
            "Is the company the principal party in interest that controls the sending of goods "
            "out of the United States?",
            "The exporter type is for the party that controls the export. A company that only "
            "arranges or carries exports may qualify under another business type.",
            hint="This follows the Export Administration Regulations definition of exporter, "
            "which can differ from the U.S. Principal Party in Interest (USPPI).",
        ),
        _requires(
            "exported_last_12_months",
            "Has the company exported goods from the United States in the last 12 months?",
            "CTPAT admits active exporters only. Apply once the company is exporting.",
        ),
        _staffed_office("staffed_office_us", "the United States"),
        _requires(
            "ein_or_duns",
            "Can the company document an IRS Employer Identification Number (EIN) or a "
            "D-U-N-S number?",
            "Exporters are identified by an EIN or a D-U-N-S number. Obtain one before applying.",
        ),
        _requires(
            "export_security_program",
            "Does the company have a documented export security program?",
            "Exporters must have a written export security program. Document yours, then apply.",
        ),
        _requires(
            "export_poc_and_alternate",
            "Has the company designated an officer or manager as the main point of contact for "
            "CTPAT, and an alternate point of contact?",
            "Exporters must name both a main and an alternate point of contact so CBP can always "
            "reach someone responsible.",
        ),
        _requires(
            "export_reporting_compliance",
            "Has the company's export reporting been acceptably compliant over the last 12 months?",
            "CTPAT requires an acceptable record of export reporting over the last 12 months.",
            hint="For example, Electronic Export Information filed on time and accurately.",
        ),
        _requires(
            "export_agencies_good_standing",
            "Is the company in good standing with the export control agencies that regulate it "
            "(Commerce, State, Treasury, NRC, DEA, DoD)?",
            "Exporters must be in good standing with the agencies that regulate their exports.",
        ),
    ),
    _T.CUSTOMS_BROKER: (
        _requires(
            "licensed_past_year",
            "Has the company held an active U.S. customs broker license within the past year?",
            "This business type is for active licensed customs brokers only.",
        ),
        _staffed_office("staffed_office_us", "the United States"),
    ),
    _T.CONSOLIDATOR: (
        _requires(
            "active_consolidator",
            "Is the company an active air freight consolidator, ocean transportation "
            "intermediary or NVOCC?",
            "This business type is for active consolidators only.",
        ),
        _staffed_office("staffed_office_us", "the United States"),
        _requires(
            "carrier_or_custodial_bond",
            "Does the company have a continuous international carrier bond or a type 2 "
            "custodial bond (or both)?",
            "Consolidators must hold a continuous international carrier bond and/or a type 2 "
            "custodial bond. Obtain one, then apply.",
        ),
    ),
    _T.HIGHWAY_CARRIER: (
        _requires(
            "crossed_border_past_year",
            "Has the company carried cargo across the U.S.-Mexico or U.S.-Canada border in the "
            "past year?",
            "This business type is for active cross-border carriers. A Mexican carrier that "
            "moves U.S.-bound cargo without crossing may apply as a Mexican Long Haul Highway "
            "Carrier.",
            hint="A carrier that crosses both borders applies as a Mexican highway carrier.",
        ),
        _staffed_office("staffed_office_north_america", _NORTH_AMERICA),
        _requires(
            "active_scac",
            "Does the company have an active Standard Carrier Alpha Code (SCAC)?",
            "Highway carriers must have an active SCAC. Obtain one, then apply.",
        ),
        _requires(
            "active_dot",
            "Does the company have an active U.S. DOT number?",
            "Highway carriers must have an active U.S. DOT number. Obtain one, then apply.",
        ),
    ),
    _T.MEXICAN_LONG_HAUL: (
        _requires(
            "carries_us_bound_cargo_in_mexico",
            "Does the company carry U.S.-bound cargo within Mexico?",
            "This business type is for Mexican highway carriers that carry cargo bound for the "
            "United States.",
        ),
        _forbids(
            "crosses_border",
            "Do the company's trucks cross the border into the United States?",
            "Carriers that cross the border apply as a Highway Carrier, not as a Mexican Long "
            "Haul Highway Carrier.",
        ),
        _requires(
            "sct_permit",
            "Does the company have an active SCT permit number?",
            "Mexican long haul carriers must hold an SCT permit. Obtain one, then apply.",
        ),
        _requires(
            "acta_and_rfc",
            "Can the company provide its Acta Constitutiva and its RFC?",
            "CBP asks Mexican long haul carriers for the Acta Constitutiva and the RFC.",
        ),
    ),
    _T.RAIL_CARRIER: (
        _requires(
            "rail_cross_border_past_year",
            "Has the company moved rail shipments into or out of the United States from Canada "
            "or Mexico in the past year?",
            "This business type is for active cross-border rail carriers.",
        ),
        _staffed_office("staffed_office_north_america", _NORTH_AMERICA),
        _requires(
            "active_scac",
            "Does the company have an active Standard Carrier Alpha Code (SCAC)?",
            "Rail carriers must have an active SCAC. Obtain one, then apply.",
        ),
        _requires(
            "common_carrier_bond",
            "Does the company have a valid common carrier bond?",
            "Rail carriers must hold a valid common carrier bond. Obtain one, then apply.",
        ),
    ),
    _T.SEA_CARRIER: (
        _requires(
            "isps_mtsa_compliant",
            "Is the company compliant with the International Ship and Port Facility Security "
            "(ISPS) Code and the Maritime Transportation Security Act (MTSA)?",
            "Sea carriers must comply with the ISPS Code and the MTSA before joining CTPAT.",
        ),
        _requires(
            "active_scac",
            "Does the company have an active Standard Carrier Alpha Code (SCAC)?",
            "Sea carriers must have an active SCAC. Obtain one, then apply.",
        ),
        _requires(
            "carrier_bond",
            "Does the company have a valid carrier bond registered with CBP?",
            "Sea carriers must hold a valid bond registered with CBP. Obtain one, then apply.",
        ),
    ),
    _T.AIR_CARRIER: (
        _requires(
            "flew_cargo_to_us_past_year",
            "Has the company transported air cargo to the United States in the past year?",
            "This business type is for active air carriers that bring cargo to the United States.",
        ),
        _requires(
            "active_iata",
            "Does the company have an active IATA code?",
            "Air carriers must have an active IATA code. Obtain one, then apply.",
        ),
        _requires(
            "international_carrier_bond",
            "Does the company have a valid continuous international carrier bond?",
            "Air carriers must hold a valid continuous international carrier bond.",
        ),
    ),
    _T.US_MPTO: (
        _requires(
            "active_port_or_terminal_us",
            "Is the company an active marine port authority or terminal operator in the United "
            "States?",
            "This business type is for active U.S. marine port authorities and terminal "
            "operators.",
        ),
        _requires(
            "handles_international_vessels",
            "Does the company handle vessels arriving from international locations?",
            "CTPAT covers ports and terminals that handle vessels arriving from abroad.",
        ),
        _staffed_office("staffed_office_us", "the United States"),
        _requires(
            "fmc_mto_number",
            "Does the company have an active FMC Marine Terminal Operator (MTO) number?",
            "Marine port authorities and terminal operators must have an active 6-digit FMC MTO "
            "number.",
        ),
    ),
    _T.FOREIGN_MPTO: (
        _requires(
            "invited_by_cbp",
            "Has the company received an invitation from CBP to apply to CTPAT?",
            "Foreign-based marine port terminal operators can join by CBP invitation only.",
        ),
        _requires(
            "handles_us_bound_vessels",
            "Does the company handle vessels bound for the United States?",
            "CTPAT covers foreign terminals that handle vessels bound for the United States.",
        ),
        _requires(
            "fmc_mto_number",
            "Does the company have an active FMC Marine Terminal Operator (MTO) number?",
            "Terminal operators must have an active FMC MTO number.",
        ),
    ),
    _T.FOREIGN_MANUFACTURER: (
        _requires(
            "incorporated_mexico_or_canada",
            "Is the company an active manufacturer incorporated in Mexico or Canada?",
            "This business type is open to active manufacturers incorporated in Mexico or "
            "Canada.",
            hint="CBP may ask for the certificate of incorporation (Acta Constitutiva in Mexico).",
        ),
        _requires(
            "active_mid",
            "Does the company have an active Manufacturer Identification Code (MID)?",
            "Foreign manufacturers are identified by their MID, built from the name and address "
            "of the factory where goods originate. Obtain one, then apply.",
        ),
    ),
    _T.THIRD_PARTY_LOGISTICS: (
        _requires(
            "handles_cargo_with_own_assets",
            "Does the company physically handle or manage cargo between container stuffing and "
            "the first U.S. port, using its own transport, consolidation or warehouse assets?",
            "CTPAT admits asset-based 3PLs that handle international cargo. Purely domestic and "
            "non-asset-based 3PLs are excluded; CBP runs a separate, limited pilot for some "
            "non-asset-based 3PLs.",
        ),
        _forbids(
            "subcontracts_beyond_second_party",
            "Does the company subcontract work beyond a second party to companies that are not "
            "CTPAT members?",
            'CTPAT 3PLs may not pass work beyond a second party ("double brokering") except to '
            "CTPAT members.",
        ),
        _requires(
            "licensed_or_bonded",
            "Is the company licensed or bonded by the FMC, TSA, CBP or the U.S. Department of "
            "Transportation?",
            "3PLs must be licensed or bonded by the FMC, TSA, CBP or DOT.",
        ),
        _staffed_office("staffed_office_us", "the United States"),
    ),
})


def questions_for(business_type: BusinessType) -> tuple[EligibilityQuestion, ...]:
    """Return the common questions followed by those specific to ``business_type``."""
    return COMMON_QUESTIONS + TYPE_QUESTIONS[business_type]


def evaluate(
    business_type: BusinessType, answers: Mapping[str, bool | None]
) -> EligibilityResult:
    """Score ``answers`` (question key -> yes/no) against the questionnaire for ``business_type``.

    A missing key or a None value counts as unanswered. Knock-outs are reported even when the
    questionnaire is incomplete, so the applicant learns early.

    :raise ValueError: if ``answers`` has a key that is not a question for this business type.
    :raise TypeError: if an answer is neither a bool nor None.
    """
    questions = questions_for(business_type)
    known = {question.key for question in questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(
            f"Unknown eligibility question(s) for {business_type.label}: {', '.join(unknown)}"
        )
    knocked_out: list[tuple[EligibilityQuestion, str]] = []
    unanswered: list[str] = []
    for question in questions:
        answer = answers.get(question.key)
        if answer is None:
            unanswered.append(question.key)
        elif not isinstance(answer, bool):
            # A truthy string such as "no" from a form would silently pass; make it loud.
            raise TypeError(f"Answer to {question.key!r} must be a bool, not {answer!r}")
        elif answer is question.knock_out_answer:
            knocked_out.append((question, question.explanation))
    complete = not unanswered
    return EligibilityResult(
        complete=complete,
        eligible=complete and not knocked_out,
        knocked_out=tuple(knocked_out),
        unanswered=tuple(unanswered),
    )
