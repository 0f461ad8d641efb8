"""The validation demo data: a certified account with a scheduled validation (a domestic and a foreign
visit) and a validated account with an answered, accepted required action."""

from __future__ import annotations

from sqlalchemy import select

from portal.auth.models import User
from portal.companies.models import Company, TradeAccount
from portal.companies.workflow import AccountStatus
from portal.db import db_session
from portal.validations.demo import load_validation_demo
from portal.validations.models import Validation
from portal.validations.workflow import FindingStatus, ValidationStatus


def _demo(app):
    from portal.demo import load_demo_data

    with app.app_context():
        load_demo_data()
        users = {u.email: u for u in db_session.scalars(select(User))}
        accounts = {key: db_session.scalar(select(TradeAccount).join(Company).where(Company.dba == dba))
                    for key, dba in (("swift", "Swift Haul"), ("acme", "Acme Imports"))}
        if db_session.scalar(select(Validation.id).limit(1)) is None:  # not yet wired into load_demo_data
            load_validation_demo(users, accounts)
        db_session.commit()


def test_the_demo_has_a_scheduled_and_a_closed_validation(app):
    _demo(app)
    with app.app_context():
        rows = {v.account.company.dba: v for v in db_session.scalars(select(Validation))}
        scheduled = rows["Swift Haul"]
        assert scheduled.status == ValidationStatus.SCHEDULED
        assert sorted(v.site.address.country for v in scheduled.visits) == ["MX", "US"]
        closed = rows["Pacific Rim"]
        assert closed.status == ValidationStatus.CLOSED
        assert closed.account.status == AccountStatus.VALIDATED and closed.account.tier == 2
        [action] = closed.required_actions
        assert action.status == FindingStatus.ACCEPTED and action.responses
        assert load_validation_demo({}, {}) == []  # idempotent
