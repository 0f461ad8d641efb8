"""The review and profile state machines as tables."""

from __future__ import annotations

import itertools

import pytest

from portal.profiles.workflow import TRANSITIONS as PROFILE_TRANSITIONS
from portal.profiles.workflow import InvalidProfileTransition, ProfileAction, ProfileStatus, next_profile_status
from portal.reviews.workflow import TRANSITIONS, InvalidReviewTransition, ReviewAction, ReviewStatus, next_review_status


@pytest.mark.parametrize(("status", "action"), list(itertools.product(ReviewStatus, ReviewAction)))
def test_review_transitions(status, action):
    if (status, action) in TRANSITIONS:
        assert next_review_status(status, action) == TRANSITIONS[(status, action)]
    else:
        with pytest.raises(InvalidReviewTransition):
            next_review_status(status, action)


def test_review_table_content():
    assert TRANSITIONS == {
        (ReviewStatus.WAITING, ReviewAction.START): ReviewStatus.IN_PROGRESS,
        (ReviewStatus.IN_PROGRESS, ReviewAction.RECOMMEND): ReviewStatus.RECOMMENDED,
        (ReviewStatus.RECOMMENDED, ReviewAction.SEND_BACK): ReviewStatus.IN_PROGRESS,
        (ReviewStatus.RECOMMENDED, ReviewAction.DECIDE): ReviewStatus.DECIDED,
    }


@pytest.mark.parametrize(("status", "action"), list(itertools.product(ProfileStatus, ProfileAction)))
def test_profile_transitions(status, action):
    if (status, action) in PROFILE_TRANSITIONS:
        assert next_profile_status(status, action) == PROFILE_TRANSITIONS[(status, action)]
    else:
        with pytest.raises(InvalidProfileTransition):
            next_profile_status(status, action)


def test_submitted_and_in_review_profiles_are_read_only():
    assert {s for s in ProfileStatus if not s.editable} == {ProfileStatus.SUBMITTED, ProfileStatus.IN_REVIEW}
