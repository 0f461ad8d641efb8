"""Demo security profiles and reviews, so `make run` shows a living portal: a profile two-thirds
answered with evidence and action plans, one in review, one awaiting approval, one certified."""

from __future__ import annotations

from datetime import timedelta

from portal.action_plans import services as plan_services
from portal.auth.models import User
from portal.clock import utcnow
from portal.companies.models import TradeAccount
from portal.db import db_session
from portal.profiles import evidence as evidence_services
from portal.profiles import services as profile_services
from portal.profiles.models import SecurityProfile
from portal.profiles.submission import submit_profile
from portal.profiles.workflow import ImplementationStatus
from portal.reviews import decisions
from portal.reviews import services as review_services
from portal.reviews.models import Review
from portal.reviews.scoring import Rating
from portal.reviews.workflow import Recommendation

# A short, realistic narrative per category, so the demo reads like a real profile.
NARRATIVES = {
    1: "Our CEO signed the supply chain security policy statement (posted in reception and on the intranet). "
       "A cross-functional security committee (HR, IT, logistics, compliance) meets monthly.",
    2: "We run the CBP five-step risk assessment every January and after any incident; the cargo-flow map "
       "covers suppliers, consolidators, carriers and the Laredo distribution center.",
    3: "New partners complete our security questionnaire and are screened against CTPAT/AEO status; high-risk "
       "partners are visited before the first order and every year after.",
    4: "Written IT security policies; firewall and endpoint protection managed by our MSSP; quarterly "
       "vulnerability scans; MFA on e-mail and VPN; accounts removed on the last working day.",
    5: "Drivers and dock staff perform the 7-point container inspection before loading, recorded on the "
       "inspection checklist that travels with the shipping documents.",
    6: "ISO 17712 bolt seals are kept in a locked cabinet, issued by the shipping supervisor and recorded in "
       "the seal log; VVTT is applied at loading and receipt.",
    7: "Cargo staged overnight is kept inside the fenced yard under camera coverage; shortages and overages are "
       "investigated by the warehouse manager within 24 hours.",
    8: "Wood packaging must carry the ISPM 15 mark; pallets are inspected for visible pests at receipt.",
    9: "Perimeter fencing, lit gates and 24/7 recorded cameras cover the docks and trailer yard.",
    10: "Visitors show photo ID and are logged and escorted; drivers are identified against the carrier's "
        "pre-notification.",
    11: "Background checks for new hires where lawful; employees sign the code of conduct each year.",
    12: "Annual security awareness training with attendance rosters; seal and inspection training for dock staff.",
}

PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"


def _answer(profile: SecurityProfile, criterion_id: str, status: ImplementationStatus, narrative: str,
            by: User, justification: str = "") -> None:
    from portal.profiles.queries import answers_of

    criterion = profile_services.catalog_of(profile).criterion(criterion_id)
    existing = answers_of(profile).get(criterion_id)
    profile_services.save_answer(profile, criterion, profile_services.AnswerInput(
        status=status, narrative=narrative, justification=justification,
        expected_version=existing.version if existing else None), by=by)


def answer_profile(profile: SecurityProfile, by: User, *, categories: set[int] | None = None) -> None:
    """Answer every applicable criterion (or those of ``categories``) as implemented."""
    catalog = profile_services.catalog_of(profile)
    for criterion in catalog.criteria_for(profile.account.business_type):
        if categories is None or criterion.category in categories:
            _answer(profile, criterion.id, ImplementationStatus.IMPLEMENTED,
                    f"{NARRATIVES[criterion.category]} ({criterion.id} {criterion.title})", by)


def acme_profile(account: TradeAccount, officer: User, employee: User) -> None:
    """About two-thirds answered, with evidence and action plans for the gaps."""
    profile = profile_services.profile_for_account(account)
    answer_profile(profile, employee, categories=set(range(1, 9)))
    _answer(profile, "4.3", ImplementationStatus.PARTIALLY_IMPLEMENTED,
            "Annual penetration test done in 2025; quarterly internal scans start next quarter.", employee)
    _answer(profile, "6.6", ImplementationStatus.NOT_IMPLEMENTED,
            "Seal audits are not yet documented.", employee)
    _answer(profile, "1.2", ImplementationStatus.NOT_APPLICABLE, "", employee,
            justification="Security responsibilities are carried by the compliance manager alone (12 staff).")
    today = utcnow().date()
    for criterion_id, gap, action, days in (
        ("4.3", "No regular internal vulnerability scanning.", "Contract quarterly scans with our MSSP.", 60),
        ("6.6", "Seal inventory is not reconciled with the seal log.", "Monthly seal audit by the shipping "
         "supervisor, signed off by the compliance manager.", 30),
    ):
        plan = plan_services.create_plan(profile, criterion_id, plan_services.PlanInput(
            gap=gap, corrective_action=action, owner_user_id=officer.id, owner_name=None,
            target_date=today + timedelta(days=days)), by=officer)
        plan_services.add_milestone(plan, "Draft the procedure", today + timedelta(days=days // 2), by=officer)
    company = account.company
    for filename, title, criteria in (
        ("security-policy-statement.pdf", "Signed security policy statement", ("1.1", "1.3")),
        ("risk-assessment-2026.pdf", "Supply chain risk assessment 2026", ("2.1", "2.3")),
        ("seal-procedure.txt", "Seal control procedure", ("6.1", "6.2", "6.7")),
    ):
        content = PDF + title.encode() if filename.endswith(".pdf") else f"{title}\n\n1. Issue seals...\n".encode()
        evidence, _ = evidence_services.upload_evidence(company, content, filename, title=title,
                                                        effective_date=today, by=employee)
        for criterion_id in criteria:
            evidence_services.link_evidence(profile, criterion_id, evidence, employee)


def submitted_profile(account: TradeAccount, officer: User) -> Review:
    """A fully answered, submitted profile; returns its review."""
    profile = profile_services.profile_for_account(account)
    answer_profile(profile, officer)
    submit_profile(profile, officer.full_name, by=officer)
    db_session.flush()
    return db_session.query(Review).filter_by(profile_id=profile.id).one()


def rate(review: Review, reviewer: User, *, categories: set[int] | None = None) -> None:
    review_services.assign(review, reviewer, by=reviewer)
    review_services.start(review, by=reviewer)
    for criterion in review_services.criteria_in_version(review).values():
        if categories is None or criterion.category in categories:
            review_services.save_rating(review, criterion, review_services.RatingInput(
                Rating.MEETS, "", tuple(criterion.checklist), None), by=reviewer)


def load_profile_demo(users: dict[str, User], accounts: dict[str, TradeAccount]) -> None:
    """Profiles in every stage: drafting (Acme), in review (Maquiladora), awaiting approval (Northwind),
    certified (Swift Haul)."""
    acme_profile(accounts["acme"], users["officer@acme-imports.example"], users["employee@acme-imports.example"])
    in_review = submitted_profile(accounts["maquila"], users["officer@maquila-mx.example"])
    rate(in_review, users["reviewer@cbp.example"], categories={1, 2, 3})
    awaiting = submitted_profile(accounts["northwind"], users["officer@northwind-exports.example"])
    rate(awaiting, users["reviewer2@cbp.example"])
    decisions.recommend(awaiting, Recommendation.CERTIFY, "All Musts met; seal controls are strong.",
                        by=users["reviewer2@cbp.example"])
    certified = submitted_profile(accounts["swift"], users["officer@swift-haul.example"])
    rate(certified, users["reviewer@cbp.example"])
    decisions.recommend(certified, Recommendation.CERTIFY, "Meets every Must; good GPS tracking practice.",
                        by=users["reviewer@cbp.example"])
    decisions.decide(certified, by=users["supervisor@cbp.example"])
