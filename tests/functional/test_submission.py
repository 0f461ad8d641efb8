"""Submission: each gate named with a link, officer-only attestation, the frozen immutable version
with its SHA-256, read-only while submitted, version N+1 after a return, and the diff."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from portal.action_plans.models import ActionPlan
from portal.db import db_session
from portal.profiles.models import ProfileVersion, SecurityProfile
from portal.profiles.submission import content_sha256, diff_versions
from portal.profiles.workflow import ProfileAction, ProfileStatus, next_profile_status
from tests import factories


@pytest.fixture
def profile_id(app, cast):
    with app.app_context():
        return factories.profile_of(cast.account_a).id


def _profile(app, profile_id):
    with app.app_context():
        return db_session.get(SecurityProfile, profile_id)


def _submit(client, profile_id, name="Olivia Officer"):
    return client.post(f"/profiles/{profile_id}/submit", data={"typed_name": name, "confirm": "yes"})


def test_each_gate_is_named_with_a_link_to_the_criterion(app, client, login, cast, profile_id):
    with app.app_context():
        profile = factories.profile_of(cast.account_a)
        factories.answer_all(profile)
        factories.answer(profile, "1.2", "not_applicable", narrative="", justification="")  # N/A without reason
        factories.answer(profile, "4.1", "partially_implemented", "Policy drafted.")  # Must gap, no plan
        factories.answer(profile, "1.1", "implemented", "")  # no narrative
        db_session.commit()
    login(cast.email("officer_a"))
    html = client.get(f"/profiles/{profile_id}/submit").get_data(as_text=True)
    assert "3 items must be completed before submission" in html
    assert "1.2 " in html and "needs a justification" in html
    assert "4.1 " in html and "needs an action plan" in html
    assert "1.1 " in html and "the narrative is empty" in html
    assert f'/profiles/{profile_id}/categories/4#c-4-1' in html
    assert _submit(client, profile_id).status_code == 200
    assert _profile(app, profile_id).status == ProfileStatus.DRAFT


def test_an_unanswered_profile_lists_every_applicable_criterion(app, client, login, cast, profile_id):
    login(cast.email("officer_a"))
    html = client.get(f"/profiles/{profile_id}/submit").get_data(as_text=True)
    assert "95 items must be completed" in html


def test_a_must_gap_with_an_action_plan_passes_the_gate(app, cast, db):
    from portal.profiles.submission import problems_for

    profile = factories.profile_of(cast.account_a)
    factories.answer_all(profile)
    factories.answer(profile, "4.1", "not_implemented", "Not yet.")
    assert [p.criterion_id for p in problems_for(profile)] == ["4.1"]
    from datetime import date

    db.add(ActionPlan(profile_id=profile.id, criterion_id="4.1", gap="No policy", corrective_action="Write it",
                      owner_name="IT lead", target_date=date(2030, 1, 1)))
    db.flush()
    assert problems_for(profile) == []


def test_only_the_officer_submits_and_the_typed_name_must_match(app, client, login, cast, profile_id):
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    login(cast.email("employee_a"))
    page = client.get(f"/profiles/{profile_id}/submit").get_data(as_text=True)
    assert "Only the company officer can attest" in page
    assert _submit(client, profile_id, "Evan Employee").status_code == 403
    officer = app.test_client()
    login(cast.email("officer_a"), test_client=officer)
    wrong = _submit(officer, profile_id, "Somebody Else")
    assert wrong.status_code == 200 and "exactly as on your account" in wrong.get_data(as_text=True)
    assert _profile(app, profile_id).current_version == 0


def test_submission_freezes_a_verified_version_and_makes_the_profile_read_only(app, client, login, cast,
                                                                               profile_id):
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    login(cast.email("officer_a"))
    response = _submit(client, profile_id, "  olivia   OFFICER ")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/profiles/{profile_id}/versions/1")
    profile = _profile(app, profile_id)
    assert profile.status == ProfileStatus.SUBMITTED and profile.current_version == 1
    with app.app_context():
        version = db_session.scalar(select(ProfileVersion).where(ProfileVersion.profile_id == profile_id))
        assert version.sha256 == content_sha256(version.content)
        assert len(version.content["criteria"]) == 95
        assert version.content["attestation"]["user"] == "officer@a.example"
    page = client.get(f"/profiles/{profile_id}/versions/1").get_data(as_text=True)
    assert "Verified" in page and "How we meet 12.10." in page
    # Read-only while submitted: the edit page says why, and saves are refused.
    category = client.get(f"/profiles/{profile_id}/categories/1").get_data(as_text=True)
    assert "read-only while CBP reviews version 1" in category and "data-autosave-url" not in category
    assert client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                       data={"status": "implemented", "narrative": "changed"}).status_code == 403
    assert _submit(client, profile_id).status_code == 403


def test_the_database_refuses_to_change_or_delete_a_version(app, cast, db):
    profile = factories.profile_of(cast.account_a)
    factories.answer_all(profile)
    from portal.profiles.submission import submit_profile

    submit_profile(profile, "Olivia Officer", by=cast.users["officer_a"])
    db.commit()
    for statement in ("UPDATE profile_versions SET sha256 = 'x'", "DELETE FROM profile_versions"):
        with pytest.raises(DatabaseError, match="append-only"):
            db.execute(text(statement))
            db.flush()
        db.rollback()
    assert db.scalar(select(ProfileVersion.sha256)) != "x"


def test_no_route_can_change_a_version(app):
    """Version URLs are read-only: no rule under /versions accepts anything but GET/HEAD/OPTIONS."""
    for rule in app.url_map.iter_rules():
        if "/versions" in rule.rule or "/diff" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule


def test_a_returned_profile_is_editable_and_its_next_submission_is_version_two_with_a_diff(app, client, login,
                                                                                            cast, profile_id):
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    login(cast.email("officer_a"))
    assert _submit(client, profile_id).status_code == 302
    with app.app_context():
        profile = db_session.get(SecurityProfile, profile_id)
        profile.status = next_profile_status(profile.status, ProfileAction.START_REVIEW)
        profile.status = next_profile_status(profile.status, ProfileAction.RETURN)
        db_session.commit()
    assert client.post(f"/profiles/{profile_id}/criteria/1.1/autosave",
                       data={"status": "implemented", "narrative": "Revised <b>statement</b>",
                             "version": "1"}).status_code == 200
    assert _submit(client, profile_id).headers["Location"].endswith("/versions/2")
    html = client.get(f"/profiles/{profile_id}/diff?from=1&to=2").get_data(as_text=True)
    assert "1 criteria changed; 94 unchanged" in html
    assert "How we meet 1.1." in html and "Revised &lt;b&gt;statement&lt;/b&gt;" in html
    assert client.get(f"/profiles/{profile_id}/diff?from=1&to=9").status_code == 404
    assert client.get(f"/profiles/{profile_id}/diff?from=x&to=2").status_code == 404


def test_diff_versions_reports_added_removed_changed_and_unchanged():
    old = {"criteria": [{"id": "1.1", "status": "implemented", "narrative": "a"},
                        {"id": "1.2", "status": "implemented", "narrative": "b"},
                        {"id": "3.9", "status": "implemented", "narrative": "c"}]}
    new = {"criteria": [{"id": "1.1", "status": "implemented", "narrative": "a"},
                        {"id": "1.2", "status": "partially_implemented", "narrative": "b2"},
                        {"id": "4.1", "status": "implemented", "narrative": "d"}]}
    rows = {row.criterion_id: row for row in diff_versions(old, new)}
    assert rows["1.1"].change == "unchanged" and rows["1.1"].fields == ()
    assert rows["1.2"].change == "changed" and rows["1.2"].fields == ("status", "narrative")
    assert rows["4.1"].change == "added" and rows["3.9"].change == "removed"


def test_content_hash_is_canonical():
    assert content_sha256({"b": 1, "a": "é"}) == content_sha256({"a": "é", "b": 1})
    assert content_sha256({"a": 1}) != content_sha256({"a": 2})


def test_other_companies_cannot_see_versions(app, client, login, cast, profile_id):
    with app.app_context():
        factories.answer_all(factories.profile_of(cast.account_a))
        db_session.commit()
    officer = app.test_client()
    login(cast.email("officer_a"), test_client=officer)
    _submit(officer, profile_id)
    login(cast.email("officer_b"))
    for url in (f"/profiles/{profile_id}/versions", f"/profiles/{profile_id}/versions/1",
                f"/profiles/{profile_id}/diff?from=1&to=1", f"/profiles/{profile_id}/submit"):
        assert client.get(url).status_code == 404, url
