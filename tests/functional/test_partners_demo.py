"""The demo register (issue 7 item 7): about 30 partners across several countries and every screening
status, including partners certified in the Mexican, Guatemalan and Colombian programs."""

from __future__ import annotations

from sqlalchemy import select

from portal.auth.models import User
from portal.clock import today
from portal.companies.models import Company, TradeAccount
from portal.db import db_session
from portal.partners import queries
from portal.partners.demo import load_account_mra_demo, load_partner_demo
from portal.partners.enums import CertificationKind, ScreeningStatus
from portal.partners.models import MraProgram


def test_demo_register_covers_countries_statuses_and_the_three_programs(app, client, cast, login):
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_a"].id)
        company = db_session.get(Company, cast.company_a.id)
        account = db_session.get(TradeAccount, cast.account_a.id)
        assert 25 <= load_partner_demo(company, account, officer) <= 35
        assert load_partner_demo(company, account, officer) == 0  # idempotent
        db_session.commit()
        items = queries.screened(account.id, today())
        codes = {pid: code for pid, code in db_session.execute(select(MraProgram.id, MraProgram.code))}
        recognised_programs = {codes[p.mra_program_id] for p, r in items
                               if p.certification == CertificationKind.AEO and r.certified}
        summary = queries.summary_of(items)
    assert {"MX", "GT", "CO"} <= recognised_programs
    assert len(summary.by_country) >= 8
    assert all(summary.by_status[status] for status in ScreeningStatus)
    assert summary.overdue and summary.expired
    login(cast.email("officer_a"))
    assert client.get(f"/accounts/{cast.account_a.id}/partners").status_code == 200
    assert client.get(f"/accounts/{cast.account_a.id}/partners/summary").status_code == 200


def test_demo_foreign_certification(app, cast):
    with app.app_context():
        officer = db_session.get(User, cast.users["officer_b"].id)
        account = db_session.get(TradeAccount, cast.account_b.id)
        assert load_account_mra_demo(account, officer) is True
        assert load_account_mra_demo(account, officer) is False
        db_session.commit()
        [row] = queries.account_certifications(account.id)
        assert row.program.code == "MX"
