"""Scoring of a reviewed profile (DESIGN.md §8): pure functions from catalog weights and ratings to
category, focus-area and overall scores, each with an explanation of how it was computed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from portal.catalog.schema import Catalog, Criterion
from portal.companies.business_types import BusinessType


class Rating(StrEnum):
    """A reviewer's rating of one criterion."""

    EXCEEDS = "exceeds"
    MEETS = "meets"
    PARTIALLY_MEETS = "partially_meets"
    DOES_NOT_MEET = "does_not_meet"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return {"exceeds": "Exceeds (best practice)", "meets": "Meets", "partially_meets": "Partially meets",
                "does_not_meet": "Does not meet", "not_applicable": "Not applicable"}[self.value]

    @property
    def points(self) -> float | None:
        """Credit for the rating; None leaves the criterion out of the denominator."""
        return RATING_POINTS[self]

    @property
    def below_meets(self) -> bool:
        return self in {Rating.PARTIALLY_MEETS, Rating.DOES_NOT_MEET}

    @property
    def needs_comment(self) -> bool:
        """A comment is required for every rating below meets."""
        return self.below_meets


RATING_POINTS: dict[Rating, float | None] = {
    Rating.EXCEEDS: 1.0,
    Rating.MEETS: 1.0,
    Rating.PARTIALLY_MEETS: 0.5,
    Rating.DOES_NOT_MEET: 0.0,
    Rating.NOT_APPLICABLE: None,
}


@dataclass(frozen=True)
class Score:
    """A weighted mean x 100, with the numbers it came from."""

    earned: float
    possible: float
    rated: int
    unrated: int
    not_applicable: int

    @property
    def value(self) -> float | None:
        """None when nothing counts (every criterion not applicable or unrated)."""
        if self.possible == 0:
            return None
        return round(100 * self.earned / self.possible, 1)

    @property
    def explanation(self) -> str:
        if self.possible == 0:
            return "No rated criterion counts here (all are not applicable or not yet rated), so there is no score."
        text = (f"{_fmt(self.earned)} of {_fmt(self.possible)} weighted points = {self.value:g} "
                f"({self.rated} rated criteria")
        if self.not_applicable:
            text += f"; {self.not_applicable} not applicable left out"
        if self.unrated:
            text += f"; {self.unrated} not yet rated left out"
        return text + ")."


def _fmt(number: float) -> str:
    return f"{number:g}"


def score_criteria(criteria: Iterable[Criterion], ratings: Mapping[str, Rating]) -> Score:
    """Weighted mean of the ratings of these criteria: sum(weight x points) / sum(weight)."""
    earned = possible = 0.0
    rated = unrated = not_applicable = 0
    for criterion in criteria:
        rating = ratings.get(criterion.id)
        if rating is None:
            unrated += 1
            continue
        points = rating.points
        if points is None:
            not_applicable += 1
            continue
        rated += 1
        earned += criterion.weight * points
        possible += criterion.weight
    return Score(earned=earned, possible=possible, rated=rated, unrated=unrated, not_applicable=not_applicable)


@dataclass(frozen=True)
class ProfileScores:
    """Scores per category and focus area, and overall."""

    categories: dict[int, Score]
    focus_areas: dict[int, Score]
    overall: Score


def score_profile(catalog: Catalog, business_type: BusinessType, ratings: Mapping[str, Rating]) -> ProfileScores:
    """Category, focus-area and overall scores over the criteria that apply to the business type.

    Focus-area and overall scores are weighted over criteria (not an average of averages), so a
    category with many Musts weighs accordingly.
    """
    applicable = catalog.criteria_for(business_type)
    categories = {c.number: score_criteria([x for x in applicable if x.category == c.number], ratings)
                  for c in catalog.categories_for(business_type)}
    focus_areas = {}
    for area in catalog.focus_areas:
        numbers = {c.number for c in catalog.categories if c.focus_area == area.number}
        members = [x for x in applicable if x.category in numbers]
        if members:
            focus_areas[area.number] = score_criteria(members, ratings)
    return ProfileScores(categories=categories, focus_areas=focus_areas, overall=score_criteria(applicable, ratings))


def open_must_gaps(catalog: Catalog, business_type: BusinessType, ratings: Mapping[str, Rating]) -> list[Criterion]:
    """Applicable Musts rated below meets, or not yet rated: these block a recommendation to certify."""
    return [c for c in catalog.criteria_for(business_type)
            if c.is_must and (ratings.get(c.id) is None or ratings[c.id].below_meets)]
