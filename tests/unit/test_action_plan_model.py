"""ActionPlan.is_overdue: derived from the target date and the status, never stored (DESIGN.md §7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portal.action_plans.models import ActionPlan
from portal.clock import today
from portal.profiles.workflow import ActionPlanStatus


def plan(target: date, status: ActionPlanStatus = ActionPlanStatus.OPEN) -> ActionPlan:
    return ActionPlan(profile_id=1, criterion_id="1.3", gap="g", corrective_action="c", owner_name="A",
                      target_date=target, status=status)


@pytest.mark.parametrize(("days", "status", "overdue"), [
    (-1, ActionPlanStatus.OPEN, True),
    (-400, ActionPlanStatus.IN_PROGRESS, True),
    (0, ActionPlanStatus.OPEN, False),  # due today is not late yet
    (1, ActionPlanStatus.OPEN, False),
    (-1, ActionPlanStatus.COMPLETED, False),
    (-1, ActionPlanStatus.VERIFIED, False),
])
def test_overdue_follows_the_date_and_the_status(clock, days, status, overdue):
    assert plan(today() + timedelta(days=days), status).is_overdue is overdue


def test_overdue_appears_as_the_clock_passes_the_target_date(clock):
    target = today() + timedelta(days=3)
    row = plan(target)
    assert not row.is_overdue
    clock.advance(days=3)
    assert not row.is_overdue
    clock.advance(days=1)
    assert row.is_overdue
    assert row.status == ActionPlanStatus.OPEN  # nothing is stored: the status stays as it was
    row.status = ActionPlanStatus.COMPLETED
    assert not row.is_overdue


def test_overdue_is_not_a_status():
    assert "overdue" not in {status.value for status in ActionPlanStatus}
