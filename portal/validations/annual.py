"""The annual security-profile review (ctpat-domain.md §3.6): the window opens 90 days before each
anniversary of certification; the partner confirms each criterion unchanged (one by one or a whole
category at once) or edits it, and the officer attests and submits a new version. The submission,
the per-criterion diff and the review pipeline are the existing ones (``portal.profiles.submission``,
``portal.reviews``); this module adds the cycle, the confirmations and the delta the reviewer sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from portal import audit, clock
from portal.auth.models import User
from portal.catalog.schema import Criterion
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import Answer, EvidenceLink, ProfileVersion, SecurityProfile
from portal.profiles.services import catalog_of, profile_for_account
from portal.profiles.submission import CriterionDiff, diff_versions, submit_profile
from portal.validations.models import AnnualConfirmation
from portal.validations.services import add_years

WINDOW_DAYS = 90


@dataclass(frozen=True)
class AnnualCycle:
    """One anniversary's review window and what happened in it."""

    anniversary_on: date
    opens_on: date
    submitted_version: int | None
    submitted_at: datetime | None

    def is_open(self, today: date) -> bool:
        """The partner may work on it: from the window's opening until it is submitted."""
        return self.opens_on <= today and self.submitted_version is None

    def missed(self, today: date) -> bool:
        """The anniversary passed without a submission (flagged on the reviewer dashboard)."""
        return today > self.anniversary_on and self.submitted_version is None

    def days_left(self, today: date) -> int:
        return (self.anniversary_on - today).days


def certification_base(account: Any) -> date | None:
    """The date anniversaries count from (an account, or a row with its dates)."""
    if account.certified_on is not None:
        return account.certified_on
    if account.anniversary_on is not None:
        return add_years(account.anniversary_on, -1)
    return None


def anniversary_for(base: date, today: date) -> date:
    """The anniversary whose window is current: the latest one whose window has opened, else the first."""
    k = 1
    while add_years(base, k + 1) - timedelta(days=WINDOW_DAYS) <= today:
        k += 1
    return add_years(base, k)


def cycle_from(anniversary_on: date, submissions: Iterable[tuple[int, datetime]]) -> AnnualCycle:
    """The cycle of an anniversary given the profile's (version number, submitted_at) pairs (pure)."""
    opens_on = anniversary_on - timedelta(days=WINDOW_DAYS)
    inside = [(n, at) for n, at in submissions if at.astimezone(UTC).date() >= opens_on]
    first = min(inside, default=None)
    return AnnualCycle(anniversary_on, opens_on, first[0] if first else None, first[1] if first else None)


def current_cycle(account: TradeAccount, today: date | None = None) -> AnnualCycle | None:
    """The account's current annual-review cycle, or None when it was never certified."""
    base = certification_base(account)
    if base is None:
        return None
    today = today or clock.utcnow().date()
    profile = profile_for_account(account)
    submissions: list[tuple[int, datetime]] = []
    if profile is not None:
        submissions = [(v.number, v.submitted_at) for v in db_session.scalars(
            select(ProfileVersion).where(ProfileVersion.profile_id == profile.id))]
    return cycle_from(anniversary_for(base, today), submissions)


# A current cycle's window opened less than a year ago (its anniversary is the latest whose window has
# opened), so older submissions cannot fall inside it; the margin covers 29 February.
_CYCLE_LOOKBACK_DAYS = 400


def current_cycles(accounts: Iterable[Any], today: date) -> dict[int, AnnualCycle]:
    """``current_cycle`` of many accounts (objects or rows with their dates) in one query over the
    submissions of the last ``_CYCLE_LOOKBACK_DAYS``, by account id; accounts never certified are
    left out."""
    based = [(account.id, base) for account in accounts if (base := certification_base(account)) is not None]
    if not based:
        return {}
    since = datetime.combine(today - timedelta(days=_CYCLE_LOOKBACK_DAYS), time.min, tzinfo=UTC)
    submissions: dict[int, list[tuple[int, datetime]]] = {}
    for account_id, number, at in db_session.execute(
            select(SecurityProfile.account_id, ProfileVersion.number, ProfileVersion.submitted_at)
            .join(SecurityProfile, SecurityProfile.id == ProfileVersion.profile_id)
            .where(ProfileVersion.submitted_at >= since)):
        submissions.setdefault(account_id, []).append((number, at))
    return {account_id: cycle_from(anniversary_for(base, today), submissions.get(account_id, []))
            for account_id, base in based}


def window_start(cycle: AnnualCycle) -> datetime:
    return datetime.combine(cycle.opens_on, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class CriterionState:
    criterion: Criterion
    state: str  # "changed", "confirmed" or "pending"


def changed_in_window(profile: SecurityProfile, since: datetime) -> set[str]:
    """Criteria whose answer or evidence changed inside the window (only those changes count)."""
    answers = db_session.scalars(select(Answer.criterion_id).where(Answer.profile_id == profile.id,
                                                                   Answer.updated_at >= since))
    links = db_session.scalars(select(EvidenceLink.criterion_id).where(EvidenceLink.profile_id == profile.id,
                                                                       EvidenceLink.linked_at >= since))
    return set(answers) | set(links)


def confirmed(account: TradeAccount, cycle: AnnualCycle) -> set[str]:
    return set(db_session.scalars(select(AnnualConfirmation.criterion_id).where(
        AnnualConfirmation.account_id == account.id, AnnualConfirmation.anniversary_on == cycle.anniversary_on)))


def criterion_states(account: TradeAccount, cycle: AnnualCycle) -> list[CriterionState]:
    profile = profile_for_account(account)
    if profile is None:
        return []
    changed = changed_in_window(profile, window_start(cycle))
    done = confirmed(account, cycle)
    states = []
    for criterion in catalog_of(profile).criteria_for(account.business_type):
        state = "changed" if criterion.id in changed else "confirmed" if criterion.id in done else "pending"
        states.append(CriterionState(criterion, state))
    return states


def _check_open(account: TradeAccount, cycle: AnnualCycle | None) -> AnnualCycle:
    today = clock.utcnow().date()
    if cycle is None:
        raise DomainError("The account is not certified, so it has no annual review.")
    if today < cycle.opens_on:
        raise DomainError(f"The annual review window opens on {cycle.opens_on:%B %d, %Y}.")
    if cycle.submitted_version is not None:
        raise DomainError("This year's annual review is already submitted.")
    return cycle


def confirm_unchanged(account: TradeAccount, criterion_ids: Sequence[str], *, by: User) -> list[str]:
    """Confirm criteria unchanged in the current cycle; returns the IDs newly confirmed.

    :raise DomainError: outside the window, or for a criterion not in the profile.
    """
    cycle = _check_open(account, current_cycle(account))
    states = {s.criterion.id: s.state for s in criterion_states(account, cycle)}
    unknown = [cid for cid in criterion_ids if cid not in states]
    if unknown or not criterion_ids:
        raise DomainError("Choose criteria of the security profile.")
    added = []
    now = clock.utcnow()
    for cid in criterion_ids:
        if states[cid] == "pending":
            db_session.add(AnnualConfirmation(account_id=account.id, anniversary_on=cycle.anniversary_on,
                                              criterion_id=cid, confirmed_at=now, confirmed_by_id=by.id))
            added.append(cid)
    db_session.flush()
    if added:
        audit.record("annual_review.confirmed", actor=by, company_id=account.company_id, obj=account,
                     summary=f"Anniversary {cycle.anniversary_on}: {', '.join(added)} unchanged")
    return added


def submit_annual(account: TradeAccount, typed_name: str, *, by: User) -> ProfileVersion:
    """The officer attests and submits once every criterion is confirmed or changed in the window.

    :raise DomainError: outside the window, with criteria left, or from the submission gates.
    """
    cycle = _check_open(account, current_cycle(account))
    pending = [s.criterion.id for s in criterion_states(account, cycle) if s.state == "pending"]
    if pending:
        raise DomainError(f"Confirm or update every criterion first; {len(pending)} left: "
                          + ", ".join(pending[:10]) + ("…" if len(pending) > 10 else ""))
    profile = profile_for_account(account)
    assert profile is not None
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()}; wait for CBP's review to finish.")
    version = submit_profile(profile, typed_name, by=by)
    audit.record("annual_review.submitted", actor=by, company_id=account.company_id, obj=account,
                 summary=f"Anniversary {cycle.anniversary_on}: version {version.number}")
    return version


def annual_delta(account: TradeAccount, cycle: AnnualCycle) -> list[CriterionDiff]:
    """What the reviewer looks at: only the criteria that changed in the version submitted this cycle."""
    profile = profile_for_account(account)
    if profile is None or cycle.submitted_version is None or cycle.submitted_version < 2:
        return []
    rows = {v.number: v for v in db_session.scalars(select(ProfileVersion).where(
        ProfileVersion.profile_id == profile.id,
        ProfileVersion.number.in_([cycle.submitted_version - 1, cycle.submitted_version])))}
    old, new = rows.get(cycle.submitted_version - 1), rows.get(cycle.submitted_version)
    if old is None or new is None:
        return []
    return [row for row in diff_versions(old.content, new.content) if row.change != "unchanged"]
