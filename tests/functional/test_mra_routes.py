"""The public MRA page and the admin pages that keep the list (issue 7 item 1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.db import db_session
from portal.partners import mra
from portal.partners.enums import MraStatus
from portal.partners.models import MraProgram


def seeded(app: Any) -> dict[str, int]:
    with app.app_context():
        mra.seed_mra_programs()
        db_session.commit()
        return {code: pid for pid, code in db_session.execute(select(MraProgram.id, MraProgram.code))}


def test_public_page_lists_every_program_with_its_history(app, client):
    seeded(app)
    page = client.get("/mra-programs").get_data(as_text=True)
    assert "18 AEO programs" in page
    for text in ("Guatemala", "Colombia", "Uruguay", "Dirección de Impuestos y Aduanas Nacionales (DIAN)",
                 "July 2022: Joint work plan", "April 17, 2023: MRA in force", "Partners in Protection (PIP)"):
        assert text in page
    assert 'href="/mra-programs"' in page  # the nav item, visible to anonymous visitors too


def test_program_page_shows_the_dated_history(app, client):
    ids = seeded(app)
    page = client.get(f"/mra-programs/{ids['GT']}").get_data(as_text=True)
    assert "MRA in force</span> since April 17, 2023" in page
    history = page[page.index("<h2>History</h2>"):]
    assert history.index("July 2022") < history.index("April 17, 2023")
    assert "Boston" in page
    assert client.get("/mra-programs/99999").status_code == 404


def test_empty_list_tells_the_admin_how_to_seed(app, client, cast, login):
    login(cast.email("admin"))
    assert "flask --app wsgi mra seed" in client.get("/mra-programs").get_data(as_text=True)


def test_admin_records_a_suspension_and_screening_follows_it(app, client, cast, login):
    ids = seeded(app)
    login(cast.email("admin"))
    url = f"/admin/mra-programs/{ids['CO']}/status"
    response = client.post(url, data={"status": "suspended", "effective_on": "2025-02-10", "precision": "day",
                                      "note": "Suspended pending review."})
    assert response.status_code == 302
    page = client.get(f"/mra-programs/{ids['CO']}").get_data(as_text=True)
    assert "Suspended</span> since February 10, 2025" in page and "Suspended pending review." in page
    with app.app_context():
        colombia = db_session.get(MraProgram, ids["CO"])
        assert [c.status for c in colombia.changes] == [MraStatus.JOINT_WORK_PLAN, MraStatus.IN_FORCE,
                                                        MraStatus.SUSPENDED]


def test_admin_status_form_errors(app, client, cast, login):
    ids = seeded(app)
    login(cast.email("admin"))
    url = f"/admin/mra-programs/{ids['GT']}/status"
    page = client.post(url, data={"status": "in_force", "effective_on": "2024-05-01", "precision": "day"})
    assert "already “MRA in force” on that date" in page.get_data(as_text=True)
    page = client.post(url, data={"status": "in_force", "precision": "day"})
    assert "Enter the date as YYYY-MM-DD" in page.get_data(as_text=True)


def test_admin_adds_and_edits_a_program(app, client, cast, login):
    seeded(app)
    login(cast.email("admin"))
    response = client.post("/admin/mra-programs/new", data={
        "code": "cn", "partner": "China", "countries": "CN", "customs_administration": "General Administration of "
        "Customs of China (GACC)", "program_name": "China AEO", "notes": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("/status")
    with app.app_context():
        china = db_session.scalar(select(MraProgram).where(MraProgram.code == "CN"))
    client.post(response.headers["Location"], data={"status": "joint_work_plan", "effective_on": "2012-06-01",
                                                     "precision": "month"})
    page = client.get(f"/mra-programs/{china.id}").get_data(as_text=True)
    assert "Joint work plan</span> since June 2012" in page
    edit = client.post(f"/admin/mra-programs/{china.id}/edit", data={
        "code": "CN", "partner": "China", "countries": "CN, XX", "customs_administration": "GACC",
        "program_name": "China AEO"})
    assert "Unknown country code(s): XX" in edit.get_data(as_text=True)
    clash = client.post("/admin/mra-programs/new", data={"code": "MX", "partner": "Mexico 2", "countries": "MX",
                                                         "customs_administration": "SAT", "program_name": "x"})
    assert "Another program already uses this code" in clash.get_data(as_text=True)


def test_non_admins_cannot_reach_the_admin_pages(app, client, cast, login):
    ids = seeded(app)
    login(cast.email("supervisor"))
    assert client.get("/admin/mra-programs/new").status_code == 404
    assert client.post(f"/admin/mra-programs/{ids['GT']}/status", data={"status": "suspended",
                                                                       "effective_on": "2025-01-01",
                                                                       "precision": "day"}).status_code == 404
    with app.app_context():
        assert len(db_session.get(MraProgram, ids["GT"]).changes) == 2
