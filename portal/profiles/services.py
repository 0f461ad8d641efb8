"""Security-profile verbs: create a profile for an account, save answers with optimistic locking,
link evidence, and remember where the user left off. Services flush and audit; views commit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select

from portal import audit
from portal.auth.models import User
from portal.catalog import CURRENT_CATALOG_ID, get_catalog
from portal.catalog.schema import Catalog, Criterion
from portal.clock import utcnow
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.errors import DomainError, StaleEdit
from portal.profiles.models import Answer, SecurityProfile
from portal.profiles.workflow import JUSTIFICATION_MAX, NARRATIVE_MAX, ImplementationStatus


@dataclass(frozen=True)
class AnswerInput:
    """What the partner typed for one criterion (any part may still be empty in a draft)."""

    status: ImplementationStatus | None
    narrative: str
    justification: str
    expected_version: int | None  # the answer's version when the form was loaded; None = new


def create_profile(account: TradeAccount, *, by: User | None) -> SecurityProfile:
    """Give an account its security profile, pinned to the current catalog version."""
    profile = SecurityProfile(account_id=account.id, catalog_id=CURRENT_CATALOG_ID)
    db_session.add(profile)
    db_session.flush()
    audit.record("profile.created", actor=by, company_id=account.company_id, obj=profile,
                 summary=f"Catalog {CURRENT_CATALOG_ID}")
    return profile


def profile_for_account(account: TradeAccount) -> SecurityProfile | None:
    return db_session.scalar(select(SecurityProfile).where(SecurityProfile.account_id == account.id))


def catalog_of(profile: SecurityProfile) -> Catalog:
    return get_catalog(profile.catalog_id)


def applicable_criterion(profile: SecurityProfile, criterion_id: str) -> Criterion | None:
    """The criterion if it exists in the profile's catalog and applies to its business type."""
    catalog = catalog_of(profile)
    if not catalog.has_criterion(criterion_id):
        return None
    criterion = catalog.criterion(criterion_id)
    return criterion if criterion.applies(profile.account.business_type) else None


def check_answer_input(data: AnswerInput) -> list[tuple[str, str]]:
    """Length limits that make an answer unsavable, as (field, message) pairs."""
    problems = []
    if len(data.narrative) > NARRATIVE_MAX:
        problems.append(("narrative", f"The narrative is {len(data.narrative):,} characters long; "
                                      f"the limit is {NARRATIVE_MAX:,}. Shorten it by "
                                      f"{len(data.narrative) - NARRATIVE_MAX:,} characters."))
    if len(data.justification) > JUSTIFICATION_MAX:
        problems.append(("justification", f"The justification is {len(data.justification):,} characters long; "
                                          f"the limit is {JUSTIFICATION_MAX:,}."))
    return problems


class NotRead(Enum):
    """The answer to save has not been read yet (``save_answer`` reads it)."""

    NOT_READ = "not read"


NOT_READ = NotRead.NOT_READ


def save_answer(profile: SecurityProfile, criterion: Criterion, data: AnswerInput, *, by: User,
                stored: Answer | None | NotRead = NOT_READ) -> Answer | None:
    """Save one answer as a draft. Incomplete answers are kept (nothing typed is lost);
    completeness is judged at submission. Returns None for an untouched, never-saved criterion.

    ``stored`` is the criterion's answer (None: none yet) when the caller read it already, in this
    transaction or before it: its version is checked by the UPDATE either way.

    :raise DomainError: when the profile is not editable or a text is over its limit.
    :raise StaleEdit: when someone saved the same answer since the form was loaded.
    """
    if not profile.status.editable:
        raise DomainError(f"The profile is {profile.status.label.lower()} and cannot be edited now.")
    problems = check_answer_input(data)
    if problems:
        raise DomainError(problems[0][1], field=problems[0][0])
    answer = db_session.scalar(
        select(Answer).where(Answer.profile_id == profile.id, Answer.criterion_id == criterion.id)
    ) if stored is NOT_READ else stored
    if answer is None:
        if data.status is None and not data.narrative and not data.justification:
            return None  # an untouched criterion on a saved page: nothing to store
        if data.expected_version not in (None, 0):
            raise StaleEdit("This answer was removed since you opened the page.", mine=data.narrative, theirs="")
        answer = Answer(profile_id=profile.id, criterion_id=criterion.id)
        db_session.add(answer)
    elif (answer.status, answer.narrative, answer.justification) == (data.status, data.narrative, data.justification):
        return answer  # saving what is already stored is never a conflict
    elif data.expected_version is None or data.expected_version != answer.version:
        raise StaleEdit(
            f"Someone else saved criterion {criterion.id} after you opened it.",
            mine=data.narrative, theirs=answer.narrative,
        )
    answer.status = data.status
    answer.narrative = data.narrative
    answer.justification = data.justification
    answer.updated_at = utcnow()
    answer.updated_by_id = by.id
    db_session.flush()
    audit.record("answer.saved", actor=by, company_id=profile.account.company_id, obj=answer,
                 summary=f"{criterion.id}: {data.status.value if data.status else 'no status'}, "
                         f"{len(data.narrative)} characters")
    return answer


def remember_category(profile: SecurityProfile, category_number: int) -> None:
    """Remember the last category visited so the overview can offer to resume there."""
    if profile.last_category != category_number:
        # A plain UPDATE: the resume point is a convenience and must not bump the profile's lock version.
        from sqlalchemy import update

        db_session.execute(update(SecurityProfile).where(SecurityProfile.id == profile.id)
                           .values(last_category=category_number)
                           .execution_options(synchronize_session=False))
