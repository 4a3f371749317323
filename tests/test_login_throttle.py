"""Repeated failed logins are refused with 429 before the password is checked."""

import pytest

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_failures_lock_the_username_then_lift_after_success_elsewhere(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("victim")
    for _ in range(3):
        assert (
            client.post("/accounts/login/", {"username": "victim", "password": "guess"}).status_code
            == 200
        )
    blocked = client.post("/accounts/login/", {"username": "victim", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out by someone else's failures.
    make_user("bystander")
    ok = client.post("/accounts/login/", {"username": "bystander", "password": PASSWORD})
    assert ok.status_code == 302


def test_one_address_guessing_many_usernames_is_stopped(client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for n in range(10):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"})
    make_user("late")
    assert (
        client.post("/accounts/login/", {"username": "late", "password": PASSWORD}).status_code
        == 429
    )
