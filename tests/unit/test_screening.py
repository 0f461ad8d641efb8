"""The screening rules as tables (issue 7, "Tests"): the status derived for each kind of partner on a
date, MRA recognition over a program's history, next-review dates, and the register summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from portal.partners.enums import CertificationKind, CtpatStatus, MraStatus, RiskRating, ScreeningStatus
from portal.partners.screening import (
    MraTimeline,
    add_years,
    aeo_recognition,
    derived_next_review,
    next_review_due,
    screen_partner,
    summarise,
)

J, F, X = MraStatus.JOINT_WORK_PLAN, MraStatus.IN_FORCE, MraStatus.SUSPENDED
MEXICO, GUATEMALA, SUSPENDED, JWP_ONLY, UNKNOWN = 1, 2, 3, 4, 99
TIMELINES = {
    MEXICO: MraTimeline.of([(date(2014, 10, 17), F)]),
    GUATEMALA: MraTimeline.of([(date(2022, 7, 1), J), (date(2023, 4, 17), F)]),
    SUSPENDED: MraTimeline.of([(date(2010, 6, 1), F), (date(2025, 3, 1), X)]),
    JWP_ONLY: MraTimeline.of([(date(2022, 7, 1), J)]),
}
ON = date(2026, 1, 15)


@dataclass
class Partner:
    certification: CertificationKind = CertificationKind.NONE
    ctpat_status: CtpatStatus | None = None
    mra_program_id: int | None = None
    certificate_expires_on: date | None = None
    last_assessed_on: date | None = None
    risk_rating: RiskRating | None = None
    next_review_override: date | None = None


def ctpat(status: CtpatStatus, **kwargs: object) -> Partner:
    return Partner(CertificationKind.CTPAT, ctpat_status=status, **kwargs)  # type: ignore[arg-type]


def aeo(program: int, expires: date = date(2027, 12, 31), **kwargs: object) -> Partner:
    return Partner(CertificationKind.AEO, mra_program_id=program, certificate_expires_on=expires,
                   **kwargs)  # type: ignore[arg-type]


M, A, Q, FL = (ScreeningStatus.MONITOR, ScreeningStatus.ASSESSMENT_NEEDED, ScreeningStatus.QUESTIONNAIRE_OR_VISIT,
               ScreeningStatus.FLAGGED)
RECENT = {"last_assessed_on": date(2025, 6, 1), "risk_rating": RiskRating.HIGH}  # next review 2026-06-01
STALE = {"last_assessed_on": date(2024, 6, 1), "risk_rating": RiskRating.HIGH}   # next review 2025-06-01: overdue

# (case, partner, date, status, counts as certified, reason fragment)
CASES = [
    ("CTPAT validated", ctpat(CtpatStatus.VALIDATED), ON, M, True, "validated"),
    ("CTPAT certified, not validated", ctpat(CtpatStatus.CERTIFIED), ON, A, True, "not yet validated"),
    ("AEO, MRA in force", aeo(MEXICO), ON, M, True, "in force since October 17, 2014"),
    ("AEO, only a JWP on the date", aeo(GUATEMALA), date(2023, 1, 10), A, False, "Only a joint work plan"),
    ("AEO, the MRA's first day", aeo(GUATEMALA), date(2023, 4, 17), M, True, "in force since April 17, 2023"),
    ("AEO, a program with only a JWP", aeo(JWP_ONLY), ON, A, False, "Only a joint work plan since July 1, 2022"),
    ("AEO, program not recognised", aeo(UNKNOWN), ON, A, False, "no arrangement with the U.S."),
    ("AEO, MRA suspended", aeo(SUSPENDED), ON, A, False, "suspended since March 1, 2025"),
    ("AEO, before any step of the program", aeo(GUATEMALA), date(2021, 1, 1), A, False, "No arrangement was in place"),
    ("AEO, expired certificate", aeo(MEXICO, date(2025, 12, 31)), ON, FL, False, "expired on December 31, 2025"),
    ("AEO, certificate expired before the MRA", aeo(GUATEMALA, date(2023, 1, 31)), ON, FL, False,
     "before the MRA took effect on April 17, 2023"),
    ("AEO, certificate expiring the day the MRA took effect", aeo(GUATEMALA, date(2023, 4, 17)),
     date(2023, 4, 17), M, True, "recognised"),
    ("not certified", Partner(), ON, Q, False, "questionnaire or a visit is required"),
    ("not certified, assessment current", Partner(**RECENT), ON, Q, False, "holds until the review due on June 1"),
    ("not certified, overdue review", Partner(**STALE), ON, FL, False, "The review was due on June 1, 2025"),
    ("CTPAT validated, overdue review", ctpat(CtpatStatus.VALIDATED, **STALE), ON, FL, True, "was due"),
    ("AEO in force, overdue review", aeo(MEXICO, **STALE), ON, FL, True, "was due"),
    ("overdue by the override", Partner(next_review_override=date(2026, 1, 14), **RECENT), ON, FL, False, "was due"),
    ("due today is not overdue", Partner(next_review_override=ON), ON, Q, False, "questionnaire"),
]


@pytest.mark.parametrize(("case", "partner", "on", "status", "certified", "reason"), CASES, ids=[c[0] for c in CASES])
def test_screening_status(case, partner, on, status, certified, reason):
    result = screen_partner(partner, TIMELINES, on)
    assert result.status == status
    assert result.certified is certified
    assert any(reason in sentence for sentence in result.reasons), result.reasons


def test_expired_certificate_and_overdue_review_are_both_reported():
    result = screen_partner(aeo(MEXICO, date(2025, 1, 1), **STALE), TIMELINES, ON)
    assert result.status == FL
    assert result.certificate_expired and result.review_overdue


def test_a_certificate_that_expired_before_the_mra_was_never_recognised():
    recognition = aeo_recognition(TIMELINES[GUATEMALA], date(2023, 1, 31), ON)
    assert not recognition.recognised
    assert "never recognised" in recognition.reason
    assert aeo_recognition(TIMELINES[GUATEMALA], date(2023, 4, 17), ON).recognised


def test_a_future_step_counts_only_from_its_date():
    timeline = MraTimeline.of([(date(2022, 7, 1), J), (date(2027, 1, 1), F)])
    assert timeline.status_on(ON) == J
    assert timeline.status_on(date(2027, 1, 1)) == F


# --- timelines -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "status", "since", "in_force_since"), [
    (date(2009, 12, 31), None, None, None),
    (date(2010, 6, 1), F, date(2010, 6, 1), date(2010, 6, 1)),
    (date(2015, 1, 1), F, date(2010, 6, 1), date(2010, 6, 1)),   # a repeated "in force" does not restart it
    (date(2020, 5, 1), X, date(2020, 5, 1), None),
    (date(2022, 1, 1), F, date(2021, 9, 1), date(2021, 9, 1)),  # back in force after the suspension
])
def test_timeline_status_on_a_date(day, status, since, in_force_since):
    timeline = MraTimeline.of([(date(2010, 6, 1), F), (date(2012, 6, 1), F), (date(2020, 5, 1), X),
                               (date(2021, 9, 1), F)])
    assert timeline.status_on(day) == status
    assert timeline.since(day) == since
    assert timeline.in_force_since(day) == in_force_since


def test_timeline_sorts_its_steps():
    timeline = MraTimeline.of([(date(2023, 4, 17), F), (date(2022, 7, 1), J)])
    assert [status for _day, status in timeline.changes] == [J, F]


# --- next review -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("assessed", "risk", "override", "expected"), [
    (date(2025, 3, 10), RiskRating.HIGH, None, date(2026, 3, 10)),
    (date(2025, 3, 10), RiskRating.MEDIUM, None, date(2027, 3, 10)),
    (date(2025, 3, 10), RiskRating.LOW, None, date(2028, 3, 10)),
    (date(2024, 2, 29), RiskRating.HIGH, None, date(2025, 2, 28)),
    (date(2024, 2, 29), RiskRating.LOW, None, date(2027, 2, 28)),
    (date(2025, 3, 10), RiskRating.LOW, date(2025, 9, 1), date(2025, 9, 1)),   # the override wins
    (None, RiskRating.HIGH, None, None),                                        # never assessed
    (date(2025, 3, 10), None, None, None),                                      # not rated
    (None, None, date(2026, 1, 1), date(2026, 1, 1)),
])
def test_next_review_date(assessed, risk, override, expected):
    assert next_review_due(assessed, risk, override) == expected


def test_derived_next_review_ignores_the_override():
    assert derived_next_review(date(2025, 1, 1), RiskRating.MEDIUM) == date(2027, 1, 1)


def test_add_years_keeps_the_day():
    assert add_years(date(2023, 4, 17), 3) == date(2026, 4, 17)


# --- summary -----------------------------------------------------------------------------------------

def test_summary_counts_by_status_country_and_certification():
    items = [("MX", screen_partner(aeo(MEXICO), TIMELINES, ON)),
             ("MX", screen_partner(Partner(**STALE), TIMELINES, ON)),
             ("GT", screen_partner(aeo(GUATEMALA, date(2023, 1, 31)), TIMELINES, ON)),
             ("US", screen_partner(ctpat(CtpatStatus.CERTIFIED), TIMELINES, ON)),
             ("CN", screen_partner(Partner(), TIMELINES, ON))]
    summary = summarise(items)
    assert summary.total == 5
    assert summary.by_status == {M: 1, A: 1, Q: 1, FL: 2}
    assert summary.certified == 2 and summary.certified_share == pytest.approx(40.0)
    assert summary.overdue == 1 and summary.expired == 1
    assert [row.country for row in summary.by_country] == ["MX", "CN", "GT", "US"]
    assert [(row.country, row.not_certified) for row in summary.countries_with_uncertified] == [
        ("CN", 1), ("GT", 1), ("MX", 1)]


def test_empty_summary():
    summary = summarise([])
    assert summary.total == 0 and summary.certified_share == 0.0 and summary.by_country == []
