"""Repeated failed logins are refused with 429 (django-axes, config/login.py): after
LOGIN_MAX_FAILURES failures for one username, the failure that reaches the limit is already
answered 429 and every later try is refused before the password is checked."""

import pytest

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def test_failures_lock_the_username_and_others_from_the_address_still_log_in(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("victim")
    for _ in range(2):
        assert login(client, "victim", "guess").status_code == 200
    assert login(client, "victim", "guess").status_code == 429
    blocked = login(client, "victim", PASSWORD)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "900"
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another user from the same address is not locked out by someone else's failures.
    make_user("bystander")
    assert login(client, "bystander", PASSWORD).status_code == 302


def test_one_address_guessing_many_usernames_is_stopped(client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for n in range(10):
        login(client, f"u{n}", "x")
    make_user("late")
    assert login(client, "late", PASSWORD).status_code == 429


@pytest.mark.parametrize("spelling", ["ｇｉｎａ", "GINA", " gina ", "Gina", "ｇｉｎａ\u00a0"])
def test_every_spelling_django_logs_in_as_gina_counts_for_gina(client, settings, spelling):
    """AuthenticationForm strips and NFKC-normalises the username before ModelBackend looks it
    up, so `ｇｉｎａ` *is* gina: guesses under it count against gina, and the lock holds for it."""
    settings.LOGIN_MAX_FAILURES = 3
    make_user("gina")
    for _ in range(3):
        login(client, spelling, "guess")
    assert login(client, "gina", PASSWORD).status_code == 429
    assert login(client, "ｇｉｎａ", PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_success_clears_the_users_failures_but_not_the_addresses(client, settings):
    """An attacker logging into their own account between guesses does not reset the count of
    the address they guess from."""
    settings.LOGIN_MAX_FAILURES = 2
    make_user("mallory")
    for n in range(5):
        login(client, f"target{n}", "x")
        assert login(client, "mallory", PASSWORD).status_code in (302, 429)
        client.logout()
    for n in range(5, 10):
        login(client, f"target{n}", "x")
    assert login(client, "mallory", PASSWORD).status_code == 429


def test_users_behind_the_load_balancer_have_their_own_address_counter(client, settings):
    """Behind the documented proxy (TRUSTED_PROXY_COUNT=1) REMOTE_ADDR is the balancer for
    everyone; the client is the address the balancer appended to X-Forwarded-For."""
    settings.LOGIN_MAX_FAILURES = 2
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.5"}
    for n in range(10):
        login(client, f"u{n}", "x", HTTP_X_FORWARDED_FOR="203.0.113.7", **balancer)
    make_user("colleague")
    elsewhere = login(
        client, "colleague", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.9", **balancer
    )
    assert elsewhere.status_code == 302
    client.logout()
    # The attacker can not pick a fresh address by sending their own X-Forwarded-For: the
    # balancer appends the real one, and that is the one counted.
    spoofed = login(
        client, "colleague", PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", **balancer
    )
    assert spoofed.status_code == 429


def test_without_trusted_proxies_the_forwarded_header_is_ignored(client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(10):
        login(client, f"u{n}", "x", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    make_user("late")
    assert login(client, "late", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_the_counters_are_in_the_database_for_every_process(client, settings):
    from axes.models import AccessAttempt

    settings.LOGIN_MAX_FAILURES = 5
    login(client, "ＶＩＣＴＩＭ", "guess")
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [
        ("victim", 1)
    ]
