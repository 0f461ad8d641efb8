"""MRA programs: the seed from the domain reference, its idempotence, the CLI command, and the dated
history that admins extend (issue 7, "the MRA history")."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.errors import DomainError
from portal.partners import mra
from portal.partners.enums import DatePrecision, MraStatus
from portal.partners.models import MraProgram, MraStatusChange

J, F, X = MraStatus.JOINT_WORK_PLAN, MraStatus.IN_FORCE, MraStatus.SUSPENDED


def program(db, code: str) -> MraProgram:
    return db.scalar(select(MraProgram).where(MraProgram.code == code))


def history(db, code: str) -> list[tuple[date, MraStatus]]:
    return [(change.effective_on, change.status) for change in program(db, code).changes]


def test_seed_holds_the_eighteen_partners_of_the_reference(db):
    result = mra.seed_mra_programs()
    db.commit()
    assert result.programs_added == 18
    partners = set(db.scalars(select(MraProgram.partner)))
    assert partners == {"New Zealand", "Canada", "Jordan", "Japan", "Korea", "European Union", "Taiwan", "Israel",
                        "Mexico", "Singapore", "Dominican Republic", "Peru", "United Kingdom", "India", "Uruguay",
                        "Brazil", "Guatemala", "Colombia"}
    for row in db.scalars(select(MraProgram)):
        assert row.customs_administration and row.program_name and row.country_codes
        assert row.changes, f"{row.partner} has no history"


def test_seed_dates_guatemala_colombia_and_uruguay(db):
    mra.seed_mra_programs()
    for code in ("GT", "CO"):
        assert history(db, code) == [(date(2022, 7, 1), J), (date(2023, 4, 17), F)]
        assert program(db, code).changes[0].precision == DatePrecision.MONTH
        assert program(db, code).changes[1].precision == DatePrecision.DAY
        assert program(db, code).changes[1].date_label == "April 17, 2023"
    assert history(db, "UY")[-1] == (date(2022, 7, 1), F)
    assert program(db, "UY").changes[-1].date_label == "July 2022"
    assert program(db, "GT").status_on(date(2023, 4, 16)) == J
    assert program(db, "GT").status_on(date(2023, 4, 17)) == F
    assert program(db, "MX").changes[0].effective_on == date(2014, 10, 17)
    assert len(program(db, "EU").country_codes) == 27 and "DE" in program(db, "EU").country_codes
    assert program(db, "GT").customs_administration.startswith("Superintendencia de Administración Tributaria")
    assert "DIAN" in program(db, "CO").customs_administration


def test_seed_is_idempotent_and_keeps_admin_changes(db):
    mra.seed_mra_programs()
    guatemala = program(db, "GT")
    guatemala.program_name = "OEA Guatemala (renamed by an admin)"
    mra.record_status_change(guatemala, X, date(2026, 1, 5), by=None)
    db.commit()
    again = mra.seed_mra_programs()
    db.commit()
    assert (again.programs_added, again.steps_added) == (0, 0)
    assert db.scalar(select(func.count()).select_from(MraProgram)) == 18
    assert program(db, "GT").program_name == "OEA Guatemala (renamed by an admin)"
    assert history(db, "GT")[-1] == (date(2026, 1, 5), X)
    assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "mra.seeded")) == 1


def test_seed_restores_a_missing_step_only(db):
    mra.seed_mra_programs()
    db.delete(program(db, "CO").changes[0])
    db.commit()
    again = mra.seed_mra_programs()
    assert (again.programs_added, again.steps_added) == (0, 1)
    db.commit()
    db.expire_all()
    assert history(db, "CO") == [(date(2022, 7, 1), J), (date(2023, 4, 17), F)]


def test_cli_seed_command(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["mra", "seed"])
    assert first.exit_code == 0, first.output
    assert "18 added" in first.output
    second = runner.invoke(args=["mra", "seed"])
    assert "0 added, 0 status step(s) added" in second.output


def test_status_change_extends_the_history(db, clock):
    mra.seed_mra_programs()
    colombia = program(db, "CO")
    mra.record_status_change(colombia, X, date(2025, 2, 10), by=None, note="Suspended for review.")
    mra.record_status_change(colombia, F, date(2025, 9, 1), by=None, precision=DatePrecision.MONTH)
    db.commit()
    assert history(db, "CO") == [(date(2022, 7, 1), J), (date(2023, 4, 17), F), (date(2025, 2, 10), X),
                                 (date(2025, 9, 1), F)]
    timeline = program(db, "CO").timeline()
    assert timeline.status_on(date(2025, 5, 1)) == X
    assert timeline.in_force_since(date(2025, 10, 1)) == date(2025, 9, 1)
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "mra.status_recorded")) == 2


def test_month_precision_is_stored_as_the_first_of_the_month(db):
    mra.seed_mra_programs()
    change = mra.record_status_change(program(db, "PE"), X, date(2025, 3, 19), by=None,
                                      precision=DatePrecision.MONTH)
    assert change.effective_on == date(2025, 3, 1) and change.date_label == "March 2025"


@pytest.mark.parametrize(("status", "day", "field"), [
    (F, date(2024, 1, 1), "status"),           # Guatemala is already in force then
    (F, date(2023, 4, 17), "effective_on"),    # the very same step again
    (X, date(1999, 12, 31), "effective_on"),   # implausibly early
    (X, date(2099, 1, 1), "effective_on"),     # more than a year ahead
])
def test_refused_status_changes(db, status, day, field):
    mra.seed_mra_programs()
    with pytest.raises(DomainError) as caught:
        mra.record_status_change(program(db, "GT"), status, day, by=None)
    assert caught.value.field == field


def test_create_program_checks_countries_and_uniqueness(db):
    mra.seed_mra_programs()
    data = mra.ProgramInput(code="cn", partner="China", countries="CN, hk", customs_administration="GACC",
                            program_name="China AEO")
    created = mra.create_program(data, by=None)
    assert created.code == "CN" and created.country_codes == ("CN", "HK") and created.changes == []
    with pytest.raises(DomainError) as caught:
        mra.create_program(mra.ProgramInput(code="ZZ", partner="Nowhere", countries="XX", customs_administration="-",
                                            program_name="-"), by=None)
    assert caught.value.field == "countries"
    with pytest.raises(DomainError) as caught:
        mra.create_program(mra.ProgramInput(code="MX", partner="Mexico again", countries="MX",
                                            customs_administration="-", program_name="-"), by=None)
    assert caught.value.field == "code"


def test_history_rows_are_ordered_by_date(db):
    mra.seed_mra_programs()
    guatemala = program(db, "GT")
    mra.record_status_change(guatemala, X, date(2025, 1, 1), by=None)
    db.commit()
    db.expire_all()
    dates = [row.effective_on for row in db.scalars(
        select(MraStatusChange).where(MraStatusChange.program_id == guatemala.id)
        .order_by(MraStatusChange.effective_on))]
    assert dates == [change.effective_on for change in program(db, "GT").changes]
