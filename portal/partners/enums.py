"""Enumerations of the MRA programs and the business-partner register (standard library only, so
``forms/`` and the pure screening module can import them)."""

from __future__ import annotations

from enum import StrEnum


class MraStatus(StrEnum):
    """Where the U.S. stands with a foreign AEO program (ctpat-domain.md §7.1)."""

    JOINT_WORK_PLAN = "joint_work_plan"
    IN_FORCE = "in_force"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return {"joint_work_plan": "Joint work plan", "in_force": "MRA in force",
                "suspended": "Suspended"}[self.value]

    @property
    def badge(self) -> str:
        return {"joint_work_plan": "info", "in_force": "success", "suspended": "error"}[self.value]


class DatePrecision(StrEnum):
    """How much of a recorded date is known: public sources often give only the month of a signing."""

    DAY = "day"
    MONTH = "month"

    @property
    def label(self) -> str:
        return {"day": "Exact day", "month": "Month only (the day is not known)"}[self.value]


class PartnerRole(StrEnum):
    """What a business partner does in the supply chain (carriers by mode)."""

    MANUFACTURER = "manufacturer"
    HIGHWAY_CARRIER = "highway_carrier"
    RAIL_CARRIER = "rail_carrier"
    SEA_CARRIER = "sea_carrier"
    AIR_CARRIER = "air_carrier"
    CUSTOMS_BROKER = "customs_broker"
    CONSOLIDATOR = "consolidator"
    WAREHOUSE = "warehouse"
    OTHER = "other"

    @property
    def label(self) -> str:
        return PARTNER_ROLE_LABELS[self]

    @property
    def usually_ctpat_eligible(self) -> bool:
        """The pre-2019 importer rule (ctpat-domain.md §8.2): carriers, brokers, consolidators and
        3PLs can join CTPAT; a foreign supplier usually cannot (Mexican manufacturers aside)."""
        return self not in {PartnerRole.MANUFACTURER, PartnerRole.OTHER}


PARTNER_ROLE_LABELS: dict[PartnerRole, str] = {
    PartnerRole.MANUFACTURER: "Manufacturer or supplier",
    PartnerRole.HIGHWAY_CARRIER: "Carrier: highway",
    PartnerRole.RAIL_CARRIER: "Carrier: rail",
    PartnerRole.SEA_CARRIER: "Carrier: sea",
    PartnerRole.AIR_CARRIER: "Carrier: air",
    PartnerRole.CUSTOMS_BROKER: "Customs broker",
    PartnerRole.CONSOLIDATOR: "Consolidator or freight forwarder",
    PartnerRole.WAREHOUSE: "Warehouse or 3PL",
    PartnerRole.OTHER: "Other",
}


class CertificationKind(StrEnum):
    """The supply-chain security certification a partner claims."""

    NONE = "none"
    CTPAT = "ctpat"
    AEO = "aeo"

    @property
    def label(self) -> str:
        return {"none": "Not certified", "ctpat": "CTPAT",
                "aeo": "Foreign AEO program (MRA list)"}[self.value]


class CtpatStatus(StrEnum):
    """A CTPAT partner's standing as the partner states it (kept as proof, monitored)."""

    CERTIFIED = "certified"
    VALIDATED = "validated"

    @property
    def label(self) -> str:
        return {"certified": "Certified (not yet validated)", "validated": "Certified and validated"}[self.value]


class AssessmentType(StrEnum):
    """How the partner's security was last assessed (ctpat-domain.md §8.2: questionnaires, visits, audits)."""

    QUESTIONNAIRE = "questionnaire"
    VISIT = "visit"
    AUDIT = "audit"

    @property
    def label(self) -> str:
        return {"questionnaire": "Security questionnaire", "visit": "Site visit",
                "audit": "Third-party audit"}[self.value]


class AssessmentResult(StrEnum):
    """The outcome of the last assessment against the Minimum Security Criteria."""

    MEETS = "meets"
    GAPS = "gaps"
    FAILS = "fails"

    @property
    def label(self) -> str:
        return {"meets": "Meets the MSC", "gaps": "Gaps found, corrective actions agreed",
                "fails": "Does not meet the MSC"}[self.value]


class RiskRating(StrEnum):
    """The member's own risk rating of the partner (5 step risk assessment, ctpat-domain.md §8.1)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def review_years(self) -> int:
        """Years between reviews: high-risk partners yearly, medium every 2 years, low every 3."""
        return {"high": 1, "medium": 2, "low": 3}[self.value]

    @property
    def badge(self) -> str:
        return {"high": "error", "medium": "warning", "low": "success"}[self.value]


class ScreeningStatus(StrEnum):
    """What the member must do about a partner, derived by ``screening.screen_partner``."""

    MONITOR = "monitor"
    ASSESSMENT_NEEDED = "assessment_needed"
    QUESTIONNAIRE_OR_VISIT = "questionnaire_or_visit"
    FLAGGED = "flagged"

    @property
    def label(self) -> str:
        return {
            "monitor": "No assessment needed: monitor status",
            "assessment_needed": "Assessment needed",
            "questionnaire_or_visit": "Questionnaire or visit required",
            "flagged": "Flagged",
        }[self.value]

    @property
    def short_label(self) -> str:
        return {"monitor": "Monitor", "assessment_needed": "Assessment needed",
                "questionnaire_or_visit": "Questionnaire or visit", "flagged": "Flagged"}[self.value]

    @property
    def badge(self) -> str:
        return {"monitor": "success", "assessment_needed": "warning", "questionnaire_or_visit": "info",
                "flagged": "error"}[self.value]
