"""The register page issues the same number of SQL statements for 20 and for 2,000 partners (issue 7,
"Tests"): screening is computed in Python from one query of partners and one of MRA histories, and
the page's evidence counts come from one grouped query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from portal.clock import utcnow
from portal.db import db_session
from portal.partners import mra
from portal.partners.models import BusinessPartner, MraProgram, partner_evidence
from portal.partners.services import name_key
from portal.profiles.models import EvidenceFile

COUNTRIES = ("MX", "GT", "CO", "CN", "VN", "US", "DE", "IN")


def _bulk_partners(account_id: int, start: int, count: int, program_ids: list[int]) -> None:
    """Insert partners in one statement (the ORM path would take minutes for 2,000 rows)."""
    now = utcnow()
    rows = []
    for n in range(start, start + count):
        kind = ("none", "ctpat", "aeo")[n % 3]
        name = f"Partner {n:05d}"
        rows.append({
            "account_id": account_id, "name": name, "name_key": name_key(name), "role": "manufacturer",
            "country": COUNTRIES[n % len(COUNTRIES)], "address": "", "city": "", "ctpat_eligible": False,
            "certification": kind, "ctpat_account_number": "X1" if kind == "ctpat" else None,
            "ctpat_status": ("validated" if n % 2 else "certified") if kind == "ctpat" else None,
            "mra_program_id": program_ids[n % len(program_ids)] if kind == "aeo" else None,
            "certificate_number": "C1" if kind == "aeo" else None,
            "certificate_expires_on": date(2030, 1, 1) - timedelta(days=n) if kind == "aeo" else None,
            "last_assessed_on": date(2024, 1, 1) + timedelta(days=n % 700), "last_assessment_type": "questionnaire",
            "last_assessment_result": "meets", "risk_rating": ("high", "medium", "low")[n % 3],
            "risk_reason": "Bulk test.", "next_review_override": None, "notes": "", "created_at": now,
            "updated_at": now, "version": 1,
        })
    db_session.execute(insert(BusinessPartner), rows)


def _link_evidence(company_id: int, account_id: int) -> None:
    evidence = EvidenceFile(company_id=company_id, sha256="0" * 64, storage_key="bulk-test-key", original_name="a.pdf",
                            content_type="application/pdf", size=10)
    db_session.add(evidence)
    db_session.flush()
    first = db_session.scalars(select(BusinessPartner.id).where(BusinessPartner.account_id == account_id)
                               .order_by(BusinessPartner.name_key).limit(5))
    db_session.execute(insert(partner_evidence), [{"partner_id": pid, "evidence_id": evidence.id} for pid in first])


def _statements(app: Any, client: Any, url: str) -> tuple[int, list[str]]:
    engine = app.extensions["db_engine"]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, url
    return response.status_code, seen


def test_register_costs_the_same_statements_for_20_and_2000_partners(app, client, cast, login):
    with app.app_context():
        mra.seed_mra_programs()
        program_ids = list(db_session.scalars(select(MraProgram.id)))
        _bulk_partners(cast.account_a.id, 0, 20, program_ids)
        _link_evidence(cast.company_a.id, cast.account_a.id)
        db_session.commit()
    login(cast.email("officer_a"))
    urls = [f"/accounts/{cast.account_a.id}/partners", f"/accounts/{cast.account_a.id}/partners/summary",
            f"/accounts/{cast.account_a.id}/partners?status=flagged&country=MX"]
    for url in urls:
        client.get(url)  # warm up: the first request of a session may touch the session row
    small = {url: _statements(app, client, url)[1] for url in urls}
    with app.app_context():
        _bulk_partners(cast.account_a.id, 20, 1980, program_ids)
        db_session.commit()
    large = {url: _statements(app, client, url)[1] for url in urls}
    for url in urls:
        assert len(small[url]) == len(large[url]), (url, small[url], large[url])
    # The page is paginated: the 2,000-partner register shows 50 on page 1 and links the other pages.
    page = client.get(urls[0]).get_data(as_text=True)
    assert "2000 partners" in page and "page 1 of 40" in page
    assert page.count("/partners/") >= 50
    assert client.get(urls[0] + "?page=40").status_code == 200


def test_staff_supply_chain_view_is_constant_too(app, client, cast, login):
    with app.app_context():
        mra.seed_mra_programs()
        program_ids = list(db_session.scalars(select(MraProgram.id)))
        _bulk_partners(cast.account_a.id, 0, 20, program_ids)
        db_session.commit()
    login(cast.email("reviewer"))
    url = f"/accounts/{cast.account_a.id}/partners/supply-chain"
    client.get(url)
    small = _statements(app, client, url)[1]
    with app.app_context():
        _bulk_partners(cast.account_a.id, 20, 1980, program_ids)
        db_session.commit()
    assert len(_statements(app, client, url)[1]) == len(small)
