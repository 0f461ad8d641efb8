"""Demo business partners for development (called from ``portal.demo``); idempotent.

Acme Imports gets about 30 partners across 17 countries and every screening status, including
partners certified in the Mexican, Guatemalan and Colombian AEO programs (one whose Guatemalan
certificate expired before that MRA took effect). Dates are relative to today, so the statuses stay
the same whenever the demo is loaded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from portal.clock import today
from portal.db import db_session
from portal.partners import mra, services
from portal.partners.enums import AssessmentResult as R
from portal.partners.enums import AssessmentType as T
from portal.partners.enums import CertificationKind as C
from portal.partners.enums import CtpatStatus as S
from portal.partners.enums import PartnerRole as P
from portal.partners.enums import RiskRating as K
from portal.partners.models import AccountMraCertification, BusinessPartner, MraProgram

# name, role, country, city, certification, (CTPAT account, status) or (program code, certificate,
# expiry offset in days or a fixed date), (assessed days ago, type, result), risk, reason, override offset
_DEMO: list[tuple[Any, ...]] = [
    ("Maquiladora Textil del Bajío S.A. de C.V.", P.MANUFACTURER, "MX", "León", C.AEO, ("MX", "OEA-MX-2023-0412", 420),
     (200, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "Sewn goods; stable supplier, OEA certified.", None),
    ("Transportes Fronterizos del Norte S.A. de C.V.", P.HIGHWAY_CARRIER, "MX", "Nuevo Laredo", C.CTPAT,
     ("MXHC4471", S.VALIDATED), None, K.MEDIUM, "Cross-border highway leg at Laredo.", None),
    ("Componentes Electrónicos de Juárez S.A. de C.V.", P.MANUFACTURER, "MX", "Ciudad Juárez", C.AEO,
     ("MX", "OEA-MX-2020-1188", -30), (330, T.AUDIT, R.MEETS), K.MEDIUM, "Electronics; OEA renewal pending.", None),
    ("Empaques Plásticos de Monterrey S.A. de C.V.", P.MANUFACTURER, "MX", "Monterrey", C.NONE, None,
     (500, T.VISIT, R.GAPS), K.HIGH, "Packaging loaded at the supplier; seal gaps found at the last visit.", None),
    ("Confecciones Maya S.A.", P.MANUFACTURER, "GT", "Villa Nueva", C.AEO, ("GT", "OEA-GT-0093", 610),
     (120, T.QUESTIONNAIRE, R.MEETS), K.LOW, "OEA certified under the 2023 MRA.", None),
    ("Café de Altura Exportadora S.A.", P.MANUFACTURER, "GT", "Antigua Guatemala", C.AEO,
     ("GT", "OEA-GT-0017", date(2023, 1, 31)), (700, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM,
     "Agricultural exporter; OEA certificate lapsed before the MRA.", None),
    ("Transportes Quetzal S.A.", P.HIGHWAY_CARRIER, "GT", "Guatemala City", C.NONE, None,
     (100, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "Inland leg to Puerto Santo Tomás.", None),
    ("Flores de la Sabana S.A.S.", P.MANUFACTURER, "CO", "Bogotá", C.AEO, ("CO", "OEA-CO-2024-0311", 300),
     (90, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "Perishables by air; OEA certified.", None),
    ("Textiles Andinos de Medellín S.A.S.", P.MANUFACTURER, "CO", "Medellín", C.AEO, ("CO", "OEA-CO-2023-0127", 700),
     (240, T.AUDIT, R.MEETS), K.LOW, "Long-standing supplier, OEA since 2023.", None),
    ("Logística Caribe S.A.S.", P.CONSOLIDATOR, "CO", "Cartagena", C.NONE, None, None, K.HIGH,
     "Consolidates at a port with known narcotics smuggling risk.", None),
    ("Aerocarga Andina S.A.", P.AIR_CARRIER, "CO", "Bogotá", C.NONE, None, (400, T.QUESTIONNAIRE, R.MEETS), K.LOW,
     "Scheduled cargo flights; airport security regime.", None),
    ("Shenzhen Brightway Electronics Co., Ltd.", P.MANUFACTURER, "CN", "Shenzhen", C.NONE, None,
     (300, T.AUDIT, R.GAPS), K.HIGH, "High-value electronics; audit found access control gaps.", None),
    ("Ningbo Harbor Packaging Co., Ltd.", P.MANUFACTURER, "CN", "Ningbo", C.NONE, None,
     (800, T.QUESTIONNAIRE, R.MEETS), K.HIGH, "Stuffs containers for us; questionnaire only.", None),
    ("Guangzhou Pearl River Garments Co., Ltd.", P.MANUFACTURER, "CN", "Guangzhou", C.NONE, None, None, K.HIGH,
     "New supplier; forced-labour screening pending.", None),
    ("Saigon Footwear Joint Stock Company", P.MANUFACTURER, "VN", "Ho Chi Minh City", C.NONE, None,
     (150, T.AUDIT, R.MEETS), K.MEDIUM, "Third-party audit passed.", None),
    ("Hanoi Home Textiles Co., Ltd.", P.MANUFACTURER, "VN", "Hanoi", C.NONE, None,
     (60, T.QUESTIONNAIRE, R.MEETS), K.LOW, "Low-value goods, consolidated by our forwarder.", None),
    ("Tiruppur Knitwear Exports Pvt. Ltd.", P.MANUFACTURER, "IN", "Tiruppur", C.AEO, ("IN", "AEO-T2-IN-5521", 500),
     (180, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "AEO tier 2 certified.", None),
    ("Rheinland Präzisionsteile GmbH", P.MANUFACTURER, "DE", "Düsseldorf", C.AEO, ("EU", "DEAEOF1234567", 900),
     (400, T.QUESTIONNAIRE, R.MEETS), K.LOW, "EU AEO-F holder.", None),
    ("Osaka Precision Bearings K.K.", P.MANUFACTURER, "JP", "Osaka", C.AEO, ("JP", "JP-AEO-E-0456", 800),
     None, None, "", None),
    ("Busan Global Logistics Co., Ltd.", P.CONSOLIDATOR, "KR", "Busan", C.AEO, ("KR", "KR-AEO-AA-3320", 350),
     (210, T.QUESTIONNAIRE, R.MEETS), K.LOW, "Korean AEO (AA grade).", None),
    ("Frigorífico del Plata S.A.", P.MANUFACTURER, "UY", "Montevideo", C.AEO, ("UY", "OEC-UY-0231", 450),
     (160, T.QUESTIONNAIRE, R.MEETS), K.LOW, "OEC certified; MRA since 2022.", None),
    ("Calçados Serra Gaúcha Ltda.", P.MANUFACTURER, "BR", "Novo Hamburgo", C.AEO, ("BR", "OEA-S-BR-7781", 520),
     (140, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "OEA-Security certified.", None),
    ("Cigarros del Cibao S.R.L.", P.MANUFACTURER, "DO", "Santiago de los Caballeros", C.AEO,
     ("DO", "OEA-RD-0144", 260), (300, T.VISIT, R.MEETS), K.MEDIUM, "OEA certified; visited last year.", None),
    ("Pacific Rim Forwarding Ltd.", P.CONSOLIDATOR, "TW", "Kaohsiung", C.AEO, ("TW", "TW-AEO-S-0912", 200),
     (380, T.QUESTIONNAIRE, R.MEETS), K.MEDIUM, "Review moved forward after a change of ownership.", -10),
    ("Maquila Textil San Pedro Sula S. de R.L.", P.MANUFACTURER, "HN", "San Pedro Sula", C.NONE, None,
     (250, T.VISIT, R.MEETS), K.HIGH, "Origin with high human-smuggling risk; no AEO program recognised.", None),
    ("Dhaka Apparel Works Ltd.", P.MANUFACTURER, "BD", "Gazipur", C.NONE, None, None, K.HIGH,
     "No supply-chain security program; social-compliance risk.", None),
    ("Blue Meridian Ocean Lines Pte. Ltd.", P.SEA_CARRIER, "SG", "Singapore", C.AEO, ("SG", "STP-2021-0088", 380),
     None, K.LOW, "STP certified ocean carrier.", None),
    ("Great Lakes Freight Lines Inc.", P.HIGHWAY_CARRIER, "US", "Detroit", C.CTPAT, ("USHC90211", S.VALIDATED),
     None, K.LOW, "CTPAT validated carrier; monitor status.", None),
    ("Atlantic Customs Brokerage LLC", P.CUSTOMS_BROKER, "US", "Newark", C.CTPAT, ("USCB33102", S.CERTIFIED),
     None, K.MEDIUM, "Certified, validation pending.", None),
    ("Harbor Point Warehousing LLC", P.WAREHOUSE, "US", "Baltimore", C.CTPAT, ("US3PL7720", S.VALIDATED),
     (30, T.VISIT, R.MEETS), K.LOW, "Bonded warehouse; CTPAT validated.", None),
    ("Midcontinent Rail Services Inc.", P.RAIL_CARRIER, "US", "Kansas City", C.CTPAT, ("USRC10455", S.VALIDATED),
     None, None, "", None),
]


def _when(offset_or_date: int | date, base: date) -> date:
    return offset_or_date if isinstance(offset_or_date, date) else base + timedelta(days=offset_or_date)


def load_partner_demo(company: Any, account: Any, officer: Any) -> int:
    """Create the demo partners in ``account``'s register unless it has partners; returns how many.

    Seeds the MRA programs first (idempotent). Links the company's first evidence document, if any,
    to the partners certified abroad, as proof of their status.
    """
    if db_session.scalar(select(BusinessPartner.id).where(BusinessPartner.account_id == account.id).limit(1)):
        return 0
    mra.seed_mra_programs(by=officer)
    programs = {code: pid for pid, code in db_session.execute(select(MraProgram.id, MraProgram.code))}
    from portal.profiles.evidence import company_library

    library = company_library(company.id)
    proof = (library[-1].id,) if library else ()
    base = today()
    created = 0
    for name, role, country, city, kind, cert, assessment, risk, reason, override in _DEMO:
        fields: dict[str, Any] = {"name": name, "role": role, "country": country, "city": city,
                                  "ctpat_eligible": role.usually_ctpat_eligible or country == "MX",
                                  "certification": kind, "risk_rating": risk, "risk_reason": reason}
        if kind == C.CTPAT:
            fields.update(ctpat_account_number=cert[0], ctpat_status=cert[1])
        elif kind == C.AEO:
            fields.update(mra_program_id=programs[cert[0]], certificate_number=cert[1],
                          certificate_expires_on=_when(cert[2], base), evidence_ids=proof)
        if assessment is not None:
            fields.update(last_assessed_on=base - timedelta(days=assessment[0]), last_assessment_type=assessment[1],
                          last_assessment_result=assessment[2])
        if override is not None:
            fields["next_review_override"] = base + timedelta(days=override)
        services.create_partner(account, services.PartnerInput(**fields), by=officer)
        created += 1
    return created


def load_account_mra_demo(account: Any, officer: Any) -> bool:
    """Record a Mexican OEA certification on a (Mexican manufacturer's) account, unless it has one."""
    if db_session.scalar(select(AccountMraCertification.id)
                         .where(AccountMraCertification.account_id == account.id).limit(1)):
        return False
    mra.seed_mra_programs(by=officer)
    program_id = db_session.scalar(select(MraProgram.id).where(MraProgram.code == "MX"))
    base = today()
    mra.add_account_certification(account, mra.AccountCertificationInput(
        program_id=program_id, certificate_number="OEA-MX-2022-00317", certified_on=base - timedelta(days=700),
        expires_on=base + timedelta(days=400)), by=officer)
    return True
