"""Reads that feed the exports: the profile workbook's and the questionnaire's plain values, and
row iterators for the list exports that stream from the database in batches (flat memory)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.action_plans.models import ActionPlan
from portal.action_plans.queries import plans_by_criterion
from portal.audit import AuditEvent
from portal.catalog import get_catalog
from portal.catalog.schema import Catalog
from portal.clock import today, utcnow
from portal.db import db_session
from portal.exports.profile_workbook import (
    ActionPlanRow,
    Audience,
    CriterionRow,
    EvidenceItem,
    FacilityRow,
    FindingRow,
    PartnerRow,
    ProfileWorkbookData,
    ScoreRow,
    VisitRow,
)
from portal.exports.questionnaire import QuestionnaireData, QuestionnaireRow
from portal.profiles.models import Answer, ProfileVersion, SecurityProfile
from portal.profiles.submission import content_sha256, load_profile_state
from portal.profiles.workflow import ImplementationStatus
from portal.reviews import queue
from portal.reviews.models import CriterionRating, Review
from portal.reviews.scoring import score_profile
from portal.validations.models import Finding, Validation, ValidationSite
from portal.validations.workflow import VisitStatus

BATCH = 500


def _label(value: str | None) -> str:
    return ImplementationStatus(value).label if value else ""


def _level(catalog: Catalog, criterion_id: str) -> str:
    return "Must" if catalog.criterion(criterion_id).is_must else "Should"


def version_for_export(profile: SecurityProfile, number: int | None = None) -> ProfileVersion | None:
    """The submitted version to export: ``number`` if given (None when it does not exist), else the latest."""
    query = select(ProfileVersion).where(ProfileVersion.profile_id == profile.id)
    if number is not None:
        return db_session.scalar(query.where(ProfileVersion.number == number))
    return db_session.scalar(query.order_by(ProfileVersion.number.desc()).limit(1))


def _live_content(profile: SecurityProfile) -> dict[str, Any]:
    """The unsubmitted draft in the shape of a version's content (criteria with answers and evidence)."""
    answers, _plans, links = load_profile_state(profile)
    catalog = get_catalog(profile.catalog_id)
    rows = []
    for criterion in catalog.criteria_for(profile.account.business_type):
        answer = answers.get(criterion.id)
        rows.append({
            "id": criterion.id, "level": criterion.level.value,
            "status": answer.status.value if answer and answer.status else None,
            "narrative": answer.narrative if answer else "", "justification": answer.justification if answer else "",
            "evidence": [{"name": link.evidence.display_name, "file": link.evidence.original_name,
                          "sha256": link.evidence.sha256, "size": link.evidence.size}
                         for link in links.get(criterion.id, [])],
        })
    return {"profile_id": profile.id, "version": 0, "catalog": profile.catalog_id, "criteria": rows}


def _plan_summary(plan: ActionPlan) -> str:
    overdue = ", overdue" if plan.is_overdue else ""
    return (f"{plan.status.label}{overdue}, due {plan.target_date:%Y-%m-%d}, {plan.owner_display}: "
            f"{plan.corrective_action}")


def profile_workbook_data(profile: SecurityProfile, audience: Audience, *, number: int | None = None,
                          now: datetime | None = None) -> ProfileWorkbookData | None:
    """The workbook's values: the chosen submitted version (default the latest, or the live draft when
    nothing was ever submitted), current action plans, facilities, and for CBP the ratings and scores
    of that version's review. None when ``number`` names no version."""
    version = version_for_export(profile, number)
    if number is not None and version is None:
        return None
    account = profile.account
    company = account.company
    content = version.content if version else _live_content(profile)
    catalog = get_catalog(version.catalog_id if version else profile.catalog_id)
    plans = plans_by_criterion(profile)
    ratings: dict[str, CriterionRating] = {}
    review: Review | None = None
    if audience == Audience.CBP and version is not None:
        review = db_session.scalar(select(Review).where(Review.profile_id == profile.id,
                                                        Review.version_number == version.number)
                                   .options(selectinload(Review.ratings)))
        ratings = {r.criterion_id: r for r in review.ratings} if review else {}
    criteria = []
    for row in content.get("criteria", []):
        if not catalog.has_criterion(row["id"]):
            continue
        criterion = catalog.criterion(row["id"])
        category = catalog.category(criterion.category)
        rating = ratings.get(criterion.id)
        criteria.append(CriterionRow(
            id=criterion.id, focus_area=catalog.focus_area_of(category).title,
            category=f"{category.number}. {category.title}", level=_level(catalog, criterion.id),
            title=criterion.title, requirement=criterion.requirement, status=_label(row.get("status")),
            narrative=row.get("narrative") or "", justification=row.get("justification") or "",
            evidence=tuple(EvidenceItem(criterion.id, e.get("name", ""), e.get("file", ""), e.get("size"),
                                        e.get("sha256", "")) for e in row.get("evidence", [])),
            action_plans=tuple(_plan_summary(p) for p in plans.get(criterion.id, [])),
            rating=rating.rating.label if rating else "", rating_comment=rating.comment if rating else "",
        ))
    scores: tuple[ScoreRow, ...] = ()
    overall = None
    if audience == Audience.CBP and ratings:
        result = score_profile(catalog, account.business_type, {cid: r.rating for cid, r in ratings.items()})
        scores = tuple(ScoreRow(f"{catalog.category(n).number}. {catalog.category(n).title}",
                                catalog.focus_area_of(n).title, s.value, s.explanation)
                       for n, s in result.categories.items())
        overall = ScoreRow("Overall", "", result.overall.value, result.overall.explanation)
    action_plans = [ActionPlanRow(p.criterion_id, p.gap, p.corrective_action, p.owner_display, p.target_date,
                                  p.status.label, p.is_overdue,
                                  tuple(f"{'[x]' if m.done else '[ ]'} {m.due_date or ''} {m.text}".replace("  ", " ")
                                        for m in p.milestones))
                    for rows in plans.values() for p in rows]
    facilities = [FacilityRow(a.kind.label, a.name or "", a.line1, a.line2 or "", a.city, a.region or "",
                              a.postal_code or "", a.country, a.timezone or "", a.visitable)
                  for a in company.addresses]
    notes = ["Answers and evidence are those of the version shown; action plans are as of the export."]
    partners = business_partner_rows(account)
    findings, visits = finding_rows(account, audience), visit_rows(account, audience)
    return ProfileWorkbookData(
        profile_id=profile.id, company=company.legal_name, dba=company.dba or "",
        business_type=account.business_type.label, account_number=account.account_number or "",
        account_status=account.status.label, tier=account.tier,
        identifiers=tuple((i.kind.label, i.value) for i in account.identifiers if i.active),
        profile_status=profile.status.label, version=version.number if version else 0,
        submitted_at=version.submitted_at if version else None,
        catalog_id=catalog.id, catalog_title=catalog.title,
        content_sha256=version.sha256 if version else content_sha256(content),
        exported_at=now or utcnow(),
        dates=(("Application submitted (UTC)", account.applied_at), ("Certified on", account.certified_on),
               ("Anniversary", account.anniversary_on), ("Last validation", account.last_validated_on),
               ("Next validation due", account.next_validation_due)),
        overall_score=overall, scores=scores, review_status=review.status.label if review else "No review",
        criteria=criteria, facilities=facilities, partners=partners, action_plans=action_plans,
        findings=findings, visits=visits, notes=tuple(notes),
    )


def business_partner_rows(account: Any) -> list[PartnerRow]:
    """The account's business-partner register with each partner's derived screening status."""
    from portal.partners.queries import program_names, screened

    programs = program_names()
    rows = []
    for partner, result in screened(account.id, today()):
        program = programs.get(partner.mra_program_id) if partner.mra_program_id is not None else None
        identifiers = "\n".join(part for part in (
            f"CTPAT {partner.ctpat_account_number}" if partner.ctpat_account_number else "",
            f"Certificate {partner.certificate_number}" if partner.certificate_number else "") if part)
        certification = partner.certification.label
        if partner.ctpat_status is not None:
            certification += f" ({partner.ctpat_status.label})"
        if program is not None:
            certification += f": {program.display_name}"
        notes = f"Screening: {result.status.label}. {' '.join(result.reasons)}"
        if partner.notes:
            notes += f"\n{partner.notes}"
        rows.append(PartnerRow(partner.name, partner.role.label, partner.country, identifiers, certification,
                               partner.last_assessed_on, partner.risk_rating.label if partner.risk_rating else "",
                               notes))
    return rows


def _validations(account: Any, audience: Audience) -> list[Any]:
    """The account's validations, newest first; the partner's copy only those whose report was sent
    (the same rule as the findings pages, ``can_view_findings``)."""
    from portal.validations.models import Validation

    stmt = (select(Validation).where(Validation.account_id == account.id)
            .options(selectinload(Validation.findings).selectinload(Finding.responses),
                     selectinload(Validation.sites).selectinload(ValidationSite.address),
                     selectinload(Validation.visits), selectinload(Validation.members),
                     selectinload(Validation.lead))
            .order_by(Validation.id.desc()))
    validations = list(db_session.scalars(stmt))
    return validations if audience == Audience.CBP else [v for v in validations if v.status.visible_to_partner]


def finding_rows(account: Any, audience: Audience = Audience.CBP) -> list[FindingRow]:
    """Findings of the account's validations, newest validation first, with the latest response."""
    rows = []
    for validation in _validations(account, audience):
        for number, finding in enumerate(validation.findings, start=1):
            response = finding.latest_response
            answer = ""
            if response is not None:
                verdict = {True: "accepted", False: "returned", None: "waiting for CBP"}[response.accepted]
                answer = f"{response.action_plan} ({verdict})"
            rows.append(FindingRow(f"V{validation.id}-{number}", finding.criterion_id, finding.kind.label,
                                   finding.status.label, finding.text, finding.due_on, answer))
    return rows


def visit_rows(account: Any, audience: Audience = Audience.CBP) -> list[VisitRow]:
    """The visit plan of the account's current validation (the newest one): ``visit_plan``."""
    validations = _validations(account, Audience.CBP)
    return visit_plan(validations[0]) if validations else []


def _local(moment: datetime, zone_name: str) -> datetime:
    """A UTC time as the naive wall-clock time of the site's zone (Excel has no time zones)."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).replace(tzinfo=None)


def visit_plan(validation: Validation) -> list[VisitRow]:
    """The validation's sites and visits, in local time, for the workbooks' "Visit plan" sheet.

    A site marked covered by a foreign validation under an MRA names the program and certificate relied
    on (as recorded when it was marked, with the certification's expiry while it is still on the account)
    and says when the coverage no longer counts. A site planned for a CBP visit whose country a recognised
    certification of the account covers names that certification too, so the specialist has it on site.
    """
    from portal.validations.recognition import planning_recognition  # it reads the partners' registers

    recognition = planning_recognition(validation)
    offered = {offer.site.id: offer for offer in recognition.offers if offer.site is not None}
    team = ", ".join(user.full_name for user in validation.team)
    lead = validation.lead.full_name
    rows: list[VisitRow] = []
    for site in validation.sites:
        address = site.address
        name = address.name or address.city
        mra: dict[str, Any] = {}
        lapsed = ""
        if site.mra_covered:
            certification = site.mra_certification
            program = certification.program if certification is not None else site.mra_program
            mra = {"mra_program": program.display_name if program is not None else "",
                   "mra_certificate": site.mra_certificate_number
                   or (certification.certificate_number if certification is not None else ""),
                   "mra_expires_on": certification.expires_on if certification is not None else None}
            check = recognition.covered.get(site.id)
            if check is not None and not check.valid:
                lapsed = f" (the coverage no longer counts: {check.problem})"
        elif site.id in offered:
            coverage = offered[site.id].coverage
            mra = {"mra_program": coverage.program.display_name,
                   "mra_certificate": coverage.certification.certificate_number,
                   "mra_expires_on": coverage.certification.expires_on}
        visits = [v for v in validation.visits if v.site_id == site.id and v.status != VisitStatus.CANCELLED]
        if site.no_go or not visits:
            rows.append(VisitRow(name, address.one_line, None, None, address.timezone or "",
                                     _site_mode(site) + lapsed, lead, team, **mra))
            continue
        for visit in visits:
            rows.append(VisitRow(name, address.one_line, _local(visit.starts_at, visit.timezone),
                                     _local(visit.ends_at, visit.timezone), visit.timezone,
                                     f"{visit.mode.label}, {visit.status.label.lower()}", lead, team, **mra))
    return rows


def _site_mode(site: ValidationSite) -> str:
    if not site.no_go:
        return f"{site.mode.label}, not scheduled yet"
    # The reason tells the team why nobody goes there: covered by a foreign program's validation, say.
    return f"{site.mode.label}, no-go: {site.no_go_reason.label}" if site.no_go_reason else f"{site.mode.label}, no-go"


def questionnaire_data(profile: SecurityProfile, *, exported_by: str, now: datetime | None = None) -> QuestionnaireData:
    """One row per applicable criterion with the stored answer, its version and timestamp."""
    catalog = get_catalog(profile.catalog_id)
    account = profile.account
    answers = {a.criterion_id: a for a in db_session.scalars(select(Answer).where(Answer.profile_id == profile.id))}
    rows = []
    for criterion in catalog.criteria_for(account.business_type):
        answer = answers.get(criterion.id)
        category = catalog.category(criterion.category)
        status = answer.status.value if answer and answer.status else None
        rows.append(QuestionnaireRow(
            id=criterion.id, category=f"{category.number}. {category.title}", level=_level(catalog, criterion.id),
            title=criterion.title, requirement=criterion.requirement, status=status, status_label=_label(status),
            narrative=answer.narrative if answer else "", justification=answer.justification if answer else "",
            answer_version=answer.version if answer else 0,
            updated_at=answer.updated_at.isoformat() if answer else "",
        ))
    return QuestionnaireData(
        profile_id=profile.id, account_number=account.account_number or "", company=account.company.legal_name,
        business_type=account.business_type.label, catalog_id=catalog.id, catalog_title=catalog.title,
        profile_version=profile.current_version, exported_at=now or utcnow(), exported_by=exported_by, rows=rows,
    )


# -- list exports: rows streamed in batches --------------------------------------------------------


def queue_rows(filters: queue.QueueFilters, sort: queue.QueueSort, *, user: Any,
               now: datetime | None = None) -> Iterator[list[Any]]:
    """The review queue with the page's filters and order, through the queue's own query, a batch of
    rows at a time (the queue module owns what "overdue" or "assigned to me" means). Its rows are plain
    tuples, not ORM objects, so nothing accumulates in the session between batches."""
    now = now or utcnow()
    page, pages = 1, 1
    while page <= pages:
        result = queue.queue_page(filters, sort, page, per_page=BATCH, user=user, now=now)
        pages = result.pages
        for r in result.rows:
            yield [r.review_id, r.company_name, r.dba or "", r.business_type.label, r.account_number or "",
                   r.country or "", r.version, r.submitted_at, r.target_at.date(), r.days_left,
                   "Yes" if r.overdue else "No", r.reviewer_name or "Unassigned", r.status.label,
                   r.recommendation.label if r.recommendation else ""]
        page += 1


def action_plan_rows(profile: SecurityProfile) -> Iterator[list[Any]]:
    """The profile's action plans by target date, with owners and milestones, in batches."""
    catalog = get_catalog(profile.catalog_id)
    stmt = (select(ActionPlan).where(ActionPlan.profile_id == profile.id)
            .options(selectinload(ActionPlan.owner_user), selectinload(ActionPlan.milestones))
            .order_by(ActionPlan.target_date, ActionPlan.id).execution_options(yield_per=BATCH))
    current_day = today()
    for plan in db_session.scalars(stmt):
        title = catalog.criterion(plan.criterion_id).title if catalog.has_criterion(plan.criterion_id) else ""
        overdue = not plan.status.is_closed and plan.target_date < current_day
        yield [plan.id, plan.criterion_id, title, plan.gap, plan.corrective_action, plan.owner_display,
               plan.target_date, plan.status.label, "Yes" if overdue else "No",
               "\n".join(f"{'[x]' if m.done else '[ ]'} {m.due_date or ''} {m.text}".replace("  ", " ")
                         for m in plan.milestones), plan.updated_at]


def validation_finding_rows(validation: Any) -> Iterator[list[Any]]:
    """A validation's findings in the order recorded, with the partner's latest answer and CBP's verdict."""
    profile = db_session.scalar(select(SecurityProfile).where(SecurityProfile.account_id == validation.account_id))
    catalog = get_catalog(profile.catalog_id) if profile is not None else None
    stmt = (select(Finding).where(Finding.validation_id == validation.id).options(selectinload(Finding.responses))
            .order_by(Finding.id).execution_options(yield_per=BATCH))
    for finding in db_session.scalars(stmt):
        title = catalog.criterion(finding.criterion_id).title if catalog and catalog.has_criterion(
            finding.criterion_id) else ""
        response = finding.latest_response
        verdict = ""
        if response is not None:
            verdict = {True: "Accepted", False: "Returned", None: "Waiting for CBP"}[response.accepted]
            if response.review_comment:
                verdict += f": {response.review_comment}"
        yield [finding.id, finding.criterion_id, title, finding.kind.label, finding.status.label, finding.text,
               finding.due_on, response.action_plan if response else "", verdict, finding.created_at]


def audit_rows(*, action: str = "", company_id: int | None = None, actor: str = "", date_from: date | None = None,
               date_to: date | None = None) -> Iterator[list[Any]]:
    """Audit events, newest first, streamed from the server in batches, with the audit viewer's filters:
    one action (exact), one company, an actor e-mail fragment, and a range of UTC dates (both included)."""
    stmt = select(AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_email, AuditEvent.company_id,
                  AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.summary,
                  AuditEvent.ip_address, AuditEvent.request_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if company_id is not None:
        stmt = stmt.where(AuditEvent.company_id == company_id)
    if actor:
        stmt = stmt.where(AuditEvent.actor_email.contains(actor.strip().lower(), autoescape=True))
    if date_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to is not None:
        stmt = stmt.where(AuditEvent.occurred_at < datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC))
    stmt = stmt.order_by(AuditEvent.id.desc()).execution_options(yield_per=BATCH)
    for row in db_session.execute(stmt):
        yield [row.id, row.occurred_at, row.actor_email or "system", row.company_id, row.action, row.object_type,
               row.object_id, row.summary, row.ip_address, row.request_id]
