"""Session limits (DESIGN.md §9): idle timeout of 15 minutes for trade users and 10 for CBP staff,
an absolute limit of 12 hours whatever the activity, and a message that says why."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

IDLE_MESSAGE = "You were signed out after a period of inactivity. Sign in again to continue."
ABSOLUTE_MESSAGE = "Your session has ended. Sign in again to continue."


def alerts(html: str) -> list[str]:
    return [text.strip() for text in re.findall(r'<p class="usa-alert__text">(.*?)</p>', html, re.S)]


def assert_signed_out(test_client, path: str, message: str) -> None:
    response = test_client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"][0].rstrip("?") == path, "the user comes back to the page afterwards"
    page = test_client.get(response.headers["Location"])
    assert alerts(page.get_data(as_text=True)) == [message]
    # The session is gone for good, not only for that one request.
    again = test_client.get(path)
    assert again.status_code == 302
    assert alerts(test_client.get(again.headers["Location"]).get_data(as_text=True)) == ["Sign in to continue."]


def assert_signed_in(test_client) -> None:
    response = test_client.get("/dashboard")
    assert response.status_code == 200, response.headers.get("Location")


@pytest.mark.parametrize(("user", "limit"), [("officer_a", 15), ("readonly_a", 15), ("reviewer", 10),
                                             ("supervisor", 10), ("admin", 10)])
def test_idle_session_is_signed_out_just_after_the_limit(client, cast, login, clock, user, limit):
    login(cast.email(user))
    clock.advance(minutes=limit + 1)
    assert_signed_out(client, "/dashboard", IDLE_MESSAGE)


@pytest.mark.parametrize(("user", "limit"), [("officer_a", 15), ("reviewer", 10), ("admin", 10)])
def test_idle_session_survives_just_before_the_limit(client, cast, login, clock, user, limit):
    login(cast.email(user))
    clock.advance(minutes=limit - 1)
    assert_signed_in(client)


def test_trade_user_is_not_held_to_the_staff_limit(client, cast, login, clock):
    login(cast.email("employee_a"))
    clock.advance(minutes=11)
    assert_signed_in(client)


def test_activity_refreshes_the_idle_timer(client, cast, login, clock):
    login(cast.email("officer_a"))
    for _ in range(3):
        clock.advance(minutes=14)
        assert_signed_in(client)  # 42 minutes signed in, never 15 idle
    clock.advance(minutes=16)
    assert_signed_out(client, "/dashboard", IDLE_MESSAGE)


def test_staff_activity_refreshes_the_idle_timer(client, cast, login, clock):
    login(cast.email("reviewer"))
    for _ in range(3):
        clock.advance(minutes=9)
        assert_signed_in(client)
    clock.advance(minutes=11)
    assert_signed_out(client, "/dashboard", IDLE_MESSAGE)


def test_a_post_counts_as_activity(app, client, cast, login, clock):
    login(cast.email("officer_a"))
    clock.advance(minutes=14)
    response = client.post(f"/companies/{cast.company_a.id}/edit", data={"legal_name": ""})
    assert response.status_code == 200  # the form comes back with its messages: the user is still signed in
    assert "usa-error-message" in response.get_data(as_text=True)
    clock.advance(minutes=14)
    assert_signed_in(client)


def test_an_idle_post_is_refused_and_signs_out(client, cast, login, clock):
    login(cast.email("officer_a"))
    clock.advance(minutes=16)
    response = client.post("/auth/logout")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login" and "next" not in parse_qs(location.query)
    assert alerts(client.get(response.headers["Location"]).get_data(as_text=True)) == [IDLE_MESSAGE]


def test_absolute_limit_applies_even_with_steady_activity(client, cast, login, clock):
    login(cast.email("officer_a"))
    for _ in range(12 * 60 // 5):
        clock.advance(minutes=5)
        assert client.get("/healthz").status_code == 200
    assert_signed_in(client)  # exactly 12 hours after sign-in: still inside the limit

    clock.advance(minutes=5)

    assert_signed_out(client, "/dashboard", ABSOLUTE_MESSAGE)


def test_signing_in_again_after_the_absolute_limit_starts_a_new_session(client, cast, login, clock):
    login(cast.email("reviewer"))
    clock.advance(hours=13)
    assert client.get("/dashboard").status_code == 302
    login(cast.email("reviewer"))
    clock.advance(minutes=9)
    assert_signed_in(client)


def test_the_session_cookie_is_written_again_only_when_the_activity_time_moves_on(client, cast, login, clock):
    """The last activity is recorded to the minute: requests within a minute leave the signed cookie
    as it is (no Set-Cookie), and the idle limit still counts from the last recorded activity."""
    login(cast.email("officer_a"))
    client.get("/dashboard")  # the first page also stores the CSRF secret in the session
    clock.advance(seconds=30)
    assert "Set-Cookie" not in client.get("/dashboard").headers
    clock.advance(seconds=31)
    assert "ctpat_session=" in client.get("/dashboard").headers.get("Set-Cookie", "")
    clock.advance(seconds=20)
    assert "Set-Cookie" not in client.get("/dashboard").headers
    # 61 s after sign-in was recorded, 20 s later was not: idle from the recorded time.
    clock.advance(minutes=15, seconds=-20 + 1)
    assert_signed_out(client, "/dashboard", IDLE_MESSAGE)
