"""The trade-account transition table (DESIGN.md §7): every (status, action) pair, allowed or not."""

from __future__ import annotations

import itertools

import pytest

from portal.companies.workflow import (
    TERMINAL,
    TRANSITIONS,
    AccountAction,
    AccountStatus,
    InvalidTransition,
    next_status,
)

S = AccountStatus
A = AccountAction

# The table written out again, independently of the code, from DESIGN.md §7 and the CTPAT lifecycle:
# applicant -> certified -> validated, with returned / ineligible / suspended / reinstated / removed /
# withdrawn around them.
EXPECTED: dict[tuple[AccountStatus, AccountAction], AccountStatus] = {
    (S.APPLICANT, A.RETURN): S.RETURNED,
    (S.APPLICANT, A.CERTIFY): S.CERTIFIED,
    (S.APPLICANT, A.DENY): S.INELIGIBLE,
    (S.APPLICANT, A.WITHDRAW): S.WITHDRAWN,
    (S.RETURNED, A.RESUBMIT): S.APPLICANT,
    (S.RETURNED, A.DENY): S.INELIGIBLE,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
    (S.CERTIFIED, A.VALIDATE): S.VALIDATED,
    (S.CERTIFIED, A.SUSPEND): S.SUSPENDED,
    (S.CERTIFIED, A.REMOVE): S.REMOVED,
    (S.CERTIFIED, A.WITHDRAW): S.WITHDRAWN,
    (S.VALIDATED, A.VALIDATE): S.VALIDATED,
    (S.VALIDATED, A.SUSPEND): S.SUSPENDED,
    (S.VALIDATED, A.REMOVE): S.REMOVED,
    (S.VALIDATED, A.WITHDRAW): S.WITHDRAWN,
    (S.SUSPENDED, A.REINSTATE): S.REINSTATED,
    (S.SUSPENDED, A.REMOVE): S.REMOVED,
    (S.SUSPENDED, A.WITHDRAW): S.WITHDRAWN,
    (S.REINSTATED, A.VALIDATE): S.VALIDATED,
    (S.REINSTATED, A.SUSPEND): S.SUSPENDED,
    (S.REINSTATED, A.REMOVE): S.REMOVED,
    (S.REINSTATED, A.WITHDRAW): S.WITHDRAWN,
}

ALL_PAIRS = list(itertools.product(AccountStatus, AccountAction))


def test_the_code_table_is_the_expected_table():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=[f"{s.value}-{a.value}" for s, a in ALL_PAIRS])
def test_every_status_and_action_pair(status, action):
    if (status, action) in EXPECTED:
        assert next_status(status, action) == EXPECTED[(status, action)]
    else:
        with pytest.raises(InvalidTransition) as error:
            next_status(status, action)
        assert error.value.status == status
        assert error.value.action == action
        assert action.value in str(error.value)


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=lambda s: s.value)
def test_terminal_states_have_no_moves(status):
    assert [action for action in AccountAction if (status, action) in TRANSITIONS] == []


def test_the_terminal_states_are_ineligible_removed_and_withdrawn():
    assert TERMINAL == {S.INELIGIBLE, S.REMOVED, S.WITHDRAWN}


def test_every_non_terminal_state_can_be_left_and_every_state_can_be_reached():
    movable = {status for status, _ in TRANSITIONS}
    assert movable == set(AccountStatus) - TERMINAL
    reached = set(TRANSITIONS.values()) | {S.APPLICANT}
    assert reached == set(AccountStatus)


def test_a_withdrawal_is_possible_from_every_live_state():
    for status in set(AccountStatus) - TERMINAL:
        assert next_status(status, A.WITHDRAW) == S.WITHDRAWN


def test_only_certified_validated_or_reinstated_accounts_are_validated():
    """Validation comes after certification; an applicant cannot skip to validated."""
    assert {status for (status, action) in TRANSITIONS if action == A.VALIDATE} == {
        S.CERTIFIED, S.VALIDATED, S.REINSTATED}
    assert all(target != S.VALIDATED for (status, _), target in TRANSITIONS.items()
               if status in {S.APPLICANT, S.RETURNED, S.SUSPENDED})


def test_every_status_has_a_label_and_a_badge():
    for status in AccountStatus:
        assert status.label and status.badge in {"info", "warning", "success", "error", "base"}


def test_the_database_refuses_a_status_outside_the_enum(app, cast):
    """The CHECK constraint guards the column even against raw SQL."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from portal.db import db_session

    with app.app_context():
        with pytest.raises(IntegrityError):
            db_session.execute(text("UPDATE trade_accounts SET status = 'pending_magic' WHERE id = :id"),
                               {"id": cast.account_a.id})
            db_session.flush()
        db_session.rollback()
        assert db_session.scalar(text("SELECT status FROM trade_accounts WHERE id = :id"),
                                 {"id": cast.account_a.id}) == "applicant"
