"""Submission of a security profile: the gates, the frozen canonical version with its SHA-256,
and the per-criterion diff between two versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit
from portal.action_plans.models import ActionPlan
from portal.auth.models import User
from portal.auth.roles import CompanyRole
from portal.catalog.schema import Catalog
from portal.clock import utcnow
from portal.db import db_session
from portal.errors import DomainError
from portal.profiles.models import Answer, EvidenceLink, ProfileVersion, SecurityProfile
from portal.profiles.services import catalog_of
from portal.profiles.workflow import ImplementationStatus, ProfileAction, next_profile_status

ATTESTATION_TEXT = (
    "I am a company officer of the company named in this profile. To the best of my knowledge the "
    "information in this security profile, its evidence and action plans is true, complete and accurate, "
    "and I understand that knowingly giving false or misleading information may lead to suspension or "
    "removal from CTPAT."
)


@dataclass(frozen=True)
class SubmissionProblem:
    """One reason a profile cannot be submitted yet, tied to a criterion where there is one."""

    criterion_id: str | None
    category: int | None
    message: str


def submission_problems(catalog: Catalog, business_type: Any, answers: Mapping[str, Any],
                        plans_by_criterion: Mapping[str, int]) -> list[SubmissionProblem]:
    """Every gate the profile fails, in catalog order (pure).

    Gates: every applicable criterion answered (status plus narrative); every not-applicable answer
    justified; every Must below implemented has at least one action plan.
    """
    problems: list[SubmissionProblem] = []
    for criterion in catalog.criteria_for(business_type):
        answer = answers.get(criterion.id)
        where = (criterion.id, criterion.category)
        if answer is None or answer.status is None:
            problems.append(SubmissionProblem(*where, f"{criterion.id} {criterion.title}: choose an implementation "
                                                      "status and describe how the company meets it."))
            continue
        if answer.status == ImplementationStatus.NOT_APPLICABLE:
            if not answer.justification.strip():
                problems.append(SubmissionProblem(*where, f"{criterion.id} {criterion.title}: explain why it does "
                                                          "not apply (not applicable needs a justification)."))
            continue
        if not answer.narrative.strip():
            problems.append(SubmissionProblem(*where, f"{criterion.id} {criterion.title}: describe how the company "
                                                      "meets it (the narrative is empty)."))
        if criterion.is_must and answer.status.is_gap and not plans_by_criterion.get(criterion.id):
            problems.append(SubmissionProblem(*where, f"{criterion.id} {criterion.title}: a Must that is "
                                                      f"{answer.status.label.lower()} needs an action plan."))
    return problems


def load_profile_state(profile: SecurityProfile) -> tuple[dict[str, Answer], dict[str, list[ActionPlan]],
                                                          dict[str, list[EvidenceLink]]]:
    """Answers, action plans and evidence links of a profile, keyed by criterion (three queries)."""
    answers = {a.criterion_id: a for a in db_session.scalars(select(Answer).where(Answer.profile_id == profile.id))}
    plans: dict[str, list[ActionPlan]] = {}
    for plan in db_session.scalars(select(ActionPlan).where(ActionPlan.profile_id == profile.id)
                                   .options(selectinload(ActionPlan.milestones), selectinload(ActionPlan.owner_user))
                                   .order_by(ActionPlan.id)):
        plans.setdefault(plan.criterion_id, []).append(plan)
    links: dict[str, list[EvidenceLink]] = {}
    for link in db_session.scalars(select(EvidenceLink).where(EvidenceLink.profile_id == profile.id)
                                   .options(selectinload(EvidenceLink.evidence)).order_by(EvidenceLink.id)):
        links.setdefault(link.criterion_id, []).append(link)
    return answers, plans, links


def problems_for(profile: SecurityProfile) -> list[SubmissionProblem]:
    """The submission gates for a profile as stored now."""
    answers, plans, _links = load_profile_state(profile)
    return submission_problems(catalog_of(profile), profile.account.business_type, answers,
                               {k: len(v) for k, v in plans.items()})


def canonical_content(profile: SecurityProfile, number: int, *, attested_name: str, by: User) -> dict[str, Any]:
    """The content a version freezes: every applicable criterion's answer, evidence and plans."""
    answers, plans, links = load_profile_state(profile)
    catalog = catalog_of(profile)
    account = profile.account
    criteria = []
    for criterion in catalog.criteria_for(account.business_type):
        answer = answers.get(criterion.id)
        criteria.append({
            "id": criterion.id,
            "level": criterion.level.value,
            "status": answer.status.value if answer and answer.status else None,
            "narrative": answer.narrative if answer else "",
            "justification": answer.justification if answer else "",
            "evidence": [{"name": link.evidence.display_name, "file": link.evidence.original_name,
                          "sha256": link.evidence.sha256, "size": link.evidence.size}
                         for link in links.get(criterion.id, [])],
            "action_plans": [{"gap": plan.gap, "corrective_action": plan.corrective_action,
                              "owner": plan.owner_display, "target_date": plan.target_date.isoformat(),
                              "status": plan.status.value,
                              "milestones": [{"text": m.text,
                                              "due_date": m.due_date.isoformat() if m.due_date else None,
                                              "done": m.done} for m in plan.milestones]}
                             for plan in plans.get(criterion.id, [])],
        })
    return {
        "profile_id": profile.id,
        "version": number,
        "catalog": profile.catalog_id,
        "account": {"number": account.account_number, "business_type": account.business_type.value,
                    "company": account.company.legal_name},
        "criteria": criteria,
        "attestation": {"name": attested_name, "user": by.email, "text": ATTESTATION_TEXT},
    }


def content_sha256(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def submit_profile(profile: SecurityProfile, typed_name: str, *, by: User) -> ProfileVersion:
    """The company officer attests and submits; a new immutable version N+1 is frozen.

    :raise DomainError: when the user is not the officer, the name differs, or gates fail
        (the message names how many problems; the view lists them from ``problems_for``).
    """
    account = profile.account
    if by.role_in(account.company_id) != CompanyRole.OFFICER:
        raise DomainError("Only the company officer can submit the security profile.")
    if " ".join(typed_name.lower().split()) != " ".join(by.full_name.lower().split()):
        raise DomainError(f"Type your full name exactly as on your account ({by.full_name}) to attest.",
                          field="typed_name")
    problems = problems_for(profile)
    if problems:
        raise DomainError(f"The profile cannot be submitted yet: {len(problems)} item(s) need attention.")
    profile.status = next_profile_status(profile.status, ProfileAction.SUBMIT)
    number = profile.current_version + 1
    content = canonical_content(profile, number, attested_name=typed_name, by=by)
    version = ProfileVersion(
        profile_id=profile.id, number=number, catalog_id=profile.catalog_id, content=content,
        sha256=content_sha256(content), submitted_at=utcnow(), submitted_by_id=by.id, attested_name=typed_name,
        attestation_text=ATTESTATION_TEXT,
    )
    db_session.add(version)
    profile.current_version = number
    profile.submitted_at = version.submitted_at
    db_session.flush()
    audit.record("profile.submitted", actor=by, company_id=account.company_id, obj=profile,
                 summary=f"Version {number}, SHA-256 {version.sha256}")
    from portal.companies.applications import change_status
    from portal.companies.workflow import AccountAction, AccountStatus
    from portal.reviews.services import open_review

    if account.status == AccountStatus.RETURNED:
        change_status(account, AccountAction.RESUBMIT, by=by, reason=f"Profile version {number} submitted")
    open_review(profile, version)
    return version


@dataclass(frozen=True)
class CriterionDiff:
    """How one criterion differs between two versions."""

    criterion_id: str
    change: str  # "added", "removed", "changed", "unchanged"
    fields: tuple[str, ...]
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


def diff_versions(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[CriterionDiff]:
    """Per-criterion differences between two versions' contents (pure)."""
    compared = ("status", "narrative", "justification", "evidence", "action_plans")
    old_rows = {row["id"]: row for row in old.get("criteria", [])}
    new_rows = {row["id"]: row for row in new.get("criteria", [])}
    result = []
    ordered: Iterable[str] = list(new_rows) + [cid for cid in old_rows if cid not in new_rows]
    for cid in ordered:
        before, after = old_rows.get(cid), new_rows.get(cid)
        if before is None:
            result.append(CriterionDiff(cid, "added", compared, None, after))
        elif after is None:
            result.append(CriterionDiff(cid, "removed", compared, before, None))
        else:
            fields = tuple(f for f in compared if before.get(f) != after.get(f))
            result.append(CriterionDiff(cid, "changed" if fields else "unchanged", fields, before, after))
    return result
