"""The password policy (NIST SP 800-63B style: length, common passwords, not the e-mail or name) and
argon2id hashing with rehash when the parameters change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles
from flask import Flask

from portal.auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    common_passwords,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

TOO_SHORT = "Use at least"
TOO_LONG = "Use at most"
COMMON = "too common"
EMAIL = "e-mail address"
NAME = "your name"

EMAIL_ADDRESS = "jane.doe.smith@example.com"
FULL_NAME = "Jane Doe Smith"


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("", [TOO_SHORT, COMMON]),
        ("abc-def-gh1", [TOO_SHORT]),  # 11
        ("abc-def-ghi1", []),  # 12
        ("tram lantern orbit", []),
        ("x7q" * 42 + "zw", []),  # 128
        ("x7q" * 43, [TOO_LONG]),  # 129
        ("password1234", [COMMON]),
        ("Password1234", [COMMON]),
        ("PASSWORD1234", [COMMON]),
        ("qwertyuiop123", [COMMON]),
        ("aaaaaaaaaaaa", [COMMON]),  # one character repeated
        ("abababababab", [COMMON]),  # two characters
        ("abcabcabcabc", [COMMON]),  # on the list
        ("abcabcabcabd", []),
        ("password", [TOO_SHORT]),  # the list only needs passwords long enough to pass the length rule
        (EMAIL_ADDRESS, [EMAIL]),
        (EMAIL_ADDRESS.upper(), [EMAIL]),
        ("jane.doe.smith", [EMAIL]),  # the local part
        ("janedoesmith", [NAME]),
        ("Jane Doe Smith", [NAME]),
        ("JANE DOESMITH", [NAME]),
        ("jane doe smith!", []),
        ("  leading and trailing spaces count  ", []),
    ],
)
def test_password_policy(password, expected):
    problems = password_problems(password, email=EMAIL_ADDRESS, name=FULL_NAME)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem


def test_length_messages_say_how_long_the_password_was():
    assert password_problems("short") == ["Use at least 12 characters (you used 5)."]
    assert password_problems("z9q" * 47) == ["Use at most 128 characters (you used 141)."]


def test_limits_are_those_of_the_issue():
    assert (MIN_LENGTH, MAX_LENGTH) == (12, 128)


def test_policy_without_email_or_name():
    assert password_problems("jane.doe.smith") == []
    assert password_problems("janedoesmith") == []


def test_common_list_is_lower_case_and_skips_comments():
    words = common_passwords()
    assert len(words) > 50
    assert "password1234" in words
    assert all(word == word.lower() and word == word.strip() and not word.startswith("#") for word in words)
    # Shorter ones are refused by the length rule anyway.
    assert all(len(word) >= MIN_LENGTH for word in words)


# --- hashing ---------------------------------------------------------------------------------

def app_with_profile(profile: str | None) -> Flask:
    app = Flask(__name__)
    app.config["PASSWORD_HASH_PROFILE"] = profile
    return app


@pytest.fixture
def cheap():
    with app_with_profile("cheapest").app_context():
        yield


def test_hash_is_argon2id_salted_and_verifies(cheap):
    first = hash_password("tram lantern orbit")
    second = hash_password("tram lantern orbit")
    assert first.startswith("$argon2id$")
    assert first != second, "each hash has its own salt"
    assert "tram lantern orbit" not in first
    assert verify_password(first, "tram lantern orbit")
    assert verify_password(second, "tram lantern orbit")


def test_verify_refuses_a_wrong_password_without_raising(cheap):
    stored = hash_password("tram lantern orbit")
    assert not verify_password(stored, "tram lantern orbiT")
    assert not verify_password(stored, "")


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$broken", "$2b$12$abcdefghijklmnopqrstuv"])
def test_verify_refuses_a_malformed_hash_without_raising(cheap, stored):
    assert verify_password(stored, "tram lantern orbit") is False
    assert needs_rehash(stored) is True


def test_a_fresh_hash_needs_no_rehash(cheap):
    assert needs_rehash(hash_password("tram lantern orbit")) is False


def test_a_hash_with_other_parameters_needs_rehash_but_still_verifies(cheap):
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("tram lantern orbit")
    assert verify_password(old, "tram lantern orbit")
    assert needs_rehash(old) is True


def test_the_production_profile_upgrades_test_hashes():
    with app_with_profile("cheapest").app_context():
        cheap_hash = hash_password("tram lantern orbit")
    with app_with_profile(None).app_context():
        assert needs_rehash(cheap_hash) is True
        assert verify_password(cheap_hash, "tram lantern orbit")
        strong = hash_password("tram lantern orbit")
        expected = profiles.RFC_9106_LOW_MEMORY
        assert f"m={expected.memory_cost},t={expected.time_cost},p={expected.parallelism}" in strong
        assert needs_rehash(strong) is False
