"""seed_demo gives a newcomer a working demo, and running it twice changes nothing."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def snapshot():
    counts = {}
    for model in apps.get_models():
        rows = model._default_manager.all()
        counts[model._meta.label] = sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k not in {"last_login"}))
            for row in rows.values()
        )
    return counts


def test_seed_demo_is_idempotent(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.1:8000", "localhost:8000"]
    settings.SITE_URL = "http://127.0.0.1:8000"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == first
    assert "alice" in out.getvalue() and "/accounts/login/" in out.getvalue()

    from actions.models import Action
    from workspaces.models import Workspace

    acme = Workspace.objects.get(slug="acme")
    assert acme.plan == "enterprise"
    assert acme.memberships.count() == 4
    assert acme.memberships.get(user__username="erin").role == "admin"
    assert "erin" in out.getvalue()
    assert Workspace.objects.count() == 2
    weather = Action.objects.get(gpt__name="Weather helper")
    assert weather.domain == "127.0.0.1"
    assert weather.operations.get().operation_id == "GetCurrentWeather"


def test_issue_api_token_prints_the_token_last(settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("tokenuser")
    out = StringIO()
    call_command("issue_api_token", "tokenuser", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert len(token) >= 32 and " " not in token


def test_the_demo_shows_a_working_allowlist(settings):
    """As `make run` serves it (http://localhost:PORT, local hosts accepted), Acme allows only
    the sandbox's host, and both demo actions are within that allowlist (issue 17)."""
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.1:8000", "localhost:8000"]
    settings.SITE_URL = "http://localhost:8000"
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    out = StringIO()
    call_command("seed_demo", stdout=out)

    from actions.models import Action
    from actions.selectors import actions_blocked_by_policy
    from workspaces.models import AuditKind, Workspace

    acme = Workspace.objects.get(slug="acme")
    assert acme.allow_all_domains is False
    assert list(acme.allowed_domains.values_list("pattern", flat=True)) == ["localhost"]
    assert acme.audit_events.filter(kind=AuditKind.DOMAIN_ADDED).exists()
    actions = list(Action.objects.filter(workspace=acme))
    assert {a.domain for a in actions} == {"localhost"} and len(actions) == 2
    assert actions_blocked_by_policy(workspace=acme, actions=actions) == {}
    assert "Acme allows actions to call only localhost" in out.getvalue()


def test_an_ip_site_url_leaves_the_demo_allowing_every_domain_and_says_why(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.1:8000"]
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = False
    out = StringIO()
    call_command("seed_demo", stdout=out)
    from workspaces.models import Workspace

    acme = Workspace.objects.get(slug="acme")
    assert acme.allow_all_domains is True and not acme.allowed_domains.exists()
    assert "the sandbox's host 127.0.0.1 can not be allowlisted" in out.getvalue()
