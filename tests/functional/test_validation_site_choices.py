"""Adding sites to a validation's visit plan offers only the company's sites not yet planned, says so when
every site is planned, and refuses a site already in the plan (a stale page, a direct POST, or a race with
another reviewer) with a message naming the site: never a duplicate row, never a database error."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from portal.audit import AuditEvent
from portal.companies.models import Address
from portal.db import db_session
from portal.errors import DomainError
from portal.validations import services
from portal.validations.models import Validation, ValidationSite
from portal.validations.workflow import SiteMode
from tests.functional.test_validations import facility, planned, user


def _options(html: str) -> list[str]:
    """The option labels of the "Facility" select of the add-site form ([] when there is no such select)."""
    select_html = re.search(r'<select[^>]*name="address_id"[^>]*>(.*?)</select>', html, re.S)
    return re.findall(r"<option[^>]*>([^<]*)</option>", select_html.group(1)) if select_html else []


def _counts(app: Any, validation_id: int) -> tuple[int, int]:
    with app.app_context():
        sites = db_session.scalar(select(func.count()).select_from(ValidationSite)
                                  .where(ValidationSite.validation_id == validation_id))
        added = db_session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "validation.site_added"))
        return sites, added


def _address_id(app: Any, site_id: int) -> int:
    with app.app_context():
        return db_session.get(ValidationSite, site_id).address_id


def test_the_choice_list_offers_only_sites_not_yet_planned(app, client, login, cast):
    ids = planned(app, cast)   # Chicago DC and Monterrey plant are planned
    with app.app_context():
        facility(cast.company_a.id, cast, name="Laredo yard")
        db_session.commit()
    login(cast.email("reviewer"))
    page = client.get(f"/validations/{ids['validation']}/sites").get_data(as_text=True)
    options = _options(page)
    assert any("Laredo yard" in o for o in options)
    assert not any("Chicago DC" in o or "Monterrey plant" in o for o in options), options
    assert "Monterrey plant" in page   # still listed among the chosen sites
    assert 'id="all-sites-planned"' not in page
    # Adding the last one leaves nothing to offer: the page says so instead of an empty list.
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        for address in services.unplanned_addresses(validation):
            services.add_site(validation, address, SiteMode.ONSITE, by=user("reviewer", cast))
        db_session.commit()
    page = client.get(f"/validations/{ids['validation']}/sites").get_data(as_text=True)
    assert _options(page) == [] and "Add the site" not in page
    assert "Every facility of the company on file is already in this validation's plan." in page


def test_a_stale_post_of_a_planned_site_is_refused_with_a_clear_message(app, client, login, cast):
    ids = planned(app, cast)
    before = _counts(app, ids["validation"])
    login(cast.email("reviewer"))
    response = client.post(f"/validations/{ids['validation']}/sites",
                           data={"address_id": _address_id(app, ids["us_site"]), "mode": "virtual"})
    html = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 200
    assert "Chicago DC (1 Chicago DC Road" in html and "is already part of the validation's visit plan." in html
    assert "Not a valid choice" not in html
    assert _counts(app, ids["validation"]) == before


@pytest.mark.parametrize("address_id", ["", "abc", "-1", "99999999999999"])
def test_bad_facility_values_are_refused_and_change_nothing(app, client, login, cast, address_id):
    ids = planned(app, cast)
    before = _counts(app, ids["validation"])
    login(cast.email("reviewer"))
    response = client.post(f"/validations/{ids['validation']}/sites", data={"address_id": address_id,
                                                                           "mode": "onsite"})
    assert response.status_code == 200 and "There is a problem" in response.get_data(as_text=True)
    assert _counts(app, ids["validation"]) == before


def test_the_service_refuses_a_site_already_planned(app, cast):
    ids = planned(app, cast)
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        chicago = db_session.get(ValidationSite, ids["us_site"]).address
        with pytest.raises(DomainError, match=r"Chicago DC \(1 Chicago DC Road.*already part of the validation's "
                                              r"visit plan") as refused:
            services.add_site(validation, chicago, SiteMode.VIRTUAL, by=user("reviewer", cast))
        assert refused.value.field == "address_id"
        assert len(validation.sites) == 2
        assert chicago not in services.unplanned_addresses(validation)


def test_a_site_added_by_someone_else_in_between_is_a_domain_error_not_a_database_error(app, cast):
    ids = planned(app, cast)
    with app.app_context():
        validation = db_session.get(Validation, ids["validation"])
        laredo = facility(cast.company_a.id, cast, name="Laredo yard")
        assert laredo in services.unplanned_addresses(validation)   # the plan as this reviewer loaded it
        # Another reviewer's add lands in the table behind the loaded plan's back.
        db_session.execute(insert(ValidationSite).values(validation_id=validation.id, address_id=laredo.id,
                                                         mode=SiteMode.ONSITE, no_go=False, no_go_note=""))
        with pytest.raises(DomainError, match="by someone else at the same time") as refused:
            services.add_site(validation, laredo, SiteMode.ONSITE, by=user("reviewer", cast))
        assert refused.value.field == "address_id"
        db_session.rollback()
        assert db_session.scalar(select(func.count()).select_from(ValidationSite)
                                 .where(ValidationSite.address_id == laredo.id)) == 0


@pytest.mark.parametrize("actor", ["officer_a", "readonly_a", "officer_b"])
def test_trade_users_still_get_404_and_add_nothing(app, client, login, cast, actor):
    ids = planned(app, cast)
    with app.app_context():
        laredo_id = facility(cast.company_a.id, cast, name="Laredo yard").id
        db_session.commit()
    before = _counts(app, ids["validation"])
    login(cast.email(actor))
    assert client.get(f"/validations/{ids['validation']}/sites").status_code == 404
    response = client.post(f"/validations/{ids['validation']}/sites", data={"address_id": laredo_id,
                                                                           "mode": "onsite"})
    assert response.status_code == 404
    assert _counts(app, ids["validation"]) == before
    with app.app_context():
        assert db_session.get(Address, laredo_id) is not None
