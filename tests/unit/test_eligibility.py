"""Eligibility questionnaire: questions per business type, knock-outs and incomplete answers."""

from __future__ import annotations

import pytest

from portal.companies.business_types import BusinessType
from portal.companies.eligibility import (
    COMMON_QUESTIONS,
    EligibilityQuestion,
    evaluate,
    questions_for,
)

ALL_TYPES = list(BusinessType)


def good_answers(business_type: BusinessType) -> dict[str, bool]:
    """The answer set of an applicant that passes every question."""
    return {q.key: not q.knock_out_answer for q in questions_for(business_type)}


def all_knock_outs() -> list[tuple[BusinessType, EligibilityQuestion]]:
    return [(bt, q) for bt in ALL_TYPES for q in questions_for(bt)]


@pytest.mark.parametrize("business_type", ALL_TYPES)
def test_every_type_has_the_common_questions_first(business_type: BusinessType) -> None:
    questions = questions_for(business_type)
    assert questions[: len(COMMON_QUESTIONS)] == COMMON_QUESTIONS
    assert "unpaid_cbp_debt" in {q.key for q in questions}
    # Each type adds at least one rule of its own on top of the common ones.
    assert len(questions) > len(COMMON_QUESTIONS)


@pytest.mark.parametrize("business_type", ALL_TYPES)
def test_question_keys_are_unique_and_texts_complete(business_type: BusinessType) -> None:
    questions = questions_for(business_type)
    assert len({q.key for q in questions}) == len(questions)
    for question in questions:
        assert question.text.endswith("?")
        assert question.explanation


def test_unpaid_debt_question_knocks_out_on_yes() -> None:
    debt = next(q for q in COMMON_QUESTIONS if q.key == "unpaid_cbp_debt")
    assert debt.knock_out_answer is True
    assert "debt" in debt.text.lower()


@pytest.mark.parametrize(
    ("business_type", "key"),
    [
        (BusinessType.IMPORTER, "continuous_import_bond"),
        (BusinessType.EXPORTER, "export_poc_and_alternate"),
        (BusinessType.CUSTOMS_BROKER, "licensed_past_year"),
        (BusinessType.CONSOLIDATOR, "carrier_or_custodial_bond"),
        (BusinessType.HIGHWAY_CARRIER, "active_dot"),
        (BusinessType.MEXICAN_LONG_HAUL, "crosses_border"),
        (BusinessType.RAIL_CARRIER, "common_carrier_bond"),
        (BusinessType.SEA_CARRIER, "isps_mtsa_compliant"),
        (BusinessType.AIR_CARRIER, "active_iata"),
        (BusinessType.US_MPTO, "fmc_mto_number"),
        (BusinessType.FOREIGN_MPTO, "invited_by_cbp"),
        (BusinessType.FOREIGN_MANUFACTURER, "incorporated_mexico_or_canada"),
        (BusinessType.THIRD_PARTY_LOGISTICS, "subcontracts_beyond_second_party"),
    ],
)
def test_type_specific_rule_is_asked(business_type: BusinessType, key: str) -> None:
    assert key in {q.key for q in questions_for(business_type)}


@pytest.mark.parametrize("business_type", ALL_TYPES)
def test_all_good_answers_are_eligible(business_type: BusinessType) -> None:
    result = evaluate(business_type, good_answers(business_type))
    assert result.complete
    assert result.eligible
    assert result.knocked_out == ()
    assert result.unanswered == ()


@pytest.mark.parametrize(
    ("business_type", "question"),
    all_knock_outs(),
    ids=[f"{bt.value}-{q.key}" for bt, q in all_knock_outs()],
)
def test_each_knock_out_answer_makes_the_applicant_ineligible(
    business_type: BusinessType, question: EligibilityQuestion
) -> None:
    answers = good_answers(business_type) | {question.key: question.knock_out_answer}
    result = evaluate(business_type, answers)
    assert result.complete
    assert not result.eligible
    assert result.knocked_out == ((question, question.explanation),)


def test_several_knock_outs_are_all_reported_in_question_order() -> None:
    answers = good_answers(BusinessType.IMPORTER) | {
        "unpaid_cbp_debt": True,
        "active_ior": False,
    }
    result = evaluate(BusinessType.IMPORTER, answers)
    assert [q.key for q, _ in result.knocked_out] == ["unpaid_cbp_debt", "active_ior"]


def test_missing_and_none_answers_are_unanswered() -> None:
    answers: dict[str, bool | None] = dict(good_answers(BusinessType.AIR_CARRIER))
    del answers["active_iata"]
    answers["security_officer"] = None
    result = evaluate(BusinessType.AIR_CARRIER, answers)
    assert not result.complete
    assert not result.eligible
    assert result.unanswered == ("security_officer", "active_iata")


def test_knock_out_is_reported_before_the_questionnaire_is_complete() -> None:
    result = evaluate(BusinessType.FOREIGN_MPTO, {"invited_by_cbp": False})
    assert not result.complete
    assert not result.eligible
    assert [q.key for q, _ in result.knocked_out] == ["invited_by_cbp"]
    assert "invited_by_cbp" not in result.unanswered


def test_empty_answers_leave_every_question_unanswered() -> None:
    result = evaluate(BusinessType.EXPORTER, {})
    assert result.unanswered == tuple(q.key for q in questions_for(BusinessType.EXPORTER))


def test_unknown_key_raises() -> None:
    # A question of another business type is unknown here, too.
    answers = good_answers(BusinessType.IMPORTER) | {"active_scac": True}
    with pytest.raises(ValueError, match="active_scac"):
        evaluate(BusinessType.IMPORTER, answers)


def test_non_bool_answer_raises() -> None:
    with pytest.raises(TypeError):
        evaluate(BusinessType.IMPORTER, {"unpaid_cbp_debt": "no"})  # type: ignore[dict-item]
