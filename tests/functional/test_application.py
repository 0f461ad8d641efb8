"""The trade-account application through its pages: business type, eligibility knock-outs, identifiers
with the required set per type and duplicate flags for CBP, the officer's signature of the Partner
Agreement and the status history (issue 2, item 8)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal.audit import AuditEvent
from portal.auth.models import User
from portal.auth.roles import CompanyRole
from portal.companies import applications, eligibility
from portal.companies.business_types import BusinessType, ConsolidatorSubtype, HighwayBorder
from portal.companies.identifiers import REQUIRED_IDENTIFIERS, IdentifierKind, missing_identifiers
from portal.companies.models import (
    AccountStatusChange,
    AgreementSignature,
    BusinessIdentifier,
    Company,
    EligibilityAnswer,
    TradeAccount,
)
from portal.companies.workflow import AccountStatus, ApplicationStep
from portal.db import db_session
from tests import factories

K = IdentifierKind

# One valid value per identifier kind.
SAMPLE: dict[IdentifierKind, str] = {
    K.IOR: "12-3456789", K.BOND: "ABC123456", K.MID: "MXFABACM123TIJ", K.SCAC: "ABCD", K.DOT: "1234567",
    K.IATA: "AA", K.FMC_ORG: "012345", K.FMC_MTO: "654321", K.BROKER_LICENSE: "12345", K.FILER_CODE: "A1B",
    K.SCT: "ABC123", K.RFC: "ABC680524P76", K.EIN: "12-3456789", K.DUNS: "123456789",
}

OPEN_EXTRAS: dict[BusinessType, dict[str, Any]] = {
    BusinessType.CONSOLIDATOR: {"consolidator_subtype": ConsolidatorSubtype.OTI},
    BusinessType.HIGHWAY_CARRIER: {"highway_border": HighwayBorder.CANADA},
}


@contextmanager
def database(app: Any) -> Iterator[Any]:
    """A short-lived session for checking what the requests stored (never held across a request)."""
    with app.app_context():
        yield db_session


def audit_rows(app: Any, action: str, company_id: int | None = None) -> list[AuditEvent]:
    with database(app) as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        if company_id is not None:
            query = query.where(AuditEvent.company_id == company_id)
        return list(session.scalars(query))


def get_account(app: Any, account_id: int) -> TradeAccount:
    with database(app) as session:
        account = session.get(TradeAccount, account_id)
        # Load what the assertions read, while the session is open.
        _ = (account.identifiers, account.eligibility_answers, account.agreement, account.status_history,
             account.company)
        return account


def accounts_of(app: Any, company_id: int) -> list[TradeAccount]:
    with database(app) as session:
        return list(session.scalars(select(TradeAccount).where(TradeAccount.company_id == company_id)
                                    .order_by(TradeAccount.id)))


def field_error(html: str, field: str) -> bool:
    return f'id="{field}-error"' in html


def new_company_with_account(app: Any, cast: Any, business_type: BusinessType, *, officer: str = "officer_a",
                             step: ApplicationStep = ApplicationStep.ELIGIBILITY) -> tuple[int, int]:
    """A further company of the officer (so any business type is free) with an account at ``step``."""
    with database(app) as session:
        user = session.get(User, cast.users[officer].id)
        company = factories.company(user)
        if officer == "officer_a":
            factories.member(company, session.get(User, cast.users["employee_a"].id), CompanyRole.EMPLOYEE)
            factories.member(company, session.get(User, cast.users["readonly_a"].id), CompanyRole.READ_ONLY)
        account = factories.account(company, user, business_type, complete=False,
                                    **OPEN_EXTRAS.get(business_type, {}))
        if step in (ApplicationStep.IDENTIFIERS, ApplicationStep.AGREEMENT):
            applications.save_eligibility(account, good_answers(business_type), by=user)
        if step == ApplicationStep.AGREEMENT:
            for group in REQUIRED_IDENTIFIERS[business_type]:
                applications.add_identifier(account, group[0], SAMPLE[group[0]], by=user)
            applications.finish_identifiers(account, by=user)
        session.commit()
        return company.id, account.id


def good_answers(business_type: BusinessType) -> dict[str, bool]:
    return {q.key: not q.knock_out_answer for q in eligibility.questions_for(business_type)}


def eligibility_form(answers: dict[str, bool]) -> dict[str, str]:
    return {f"q_{key}": "yes" if value else "no" for key, value in answers.items()}


# --- opening an account -----------------------------------------------------------------------------


def test_officer_opens_an_account_in_a_business_type(app, client, cast, login):
    company_id = cast.company_a.id
    login(cast.email("officer_a"))
    assert client.get(f"/companies/{company_id}/accounts/new").status_code == 200
    response = client.post(f"/companies/{company_id}/accounts/new", data={"business_type": "exporter"})
    assert response.status_code == 302
    importer, exporter = accounts_of(app, company_id)
    assert response.headers["Location"] == f"/accounts/{exporter.id}/eligibility"
    assert exporter.business_type == BusinessType.EXPORTER
    assert exporter.status == AccountStatus.APPLICANT
    assert exporter.application_step == ApplicationStep.ELIGIBILITY
    assert exporter.account_number == f"CT{exporter.id:08d}"
    assert exporter.consolidator_subtype is None and exporter.highway_border is None
    account = get_account(app, exporter.id)
    [start] = account.status_history
    assert (start.from_status, start.to_status, start.reason) == (None, AccountStatus.APPLICANT, "Application started")
    assert start.changed_by_id == cast.users["officer_a"].id
    events = [e for e in audit_rows(app, "account.status_changed", company_id) if e.object_id == str(exporter.id)]
    assert [e.summary for e in events] == ["new -> applicant: Application started"]


def test_an_employee_may_open_an_account_too(app, client, cast, login):
    login(cast.email("employee_a"))
    response = client.post(f"/companies/{cast.company_a.id}/accounts/new", data={"business_type": "customs_broker"})
    assert response.status_code == 302
    assert [a.business_type for a in accounts_of(app, cast.company_a.id)] == [
        BusinessType.IMPORTER, BusinessType.CUSTOMS_BROKER]


def test_one_account_per_business_type(app, client, cast, login):
    company_id = cast.company_a.id
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{company_id}/accounts/new", data={"business_type": "importer"})
    assert response.status_code == 200
    assert field_error(response.text, "business_type")
    assert "already has a Importer account" in response.text or "already has an Importer account" in response.text
    assert len(accounts_of(app, company_id)) == 1


@pytest.mark.parametrize(("business_type", "missing_field", "completed", "stored"), [
    ("consolidator", "consolidator_subtype", {"consolidator_subtype": "nvocc"},
     ("consolidator_subtype", ConsolidatorSubtype.NVOCC)),
    ("highway_carrier", "highway_border", {"highway_border": "mexico"}, ("highway_border", HighwayBorder.MEXICO)),
])
def test_a_sub_designation_is_required_where_the_type_has_one(app, client, cast, login, business_type,
                                                               missing_field, completed, stored):
    company_id = cast.company_a.id
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{company_id}/accounts/new", data={"business_type": business_type})
    assert response.status_code == 200
    assert field_error(response.text, missing_field)
    assert _checked(response.text, "business_type", business_type)  # the chosen type is kept
    assert len(accounts_of(app, company_id)) == 1

    response = client.post(f"/companies/{company_id}/accounts/new",
                           data={"business_type": business_type, **completed})
    assert response.status_code == 302
    account = accounts_of(app, company_id)[-1]
    assert account.business_type == BusinessType(business_type)
    assert getattr(account, stored[0]) == stored[1]


def test_a_sub_designation_of_another_type_is_not_stored(app, client, cast, login):
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{cast.company_a.id}/accounts/new",
                           data={"business_type": "exporter", "consolidator_subtype": "oti",
                                 "highway_border": "canada"})
    assert response.status_code == 302
    exporter = accounts_of(app, cast.company_a.id)[-1]
    assert exporter.consolidator_subtype is None and exporter.highway_border is None


def test_an_unknown_business_type_is_refused_at_the_field(app, client, cast, login):
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{cast.company_a.id}/accounts/new", data={"business_type": "smuggler"})
    assert response.status_code == 200
    assert field_error(response.text, "business_type")
    assert len(accounts_of(app, cast.company_a.id)) == 1


@pytest.mark.parametrize(("actor", "status"), [("readonly_a", 403), ("reviewer", 403), ("officer_b", 404)])
def test_others_cannot_open_an_account(app, client, cast, login, actor, status):
    login(cast.email(actor))
    response = client.post(f"/companies/{cast.company_a.id}/accounts/new", data={"business_type": "exporter"})
    assert response.status_code == status
    assert len(accounts_of(app, cast.company_a.id)) == 1


# --- eligibility ------------------------------------------------------------------------------------


@pytest.mark.parametrize("business_type", list(BusinessType), ids=lambda bt: bt.value)
def test_each_knock_out_answer_explains_stops_the_application_and_is_kept(app, client, cast, login, business_type):
    _, account_id = new_company_with_account(app, cast, business_type)
    login(cast.email("officer_a"))
    url = f"/accounts/{account_id}/eligibility"
    page = client.get(url)
    assert page.status_code == 200
    questions = eligibility.questions_for(business_type)
    for question in questions:
        assert str(escape(question.text)) in page.text

    for question in questions:
        answers = good_answers(business_type)
        answers[question.key] = question.knock_out_answer
        response = client.post(url, data=eligibility_form(answers))
        assert response.status_code == 200, question.key
        html = response.text
        assert "is not eligible for CTPAT" in html, question.key
        assert str(escape(question.explanation)) in html, question.key
        others = [q.key for q in questions if q is not question and str(escape(q.explanation)) in html]
        assert others == [], f"{question.key}: unrelated explanations shown: {others}"
        account = get_account(app, account_id)
        assert account.application_step == ApplicationStep.NOT_ELIGIBLE, question.key
        assert {a.question_key: a.answer for a in account.eligibility_answers} == answers, question.key
        assert account.status == AccountStatus.APPLICANT  # the CTPAT status is CBP's decision, not this form's
        # The later steps are closed while the answers knock the company out.
        response = client.get(f"/accounts/{account_id}/identifiers")
        assert response.status_code == 302 and response.headers["Location"] == url
        # Coming back shows the explanation again, with the kept answers selected.
        again = client.get(url)
        assert str(escape(question.explanation)) in again.text
        assert _checked(again.text, f"q_{question.key}", "yes" if question.knock_out_answer else "no")

        # Correcting the answer moves the application on.
        response = client.post(url, data=eligibility_form(good_answers(business_type)))
        assert response.status_code == 302, question.key
        assert response.headers["Location"] == f"/accounts/{account_id}/identifiers"
        assert get_account(app, account_id).application_step == ApplicationStep.IDENTIFIERS

    events = audit_rows(app, "account.eligibility_answered")
    mine = [e.summary for e in events if e.object_id == str(account_id)]
    assert mine == [s for q in questions for s in (f"not eligible: {q.key}", "eligible")]


def _checked(html: str, name: str, value: str) -> bool:
    """Whether the radio button ``name`` with ``value`` is rendered checked."""
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and f'value="{value}"' in tag:
            return "checked" in tag
    return False


def test_kept_answers_are_selected_when_the_page_is_opened_again(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER)
    login(cast.email("officer_a"))
    answers = good_answers(BusinessType.IMPORTER)
    answers["unpaid_cbp_debt"] = True
    client.post(f"/accounts/{account_id}/eligibility", data=eligibility_form(answers))
    page = client.get(f"/accounts/{account_id}/eligibility").text
    for key, value in answers.items():
        assert _checked(page, f"q_{key}", "yes" if value else "no"), key
        assert not _checked(page, f"q_{key}", "no" if value else "yes"), key


def test_unanswered_questions_are_shown_at_their_fields_and_nothing_is_stored(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER)
    login(cast.email("officer_a"))
    answers = eligibility_form(good_answers(BusinessType.IMPORTER))
    skipped = [q.key for q in eligibility.questions_for(BusinessType.IMPORTER)][:2]
    for key in skipped:
        del answers[f"q_{key}"]
    answers["q_" + eligibility.questions_for(BusinessType.IMPORTER)[2].key] = "maybe"
    response = client.post(f"/accounts/{account_id}/eligibility", data=answers)
    assert response.status_code == 200
    for key in skipped:
        assert field_error(response.text, f"q_{key}"), key
    assert field_error(response.text, "q_" + eligibility.questions_for(BusinessType.IMPORTER)[2].key)
    account = get_account(app, account_id)
    assert account.eligibility_answers == []
    assert account.application_step == ApplicationStep.ELIGIBILITY


@pytest.mark.parametrize(("actor", "status"), [("readonly_a", 403), ("reviewer", 403), ("officer_b", 404)])
def test_only_editors_answer_the_eligibility_questions(app, client, cast, login, actor, status):
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER)
    login(cast.email(actor))
    assert client.get(f"/accounts/{account_id}/eligibility").status_code == status
    response = client.post(f"/accounts/{account_id}/eligibility",
                           data=eligibility_form(good_answers(BusinessType.IMPORTER)))
    assert response.status_code == status
    assert get_account(app, account_id).eligibility_answers == []


# --- identifiers ------------------------------------------------------------------------------------


def test_identifier_format_errors_are_shown_at_the_field(app, client, cast, login):
    company_id, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER,
                                                      step=ApplicationStep.IDENTIFIERS)
    login(cast.email("employee_a"))
    url = f"/accounts/{account_id}/identifiers"
    response = client.post(url, data={"kind": "ior", "value": "1234-56789"})
    assert response.status_code == 200
    assert field_error(response.text, "value")
    assert "EIN" in response.text
    assert 'value="1234-56789"' in response.text  # the input is kept for correction
    assert _selected(response.text, "ior")

    response = client.post(url, data={"kind": "bond", "value": "12345678"})
    assert field_error(response.text, "value") and "9 or 10" in response.text

    response = client.post(url, data={"kind": "ior", "value": ""})
    assert field_error(response.text, "value") and "Enter the identifier." in response.text

    # A kind the business type does not use is not offered, and refused.
    response = client.post(url, data={"kind": "scac", "value": "ABCD"})
    assert response.status_code == 200
    assert field_error(response.text, "kind")
    assert get_account(app, account_id).identifiers == []
    assert audit_rows(app, "identifier.added", company_id) == []

    # A valid value is normalised and stored; the same one twice is refused.
    response = client.post(url, data={"kind": "ior", "value": " 123456789 "})
    assert response.status_code == 302
    [identifier] = get_account(app, account_id).identifiers
    assert (identifier.kind, identifier.value) == (K.IOR, "12-3456789")
    response = client.post(url, data={"kind": "ior", "value": "12-3456789"})
    assert response.status_code == 200
    assert "This identifier is already on the account." in response.text
    assert len(get_account(app, account_id).identifiers) == 1


def _selected(html: str, value: str) -> bool:
    return f'<option selected value="{value}">' in html


@pytest.mark.parametrize("business_type", list(BusinessType), ids=lambda bt: bt.value)
def test_continue_enforces_the_identifiers_each_business_type_requires(app, client, cast, login, business_type):
    _, account_id = new_company_with_account(app, cast, business_type, step=ApplicationStep.IDENTIFIERS)
    login(cast.email("officer_a"))
    url = f"/accounts/{account_id}/identifiers"
    groups = REQUIRED_IDENTIFIERS[business_type]
    present: list[IdentifierKind] = []
    for group in groups:
        expected = missing_identifiers(business_type, present)
        assert expected, "the test expects something missing"
        response = client.post(f"{url}/done", follow_redirects=True)
        assert response.status_code == 200
        assert response.request.path == url
        for message in expected:
            assert str(escape(message)) in response.text, message
        assert get_account(app, account_id).application_step == ApplicationStep.IDENTIFIERS
        # Add one kind of the group; its message goes away.
        kind = group[-1]
        assert client.post(url, data={"kind": kind.value, "value": SAMPLE[kind]}).status_code == 302
        present.append(kind)
    assert missing_identifiers(business_type, present) == []
    response = client.post(f"{url}/done")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{account_id}/agreement"
    assert get_account(app, account_id).application_step == ApplicationStep.AGREEMENT
    assert len([e for e in audit_rows(app, "account.identifiers_completed") if e.object_id == str(account_id)]) == 1


def test_an_identifier_can_be_removed_while_the_application_is_open(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER, step=ApplicationStep.IDENTIFIERS)
    login(cast.email("officer_a"))
    client.post(f"/accounts/{account_id}/identifiers", data={"kind": "bond", "value": "ABC123456"})
    [identifier] = get_account(app, account_id).identifiers
    response = client.post(f"/accounts/{account_id}/identifiers/{identifier.id}/delete")
    assert response.status_code == 302
    assert get_account(app, account_id).identifiers == []
    [event] = audit_rows(app, "identifier.removed")
    assert event.summary == "bond ABC123456"


def test_removing_a_required_identifier_at_the_agreement_step_reopens_the_identifiers_step(app, client, cast, login):
    """Otherwise the officer could sign an application that lacks an identifier its type requires."""
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER, step=ApplicationStep.AGREEMENT)
    login(cast.email("officer_a"))
    bond = next(i for i in get_account(app, account_id).identifiers if i.kind == K.BOND)
    assert client.post(f"/accounts/{account_id}/identifiers/{bond.id}/delete").status_code == 302
    account = get_account(app, account_id)
    assert [i.kind for i in account.identifiers] == [K.IOR]
    assert account.application_step == ApplicationStep.IDENTIFIERS
    assert client.post(f"/accounts/{account_id}/agreement", data=agreement_form()).status_code == 403
    assert get_account(app, account_id).agreement is None

    # Put it back, continue, sign.
    client.post(f"/accounts/{account_id}/identifiers", data={"kind": "bond", "value": "ZZZ123456"})
    assert client.post(f"/accounts/{account_id}/identifiers/done").status_code == 302
    assert client.post(f"/accounts/{account_id}/agreement", data=agreement_form()).status_code == 302
    assert get_account(app, account_id).application_step == ApplicationStep.COMPLETE


def test_a_knock_out_answer_given_later_closes_the_agreement(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER, step=ApplicationStep.AGREEMENT)
    login(cast.email("officer_a"))
    answers = good_answers(BusinessType.IMPORTER)
    answers["unpaid_cbp_debt"] = True
    assert client.post(f"/accounts/{account_id}/eligibility", data=eligibility_form(answers)).status_code == 200
    assert get_account(app, account_id).application_step == ApplicationStep.NOT_ELIGIBLE
    assert client.post(f"/accounts/{account_id}/agreement", data=agreement_form()).status_code == 403
    assert get_account(app, account_id).agreement is None


def test_removing_an_optional_identifier_keeps_the_agreement_step(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.FOREIGN_MANUFACTURER,
                                             step=ApplicationStep.AGREEMENT)
    login(cast.email("officer_a"))
    client.post(f"/accounts/{account_id}/identifiers", data={"kind": "rfc", "value": "ABC680524P76"})
    rfc = next(i for i in get_account(app, account_id).identifiers if i.kind == K.RFC)
    assert client.post(f"/accounts/{account_id}/identifiers/{rfc.id}/delete").status_code == 302
    assert get_account(app, account_id).application_step == ApplicationStep.AGREEMENT


def test_an_identifier_used_by_another_account_is_flagged_to_cbp_only(app, client, cast, login):
    # Company B applies as an importer with the IOR number that company A's importer account holds.
    ior_a = factories.DEFAULT_IDENTIFIERS[BusinessType.IMPORTER][0][1]
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER, officer="officer_b",
                                             step=ApplicationStep.IDENTIFIERS)
    account_a = get_account(app, cast.account_a.id)
    login(cast.email("officer_b"))
    response = client.post(f"/accounts/{account_id}/identifiers", data={"kind": "ior", "value": ior_a},
                           follow_redirects=True)
    assert response.status_code == 200
    assert account_a.account_number not in response.text  # the trade user is not told about the other account

    account = get_account(app, account_id)
    [identifier] = account.identifiers
    [flag] = audit_rows(app, "identifier.duplicate_flagged")
    assert flag.company_id == account.company_id
    assert flag.object_type == "BusinessIdentifier" and flag.object_id == str(identifier.id)
    assert flag.actor_id == cast.users["officer_b"].id
    assert account_a.account_number in flag.summary
    assert ior_a in flag.summary

    # The trade users' view of either account does not show the flag ...
    page = client.get(f"/accounts/{account_id}")
    assert page.status_code == 200
    assert ior_a in page.text
    assert account_a.account_number not in page.text and "Also on" not in page.text
    officer_a = app.test_client()
    login(cast.email("officer_a"), test_client=officer_a)
    page_a = officer_a.get(f"/accounts/{account_a.id}")
    assert "Also on" not in page_a.text and account.account_number not in page_a.text

    # ... the CBP staff view of both accounts does.
    reviewer = app.test_client()
    login(cast.email("reviewer"), test_client=reviewer)
    staff_page = reviewer.get(f"/accounts/{account_id}")
    assert staff_page.status_code == 200
    assert f"Also on {account_a.account_number}" in staff_page.text
    staff_page_a = reviewer.get(f"/accounts/{account_a.id}")
    assert f"Also on {account.account_number}" in staff_page_a.text


def test_the_same_value_as_another_kind_is_not_a_duplicate(app, client, cast, login):
    """Company A's IOR is an EIN; the same digits as company B's EIN on an exporter account are not a clash
    of identifiers of the same kind, so nothing is flagged."""
    _, account_id = new_company_with_account(app, cast, BusinessType.EXPORTER, officer="officer_b",
                                             step=ApplicationStep.IDENTIFIERS)
    login(cast.email("officer_b"))
    ior_a = factories.DEFAULT_IDENTIFIERS[BusinessType.IMPORTER][0][1]
    assert client.post(f"/accounts/{account_id}/identifiers", data={"kind": "ein", "value": ior_a}).status_code == 302
    assert audit_rows(app, "identifier.duplicate_flagged") == []


# --- the Partner Agreement ---------------------------------------------------------------------------


def agreement_form(name: str = "Olivia Officer", accept: bool = True) -> dict[str, str]:
    return {"typed_name": name, **({"accept": "y"} if accept else {})}


def test_only_the_officer_signs_the_agreement(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.EXPORTER, step=ApplicationStep.AGREEMENT)
    url = f"/accounts/{account_id}/agreement"
    login(cast.email("employee_a"))
    page = client.get(url)
    assert page.status_code == 200
    assert "Only the company officer can sign the Partner Agreement" in page.text
    assert 'name="typed_name"' not in page.text
    # A POST by the employee is refused, whether or not the form is filled in.
    assert client.post(url, data=agreement_form("Evan Employee")).status_code == 403
    assert client.post(url, data={}).status_code == 403
    account = get_account(app, account_id)
    assert account.agreement is None and account.application_step == ApplicationStep.AGREEMENT

    reader = app.test_client()
    login(cast.email("readonly_a"), test_client=reader)
    assert reader.get(url).status_code == 403
    assert reader.post(url, data=agreement_form("Rita Readonly")).status_code == 403
    staff = app.test_client()
    login(cast.email("reviewer"), test_client=staff)
    assert staff.post(url, data=agreement_form("Riley Reviewer")).status_code == 403
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(AgreementSignature)
                              .where(AgreementSignature.account_id == account_id)) == 0
    assert [e for e in audit_rows(app, "account.agreement_signed") if e.object_id == str(account_id)] == []


def test_the_typed_name_must_match_the_officers_name(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.EXPORTER, step=ApplicationStep.AGREEMENT)
    url = f"/accounts/{account_id}/agreement"
    login(cast.email("officer_a"))
    response = client.post(url, data=agreement_form("Evan Employee"))
    assert response.status_code == 200
    assert field_error(response.text, "typed_name")
    assert "Type your full name exactly as on your account (Olivia Officer)" in response.text
    assert 'value="Evan Employee"' in response.text

    response = client.post(url, data=agreement_form(accept=False))
    assert response.status_code == 200
    assert field_error(response.text, "accept")
    assert 'value="Olivia Officer"' in response.text

    response = client.post(url, data=agreement_form(""))
    assert field_error(response.text, "typed_name")

    account = get_account(app, account_id)
    assert account.agreement is None
    assert account.application_step == ApplicationStep.AGREEMENT
    assert account.applied_at is None


def test_signing_records_the_signature_and_completes_the_application(app, client, cast, login, clock):
    _, account_id = new_company_with_account(app, cast, BusinessType.EXPORTER, step=ApplicationStep.AGREEMENT)
    url = f"/accounts/{account_id}/agreement"
    login(cast.email("officer_a"))
    page = client.get(url)
    assert page.status_code == 200
    assert "CTPAT PARTNER AGREEMENT TO VOLUNTARILY PARTICIPATE" in page.text

    clock.advance(minutes=3)
    response = client.post(url, data=agreement_form("  olivia   OFFICER "), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{account_id}"

    account = get_account(app, account_id)
    signature = account.agreement
    assert signature is not None
    assert signature.signer_id == cast.users["officer_a"].id
    assert signature.typed_name == "olivia   OFFICER"  # as typed (trimmed)
    assert signature.signed_at == clock.now
    assert signature.ip_address == "203.0.113.9"
    assert signature.agreement_text == applications.AGREEMENT_TEXT
    assert signature.agreement_version == applications.AGREEMENT_VERSION
    assert account.application_step == ApplicationStep.COMPLETE
    assert account.applied_at == clock.now
    assert account.status == AccountStatus.APPLICANT
    [event] = [e for e in audit_rows(app, "account.agreement_signed") if e.object_id == str(account_id)]
    assert event.actor_id == cast.users["officer_a"].id
    assert event.ip_address == "203.0.113.9"
    assert applications.AGREEMENT_VERSION in event.summary

    with database(app) as session:
        history = list(session.scalars(select(AccountStatusChange).where(AccountStatusChange.account_id == account_id)))
    assert [(h.from_status, h.to_status) for h in history] == [(None, AccountStatus.APPLICANT)]

    page = client.get(f"/accounts/{account_id}")
    assert page.status_code == 200
    assert "Application complete" in page.text
    assert "olivia   OFFICER" in page.text
    history_table = page.text.split("Status history", 1)[1]
    assert "<td>Applicant</td>" in history_table
    assert "Application started" in history_table

    # Signed once: a second signature is refused, and the application steps are closed.
    assert client.post(url, data=agreement_form()).status_code == 403
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(AgreementSignature)
                              .where(AgreementSignature.account_id == account_id)) == 1
    assert client.get(f"/accounts/{account_id}/eligibility").status_code == 403
    assert client.get(f"/accounts/{account_id}/identifiers").status_code == 403
    identifier_id = account.identifiers[0].id
    assert client.post(f"/accounts/{account_id}/identifiers/{identifier_id}/delete").status_code == 403
    assert len(get_account(app, account_id).identifiers) == 1
    # Everyone in the company may read the signed agreement.
    reader = app.test_client()
    login(cast.email("readonly_a"), test_client=reader)
    signed = reader.get(url)
    assert signed.status_code == 200
    assert "Signed by olivia   OFFICER" in signed.text


def test_the_agreement_cannot_be_signed_before_the_earlier_steps(app, client, cast, login):
    _, account_id = new_company_with_account(app, cast, BusinessType.EXPORTER, step=ApplicationStep.IDENTIFIERS)
    login(cast.email("officer_a"))
    assert client.post(f"/accounts/{account_id}/agreement", data=agreement_form()).status_code == 403
    assert get_account(app, account_id).agreement is None


def test_the_full_application_through_the_pages(app, client, cast, login):
    """Business type -> eligibility -> identifiers -> agreement, all through the forms."""
    with database(app) as session:
        company = factories.company(session.get(User, cast.users["officer_a"].id), name="Path Freight LLC")
        session.commit()
        company_id = company.id
    login(cast.email("officer_a"))
    response = client.post(f"/companies/{company_id}/accounts/new",
                           data={"business_type": "highway_carrier", "highway_border": "canada"})
    account_url = response.headers["Location"].rsplit("/", 1)[0]
    response = client.post(f"{account_url}/eligibility",
                           data=eligibility_form(good_answers(BusinessType.HIGHWAY_CARRIER)))
    assert response.headers["Location"] == f"{account_url}/identifiers"
    client.post(f"{account_url}/identifiers", data={"kind": "scac", "value": "pfrt"})
    client.post(f"{account_url}/identifiers", data={"kind": "dot", "value": "USDOT 7654321"})
    assert client.post(f"{account_url}/identifiers/done").headers["Location"] == f"{account_url}/agreement"
    assert client.post(f"{account_url}/agreement", data=agreement_form()).status_code == 302
    with database(app) as session:
        account = session.scalar(select(TradeAccount).where(TradeAccount.company_id == company_id))
        assert account.highway_border == HighwayBorder.CANADA
        assert account.application_step == ApplicationStep.COMPLETE
        assert sorted((i.kind.value, i.value) for i in account.identifiers) == [("dot", "7654321"), ("scac", "PFRT")]
        assert session.scalar(select(func.count()).select_from(EligibilityAnswer)
                              .where(EligibilityAnswer.account_id == account.id)) == \
            len(eligibility.questions_for(BusinessType.HIGHWAY_CARRIER))


# --- another tenant's account -------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["officer_a", "employee_a", "consultant_a", "readonly_a"])
def test_a_crafted_account_id_of_another_company_is_not_found(app, client, cast, login, actor):
    # Company B's account, still open at the identifiers step, with one identifier.
    _, account_id = new_company_with_account(app, cast, BusinessType.IMPORTER, officer="officer_b",
                                             step=ApplicationStep.IDENTIFIERS)
    with database(app) as session:
        account = session.get(TradeAccount, account_id)
        applications.add_identifier(account, K.BOND, "XYZ987654", by=session.get(User, cast.users["officer_b"].id))
        session.commit()
        identifier_id = account.identifiers[0].id
        company_b = account.company_id
    login(cast.email(actor))
    base = f"/accounts/{account_id}"
    attempts = [
        ("GET", base, None), ("GET", f"{base}/eligibility", None),
        ("POST", f"{base}/eligibility", eligibility_form(good_answers(BusinessType.IMPORTER))),
        ("GET", f"{base}/identifiers", None), ("POST", f"{base}/identifiers", {"kind": "ior", "value": "12-3456789"}),
        ("POST", f"{base}/identifiers/{identifier_id}/delete", None), ("POST", f"{base}/identifiers/done", None),
        ("GET", f"{base}/agreement", None), ("POST", f"{base}/agreement", agreement_form()),
        ("GET", f"/accounts/{cast.account_b.id}", None), ("GET", f"/accounts/{cast.account_b.id}/agreement", None),
        ("GET", f"/companies/{company_b}/accounts/new", None),
        ("POST", f"/companies/{company_b}/accounts/new", {"business_type": "exporter"}),
    ]
    wrong = []
    for method, url, data in attempts:
        response = client.open(url, method=method, data=data)
        if response.status_code != 404:
            wrong.append(f"{method} {url}: {response.status_code}")
    assert wrong == []
    account = get_account(app, account_id)
    assert [i.value for i in account.identifiers] == ["XYZ987654"]
    assert account.eligibility_answers != [] and account.application_step == ApplicationStep.IDENTIFIERS
    assert len(accounts_of(app, company_b)) == 1
    # The identifier of company B is also unreachable through company A's own account.
    response = client.post(f"/accounts/{cast.account_a.id}/identifiers/{identifier_id}/delete")
    assert response.status_code in (403, 404)
    assert len(get_account(app, account_id).identifiers) == 1


def test_accounts_of_every_company_are_visible_to_cbp_staff(app, client, cast, login):
    login(cast.email("reviewer"))
    for account_id in (cast.account_a.id, cast.account_b.id):
        page = client.get(f"/accounts/{account_id}")
        assert page.status_code == 200
        assert get_account(app, account_id).account_number in page.text
    with database(app) as session:
        assert session.scalar(select(func.count()).select_from(Company)) == 2
        assert session.scalar(select(func.count()).select_from(BusinessIdentifier)) == 3
