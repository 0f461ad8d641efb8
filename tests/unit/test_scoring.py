"""Scoring as pure functions: weights, not-applicable left out, exceeds, rounding, empty categories."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portal.catalog import get_catalog
from portal.companies.business_types import BusinessType
from portal.reviews.scoring import Rating, open_must_gaps, score_criteria, score_profile

CATALOG = get_catalog("msc-2023")
MUST = CATALOG.criterion("1.3")      # must, weight 3
SHOULD = CATALOG.criterion("1.1")    # should, weight 1


def crit(id_: str, level: str, weight: float):
    base = MUST if level == "must" else SHOULD
    return replace(base, id=id_, weight=weight)


@pytest.mark.parametrize(("ratings", "expected"), [
    ({"a": Rating.MEETS, "b": Rating.MEETS}, 100.0),
    ({"a": Rating.EXCEEDS, "b": Rating.MEETS}, 100.0),
    ({"a": Rating.DOES_NOT_MEET, "b": Rating.MEETS}, 25.0),       # (0*3 + 1*1) / 4
    ({"a": Rating.MEETS, "b": Rating.DOES_NOT_MEET}, 75.0),       # (3 + 0) / 4
    ({"a": Rating.PARTIALLY_MEETS, "b": Rating.MEETS}, 62.5),     # (1.5 + 1) / 4
    ({"a": Rating.PARTIALLY_MEETS, "b": Rating.NOT_APPLICABLE}, 50.0),  # b left out: 1.5 / 3
    ({"a": Rating.NOT_APPLICABLE, "b": Rating.DOES_NOT_MEET}, 0.0),
])
def test_weighted_mean(ratings, expected):
    criteria = [crit("a", "must", 3), crit("b", "should", 1)]
    assert score_criteria(criteria, ratings).value == expected


def test_rounding_to_one_decimal():
    criteria = [crit("a", "should", 1), crit("b", "should", 1), crit("c", "should", 1)]
    score = score_criteria(criteria, {"a": Rating.MEETS, "b": Rating.MEETS, "c": Rating.DOES_NOT_MEET})
    assert score.value == 66.7


def test_only_not_applicable_gives_no_score_and_says_why():
    score = score_criteria([crit("a", "must", 3)], {"a": Rating.NOT_APPLICABLE})
    assert score.value is None and "no score" in score.explanation
    assert score.not_applicable == 1


def test_unrated_criteria_are_left_out_and_counted():
    score = score_criteria([crit("a", "must", 3), crit("b", "should", 1)], {"a": Rating.MEETS})
    assert score.value == 100.0 and score.unrated == 1
    assert "1 not yet rated left out" in score.explanation
    assert score.explanation.startswith("3 of 3 weighted points = 100")


def test_profile_scores_cover_categories_focus_areas_and_overall():
    ratings = {c.id: Rating.MEETS for c in CATALOG.criteria_for(BusinessType.IMPORTER)}
    ratings["4.1"] = Rating.DOES_NOT_MEET  # must, cybersecurity (category 4, focus area 1)
    scores = score_profile(CATALOG, BusinessType.IMPORTER, ratings)
    assert set(scores.categories) == set(range(1, 13))
    assert scores.categories[4].value < 100 and scores.categories[1].value == 100
    assert scores.focus_areas[1].value < 100 and scores.focus_areas[2].value == 100
    cyber = CATALOG.criteria_in(CATALOG.category(4), BusinessType.IMPORTER)
    possible = sum(c.weight for c in cyber)
    assert scores.categories[4].value == round(100 * (possible - 3) / possible, 1)
    assert scores.overall.possible == sum(c.weight for c in CATALOG.criteria_for(BusinessType.IMPORTER))


def test_open_must_gaps_lists_unrated_and_below_meets_musts_only():
    ratings = {c.id: Rating.MEETS for c in CATALOG.criteria_for(BusinessType.IMPORTER)}
    ratings["4.1"] = Rating.PARTIALLY_MEETS
    ratings["1.1"] = Rating.DOES_NOT_MEET   # a Should: not a gate
    del ratings["2.1"]                      # an unrated Must
    assert [c.id for c in open_must_gaps(CATALOG, BusinessType.IMPORTER, ratings)] == ["2.1", "4.1"]


def test_default_weights_come_from_the_catalog():
    assert MUST.weight == 3 and SHOULD.weight == 1


def test_comment_needed_below_meets_only():
    assert [r.value for r in Rating if r.needs_comment] == ["partially_meets", "does_not_meet"]
