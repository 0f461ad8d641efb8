"""Demo accounts and companies for development (``flask --app wsgi demo-data``); idempotent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.auth.models import Membership, User
from portal.auth.passwords import hash_password
from portal.auth.roles import CompanyRole, StaffRole
from portal.clock import utcnow
from portal.companies import applications, eligibility, services
from portal.companies.business_types import BusinessType, HighwayBorder
from portal.companies.identifiers import IdentifierKind
from portal.companies.workflow import AddressKind, OwnershipType
from portal.db import db_session

DEMO_PASSWORD = "ctpat-demo-2026!"

# (e-mail, full name, role shown in the README and by `make run`)
DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin@cbp.example", "Alex Admin", "admin"),
    ("supervisor@cbp.example", "Sam Supervisor", "supervisor"),
    ("reviewer@cbp.example", "Riley Reviewer", "reviewer"),
    ("reviewer2@cbp.example", "Robin Reviewer", "reviewer"),
    ("officer@acme-imports.example", "Olivia Officer", "officer, Acme Imports"),
    ("employee@acme-imports.example", "Evan Employee", "employee, Acme Imports"),
    ("officer@maquila-mx.example", "Mariana Ortega", "officer, Maquiladora del Norte"),
    ("officer@swift-haul.example", "Sebastian Hale", "officer, Swift Haul"),
    ("officer@northwind-exports.example", "Nora West", "officer, Northwind Exports"),
    # Company created by the validation demo (portal/validations/demo.py, PACIFIC_OFFICER).
    ("officer@pacific-rim.example", "Priya Patel", "officer, Pacific Rim Importers"),
    # Company created by the validation demo (ENSAMBLES_OFFICER): mutual recognition in validations.
    ("officer@ensambles-golfo.example", "Lucía Garza", "officer, Ensambles del Golfo"),
]


def _user(email: str, name: str, staff_role: StaffRole | None = None) -> User:
    user = db_session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, full_name=name, password_hash=hash_password(DEMO_PASSWORD), staff_role=staff_role,
                    password_changed_at=utcnow())
        db_session.add(user)
        db_session.flush()
    return user


def _complete_application(company, business_type: BusinessType, officer: User,
                          identifiers: list[tuple[IdentifierKind, str]], **kwargs):  # noqa: ANN001, ANN202
    account = applications.open_account(company, business_type, by=officer, **kwargs)
    answers = {q.key: not q.knock_out_answer for q in eligibility.questions_for(business_type)}
    applications.save_eligibility(account, answers, by=officer)
    for kind, value in identifiers:
        applications.add_identifier(account, kind, value, by=officer)
    applications.finish_identifiers(account, by=officer)
    applications.sign_agreement(account, officer.full_name, by=officer, ip_address="127.0.0.1")
    return account


def load_demo_data() -> bool:
    """Create the demo users and companies unless they exist; returns whether anything was created."""
    if db_session.scalar(select(User).where(User.email == DEMO_USERS[0][0])) is not None:
        return False
    users = {}
    for email, name, role in DEMO_USERS:
        staff_role = StaffRole(role) if role in {r.value for r in StaffRole} else None
        users[email] = _user(email, name, staff_role)
        if staff_role is not None:  # MFA is required for staff: a fixed demo seed (`flask users totp EMAIL`)
            from portal.auth.mfa import enrol_demo_user

            enrol_demo_user(users[email])

    acme_officer = users["officer@acme-imports.example"]
    acme = services.create_company(
        services.CompanyData(legal_name="Acme Imports, Inc.", dba="Acme Imports",
                             ownership_type=OwnershipType.CORPORATION,
                             phone="+1 312 555 0100", business_start_date=date(1998, 4, 1),
                             website="https://acme-imports.example", employee_count=240,
                             history="Imports housewares and small appliances from Mexico, Guatemala, Colombia and "
                                     "Vietnam through Chicago and Laredo."),
        services.AddressData(kind=AddressKind.HEADQUARTERS, line1="100 W Randolph St", city="Chicago", region="IL",
                             postal_code="60601", country="US", timezone="America/Chicago"),
        by=acme_officer,
    )
    services.add_address(acme, services.AddressData(
        kind=AddressKind.FACILITY, name="Laredo distribution center", line1="5200 Bob Bullock Loop", city="Laredo",
        region="TX", postal_code="78041", country="US", timezone="America/Chicago", visitable=True), by=acme_officer)
    services.add_address(acme, services.AddressData(
        kind=AddressKind.FOREIGN_SITE, name="Monterrey consolidation warehouse", line1="Av. Constitucion 400",
        city="Monterrey", region="Nuevo Leon", postal_code="64000", country="MX", timezone="America/Monterrey",
        visitable=True), by=acme_officer)
    db_session.add(Membership(user_id=users["employee@acme-imports.example"].id, company_id=acme.id,
                              role=CompanyRole.EMPLOYEE))
    acme_account = _complete_application(acme, BusinessType.IMPORTER, acme_officer,
                          [(IdentifierKind.IOR, "36-4812345"), (IdentifierKind.BOND, "987654321")])

    maquila_officer = users["officer@maquila-mx.example"]
    maquila = services.create_company(
        services.CompanyData(legal_name="Maquiladora del Norte, S.A. de C.V.", dba="Maquiladora del Norte",
                             ownership_type=OwnershipType.CORPORATION, phone="+52 81 5555 0200",
                             business_start_date=date(2005, 9, 12), employee_count=820,
                             history="Assembles small appliances for U.S. importers under the IMMEX program."),
        services.AddressData(kind=AddressKind.HEADQUARTERS, name="Plant 1", line1="Parque Industrial Norte 12",
                             city="Apodaca", region="Nuevo Leon", postal_code="66600", country="MX",
                             timezone="America/Monterrey", visitable=True),
        by=maquila_officer,
    )
    maquila_account = _complete_application(maquila, BusinessType.FOREIGN_MANUFACTURER, maquila_officer,
                          [(IdentifierKind.MID, "MXMAQNOR12APO"), (IdentifierKind.RFC, "MNO050912AB3")])

    swift_officer = users["officer@swift-haul.example"]
    swift = services.create_company(
        services.CompanyData(legal_name="Swift Haul Logistics LLC", dba="Swift Haul", ownership_type=OwnershipType.LLC,
                             phone="+1 956 555 0300", business_start_date=date(2011, 2, 7), employee_count=150,
                             history="Cross-border truckload carrier between Laredo and Monterrey."),
        services.AddressData(kind=AddressKind.HEADQUARTERS, line1="1200 Mines Rd", city="Laredo", region="TX",
                             postal_code="78045", country="US", timezone="America/Chicago", visitable=True),
        by=swift_officer,
    )
    swift_account = _complete_application(swift, BusinessType.HIGHWAY_CARRIER, swift_officer,
                          [(IdentifierKind.SCAC, "SWHL"), (IdentifierKind.DOT, "2345678")],
                          highway_border=HighwayBorder.MEXICO)

    northwind_officer = users["officer@northwind-exports.example"]
    northwind = services.create_company(
        services.CompanyData(legal_name="Northwind Exports LLC", dba="Northwind Exports",
                             ownership_type=OwnershipType.LLC, phone="+1 206 555 0400",
                             business_start_date=date(2009, 6, 1), employee_count=75,
                             history="Exports machine parts from Seattle to Japan and Korea."),
        services.AddressData(kind=AddressKind.HEADQUARTERS, line1="2200 Alaskan Way", city="Seattle", region="WA",
                             postal_code="98121", country="US", timezone="America/Los_Angeles", visitable=True),
        by=northwind_officer,
    )
    northwind_account = _complete_application(northwind, BusinessType.EXPORTER, northwind_officer,
                                              [(IdentifierKind.EIN, "91-1234567")])
    db_session.flush()

    from portal.demo_profiles import load_profile_demo
    from portal.partners.demo import load_account_mra_demo, load_partner_demo

    load_partner_demo(acme, acme_account, acme_officer)
    load_account_mra_demo(maquila_account, maquila_officer)

    load_profile_demo(users, {"acme": acme_account, "maquila": maquila_account, "swift": swift_account,
                              "northwind": northwind_account})
    from portal.validations.demo import load_validation_demo

    load_validation_demo(users, {"swift": swift_account, "acme": acme_account, "maquila": maquila_account,
                                 "northwind": northwind_account})
    db_session.flush()
    return True
